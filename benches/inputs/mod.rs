#![allow(clippy::indexing_slicing)] // generator tables, indexed modulo their length
//! The generated inputs of `benches/check.rs`, also parsed by `tests/fast_parser.rs` so that
//! the inputs being measured are the ones both parsers are compared on.

use std::fmt::Write as _;

// ---------------------------------------------------------------------------------------------
// Generators. Deterministic; every output checks with zero errors.

const TABLES: &[&str] = &[
    "users", "orders", "payments", "invoices", "carts", "sessions", "products", "accounts",
];
const ZONES: &[&str] = &[
    "Europe/Berlin",
    "Europe/Amsterdam",
    "America/New_York",
    "Asia/Tokyo",
    "UTC",
];

/// Kinds of generated metrics, cycled through by index.
#[derive(Clone, Copy)]
enum MetricKind {
    Percent,
    Duration,
    Count,
}

fn metric_kind(i: usize) -> MetricKind {
    match i % 3 {
        0 => MetricKind::Percent,
        1 => MetricKind::Duration,
        _ => MetricKind::Count,
    }
}

fn metric_name(i: usize) -> String {
    match metric_kind(i) {
        MetricKind::Percent => format!("error_rate_{i}"),
        MetricKind::Duration => format!("latency_{i}"),
        MetricKind::Count => format!("queue_depth_{i}"),
    }
}

fn metric_def(out: &mut String, i: usize) {
    let name = metric_name(i);
    match metric_kind(i) {
        MetricKind::Percent => {
            let _ = writeln!(out, "# Share of failed requests on route {i}, in percent.");
            let _ = writeln!(out, "metric {name}: percent {{");
            let _ = writeln!(
                out,
                "  prometheus = \"100 * sum(rate(http_requests_total{{service=\\\"{{service}}\\\",version=\\\"{{version}}\\\",route=\\\"r{i}\\\",code=~\\\"5..\\\"}}[{{window}}])) / sum(rate(http_requests_total{{service=\\\"{{service}}\\\",route=\\\"r{i}\\\"}}[{{window}}]))\""
            );
            let _ = writeln!(out, "  probe      = \"error_rate\"");
            let _ = writeln!(out, "}}");
        }
        MetricKind::Duration => {
            let _ = writeln!(
                out,
                "metric {name}: duration = prometheus \"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{service=\\\"{{service}}\\\",route=\\\"r{i}\\\"}}[{{window}}])))\""
            );
        }
        MetricKind::Count => {
            let _ = writeln!(
                out,
                "metric {name}: count = prometheus \"max(queue_depth{{service=\\\"{{service}}\\\",queue=\\\"q{i}\\\"}})\""
            );
        }
    }
}

/// A condition on metric `i` that is satisfiable and unit-correct; `prefix` qualifies the
/// metric name (`shared.`) when it lives in an imported file.
fn condition(prefix: &str, i: usize, strict: bool) -> String {
    let name = format!("{prefix}{}", metric_name(i));
    match (metric_kind(i), strict) {
        (MetricKind::Percent, false) => format!("{name} < {}%", 1 + i % 4),
        (MetricKind::Percent, true) => format!("{name} < 0.{}%", 1 + i % 9),
        (MetricKind::Duration, false) => format!("{name} < {}ms", 300 + (i % 5) * 100),
        (MetricKind::Duration, true) => format!("{name} < 1.5x baseline"),
        (MetricKind::Count, _) => format!("{name} < {}", 1000 + i % 7 * 250),
    }
}

fn trigger(prefix: &str, i: usize) -> String {
    let name = format!("{prefix}{}", metric_name(i));
    match metric_kind(i) {
        MetricKind::Percent => format!("auto   when {name} > {}% for {}m", 2 + i % 5, 2 + i % 8),
        MetricKind::Duration => format!("auto   when {name} > 2x baseline for {}m", 5 + i % 10),
        MetricKind::Count => format!("manual when {name} > {} for 15m", 5000 + i % 3 * 1000),
    }
}

fn service(out: &mut String, name: &str) {
    let _ = writeln!(out, "service {name} {{");
    let _ = writeln!(
        out,
        "  health = http \"https://{name}.internal/health\" expect 200 timeout 2s"
    );
    let _ = writeln!(
        out,
        "  smoke  = run \"./scripts/smoke-test.sh {{url}}\" timeout 5m"
    );
    let _ = writeln!(out, "  url    = \"https://{name}.internal\"");
    let _ = writeln!(out, "}}");
    let _ = writeln!(out);
}

/// `n` environments: a local staging one, then command-provider ones each requiring the
/// previous; the last is production.
fn environments(out: &mut String, names: &[String], svc: &str) {
    for (i, env) in names.iter().enumerate() {
        let _ = writeln!(out, "environment {env} {{");
        if i == 0 {
            let _ = writeln!(
                out,
                "  provider = local {{ command = \"demo-app --port {{port}} --version {{version}}\", replicas = 3, traffic = 20/s \"/\" }}"
            );
            let _ = writeln!(out, "  database = sqlite \"{env}.db\"");
            let _ = writeln!(out, "  backup   = snapshot");
            let _ = writeln!(out, "  metrics  = probe every 1s");
        } else {
            let prev = &names[i - 1];
            let upper = env.to_uppercase();
            let _ = writeln!(out, "  requires = {prev}");
            if i + 1 == names.len() {
                let _ = writeln!(out, "  production");
                let _ = writeln!(out, "  approval = lead timeout 30m else abort");
            }
            let _ = writeln!(out, "  provider = command {{");
            let _ = writeln!(
                out,
                "    deploy   = \"kubectl -n {svc}-{env} set image deploy/{svc} app={svc}:{{version}}\" timeout 10m"
            );
            let _ = writeln!(
                out,
                "    weight   = \"./scripts/shift-traffic.sh {env} {{weight}}\""
            );
            let _ = writeln!(
                out,
                "    rollback = \"kubectl -n {svc}-{env} rollout undo deploy/{svc}\""
            );
            let _ = writeln!(out, "  }}");
            let _ = writeln!(out, "  database = postgres env {upper}_DATABASE_URL");
            let _ = writeln!(out, "  backup   = pg_dump");
            let _ = writeln!(
                out,
                "  metrics  = prometheus env PROMETHEUS_URL timeout 10s"
            );
            let _ = writeln!(
                out,
                "  window   = mon..thu 0{}:00..16:00 \"{}\"",
                7 + i % 3,
                ZONES[i % ZONES.len()]
            );
            let _ = writeln!(
                out,
                "  freeze   = 2026-12-20..2027-01-04, 2027-0{}-10..2027-0{}-12",
                1 + i % 8,
                1 + i % 8
            );
        }
        let _ = writeln!(out, "}}");
        let _ = writeln!(out);
    }
}

fn team(out: &mut String, svc: &str) {
    let _ = writeln!(out, "team {{");
    for role in ["lead", "executor", "monitor", "comms", "qa", "dba"] {
        let _ = writeln!(out, "  {role:<8} = \"{role}.{svc}@example.com\"");
    }
    let _ = writeln!(out, "  on_call  = \"pager:{svc}-primary\"");
    let _ = writeln!(out, "  rollback_decision = lead, on_call");
    let _ = writeln!(out, "}}");
    let _ = writeln!(out);
}

fn channel_name(i: usize) -> String {
    format!("chan_{i}")
}

fn channel(out: &mut String, i: usize) {
    let name = channel_name(i);
    let _ = match i % 5 {
        0 => writeln!(
            out,
            "channel {name} = slack \"#rel-{i}\" webhook env SLACK_WEBHOOK_{i}"
        ),
        1 => writeln!(
            out,
            "channel {name} = email \"team-{i}@example.com\", \"ops-{i}@example.com\""
        ),
        2 => writeln!(out, "channel {name} = webhook env STATUS_PAGE_URL_{i}"),
        3 => writeln!(out, "channel {name} = file \"logs/deploy-{i}.log\""),
        _ => writeln!(out, "channel {name} = stdout"),
    };
}

fn message(out: &mut String, i: usize) {
    let _ = writeln!(
        out,
        "message note_{i} = \"{{service}} {{version}} on {{environment}}: update {i}\""
    );
}

/// One release: canary with steps, migrations with SQL, a flag, rollback triggers, comms and
/// monitoring. `metrics` and `channels` bound the names it may use; `prefix` qualifies metric
/// and message names from an imported module.
struct ReleaseCtx<'a> {
    version: String,
    /// Unique per program: migration names and flag names are made from it.
    tag: String,
    metrics: usize,
    channels: usize,
    messages: usize,
    prefix: &'a str,
    /// The expand migration of the previous release, finished here by a contract.
    contract_of: Option<String>,
}

fn release(out: &mut String, cx: &ReleaseCtx<'_>, n: usize) {
    let ReleaseCtx {
        version,
        tag,
        metrics,
        channels,
        messages,
        prefix,
        ..
    } = cx;
    let m = |k: usize| (n * 7 + k * 13) % metrics;
    let c = |k: usize| (n * 3 + k) % channels;
    let table = TABLES[n % TABLES.len()];
    let _ = writeln!(out, "release \"{version}\" {{");
    let _ = writeln!(out, "  risk = {}", ["low", "medium", "high"][n % 3]);
    let _ = writeln!(out, "  strategy = canary {{");
    let _ = writeln!(out, "    analysis every 1m, no_data fail after 3");
    for (k, pct) in [1, 5, 10, 25, 50].iter().enumerate() {
        let _ = writeln!(
            out,
            "    step {pct}% for {}m require {} and {}",
            10 + k * 5,
            condition(prefix, m(k), false),
            condition(prefix, m(k + 1), false)
        );
    }
    let _ = writeln!(
        out,
        "    step 100% require {} and ({} or {})",
        condition(prefix, m(6), true),
        condition(prefix, m(7), true),
        condition(prefix, m(8), false)
    );
    let _ = writeln!(out, "  }}");
    let _ = writeln!(out);
    let _ = writeln!(out, "  migrations {{");
    let _ = writeln!(out, "    expand add_col_{tag} {{");
    let _ = writeln!(
        out,
        "      up   = sql \"ALTER TABLE {table} ADD COLUMN col_{tag} VARCHAR(255)\""
    );
    let _ = writeln!(
        out,
        "      down = sql \"ALTER TABLE {table} DROP COLUMN col_{tag}\""
    );
    let _ = writeln!(out, "    }}");
    let _ = writeln!(out, "    data backfill_{tag} after add_col_{tag} {{");
    let _ = writeln!(out, "      up   = sql \"\"\"");
    let _ = writeln!(out, "        UPDATE {table}");
    let _ = writeln!(out, "           SET col_{tag} = lower(name)");
    let _ = writeln!(out, "         WHERE col_{tag} IS NULL");
    let _ = writeln!(out, "      \"\"\"");
    let _ = writeln!(
        out,
        "      down = noop \"dropping the column removes the copies\""
    );
    let _ = writeln!(out, "      batch 10_000");
    let _ = writeln!(out, "    }}");
    let _ = writeln!(out, "    index idx_{tag} after backfill_{tag} {{");
    let _ = writeln!(
        out,
        "      up   = sql \"CREATE INDEX CONCURRENTLY idx_{table}_{tag} ON {table} (col_{tag})\""
    );
    let _ = writeln!(
        out,
        "      down = sql \"DROP INDEX CONCURRENTLY idx_{table}_{tag}\""
    );
    let _ = writeln!(out, "    }}");
    if let Some(of) = &cx.contract_of {
        let _ = writeln!(out, "    contract drop_{of} of {of} {{");
        let _ = writeln!(
            out,
            "      up = sql \"ALTER TABLE {} DROP COLUMN legacy_{of}\"",
            TABLES[(n + 7) % TABLES.len()]
        );
        let _ = writeln!(
            out,
            "      irreversible \"drops the old column; restoring needs the backup\""
        );
        let _ = writeln!(out, "    }}");
    }
    let _ = writeln!(out, "  }}");
    let _ = writeln!(out);
    let _ = writeln!(out, "  flag feature_{tag} {{");
    let _ = writeln!(out, "    initially off");
    let _ = writeln!(out, "    day 1  5% of internal");
    let _ = writeln!(out, "    day 3  50%");
    let _ = writeln!(out, "    day 5  100%");
    let _ = writeln!(out, "    remove by day 21");
    let _ = writeln!(out, "  }}");
    let _ = writeln!(out);
    let _ = writeln!(out, "  rollback {{");
    for k in 0..3 {
        let _ = writeln!(out, "    {}", trigger(prefix, m(k + 2)));
    }
    let _ = writeln!(out, "  }}");
    let _ = writeln!(out);
    let _ = writeln!(out, "  comms {{");
    let _ = writeln!(
        out,
        "    at T-24h     notify {}  std.comms.scheduled",
        channel_name(c(0))
    );
    let _ = writeln!(
        out,
        "    at T-1h      notify {}  \"{{service}} {{version}} begins in one hour\"",
        channel_name(c(1))
    );
    let _ = writeln!(
        out,
        "    at T-0       notify {}, {}  std.comms.starting",
        channel_name(c(0)),
        channel_name(c(2))
    );
    let _ = writeln!(
        out,
        "    every 30m    notify {}  {prefix}note_{}",
        channel_name(c(1)),
        n % messages
    );
    let _ = writeln!(
        out,
        "    on done      notify {}, {}  std.comms.done",
        channel_name(c(0)),
        channel_name(c(3))
    );
    let _ = writeln!(
        out,
        "    on rollback  notify {}, {}, {}  std.comms.rolling_back",
        channel_name(c(0)),
        channel_name(c(2)),
        channel_name(c(4))
    );
    let _ = writeln!(out, "  }}");
    let _ = writeln!(out);
    let _ = writeln!(out, "  monitor 1h then checkins +4h, +24h");
    let _ = writeln!(out, "}}");
    let _ = writeln!(out);
}

/// One program of about `lines` lines: service, environments, team, channels, metrics and
/// messages, then releases until the line count is reached.
pub fn program(lines: usize) -> String {
    const METRICS: usize = 600;
    const CHANNELS: usize = 200;
    const MESSAGES: usize = 100;
    let mut out = String::with_capacity(lines * 64);
    let _ = writeln!(out, "# Generated benchmark program.");
    let _ = writeln!(out, "import std.http");
    let _ = writeln!(out, "import std.comms");
    let _ = writeln!(out);
    service(&mut out, "checkout");
    let envs: Vec<String> = (0..20)
        .map(|i| match i {
            0 => "staging".to_string(),
            19 => "production".to_string(),
            _ => format!("region_{i}"),
        })
        .collect();
    environments(&mut out, &envs, "checkout");
    team(&mut out, "checkout");
    for i in 0..CHANNELS {
        channel(&mut out, i);
    }
    let _ = writeln!(out);
    for i in 0..METRICS {
        metric_def(&mut out, i);
    }
    let _ = writeln!(out);
    for i in 0..MESSAGES {
        message(&mut out, i);
    }
    let _ = writeln!(out);
    let mut n = 0;
    while out.lines().count() < lines {
        let cx = ReleaseCtx {
            version: format!("{}.{}.0", 1 + n / 100, n % 100),
            tag: format!("r{n}"),
            metrics: METRICS,
            channels: CHANNELS,
            messages: MESSAGES,
            prefix: "",
            contract_of: (n > 0).then(|| format!("add_col_r{}", n - 1)),
        };
        release(&mut out, &cx, n);
        n += 1;
    }
    out
}

const SHARED_METRICS: usize = 30;
const SHARED_MESSAGES: usize = 10;

/// The module every release file of service `s` imports: metrics and message templates.
pub fn shared_module(s: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Shared metrics and messages of service {s}.");
    for i in 0..SHARED_METRICS {
        metric_def(&mut out, i);
    }
    let _ = writeln!(out);
    for i in 0..SHARED_MESSAGES {
        message(&mut out, i);
    }
    out
}

/// A root file: the service, its environments, team and channels, and two releases whose
/// conditions use the shared module's metrics.
pub fn release_file(s: usize, r: usize) -> String {
    const CHANNELS: usize = 5;
    let svc = format!("svc_{s:02}");
    let mut out = String::new();
    let _ = writeln!(out, "# Releases {r} of {svc}.");
    let _ = writeln!(out, "import std.comms");
    let _ = writeln!(out, "import \"../shared.deploy\" as shared");
    let _ = writeln!(out);
    service(&mut out, &svc);
    let envs = vec!["staging".to_string(), "production".to_string()];
    environments(&mut out, &envs, &svc);
    team(&mut out, &svc);
    for i in 0..CHANNELS {
        channel(&mut out, i);
    }
    let _ = writeln!(out);
    for k in 0..2 {
        let n = r * 2 + k;
        let cx = ReleaseCtx {
            version: format!("{}.{}.{k}", 1 + s, r),
            tag: format!("s{s}_r{n}"),
            metrics: SHARED_METRICS,
            channels: CHANNELS,
            messages: SHARED_MESSAGES,
            prefix: "shared.",
            contract_of: (k > 0).then(|| format!("add_col_s{s}_r{}", n - 1)),
        };
        release(&mut out, &cx, n);
    }
    out
}
