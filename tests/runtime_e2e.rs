//! `deployc run` end to end against real services: the machine's PostgreSQL server (ledger,
//! exactly-once, revert on rollback, `pg_dump` backup and restore), a webhook endpoint served
//! here, and a real Prometheus server scraping an endpoint whose error rate the test controls.
//!
//! Without a PostgreSQL server or the `prometheus` binary those tests skip with the reason
//! printed, unless `DEPLOYC_REQUIRE_POSTGRES=1` or `DEPLOYC_REQUIRE_PROMETHEUS=1` (CI).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod loopback;
#[path = "common/process.rs"]
mod process;
use process::{deployc, required, text};
#[path = "common/prometheus.rs"]
mod prometheus_server;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use prometheus_server::{prometheus_binary, start_prometheus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    process::scratch_in("runtime-e2e", name)
}

fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = deployc();
    c.current_dir(dir).args(["run", "app.deploy"]).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The journal of the newest run.
fn last_journal(dir: &Path) -> Vec<serde_json::Value> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir.join(".deployc/runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    runs.sort_by_key(|p| {
        std::fs::metadata(p.join("journal.jsonl"))
            .unwrap()
            .modified()
            .unwrap()
    });
    std::fs::read_to_string(runs.last().unwrap().join("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn count(events: &[serde_json::Value], kind: &str) -> usize {
    events.iter().filter(|e| e["type"] == kind).count()
}

/// These programs test the runtime's edges, not a safe rollout: the findings about missing
/// notices, triggers and roles are switched off the way a user would.
fn allow_rules(dir: &Path) {
    process::allow_rules(
        dir,
        &["C501", "C502", "C505", "R301", "R305", "S403", "T801"],
    );
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Runs SQL on the test server; `None` (with the reason printed) when it is unreachable.
fn pg_rows(sql: &str) -> Option<Vec<tokio_postgres::Row>> {
    let url = std::env::var("DEPLOYC_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into());
    let r = block_on(async {
        let (client, conn) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_postgres::connect(&url, tokio_postgres::NoTls),
        )
        .await
        .map_err(|_| format!("no answer from {url}"))?
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
        tokio::spawn(conn);
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| e.to_string())?;
        client.query(sql, &[]).await.map_err(|e| e.to_string())
    });
    match r {
        Ok(rows) => Some(rows),
        Err(e) if e.starts_with("no answer") || e.starts_with("cannot connect") => {
            assert!(
                !required("DEPLOYC_REQUIRE_POSTGRES"),
                "DEPLOYC_REQUIRE_POSTGRES=1 but {e}"
            );
            eprintln!("skipped: {e} (set DEPLOYC_REQUIRE_POSTGRES=1 to make this an error)");
            None
        }
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// An empty schema named after `name` and this process (two checkouts testing against one
/// server at once must not meet), or `None` when there is no server and the test is skipped.
fn fresh_schema(name: &str) -> Option<String> {
    pg_rows("SELECT 1")?;
    let schema = format!("{name}_{}", std::process::id());
    pg_rows(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
    pg_rows(&format!("CREATE SCHEMA {schema}")).unwrap();
    Some(schema)
}

fn pg_url(schema: &str) -> String {
    let base = std::env::var("DEPLOYC_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into());
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

const PG_PROGRAM: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  database = postgres env DATABASE_URL
  backup   = pg_dump
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 200ms
    step 100%
  }
  migrations {
    expand create_items {
      up   = sql "CREATE TABLE items (id integer PRIMARY KEY, name text)"
      down = sql "DROP TABLE items"
    }
  }
}

release "1.1.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 200ms
    step 100%
  }
  migrations {
    expand create_tags {
      up   = sql "CREATE TABLE tags (id integer PRIMARY KEY)"
      down = sql "DROP TABLE tags"
    }
    expand fill_tags {
      up   = sql "INSERT INTO tags SELECT id FROM no_such_table"
      down = sql "DELETE FROM tags"
    }
  }
}
"#;

#[test]
fn postgres_migrations_with_the_ledger_exactly_once_and_reverted_on_rollback() {
    let Some(schema) = &fresh_schema("deployc_e2e_run") else {
        return;
    };
    let dir = scratch("postgres");
    std::fs::write(dir.join("app.deploy"), PG_PROGRAM).unwrap();
    allow_rules(&dir);
    let url = pg_url(schema);
    let env = [("DATABASE_URL", url.as_str())];

    let first = run(&dir, &env, &["--release", "1.0.0", "--env", "ci"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(count(&last_journal(&dir), "migration_applied"), 1);
    let ledger = format!(
        "SELECT name, release, phase, checksum, applied_at::text, reverted_at::text FROM {schema}.deployc_migrations ORDER BY name"
    );
    let rows = pg_rows(&ledger).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), "create_items");
    assert_eq!(rows[0].get::<_, String>(1), "1.0.0");
    assert_eq!(rows[0].get::<_, String>(2), "expand");
    assert!(rows[0].get::<_, String>(3).starts_with("sha256:"));
    let applied_at: String = rows[0].get(4);

    // The same release again: the ledger has the migration, nothing runs twice.
    let again = run(&dir, &env, &["--release", "1.0.0", "--env", "ci"]);
    let out = text(&again);
    assert_eq!(again.status.code(), Some(0), "{out}");
    assert!(out.contains("already applied (ledger"), "{out}");
    assert_eq!(count(&last_journal(&dir), "migration_applied"), 0);
    let rows = pg_rows(&ledger).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(4), applied_at);

    // A failing migration rolls the release back: the one before it is reverted by its down.
    let bad = run(&dir, &env, &["--release", "1.1.0", "--env", "ci"]);
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(out.contains("reverted `create_tags`"), "{out}");
    let events = last_journal(&dir);
    assert_eq!(count(&events, "migration_reverted"), 1);
    let rows = pg_rows(&ledger).unwrap();
    let tags = rows
        .iter()
        .find(|r| r.get::<_, String>(0) == "create_tags")
        .unwrap();
    assert!(
        tags.get::<_, Option<String>>(5).is_some(),
        "reverted_at set"
    );
    assert!(
        !rows.iter().any(|r| r.get::<_, String>(0) == "fill_tags"),
        "the failed migration left no ledger row"
    );
    let tables = pg_rows(&format!(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = '{schema}' ORDER BY 1"
    ))
    .unwrap();
    let tables: Vec<String> = tables.iter().map(|r| r.get(0)).collect();
    assert_eq!(
        tables,
        ["deployc_migration_batches", "deployc_migrations", "items"]
    );
    pg_rows(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
}

/// Past the point of no return (an irreversible backfill ran), a failed release stops at the
/// manual gate; approving it restores the `pg_dump` backup taken before the backfill.
const PG_RESTORE_RELEASE: &str = r#"
release "2.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 200ms
    step 100%
  }
  migrations {
    data shout_names {
      up   = sql "UPDATE items SET name = upper(name)"
      irreversible "the original case is lost"
    }
    index items_by_missing {
      up   = sql "CREATE INDEX items_by_missing ON items (no_such_column)"
      down = sql "DROP INDEX items_by_missing"
    }
  }
}
"#;

#[test]
fn postgres_backup_is_restored_when_the_manual_gate_is_approved() {
    let Some(schema) = &fresh_schema("deployc_e2e_restore") else {
        return;
    };
    let dir = scratch("postgres-restore");
    std::fs::write(
        dir.join("app.deploy"),
        format!("{PG_PROGRAM}{PG_RESTORE_RELEASE}"),
    )
    .unwrap();
    allow_rules(&dir);
    let url = pg_url(schema);
    let env = [("DATABASE_URL", url.as_str())];
    let first = run(&dir, &env, &["--release", "1.0.0", "--env", "ci"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    pg_rows(&format!("INSERT INTO {schema}.items VALUES (1, 'apple')")).unwrap();
    let names = format!("SELECT name FROM {schema}.items");

    // Without an answer the gate leaves the database for a person: exit 3.
    let stuck = run(&dir, &env, &["--release", "2.0.0", "--env", "ci"]);
    let out = text(&stuck);
    assert_eq!(stuck.status.code(), Some(3), "{out}");
    assert!(out.contains("backed up to"), "{out}");
    let rows = pg_rows(&names).unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "APPLE");

    // Put the table back as it was and run again, approving the restore.
    pg_rows(&format!("UPDATE {schema}.items SET name = 'apple'")).unwrap();
    pg_rows(&format!(
        "DELETE FROM {schema}.deployc_migrations WHERE name = 'shout_names'"
    ))
    .unwrap();
    let restored = run(
        &dir,
        &env,
        &["--release", "2.0.0", "--env", "ci", "--approve", "lead"],
    );
    let out = text(&restored);
    assert_eq!(restored.status.code(), Some(1), "{out}");
    let events = last_journal(&dir);
    assert!(
        events.iter().any(|e| e["type"] == "action"
            && e["what"] == "restore from backup"
            && e["ok"] == true),
        "{events:?}"
    );
    let rows = pg_rows(&names).unwrap();
    assert_eq!(
        rows[0].get::<_, String>(0),
        "apple",
        "the backup was restored"
    );
    let ledger = pg_rows(&format!(
        "SELECT name FROM {schema}.deployc_migrations ORDER BY name"
    ))
    .unwrap();
    let ledger: Vec<String> = ledger.iter().map(|r| r.get(0)).collect();
    assert_eq!(ledger, ["create_items"], "the ledger is the backup's too");
    pg_rows(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Webhook

const HOOK_PROGRAM: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy = "test {version} != 1.1.0-bad"
    weight = "true"
  }
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

channel hook = webhook env HOOK_URL

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 200ms
    step 100%
  }
  comms {
    on start    notify hook "starting {version}"
    on done     notify hook "{version} is out"
    on rollback notify hook "rolling back: {reason}"
  }
}

release "1.1.0-bad" {
  strategy = canary {
    analysis every 200ms
    step 50% for 200ms
    step 100%
  }
  comms {
    on start    notify hook "starting {version}"
    on done     notify hook "{version} is out"
    on rollback notify hook "rolling back: {reason}"
  }
}
"#;

#[test]
fn webhook_channel_receives_start_done_and_rollback_events() {
    let server = loopback::Server::start(|_| (200, String::new()));
    let dir = scratch("webhook");
    std::fs::write(dir.join("app.deploy"), HOOK_PROGRAM).unwrap();
    allow_rules(&dir);
    let url = server.url("/hook/T000/secret-path-77");
    let env = [("HOOK_URL", url.as_str())];

    let ok = run(&dir, &env, &["--release", "1.0.0", "--env", "ci"]);
    let out = text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    let events: Vec<serde_json::Value> = server.hits("/hook/").iter().map(|h| h.json()).collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["start", "done"], "{events:?}");
    assert_eq!(events[0]["service"], "app");
    assert_eq!(events[0]["release"], "1.0.0");
    assert_eq!(events[0]["environment"], "ci");
    assert_eq!(events[0]["text"], "starting 1.0.0");
    assert_eq!(events[1]["text"], "1.0.0 is out");

    let bad = run(&dir, &env, &["--release", "1.1.0-bad", "--env", "ci"]);
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    let events: Vec<serde_json::Value> = server.hits("/hook/").iter().map(|h| h.json()).collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["start", "done", "start", "rollback"], "{events:?}");
    assert_eq!(events[3]["release"], "1.1.0-bad");
    assert!(
        events[3]["text"]
            .as_str()
            .unwrap()
            .starts_with("rolling back: "),
        "{events:?}"
    );
    // The URL is the secret: not in the journal, not in the output.
    assert!(!out.contains("secret-path-77"), "{out}");
    let journal = serde_json::to_string(&last_journal(&dir)).unwrap();
    assert!(!journal.contains("secret-path-77"));

    // A missing variable is a configuration error before anything runs, and leaves no run.
    let runs_before = std::fs::read_dir(dir.join(".deployc/runs"))
        .unwrap()
        .count();
    let unset = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", "ci"])
        .env_remove("HOOK_URL")
        .output()
        .unwrap();
    let out = text(&unset);
    assert_eq!(unset.status.code(), Some(2), "{out}");
    assert!(out.contains("`HOOK_URL`"), "{out}");
    assert!(out.contains("which is not set"), "{out}");
    let runs_after = std::fs::read_dir(dir.join(".deployc/runs"))
        .unwrap()
        .count();
    assert_eq!(runs_after, runs_before, "no run directory is left behind");
}

const CHANNELS_PROGRAM: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy = "true"
    weight = "true"
  }
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

channel optional = webhook env OPTIONAL_URL
channel status   = webhook env STATUS_URL required
channel mail     = email "ops@example.com" smtp env SMTP_URL

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 200ms
    step 100%
  }
  comms {
    on step     notify optional, status, mail "{version} at {weight}"
    on rollback notify mail "rolling back: {reason}"
  }
}
"#;

#[test]
fn a_failing_channel_is_reported_and_a_failing_required_one_rolls_back() {
    // `/refuse/…` answers 400: a permanent failure, so no retries slow the test down.
    let server = loopback::Server::start(|path| {
        if path.starts_with("/refuse/") {
            (400, "no".into())
        } else {
            (200, String::new())
        }
    });
    let smtp = loopback::Smtp::start();
    let dir = scratch("channels");
    std::fs::write(dir.join("app.deploy"), CHANNELS_PROGRAM).unwrap();
    allow_rules(&dir);
    let optional = server.url("/refuse/optional");
    let status_ok = server.url("/status");
    let status_refusing = server.url("/refuse/status");
    let smtp_url = format!("smtp://{}?from=deployc%40example.com", smtp.addr);

    let ok = run(
        &dir,
        &[
            ("OPTIONAL_URL", optional.as_str()),
            ("STATUS_URL", status_ok.as_str()),
            ("SMTP_URL", smtp_url.as_str()),
        ],
        &["--release", "1.0.0", "--env", "ci"],
    );
    let out = text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    let events = last_journal(&dir);
    let failed: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "message_sent" && e["ok"] == false)
        .collect();
    assert!(!failed.is_empty(), "{events:?}");
    assert!(
        failed.iter().all(|e| e["channel"] == "optional"),
        "{failed:?}"
    );
    assert!(
        failed[0]["detail"].as_str().unwrap().contains("400"),
        "{failed:?}"
    );
    assert_eq!(
        server.hits("/status").len(),
        2,
        "one message per canary step"
    );
    let mail = smtp.messages();
    assert_eq!(mail.len(), 2, "{mail:?}");
    assert!(
        mail[0].contains("Subject: [deployc] app 1.0.0 on ci: step"),
        "{mail:?}"
    );
    assert!(mail[0].contains("1.0.0 at 50%"), "{mail:?}");

    // The required channel refusing fails the step, and the rollback runs.
    let bad = run(
        &dir,
        &[
            ("OPTIONAL_URL", optional.as_str()),
            ("STATUS_URL", status_refusing.as_str()),
            ("SMTP_URL", smtp_url.as_str()),
        ],
        &["--release", "1.0.0", "--env", "ci"],
    );
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    let events = last_journal(&dir);
    assert!(
        events.iter().any(|e| e["type"] == "step_failed"
            && e["reason"]
                .as_str()
                .unwrap()
                .contains("required channel `status` failed")),
        "{events:?}"
    );
    assert_eq!(count(&events, "rollback_started"), 1);
    assert!(
        smtp.messages().iter().any(|m| m.contains("rolling back: ")),
        "{:?}",
        smtp.messages()
    );
}

// ---------------------------------------------------------------------------------------------
// Active probing

const PROBE_PROGRAM: &str = r#"
import std.http

service app {
  health = http "{url}/health" expect 200 timeout 1s
}

environment ci {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  url     = "http://ADDR"
  metrics = probe every 100ms
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

release "1.0.0" {
  strategy = canary {
    analysis every 500ms, no_data fail after 3
    step 10% for 1500ms require error_rate < 1%
    step 100%
  }
  rollback {
    auto when error_rate > 5% for 1s
  }
}
"#;

#[test]
fn probe_without_the_local_provider_requests_the_health_endpoint() {
    let failing = Arc::new(AtomicU64::new(0));
    let f = failing.clone();
    let server = loopback::Server::start(move |path| {
        if path == "/health" && f.load(Ordering::SeqCst) == 1 {
            (503, "down".into())
        } else {
            (200, "ok".into())
        }
    });
    let dir = scratch("probe");
    std::fs::write(
        dir.join("app.deploy"),
        PROBE_PROGRAM.replace("ADDR", &server.addr.to_string()),
    )
    .unwrap();
    allow_rules(&dir);

    let ok = run(&dir, &[], &["--release", "1.0.0", "--env", "ci"]);
    let out = text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    let events = last_journal(&dir);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "sample" && e["metric"] == "error_rate" && e["value"] == 0.0),
        "{events:?}"
    );
    assert!(
        server.hits("/health").len() >= 5,
        "the probe asked repeatedly"
    );

    failing.store(1, Ordering::SeqCst);
    let bad = run(&dir, &[], &["--release", "1.0.0", "--env", "ci"]);
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    let events = last_journal(&dir);
    // The `command` provider requests the service's health URL itself: the failing service is
    // caught by the health check before anything changes, not later by the probe's metric.
    assert!(
        events.iter().any(|e| e["type"] == "step_failed"
            && e["reason"].as_str().unwrap().contains("answered 503")),
        "{events:?}"
    );
    assert!(!events.iter().any(|e| e["what"] == "deploy"), "{events:?}");
}

// ---------------------------------------------------------------------------------------------
// Flags

const FLAG_PROGRAM: &str = r#"
service app {}

environment by_command {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  flags = command "printf '%s|%s|%s|%s\n' {flag} {percent} {segment} {version} >> flags.log"
}

environment refusing {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  flags = command "printf '%s|%s\\n' {flag} {percent} >> rollback.log; test {percent} = 0"
}

environment by_file {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  flags = file "flags.json"
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

release "1.0.0" {
  strategy = flags_only
  flag new_checkout {
    initially off
    day 0 25% of beta
    remove by day 30
  }
}
"#;

#[test]
fn flag_steps_run_the_command_or_write_the_file() {
    let dir = scratch("flags");
    std::fs::write(dir.join("app.deploy"), FLAG_PROGRAM).unwrap();
    std::fs::write(dir.join("flags.json"), "{\"other\": {\"percent\": 100}}\n").unwrap();
    allow_rules(&dir);

    // Both runs set the day-0 flag and pause until the removal reminder is due.
    let cmd = run(&dir, &[], &["--release", "1.0.0", "--env", "by_command"]);
    let out = text(&cmd);
    assert_eq!(cmd.status.code(), Some(0), "{out}");
    assert!(out.contains("next step due at"), "{out}");
    let log = std::fs::read_to_string(dir.join("flags.log")).unwrap();
    assert_eq!(log, "new_checkout|25|beta|1.0.0\n");

    let file = run(&dir, &[], &["--release", "1.0.0", "--env", "by_file"]);
    assert_eq!(file.status.code(), Some(0), "{}", text(&file));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("flags.json")).unwrap()).unwrap();
    assert_eq!(doc["new_checkout"]["percent"], 25.0);
    assert_eq!(doc["new_checkout"]["segment"], "beta");
    assert_eq!(doc["other"]["percent"], 100, "other flags are kept");

    // A flag change that fails rolls back, which switches the flag back off.
    let bad = run(&dir, &[], &["--release", "1.0.0", "--env", "refusing"]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    let log = std::fs::read_to_string(dir.join("rollback.log")).unwrap();
    assert_eq!(log, "new_checkout|25\nnew_checkout|0\n");
}

// ---------------------------------------------------------------------------------------------
// Prometheus

/// The value Prometheus has for `query` now, if any (a plain HTTP GET, as curl would).
fn prometheus_value(addr: &str, query: &str) -> Option<f64> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let q: String = query
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    write!(
        s,
        "GET /api/v1/query?query={q} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let body = response.split("\r\n\r\n").nth(1)?;
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Polls until Prometheus answers `query` with `want`, instead of sleeping a guessed time.
fn wait_for(addr: &str, query: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while prometheus_value(addr, query) != Some(want) {
        assert!(
            Instant::now() < deadline,
            "prometheus never reported {query} = {want}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

const PROM_PROGRAM: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  metrics  = prometheus env PROMETHEUS_URL timeout 2s
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

metric error_rate: percent = prometheus "max(app_error_rate{track=\"{track}\"})"
metric latency_p99: duration = prometheus "max(app_latency_seconds{track=\"{track}\"}[{window}])"

release "1.0.0" {
  strategy = canary {
    analysis every 500ms, no_data fail after 3
    step 50% for 2s require error_rate < 1%
    step 100%
  }
  rollback {
    auto when error_rate > 5% for 1s
    auto when latency_p99 > 2s for 1s
  }
}
"#;

#[test]
fn prometheus_source_drives_the_canary_and_its_rollback() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    // The canary's error rate, in hundredths of a percent, as the scraped endpoint shows it.
    let canary = Arc::new(AtomicU64::new(0));
    let shown = canary.clone();
    let app = loopback::Server::start(move |path| {
        if path == "/metrics" {
            let v = shown.load(Ordering::SeqCst) as f64 / 100.0;
            (
                200,
                format!(
                    "# TYPE app_error_rate gauge\napp_error_rate{{track=\"stable\"}} 0.1\napp_error_rate{{track=\"canary\"}} {v}\n"
                ),
            )
        } else {
            (404, String::new())
        }
    });
    let prom = start_prometheus(&binary, &app.addr.to_string());
    let canary_query = "max(app_error_rate{track=\"canary\"})";
    wait_for(&prom.addr, canary_query, 0.0);

    let dir = scratch("prometheus");
    std::fs::write(dir.join("app.deploy"), PROM_PROGRAM).unwrap();
    allow_rules(&dir);
    let url = format!("http://{}", prom.addr);
    let env = [("PROMETHEUS_URL", url.as_str())];

    let ok = run(&dir, &env, &["--release", "1.0.0", "--env", "ci"]);
    let out = text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    let events = last_journal(&dir);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "sample" && e["track"] == "new" && e["value"] == 0.0),
        "{events:?}"
    );
    // A series the endpoint does not have is missing data, journaled with its reason; the
    // trigger's `for` window is the query's `{window}` (Prometheus rejects a range selector on
    // an instant query, so the reason is the query error naming it).
    let no_data: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "sample" && e["metric"] == "latency_p99")
        .filter_map(|e| e["no_data"].as_str())
        .collect();
    assert!(!no_data.is_empty(), "{events:?}");
    assert!(no_data[0].starts_with("no data ("), "{no_data:?}");

    // The canary starts failing: 20% errors, which the require guard sees at once.
    canary.store(2000, Ordering::SeqCst);
    wait_for(&prom.addr, canary_query, 20.0);
    let bad = run(&dir, &env, &["--release", "1.0.0", "--env", "ci"]);
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    let events = last_journal(&dir);
    assert!(
        events.iter().any(|e| e["type"] == "check"
            && e["condition"] == "error_rate < 1%"
            && e["result"] == "fail"),
        "{events:?}"
    );
    assert_eq!(count(&events, "rollback_started"), 1);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "sample" && e["value"] == 20.0),
        "{events:?}"
    );
}

/// A latency in seconds, as Prometheus histograms give it, against a threshold in
/// milliseconds: the reading is brought into the condition's unit (0.45 s is 450 ms), so the
/// trigger fires. Read as 0.45 ms, no latency threshold could ever fire.
const PROM_LATENCY_PROGRAM: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  metrics  = prometheus env PROMETHEUS_URL timeout 2s
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

metric latency_p95: duration = prometheus "max(app_latency_seconds{track=\"{track}\"})"

release "1.0.0" {
  strategy = canary {
    analysis every 500ms, no_data fail after 3
    step 50% for 3s
    step 100%
  }
  rollback {
    auto when latency_p95 > 300ms for 1s
  }
}
"#;

#[test]
fn prometheus_seconds_are_compared_as_durations() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let app = loopback::Server::start(move |path| {
        if path == "/metrics" {
            (
                200,
                "# TYPE app_latency_seconds gauge\napp_latency_seconds{track=\"stable\"} 0.1\napp_latency_seconds{track=\"canary\"} 0.45\n".to_string(),
            )
        } else {
            (404, String::new())
        }
    });
    let prom = start_prometheus(&binary, &app.addr.to_string());
    wait_for(
        &prom.addr,
        "max(app_latency_seconds{track=\"canary\"})",
        0.45,
    );

    let dir = scratch("prometheus-latency");
    std::fs::write(dir.join("app.deploy"), PROM_LATENCY_PROGRAM).unwrap();
    allow_rules(&dir);
    let url = format!("http://{}", prom.addr);
    let env = [("PROMETHEUS_URL", url.as_str())];
    let bad = run(&dir, &env, &["--release", "1.0.0", "--env", "ci"]);
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    let events = last_journal(&dir);
    assert_eq!(count(&events, "rollback_started"), 1, "{events:?}");
    let values: Vec<f64> = events
        .iter()
        .filter(|e| e["type"] == "sample" && e["metric"] == "latency_p95")
        .filter_map(|e| e["value"].as_f64())
        .collect();
    assert!(
        !values.is_empty() && values.iter().all(|v| *v == 450.0),
        "{values:?}"
    );
}
