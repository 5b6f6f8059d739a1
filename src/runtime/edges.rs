//! The real world's integrations, behind the executor's traits: migration databases
//! ([`super::db`]), metric sources ([`super::metrics`]), channels ([`super::channels`]) and the
//! flag drivers.
//!
//! Everything here is built before the run starts, from the plan's target and channels, so that
//! a missing environment variable or an unreachable database stops the run (exit 2) before
//! anything changed. Secrets are read here and nowhere else; their variables are named
//! `env VAR` in the plan, which is how the journal's redactor knows them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::channels::{self, Credentials, Delivery, Driver, EmailConfig, Secret, Security, Sender};
use super::db::{self, DbError};
use super::local::stats::Stats;
use super::metrics::{CommandSource, Prometheus, QueryContext, Reading};
use super::shell::{self, RealShell};
use super::world::{
    self, Applied, ApplyFailure, BatchOutcome, BatchProgress, BoxFuture, Done, Migration, Shell,
    Track,
};
use crate::lower::{Plan, PlanChannel, TargetDatabase, TargetFlags, TargetMetrics};

/// `env VAR` → the variable's value; anything else is the value itself.
fn resolve(value: &str, what: &str) -> Result<String, String> {
    match value.strip_prefix("env ") {
        Some(var) => std::env::var(var.trim()).map_err(|_| {
            format!(
                "{what} comes from the environment variable `{}`, which is not set",
                var.trim()
            )
        }),
        None => Ok(value.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Databases

enum Engine {
    Sqlite(db::Sqlite),
    Postgres(Box<db::Postgres>),
}

/// A migration database: SQLite or PostgreSQL with the `deployc_migrations` ledger.
pub(crate) struct Database {
    engine: Engine,
    /// Where this run's backup goes (in the run directory).
    backup_to: PathBuf,
    /// Where the database as it was goes before a restore overwrites it.
    snapshot_to: PathBuf,
}

impl Database {
    /// Opens (or connects to) the environment's database.
    pub(crate) async fn open(
        target: &TargetDatabase,
        base: &Path,
        run_dir: &Path,
    ) -> Result<Database, String> {
        match target {
            TargetDatabase::Sqlite { file } => {
                let engine = db::Sqlite::open(base.join(file))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Database {
                    engine: Engine::Sqlite(engine),
                    backup_to: run_dir.join("backup.sqlite"),
                    snapshot_to: run_dir.join("before-restore.sqlite"),
                })
            }
            TargetDatabase::Postgres { url } => {
                let url = resolve(url, "the PostgreSQL URL")?;
                let options = db::PostgresOptions {
                    schema: search_path(&url),
                    ..db::PostgresOptions::default()
                };
                let engine = db::Postgres::connect_with(&url, options)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Database {
                    engine: Engine::Postgres(Box::new(engine)),
                    backup_to: run_dir.join("backup.pgdump"),
                    snapshot_to: run_dir.join("before-restore.pgdump"),
                })
            }
        }
    }
}

/// The schema of a URL's `options=-c search_path=S`, so that the ledger and the backup stay in
/// the schema the migrations run in (a `pg_dump` of the whole database is not asked for).
fn search_path(url: &str) -> Option<String> {
    use std::str::FromStr;
    // TLS options tokio-postgres does not parse (`verify-full`, `sslrootcert`) are set aside.
    let (for_client, _) = db::postgres::tls_options(url).ok()?;
    let config = tokio_postgres::Config::from_str(&for_client).ok()?;
    let options = config.get_options()?;
    let rest = options.split("search_path").nth(1)?;
    let value = rest.trim_start().strip_prefix('=')?.trim_start();
    let schema: String = value
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!schema.is_empty()).then_some(schema)
}

fn to_db(m: &Migration) -> db::Migration {
    db::Migration {
        name: m.name.clone(),
        release: m.release.clone(),
        phase: m.phase.clone(),
        up: m.up.clone(),
        down: m.down.clone(),
        statement_timeout: Some(Duration::from_millis(m.statement_timeout_ms)),
        lock_timeout: Some(Duration::from_millis(m.lock_timeout_ms)),
        batch: m.batch.as_ref().map(|(size, key)| db::Batch {
            size: *size,
            key: key.clone(),
        }),
    }
}

/// Whether a verify query's value (as the database prints it) is the expected one; a number
/// is compared as a number (`0` equals `0.0`), a text exactly.
fn is_expected(value: &str, expected: &crate::lower::VerifyValue) -> bool {
    match expected {
        crate::lower::VerifyValue::Int(n) => value
            .trim()
            .parse::<f64>()
            .is_ok_and(|v| v.is_finite() && v.fract() == 0.0 && v == *n as f64),
        crate::lower::VerifyValue::Text(t) => value == t,
    }
}

fn describe_db(e: DbError) -> String {
    e.to_string()
}

/// A failed apply, with what it left applied when it ran outside a transaction.
fn apply_failure(e: DbError) -> ApplyFailure {
    let stays_applied = match &e {
        DbError::Statement {
            name, committed, ..
        } if *committed > 0 => Some(if *committed == 1 {
            format!("statement 1 of migration `{name}` stays applied")
        } else {
            format!("statements 1 to {committed} of migration `{name}` stay applied")
        }),
        _ => None,
    };
    ApplyFailure {
        message: e.to_string(),
        stays_applied,
    }
}

impl world::Database for Database {
    fn apply<'a>(&'a self, m: &'a Migration) -> BoxFuture<'a, Result<String, ApplyFailure>> {
        Box::pin(async move {
            let dm = to_db(m);
            let r = match &self.engine {
                Engine::Sqlite(d) => d.apply(&dm).await,
                Engine::Postgres(d) => d.apply(&dm).await,
            };
            match r.map_err(apply_failure)? {
                db::Applied::Now {
                    transactional,
                    attempts,
                } => Ok(format!(
                    "applied `{}` ({}{})",
                    m.name,
                    if transactional {
                        "one transaction"
                    } else {
                        "statement by statement"
                    },
                    if attempts > 1 {
                        format!(", {attempts} attempts")
                    } else {
                        String::new()
                    }
                )),
                db::Applied::Already(row) => Ok(format!(
                    "`{}` already applied (ledger, {}): not run again",
                    m.name, row.applied_at
                )),
            }
        })
    }

    fn revert<'a>(&'a self, m: &'a Migration) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            let dm = to_db(m);
            let r = match &self.engine {
                Engine::Sqlite(d) => d.revert(&dm).await,
                Engine::Postgres(d) => d.revert(&dm).await,
            };
            match r.map_err(describe_db)? {
                db::Reverted::Now { .. } => Ok(format!("reverted `{}`", m.name)),
                db::Reverted::NotApplied => Ok(format!("`{}` is not applied (ledger)", m.name)),
                db::Reverted::Already(_) => Ok(format!("`{}` was already reverted", m.name)),
            }
        })
    }

    fn applied(&self) -> BoxFuture<'_, Result<Vec<Applied>, String>> {
        Box::pin(async move {
            let rows = match &self.engine {
                Engine::Sqlite(d) => d.ledger().await,
                Engine::Postgres(d) => d.ledger().await,
            }
            .map_err(describe_db)?;
            Ok(rows
                .into_iter()
                .map(|r| Applied {
                    name: r.name,
                    checksum: r.checksum,
                    reverted: r.reverted_at.is_some(),
                })
                .collect())
        })
    }

    fn backup(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            let b = match &self.engine {
                Engine::Sqlite(d) => d.backup(&self.backup_to).await,
                Engine::Postgres(d) => d.backup(&self.backup_to).await,
            }
            .map_err(describe_db)?;
            Ok(format!(
                "backed up to {} ({} bytes; verified: {})",
                b.path.display(),
                b.bytes,
                b.verified
            ))
        })
    }

    fn apply_batch<'a>(
        &'a self,
        m: &'a Migration,
    ) -> BoxFuture<'a, Result<BatchOutcome, ApplyFailure>> {
        Box::pin(async move {
            let dm = to_db(m);
            let r = match &self.engine {
                Engine::Sqlite(d) => d.apply_batch(&dm).await,
                Engine::Postgres(d) => d.apply_batch(&dm).await,
            };
            Ok(match r.map_err(apply_failure)? {
                db::BatchStep::Ran(b) => BatchOutcome::Ran(BatchProgress {
                    batch: b.batch,
                    rows: b.rows,
                    total_rows: b.total_rows,
                    last_key: b.last_key,
                    finished: b.finished,
                }),
                db::BatchStep::Already(row) => BatchOutcome::Already(format!(
                    "`{}` already applied (ledger, {}): not run again",
                    m.name, row.applied_at
                )),
            })
        })
    }

    fn verify<'a>(
        &'a self,
        m: &'a Migration,
        v: &'a crate::lower::MigrationVerify,
    ) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            let dm = to_db(m);
            let value = match &self.engine {
                Engine::Sqlite(d) => d.verify(&dm, &v.query).await,
                Engine::Postgres(d) => d.verify(&dm, &v.query).await,
            }
            .map_err(describe_db)?;
            let query = v.query.split_whitespace().collect::<Vec<_>>().join(" ");
            if is_expected(&value, &v.expect) {
                Ok(format!("`{query}` = {value}"))
            } else {
                Err(format!("`{query}` gave {value}, expected {}", v.expect))
            }
        })
    }

    fn snapshot(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            let b = match &self.engine {
                Engine::Sqlite(d) => d.backup(&self.snapshot_to).await,
                Engine::Postgres(d) => d.backup(&self.snapshot_to).await,
            }
            .map_err(describe_db)?;
            Ok(format!(
                "saved the database as it was to {} ({} bytes; verified: {})",
                b.path.display(),
                b.bytes,
                b.verified
            ))
        })
    }

    fn restore(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            if !self.backup_to.exists() {
                return Err(format!(
                    "this run took no backup (`{}` does not exist)",
                    self.backup_to.display()
                ));
            }
            match &self.engine {
                Engine::Sqlite(d) => d.restore(&self.backup_to).await,
                Engine::Postgres(d) => d.restore(&self.backup_to).await,
            }
            .map_err(describe_db)?;
            Ok(format!("restored from {}", self.backup_to.display()))
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Metric sources

enum Source {
    Prometheus(Prometheus),
    /// The environment's command, with `{metric}` and `{query}` besides the query placeholders.
    Command(CommandSource),
}

/// Prometheus or a command, read for the stable or the new version.
pub(crate) struct Metrics {
    source: Source,
    service: String,
    release: String,
    stable: Option<String>,
    /// Kind and rate unit of each metric, to bring readings into the units of conditions.
    units: std::collections::HashMap<String, (String, Option<String>)>,
    environment: String,
}

const PROMETHEUS_TIMEOUT_MS: u64 = 10_000;
const COMMAND_TIMEOUT_MS: u64 = 30_000;

impl Metrics {
    /// The environment's `prometheus` or `command` source; `None` for other kinds.
    pub(crate) fn new(
        target: &TargetMetrics,
        plan: &Plan,
        stable: Option<String>,
        base: &Path,
    ) -> Result<Option<Metrics>, String> {
        let value = target.value.clone().unwrap_or_default();
        let source = match target.kind.as_str() {
            "prometheus" => {
                let url = resolve(&value, "the Prometheus URL")?;
                let timeout = target.timeout_ms.unwrap_or(PROMETHEUS_TIMEOUT_MS);
                Source::Prometheus(Prometheus::new(&url, Duration::from_millis(timeout))?)
            }
            "command" => {
                let timeout = target.timeout_ms.unwrap_or(COMMAND_TIMEOUT_MS);
                let mut c = CommandSource::new(value, Duration::from_millis(timeout));
                c.dir = Some(base.to_path_buf());
                Source::Command(c)
            }
            _ => return Ok(None),
        };
        Ok(Some(Metrics {
            source,
            service: plan.service.clone(),
            release: plan.release.clone(),
            stable,
            units: plan
                .metrics
                .iter()
                .map(|m| (m.name.clone(), (m.kind.clone(), m.per.clone())))
                .collect(),
            environment: plan.environment.clone(),
        }))
    }
}

impl Metrics {
    async fn read(
        &self,
        metric: &str,
        query: Option<&str>,
        track: Track,
        window_ms: u64,
    ) -> Result<f64, Option<String>> {
        let (version, track) = match track {
            Track::Stable => (self.stable.clone().unwrap_or_default(), "stable"),
            Track::New => (self.release.clone(), "canary"),
        };
        let ctx = QueryContext {
            service: self.service.clone(),
            version,
            track: track.into(),
            window: Duration::from_millis(window_ms),
            environment: self.environment.clone(),
            previous_version: self.stable.clone(),
        };
        let reading = match &self.source {
            Source::Prometheus(p) => match query {
                Some(q) => p.query(q, &ctx).await,
                // The plan notes a metric without a query for this source.
                None => {
                    return Err(Some(format!("metric `{metric}` has no prometheus query")));
                }
            },
            Source::Command(c) => {
                let extra = [
                    ("metric", metric.to_string()),
                    ("query", query.unwrap_or_default().to_string()),
                ];
                c.read_with(&ctx, &extra).await
            }
        };
        match reading {
            Reading::Value(v) => Ok(match self.units.get(metric) {
                Some((kind, per)) => super::metrics::normalise(kind, per.as_deref(), v),
                None => v,
            }),
            Reading::NoData(n) => Err(Some(n.to_string())),
        }
    }
}

impl world::MetricSource for Metrics {
    fn query<'a>(
        &'a self,
        metric: &'a str,
        query: Option<&'a str>,
        track: Track,
        window_ms: u64,
    ) -> BoxFuture<'a, Option<f64>> {
        Box::pin(async move { self.read(metric, query, track, window_ms).await.ok() })
    }

    fn reading<'a>(
        &'a self,
        metric: &'a str,
        query: Option<&'a str>,
        track: Track,
        window_ms: u64,
    ) -> BoxFuture<'a, Result<f64, Option<String>>> {
        Box::pin(self.read(metric, query, track, window_ms))
    }
}

/// `metrics = probe` without the local provider: nothing passes through deployc, so it asks
/// the service itself, requesting the health URL every `every` in the background. A request
/// fails when it gets no answer in time or an answer other than 2xx. One endpoint cannot tell
/// the versions apart: both tracks read the same measurements of the service as a whole.
pub(crate) struct ActiveProbe {
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
}

const PROBE_EVERY_MS: u64 = 1_000;
const PROBE_TIMEOUT_MS: u64 = 5_000;

impl ActiveProbe {
    /// Starts probing on the current tokio runtime; it stops when the probe is dropped.
    pub(crate) fn start(url: String, every_ms: Option<u64>) -> Result<ActiveProbe, String> {
        let every = Duration::from_millis(every_ms.unwrap_or(PROBE_EVERY_MS).max(10));
        let client = reqwest::Client::builder()
            .user_agent(concat!("deployc/", env!("CARGO_PKG_VERSION"), " probe"))
            .timeout(Duration::from_millis(PROBE_TIMEOUT_MS).min(every * 5))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (stats.clone(), stop.clone());
        tokio::spawn(async move {
            while !sp.load(Ordering::Relaxed) {
                let start = std::time::Instant::now();
                let error = match client.get(&url).send().await {
                    Ok(r) => !r.status().is_success(),
                    Err(_) => true,
                };
                let took = start.elapsed();
                st.record(Track::Stable, took, error);
                st.record(Track::New, took, error);
                tokio::time::sleep(every.saturating_sub(took)).await;
            }
        });
        Ok(ActiveProbe { stats, stop })
    }
}

impl Drop for ActiveProbe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl world::MetricSource for ActiveProbe {
    fn query<'a>(
        &'a self,
        metric: &'a str,
        query: Option<&'a str>,
        track: Track,
        window_ms: u64,
    ) -> BoxFuture<'a, Option<f64>> {
        Box::pin(std::future::ready(
            self.stats.query(metric, query, track, window_ms),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Channels

/// A `slack`, `webhook` or `email` channel, delivered with retries by [`Sender`].
pub(crate) struct Channel {
    channel: channels::Channel,
    sender: Sender,
    service: String,
    release: String,
    environment: String,
}

/// The channel for a plan channel of kind `slack`, `webhook` or `email`; `None` for the
/// built-in kinds. A secret whose variable is not set is an error now, before the run.
pub(crate) fn channel(
    c: &PlanChannel,
    plan: &Plan,
    sender: &Sender,
    base: &Path,
) -> Result<Option<Channel>, String> {
    let what = |part: &str| format!("the {part} of channel `{}`", c.name);
    let driver = match c.kind.as_str() {
        "webhook" => Driver::Webhook {
            url: Secret::new(resolve(&c.target, &what("URL"))?),
        },
        "slack" => {
            let hook = c
                .target
                .split_once(" via ")
                .map(|(_, h)| h)
                .unwrap_or(&c.target);
            Driver::Slack {
                webhook: Secret::new(resolve(hook, &what("webhook URL"))?),
            }
        }
        "email" => {
            let Some(smtp) = &c.smtp else {
                return Err(format!(
                    "channel `{}` has no SMTP server: add `smtp env VAR` (`smtp://host:port`)",
                    c.name
                ));
            };
            let url = resolve(smtp, &what("SMTP server"))?;
            let to = c
                .target
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            Driver::Email(
                smtp_config(&url, to, base).map_err(|e| format!("channel `{}`: {e}", c.name))?,
            )
        }
        _ => return Ok(None),
    };
    if let Driver::Webhook { url } | Driver::Slack { webhook: url } = &driver
        && !url.expose().starts_with("http://")
        && !url.expose().starts_with("https://")
    {
        return Err(format!(
            "{} is not an http(s) URL",
            what(if c.kind == "slack" {
                "webhook URL"
            } else {
                "URL"
            })
        ));
    }
    Ok(Some(Channel {
        channel: channels::Channel {
            name: c.name.clone(),
            driver,
            required: c.required,
            retry: channels::RetryPolicy::default(),
        },
        sender: sender.clone(),
        service: plan.service.clone(),
        release: plan.release.clone(),
        environment: plan.environment.clone(),
    }))
}

/// `smtp://[USER:PASSWORD@]HOST[:PORT][?from=ADDRESS&tls=opportunistic|required&ca=PATH]`, or
/// `smtps://…` for TLS from the start. Port 25 (`smtps`: 465), from `deployc@localhost` by
/// default; user, password and parameters are percent-decoded; `ca` is relative to `base`.
fn smtp_config(url: &str, to: Vec<String>, base: &Path) -> Result<EmailConfig, String> {
    let written = "the SMTP server must be written `smtp://host:port` or `smtps://host:port`";
    let (implicit, rest) = match url.split_once("://") {
        Some(("smtp", rest)) => (false, rest),
        Some(("smtps", rest)) => (true, rest),
        _ => return Err(written.into()),
    };
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = authority.trim_end_matches('/');
    // The password may hold `@` (percent-encoded or not): the host follows the last one.
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = match hostport.strip_prefix('[') {
        // `[::1]:2525`
        Some(v6) => {
            let (h, p) = v6.split_once(']').ok_or(written)?;
            (h, p.strip_prefix(':'))
        }
        None => match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        },
    };
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("invalid SMTP port `{p}`"))?,
        None if implicit => 465,
        None => 25,
    };
    if host.is_empty() {
        return Err("the SMTP server needs a host".into());
    }
    let mut config = EmailConfig::new(host, port, "deployc@localhost", to);
    if let Some(u) = userinfo {
        let (user, password) = u.split_once(':').unwrap_or((u, ""));
        config.credentials = Some(Credentials {
            user: percent_decode(user)?,
            password: Secret::new(percent_decode(password)?),
        });
    }
    config.security = if implicit {
        Security::Implicit
    } else {
        Security::Plain
    };
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let v = percent_decode(v)?;
        match k {
            "from" => config.from = v,
            "tls" if implicit => {
                return Err("`tls=` is for `smtp://`; `smtps://` is TLS from the start".into());
            }
            "tls" => {
                config.security = match v.as_str() {
                    "none" => Security::Plain,
                    "opportunistic" => Security::Opportunistic,
                    "required" => Security::StartTls,
                    other => {
                        return Err(format!(
                            "`tls={other}`: expected `none`, `opportunistic` or `required`"
                        ));
                    }
                }
            }
            "ca" => config.ca_file = Some(base.join(v)),
            other => {
                return Err(format!(
                    "unknown SMTP parameter `{other}` (expected `from`, `tls` or `ca`)"
                ));
            }
        }
    }
    if config.credentials.is_some() && config.security == Security::Plain {
        return Err(
            "a password needs TLS: use `smtps://` or add `?tls=required` (it is never sent unencrypted)"
                .into(),
        );
    }
    if config.security != Security::Plain {
        // A CA file that cannot be read is a configuration error now, not a failed message.
        config.tls()?;
    }
    Ok(config)
}

/// `%XX` escapes of a URL part, as UTF-8.
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("invalid `%` escape in `{s}`"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` is not UTF-8 once decoded"))
}

fn delivery(d: &Delivery) -> Done {
    let attempts = if d.attempts == 1 {
        "1 attempt".to_string()
    } else {
        format!("{} attempts", d.attempts)
    };
    match &d.error {
        None => Ok(format!("{} delivered ({attempts})", d.kind)),
        Some(e) => Err(format!("{} not delivered after {attempts}: {e}", d.kind)),
    }
}

impl world::Channel for Channel {
    fn name(&self) -> &str {
        &self.channel.name
    }

    fn send<'a>(&'a self, m: &'a world::Message) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            let event = channels::Event {
                run: m.run.clone(),
                service: self.service.clone(),
                release: self.release.clone(),
                environment: self.environment.clone(),
                // `on rollback` → `rollback`; scheduled messages keep their `at`/`every`.
                event: m.event.strip_prefix("on ").unwrap_or(&m.event).to_string(),
                step: m.step.clone(),
                text: m.text.clone(),
                metrics: m.metrics.clone(),
                time: jiff::Timestamp::now().to_string(),
            };
            delivery(&self.sender.send(&self.channel, &event).await)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Flags

/// `flags = command "…{flag} {percent} {segment}…"` or `flags = file "PATH"`.
pub(crate) enum Flags {
    Command {
        template: String,
        shell: RealShell,
        /// The release placeholders (`{service}`, `{version}`, `{environment}`,
        /// `{previous_version}`).
        release: Vec<(&'static str, String)>,
    },
    /// A JSON document: `{"flag": {"percent": 25, "segment": "beta"}}`.
    File(PathBuf),
}

const FLAG_TIMEOUT_MS: u64 = 60_000;

impl Flags {
    pub(crate) fn new(
        target: &TargetFlags,
        plan: &Plan,
        stable: Option<String>,
        base: &Path,
    ) -> Option<Flags> {
        match target.kind.as_str() {
            "command" => Some(Flags::Command {
                template: target.value.clone(),
                shell: RealShell {
                    dir: base.to_path_buf(),
                },
                release: [
                    ("service", Some(plan.service.clone())),
                    ("version", Some(plan.release.clone())),
                    ("environment", Some(plan.environment.clone())),
                    ("previous_version", stable),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect(),
            }),
            "file" => Some(Flags::File(base.join(&target.value))),
            _ => None,
        }
    }
}

/// Rewrites the flag document: read, change one entry, write to a temporary file and rename,
/// so a reader never sees half a document.
fn write_flag(path: &Path, flag: &str, percent: f64, segment: Option<&str>) -> Done {
    let mut doc: serde_json::Map<String, serde_json::Value> = match std::fs::read_to_string(path) {
        Ok(t) if !t.trim().is_empty() => serde_json::from_str(&t)
            .map_err(|e| format!("`{}` is not a JSON object: {e}", path.display()))?,
        Ok(_) => serde_json::Map::new(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Map::new(),
        Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
    };
    doc.insert(
        flag.to_string(),
        serde_json::json!({ "percent": percent, "segment": segment }),
    );
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())? + "\n";
    let tmp = path.with_extension("deployc-tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    Ok(format!(
        "`{flag}` at {}%{} in {}",
        crate::lower::fmt_number(percent),
        segment.map(|s| format!(" of {s}")).unwrap_or_default(),
        path.display()
    ))
}

impl world::Flags for Flags {
    fn set<'a>(
        &'a self,
        flag: &'a str,
        percent: f64,
        segment: Option<&'a str>,
    ) -> BoxFuture<'a, Done> {
        Box::pin(async move {
            match self {
                Flags::Command {
                    template,
                    shell,
                    release,
                } => {
                    let v = |n: &str| match n {
                        "flag" => Some(flag.to_string()),
                        "percent" => Some(crate::lower::fmt_number(percent)),
                        "segment" => Some(segment.unwrap_or_default().to_string()),
                        _ => release
                            .iter()
                            .find(|(k, _)| *k == n)
                            .map(|(_, v)| v.clone()),
                    };
                    let cmd = shell::render(template, &v);
                    shell.run(&cmd, FLAG_TIMEOUT_MS).await
                }
                Flags::File(path) => write_flag(path, flag, percent, segment),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_from_url_options() {
        assert_eq!(
            search_path("postgres://u@h/db?options=-csearch_path%3Dmy_schema").as_deref(),
            Some("my_schema")
        );
        assert_eq!(search_path("postgres://u@h/db"), None);
        assert_eq!(
            search_path(
                "postgres://u@h/db?sslmode=verify-full&sslrootcert=/ca.pem&options=-csearch_path%3Dmy_schema"
            )
            .as_deref(),
            Some("my_schema")
        );
    }

    #[test]
    fn smtp_urls() {
        let base = Path::new("/srv/app");
        let c = smtp_config("smtp://127.0.0.1:2525?from=ops%40example.com", vec![], base).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 2525));
        assert_eq!(c.from, "ops@example.com");
        assert_eq!(c.security, Security::Plain);
        assert_eq!(smtp_config("smtp://relay", vec![], base).unwrap().port, 25);
        assert!(smtp_config("http://relay", vec![], base).is_err());

        let c = smtp_config("smtps://deploy%40corp:p%40ss:w@mail.corp", vec![], base).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("mail.corp", 465));
        assert_eq!(c.security, Security::Implicit);
        let account = c.credentials.unwrap();
        assert_eq!(account.user, "deploy@corp");
        assert_eq!(account.password.expose(), "p@ss:w");

        let c = smtp_config("smtp://[::1]:587?tls=opportunistic", vec![], base).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 587));
        assert_eq!(c.security, Security::Opportunistic);
        let c = smtp_config("smtp://u:p@relay:587?tls=required", vec![], base).unwrap();
        assert_eq!(c.security, Security::StartTls);

        let err = |url: &str| smtp_config(url, vec![], base).unwrap_err();
        assert!(err("smtp://u:p@relay").contains("a password needs TLS"));
        assert!(err("smtp://relay?tls=always").contains("expected `none`"));
        assert!(err("smtps://relay?tls=required").contains("TLS from the start"));
        assert!(err("smtp://relay?cc=x").contains("unknown SMTP parameter `cc`"));
        assert!(err("smtp://relay:x").contains("invalid SMTP port"));
        assert!(err("smtp://relay?from=%zz").contains("invalid `%` escape"));
        assert!(err("smtps://relay?ca=missing.pem").contains("/srv/app/missing.pem"));
    }

    #[test]
    fn flag_file_keeps_other_flags() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("flags.json");
        write_flag(&p, "a", 25.0, Some("beta")).unwrap();
        write_flag(&p, "b", 100.0, None).unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(doc["a"]["percent"], 25.0);
        assert_eq!(doc["a"]["segment"], "beta");
        assert_eq!(doc["b"]["percent"], 100.0);
    }
}
