//! The PostgreSQL state store: the run index, the journals, the history, the operators'
//! requests and the deploy leases in six tables of the database the URL names (in the first
//! schema of its `search_path`), so that every machine that reaches it shares them.
//!
//! The store is used from synchronous code (the command line, the journal's `append`, which
//! the executor calls between two side effects) and from inside the executor's runtime, where
//! no second runtime may be entered. So one thread owns the connection and a current-thread
//! runtime of its own, and runs the jobs it is sent one at a time; a caller blocks until its
//! job answers, as it would on an `fsync`. Every statement runs in autocommit: an `INSERT`
//! that returned is committed, and with PostgreSQL's default `synchronous_commit` it is on the
//! server's disk — the journal's contract.
//!
//! The schema is created on first use under a transaction-scoped advisory lock (two runners
//! starting together must not race on `CREATE TABLE`), and its version is recorded: a store
//! written by a newer deployc is refused rather than misread.

use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use tokio_postgres::Client;

use crate::runtime::db::DbError;
use crate::runtime::db::postgres::{describe, strip_password, tls_config, tls_options};

/// The version of the tables below; raised when one changes meaning.
pub(crate) const SCHEMA_VERSION: i32 = 1;

/// The advisory lock key under which the schema is created (`deployc_state` as a number).
const SCHEMA_LOCK: i64 = 0x6465_706c_6f79_6373;

/// Every table, created if missing. Kept in one statement list so that the docs
/// (`docs/operations.md`, "Shared state in PostgreSQL") can mirror it table by table.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deployc_schema (
    version     integer PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS deployc_runs (
    run         text PRIMARY KEY,
    service     text NOT NULL,
    environment text NOT NULL,
    release     text NOT NULL,
    plan        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS deployc_journal (
    run         text NOT NULL REFERENCES deployc_runs (run),
    seq         bigint NOT NULL,
    line        text NOT NULL,
    PRIMARY KEY (run, seq)
);
CREATE TABLE IF NOT EXISTS deployc_history (
    id          bigserial PRIMARY KEY,
    line        text NOT NULL
);
CREATE TABLE IF NOT EXISTS deployc_commands (
    id          bigserial PRIMARY KEY,
    run         text NOT NULL REFERENCES deployc_runs (run),
    line        text NOT NULL
);
CREATE TABLE IF NOT EXISTS deployc_leases (
    service     text NOT NULL,
    environment text NOT NULL,
    holder      text NOT NULL,
    run         text NOT NULL,
    since       timestamptz NOT NULL,
    heartbeat   timestamptz NOT NULL,
    expires     timestamptz NOT NULL,
    PRIMARY KEY (service, environment)
);
";

/// The lease's acquisition: the row as it was (locked), and the insert — or the takeover of
/// an expired row — when no live lease stands in the way. `taken` counts the rows written.
///
/// It commits without waiting for the log's flush (`async_commit`, referenced so that it is
/// evaluated): the lease is seen by every other session at once, and it is on disk before the
/// run does anything, since the run's first journal line, written before its first side
/// effect, is flushed and flushes the log in order. A database server that fails in between
/// loses the lease and the run with it (its next write fails).
const ACQUIRE: &str = "
WITH async_commit AS (
    SELECT set_config('synchronous_commit', 'off', true)
), prev AS (
    SELECT holder, run, since, expires, expires > clock_timestamp() AS live
    FROM deployc_leases
    WHERE service = $1::text AND environment = $2::text
    FOR UPDATE
), taken AS (
    INSERT INTO deployc_leases (service, environment, holder, run, since, heartbeat, expires)
    SELECT $1::text, $2::text, $3::text, $4::text, clock_timestamp(), clock_timestamp(),
           clock_timestamp() + $5::float8 * interval '1 millisecond'
    WHERE NOT EXISTS (SELECT 1 FROM prev WHERE live)
    ON CONFLICT (service, environment) DO UPDATE
        SET holder = EXCLUDED.holder, run = EXCLUDED.run, since = EXCLUDED.since,
            heartbeat = EXCLUDED.heartbeat, expires = EXCLUDED.expires
        WHERE deployc_leases.expires <= clock_timestamp()
    RETURNING 1
)
SELECT (SELECT count(*) FROM taken),
       prev.holder,
       prev.run,
       to_char(prev.since AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
       to_char(prev.expires AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
FROM (SELECT 1) AS one CROSS JOIN async_commit LEFT JOIN prev ON true
";

/// How long connecting may take: an unreachable store is a configuration error, said soon.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one statement may take before the store is reported unreachable.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The statements prepared on the connection, by their text: each is parsed and planned
/// once, so that an append is one round trip (and its commit) rather than two.
type Prepared = std::collections::HashMap<&'static str, tokio_postgres::Statement>;

type Job = Box<dyn FnOnce(&tokio::runtime::Runtime, &Client, &mut Prepared) + Send>;

/// A connection to the state store, owned by its own thread.
pub(crate) struct PgStore {
    jobs: mpsc::Sender<Job>,
    /// The URL without its password: what messages show.
    shown: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("url", &self.shown).finish()
    }
}

impl PgStore {
    /// Connects to `url` and creates the schema when it is missing. Errors never carry the
    /// password.
    pub(crate) fn connect(url: &str) -> Result<PgStore, String> {
        let shown = strip_password(url);
        // A TLS option that cannot be used (an unknown `sslmode`, an unreadable `sslrootcert`)
        // is said like any other reason the store cannot be reached.
        let unusable = |e: DbError| match e {
            DbError::Connect(m) => format!("cannot reach the state store `{shown}`: {m}"),
            other => format!("cannot reach the state store `{shown}`: {other}"),
        };
        let (for_client, tls) = tls_options(url).map_err(unusable)?;
        let mut config = tokio_postgres::Config::from_str(&for_client)
            .map_err(|e| format!("invalid state store URL `{shown}`: {e}"))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let hide = move |m: String| match &password {
            Some(p) if !p.is_empty() => m.replace(p.as_str(), "[redacted]"),
            _ => m,
        };
        let tls = tls_config(&tls).map_err(unusable)?;
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let shown_in = shown.clone();
        std::thread::Builder::new()
            .name("deployc-state".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("cannot start the runtime: {e}")));
                        return;
                    }
                };
                let connected = rt.block_on(async {
                    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
                    let (client, connection) =
                        match tokio::time::timeout(CONNECT_TIMEOUT, config.connect(tls)).await {
                            Ok(Ok(pair)) => pair,
                            Ok(Err(e)) => return Err(describe(&e)),
                            Err(_) => return Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
                        };
                    // The connection drives the socket while a job is awaited on this runtime.
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    create_schema(&client).await?;
                    Ok(client)
                });
                let client = match connected {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!(
                            "cannot reach the state store `{shown_in}`: {}",
                            hide(e)
                        )));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                let mut prepared = Prepared::new();
                // Ends when every sender is gone: the store was dropped.
                while let Ok(job) = inbox.recv() {
                    job(&rt, &client, &mut prepared);
                }
            })
            .map_err(|e| format!("cannot start the state store's thread: {e}"))?;
        ready_rx
            .recv()
            .map_err(|_| format!("cannot reach the state store `{shown}`: its thread ended"))??;
        Ok(PgStore { jobs, shown })
    }

    /// A setting of the session, as `SHOW` gives it.
    #[cfg(test)]
    pub(crate) fn setting(&self, name: &'static str) -> Result<String, String> {
        let rows = self.query(
            "SELECT current_setting($1)",
            vec![Param::Text(name.to_string())],
        )?;
        rows.first()
            .map(|r| text(r, 0))
            .transpose()?
            .ok_or_else(|| "no row".into())
    }

    /// The store as messages show it (no password).
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// Runs `f` on the connection's thread and waits for its result. `f` gets the runtime to
    /// await on, the client and its prepared statements.
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&tokio::runtime::Runtime, &Client, &mut Prepared) -> Result<T, String>
        + Send
        + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = mpsc::sync_channel(1);
        let shown = self.shown.clone();
        self.jobs
            .send(Box::new(
                move |rt: &tokio::runtime::Runtime, client: &Client, prepared: &mut Prepared| {
                    let _ = tx.send(f(rt, client, prepared));
                },
            ))
            .map_err(|_| format!("the state store `{shown}` is no longer connected"))?;
        rx.recv()
            .map_err(|_| format!("the state store `{}` is no longer connected", self.shown))?
            .map_err(|e| format!("state store `{}`: {e}", self.shown))
    }

    /// Runs one statement (prepared on first use), bounded by [`STATEMENT_TIMEOUT`].
    fn query(
        &self,
        sql: &'static str,
        params: Vec<Param>,
    ) -> Result<Vec<tokio_postgres::Row>, String> {
        self.call(move |rt, client, prepared| {
            rt.block_on(async {
                let work = async {
                    let statement = match prepared.get(sql) {
                        Some(s) => s.clone(),
                        None => {
                            let s = client.prepare(sql).await?;
                            prepared.insert(sql, s.clone());
                            s
                        }
                    };
                    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                        params.iter().map(Param::as_sql).collect();
                    client.query(&statement, &refs).await
                };
                match tokio::time::timeout(STATEMENT_TIMEOUT, work).await {
                    Ok(r) => r.map_err(|e| describe(&e)),
                    Err(_) => Err(format!("no answer within {STATEMENT_TIMEOUT:?}")),
                }
            })
        })
    }

    pub(crate) fn runs(&self) -> Result<Vec<String>, String> {
        let rows = self.query("SELECT run FROM deployc_runs ORDER BY run", Vec::new())?;
        rows.iter().map(|r| text(r, 0)).collect()
    }

    pub(crate) fn has_run(&self, run: &str) -> Result<bool, String> {
        let rows = self.query(
            "SELECT 1 FROM deployc_runs WHERE run = $1",
            vec![Param::Text(run.to_string())],
        )?;
        Ok(!rows.is_empty())
    }

    pub(crate) fn create_run(
        &self,
        run: &str,
        service: &str,
        environment: &str,
        release: &str,
        plan: &str,
    ) -> Result<(), String> {
        self.query(
            "INSERT INTO deployc_runs (run, service, environment, release, plan) VALUES ($1, $2, $3, $4, $5)",
            vec![
                Param::Text(run.to_string()),
                Param::Text(service.to_string()),
                Param::Text(environment.to_string()),
                Param::Text(release.to_string()),
                Param::Text(plan.to_string()),
            ],
        )
        .map(|_| ())
    }

    pub(crate) fn plan_text(&self, run: &str) -> Result<Option<String>, String> {
        let rows = self.query(
            "SELECT plan FROM deployc_runs WHERE run = $1",
            vec![Param::Text(run.to_string())],
        )?;
        rows.first().map(|r| text(r, 0)).transpose()
    }

    /// The journal lines of `run` after `seq`, in order.
    pub(crate) fn journal_lines(&self, run: &str, after: i64) -> Result<Vec<String>, String> {
        let rows = self.query(
            "SELECT line FROM deployc_journal WHERE run = $1 AND seq > $2 ORDER BY seq",
            vec![Param::Text(run.to_string()), Param::Int(after)],
        )?;
        rows.iter().map(|r| text(r, 0)).collect()
    }

    /// Appends one journal line, committed when this returns. A `durable` line is also on
    /// the server's disk (the server's `synchronous_commit`); any other is committed without
    /// waiting for the write-ahead log's flush (`synchronous_commit = off` for that one
    /// transaction), and becomes durable with the next durable line, since the log is flushed
    /// in order. Either is visible to every other session at once.
    pub(crate) fn append_journal(
        &self,
        run: &str,
        seq: i64,
        line: &str,
        durable: bool,
    ) -> Result<(), String> {
        // `set_config(…, true)` lasts as long as the statement's own transaction, so the
        // setting ends with this commit and one round trip does it all.
        let sql = if durable {
            "INSERT INTO deployc_journal (run, seq, line) VALUES ($1, $2, $3)"
        } else {
            "INSERT INTO deployc_journal (run, seq, line) SELECT $1::text, $2::bigint, $3::text \
             FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"
        };
        self.query(
            sql,
            vec![
                Param::Text(run.to_string()),
                Param::Int(seq),
                Param::Text(line.to_string()),
            ],
        )
        .map(|_| ())
    }

    /// The history as the text of a history file: one line per run, in the order written.
    pub(crate) fn history_text(&self) -> Result<String, String> {
        let rows = self.query("SELECT line FROM deployc_history ORDER BY id", Vec::new())?;
        let mut out = String::new();
        for r in &rows {
            out.push_str(&text(r, 0)?);
            out.push('\n');
        }
        Ok(out)
    }

    pub(crate) fn append_history(&self, line: &str) -> Result<(), String> {
        self.query(
            "INSERT INTO deployc_history (line) VALUES ($1)",
            vec![Param::Text(line.trim_end().to_string())],
        )
        .map(|_| ())
    }

    pub(crate) fn append_command(&self, run: &str, line: &str) -> Result<(), String> {
        self.query(
            "INSERT INTO deployc_commands (run, line) VALUES ($1, $2)",
            vec![Param::Text(run.to_string()), Param::Text(line.to_string())],
        )
        .map(|_| ())
    }

    /// The requests of `run` after the one numbered `after`, with their numbers.
    pub(crate) fn commands(&self, run: &str, after: i64) -> Result<Vec<(i64, String)>, String> {
        let rows = self.query(
            "SELECT id, line FROM deployc_commands WHERE run = $1 AND id > $2 ORDER BY id",
            vec![Param::Text(run.to_string()), Param::Int(after)],
        )?;
        rows.iter().map(|r| Ok((int(r, 0)?, text(r, 1)?))).collect()
    }

    /// The number of the last request of `run` (0 when there is none).
    pub(crate) fn last_command(&self, run: &str) -> Result<i64, String> {
        let rows = self.query(
            "SELECT coalesce(max(id), 0) FROM deployc_commands WHERE run = $1",
            vec![Param::Text(run.to_string())],
        )?;
        rows.first().map(|r| int(r, 0)).unwrap_or(Ok(0))
    }

    /// Takes the lease of `service` in `environment` for `run`, in one statement (one round
    /// trip, one commit): a lease held and not expired refuses with its holder; an expired one
    /// is taken over and its holder returned. Times are the server's, so that runners' clocks
    /// need not agree.
    pub(crate) fn acquire(
        &self,
        key: &LeaseKey,
        ttl: Duration,
    ) -> Result<Result<Option<Held>, Held>, String> {
        let ttl_ms = ttl.as_secs_f64() * 1000.0;
        // Two runners that find no row both insert: the second waits for the first's commit,
        // takes nothing, and saw no holder in its snapshot. Asked again, it sees the first's.
        for _ in 0..3 {
            let rows = self.query(
                ACQUIRE,
                vec![
                    Param::Text(key.service.clone()),
                    Param::Text(key.environment.clone()),
                    Param::Text(key.holder.clone()),
                    Param::Text(key.run.clone()),
                    Param::Float(ttl_ms),
                ],
            )?;
            let Some(row) = rows.first() else {
                continue;
            };
            let taken: i64 = row.try_get(0).map_err(|e| describe(&e))?;
            let previous = match row
                .try_get::<_, Option<String>>(1)
                .map_err(|e| describe(&e))?
            {
                Some(holder) => Some(Held {
                    holder,
                    run: opt_text(row, 2)?,
                    since: opt_text(row, 3)?,
                    expires: opt_text(row, 4)?,
                }),
                None => None,
            };
            match (taken > 0, previous) {
                (true, previous) => return Ok(Ok(previous)),
                (false, Some(held)) => return Ok(Err(held)),
                (false, None) => {}
            }
        }
        Err("the lease row changed under three attempts in a row".to_string())
    }

    /// Pushes the lease's expiry `ttl` ahead; `false` when the lease is no longer this
    /// holder's (another runner took it over after it expired).
    pub(crate) fn renew(&self, key: &LeaseKey, ttl: Duration) -> Result<bool, String> {
        let ttl_ms = ttl.as_secs_f64() * 1000.0;
        let rows = self.query(
            "UPDATE deployc_leases SET heartbeat = clock_timestamp(), \
             expires = clock_timestamp() + $5::float8 * interval '1 millisecond' \
             WHERE service = $1 AND environment = $2 AND holder = $3 AND run = $4 RETURNING 1",
            vec![
                Param::Text(key.service.clone()),
                Param::Text(key.environment.clone()),
                Param::Text(key.holder.clone()),
                Param::Text(key.run.clone()),
                Param::Float(ttl_ms),
            ],
        )?;
        Ok(!rows.is_empty())
    }

    /// Gives the lease back (if it is still this holder's), committed without waiting for the
    /// log's flush: a release that a failing server loses only leaves the lease to expire.
    pub(crate) fn release(&self, key: &LeaseKey) -> Result<(), String> {
        self.query(
            "DELETE FROM deployc_leases \
             USING (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit \
             WHERE service = $1 AND environment = $2 AND holder = $3 AND run = $4",
            vec![
                Param::Text(key.service.clone()),
                Param::Text(key.environment.clone()),
                Param::Text(key.holder.clone()),
                Param::Text(key.run.clone()),
            ],
        )
        .map(|_| ())
    }

    /// The holder of a lease that names `run` and has not expired: a process works on it.
    pub(crate) fn live_holder(&self, run: &str) -> Result<Option<String>, String> {
        let rows = self.query(
            "SELECT holder FROM deployc_leases WHERE run = $1 AND expires > clock_timestamp()",
            vec![Param::Text(run.to_string())],
        )?;
        rows.first().map(|r| text(r, 0)).transpose()
    }
}

/// Who holds (or held) a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    /// `user@host pid N`.
    pub(crate) holder: String,
    pub(crate) run: String,
    /// RFC 3339, UTC.
    pub(crate) since: String,
    /// RFC 3339, UTC.
    pub(crate) expires: String,
}

/// One lease: a service in an environment, for a run, by a holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeaseKey {
    pub(crate) service: String,
    pub(crate) environment: String,
    pub(crate) holder: String,
    pub(crate) run: String,
}

/// A query parameter that can cross to the connection's thread.
enum Param {
    Text(String),
    Int(i64),
    Float(f64),
}

impl Param {
    fn as_sql(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        match self {
            Param::Text(s) => s,
            Param::Int(i) => i,
            Param::Float(f) => f,
        }
    }
}

fn text(row: &tokio_postgres::Row, i: usize) -> Result<String, String> {
    row.try_get(i).map_err(|e| describe(&e))
}

fn opt_text(row: &tokio_postgres::Row, i: usize) -> Result<String, String> {
    row.try_get::<_, Option<String>>(i)
        .map(Option::unwrap_or_default)
        .map_err(|e| describe(&e))
}

fn int(row: &tokio_postgres::Row, i: usize) -> Result<i64, String> {
    row.try_get(i).map_err(|e| describe(&e))
}

/// The transaction of [`create_schema`]: the tables, the version row, the newest version.
async fn schema_tx(client: &Client) -> Result<Option<i32>, tokio_postgres::Error> {
    client.batch_execute("BEGIN").await?;
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await?;
    client.batch_execute(SCHEMA).await?;
    client
        .execute(
            "INSERT INTO deployc_schema (version) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&SCHEMA_VERSION],
        )
        .await?;
    let row = client
        .query_one("SELECT max(version) FROM deployc_schema", &[])
        .await?;
    client.batch_execute("COMMIT").await?;
    row.try_get(0)
}

/// Creates the tables when missing and checks the recorded version.
async fn create_schema(client: &Client) -> Result<(), String> {
    let newest = match tokio::time::timeout(STATEMENT_TIMEOUT, schema_tx(client)).await {
        Ok(Ok(v)) => v.unwrap_or(SCHEMA_VERSION),
        Ok(Err(e)) => {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(format!("cannot create the state tables: {}", describe(&e)));
        }
        Err(_) => return Err(format!("no answer within {STATEMENT_TIMEOUT:?}")),
    };
    if newest > SCHEMA_VERSION {
        return Err(format!(
            "its tables are version {newest}, newer than this deployc's ({SCHEMA_VERSION}): upgrade deployc"
        ));
    }
    Ok(())
}
