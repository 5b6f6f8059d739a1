//! PostgreSQL migrations (tokio-postgres).
//!
//! One connection per [`Postgres`], behind an async mutex so that the statements of one
//! operation never interleave with another's. The connection negotiates TLS with rustls (ring)
//! as the URL's `sslmode` and `sslrootcert` say ([`tls_options`]): `prefer`, the default,
//! falls back to plain on a server without TLS, as on loopback; `require`, `verify-ca` and
//! `verify-full` verify the server's certificate against `sslrootcert` or the web PKI roots.
//!
//! Every migration runs with `lock_timeout` and `statement_timeout` set, so it never queues
//! behind a long transaction while the application's own queries queue behind it. A lock
//! timeout (SQLSTATE 55P03) is retried with backoff: the whole transaction in transactional
//! mode, the failed statement otherwise. Runners of the same schema are serialised by an
//! advisory lock, taken inside the migration's transaction (or for the session, in
//! statement-by-statement mode).
//!
//! Backups shell out to `pg_dump -Fc` and `pg_restore`: they are the only tools that dump
//! every object kind faithfully. The password travels in `PGPASSWORD`, never on a command line,
//! and is redacted from every error.

use super::{
    Applied, BATCHES_TABLE, Backup, BatchDone, BatchStep, DbError, LEDGER_TABLE, LedgerRow,
    Migration, Progress, Retry, Reverted, postgres_statements,
};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, GenericClient};

/// Settings of a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// `lock_timeout` for every migration statement.
    pub lock_timeout: Duration,
    /// `statement_timeout` for every migration statement.
    pub statement_timeout: Duration,
    /// Backoff when the lock timeout hits.
    pub retry: Retry,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long `pg_dump` or `pg_restore` may take.
    pub backup_timeout: Duration,
    /// The schema migrations run in (`search_path`), and the only one backups dump; `None`
    /// keeps the server's `search_path` and dumps the whole database.
    pub schema: Option<String>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            lock_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(600),
            retry: Retry::default(),
            connect_timeout: Duration::from_secs(10),
            backup_timeout: Duration::from_secs(3600),
            schema: None,
        }
    }
}

/// A PostgreSQL database with its ledger.
pub struct Postgres {
    /// The URL without its password (what `pg_dump` gets).
    url: String,
    /// Held apart, for `PGPASSWORD` and for redaction.
    password: Option<String>,
    options: PostgresOptions,
    client: Mutex<Client>,
    server_version: u32,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("schema", &self.options.schema)
            .field("server_version", &self.server_version)
            .finish()
    }
}

/// The outcome of one attempt: a value, or a lock timeout worth retrying.
enum Attempt<T> {
    Done(T),
    LockTimeout,
}

/// A result that records how many attempts it took.
trait Attempts {
    fn with_attempts(self, attempts: u32) -> Self;
}

impl Attempts for Applied {
    fn with_attempts(self, attempts: u32) -> Self {
        match self {
            Applied::Now { transactional, .. } => Applied::Now {
                transactional,
                attempts,
            },
            other => other,
        }
    }
}

impl Attempts for BatchStep {
    fn with_attempts(self, _attempts: u32) -> Self {
        self
    }
}

impl Attempts for Reverted {
    fn with_attempts(self, attempts: u32) -> Self {
        match self {
            Reverted::Now { transactional, .. } => Reverted::Now {
                transactional,
                attempts,
            },
            other => other,
        }
    }
}

/// Awaits `$attempt` (one transaction) again after each lock timeout, as the retry policy
/// allows, and gives its result with the number of attempts. A macro rather than a function
/// taking an async closure: the closure's future borrowing the client made the executor's
/// boxed futures non-`Send`.
macro_rules! retry_lock_timeouts {
    ($self:ident, $name:expr, $attempt:expr) => {{
        let mut attempt = 0;
        loop {
            attempt += 1;
            match $attempt.await? {
                Attempt::Done(done) => break done.with_attempts(attempt),
                Attempt::LockTimeout => $self.after_lock_timeout($name, attempt).await?,
            }
        }
    }};
}

impl Postgres {
    /// Connects with default options.
    pub async fn connect(url: &str) -> Result<Postgres, DbError> {
        Postgres::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects and makes sure the ledger table exists.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Postgres, DbError> {
        let (for_client, tls) = tls_options(url)?;
        let mut config = tokio_postgres::Config::from_str(&for_client)
            .map_err(|e| DbError::Connect(format!("invalid PostgreSQL URL: {e}")))?;
        config.connect_timeout(options.connect_timeout);
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let redact = |m: String| redact(&m, password.as_deref(), url);
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(&tls)?);
        let connecting = tokio::time::timeout(options.connect_timeout, config.connect(tls));
        let (client, connection) = match connecting.await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(DbError::Connect(redact(describe(&e)))),
            Err(_) => {
                return Err(DbError::Connect(format!(
                    "no answer within {:?}",
                    options.connect_timeout
                )));
            }
        };
        // The connection future drives the socket; it ends when the client is dropped.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        if let Some(schema) = &options.schema {
            client
                .batch_execute(&format!("SET search_path TO {}", quote_ident(schema)))
                .await
                .map_err(|e| DbError::Connect(describe(&e)))?;
        }
        let version: String = client
            .query_one("SHOW server_version_num", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| DbError::Connect(describe(&e)))?;
        let server_version = version.trim().parse().unwrap_or(0);
        let db = Postgres {
            url: strip_password(url),
            password,
            options,
            client: Mutex::new(client),
            server_version,
        };
        db.create_ledger().await?;
        Ok(db)
    }

    /// The server's version as `server_version_num` (e.g. 150004).
    pub fn server_version(&self) -> u32 {
        self.server_version
    }

    async fn create_ledger(&self) -> Result<(), DbError> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await.map_err(other)?;
        // Concurrent `CREATE TABLE IF NOT EXISTS` can still collide in the catalog; the advisory
        // lock makes the first creator finish before the next looks.
        tx.batch_execute(&format!(
            "SELECT pg_advisory_xact_lock({LOCK_KEY});
             CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (
                name text PRIMARY KEY,
                release text NOT NULL,
                phase text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                reverted_at timestamptz
             );
             CREATE TABLE IF NOT EXISTS {BATCHES_TABLE} (
                name text PRIMARY KEY,
                checksum text NOT NULL,
                last_key text,
                batches bigint NOT NULL,
                rows bigint NOT NULL
             )"
        ))
        .await
        .map_err(other)?;
        tx.commit().await.map_err(other)
    }

    /// Applies a migration exactly once (see the [module rules](super)).
    pub async fn apply(&self, m: &Migration) -> Result<Applied, DbError> {
        let (statements, autocommit) = postgres_statements(&m.name, &m.up, self.server_version)?;
        let checksum = m.checksum();
        let mut client = self.client.lock().await;
        if autocommit {
            let client: &Client = &client;
            self.lock_session(client, m).await?;
            let out = self
                .apply_autocommit(client, m, &statements, &checksum)
                .await;
            return self.unlock_session(client, out).await;
        }
        Ok(retry_lock_timeouts!(
            self,
            &m.name,
            self.apply_in_tx(&mut client, m, &statements, &checksum)
        ))
    }

    /// Runs the migration's `down` and marks it reverted.
    pub async fn revert(&self, m: &Migration) -> Result<Reverted, DbError> {
        let Some(down) = &m.down else {
            return Err(DbError::Irreversible {
                name: m.name.clone(),
            });
        };
        let (statements, autocommit) = postgres_statements(&m.name, down, self.server_version)?;
        let checksum = m.checksum();
        let mut client = self.client.lock().await;
        if autocommit {
            let client: &Client = &client;
            self.lock_session(client, m).await?;
            let out = self
                .revert_autocommit(client, m, &statements, &checksum)
                .await;
            return self.unlock_session(client, out).await;
        }
        Ok(retry_lock_timeouts!(
            self,
            &m.name,
            self.revert_in_tx(&mut client, m, &statements, &checksum)
        ))
    }

    /// The whole ledger, in application order.
    pub async fn ledger(&self) -> Result<Vec<LedgerRow>, DbError> {
        let client = self.client.lock().await;
        let rows = client
            .query(
                &format!("SELECT {COLUMNS} FROM {LEDGER_TABLE} ORDER BY applied_at, name"),
                &[],
            )
            .await
            .map_err(other)?;
        rows.iter().map(row_of).collect()
    }

    /// Runs the next batch of a batched migration in one transaction with its progress row;
    /// the last batch (the one that finds fewer than `size` rows left) writes the ledger row
    /// instead. Called again and again until it reports the last batch: a crash between two
    /// calls loses nothing, the next call goes on after the last batch committed.
    pub async fn apply_batch(&self, m: &Migration) -> Result<BatchStep, DbError> {
        let Some(batch) = &m.batch else {
            return Err(DbError::Other(format!(
                "migration `{}` is not batched",
                m.name
            )));
        };
        let shape = super::batch_shape(m, batch)?;
        let checksum = m.checksum();
        let mut client = self.client.lock().await;
        Ok(retry_lock_timeouts!(
            self,
            &m.name,
            self.batch_in_tx(&mut client, m, batch, &shape, &checksum)
        ))
    }

    async fn batch_in_tx(
        &self,
        client: &mut Client,
        m: &Migration,
        batch: &super::Batch,
        shape: &crate::sql::batch::Shape,
        checksum: &str,
    ) -> Result<Attempt<BatchStep>, DbError> {
        let tx = client.transaction().await.map_err(other)?;
        let setup = format!(
            "{}; SELECT pg_advisory_xact_lock({LOCK_KEY})",
            self.timeouts("LOCAL", m)
        );
        if let Err(e) = tx.batch_execute(&setup).await {
            return lock_or(e, other);
        }
        let row = match ledger_row(&tx, &m.name).await {
            Ok(r) => r,
            Err(e) => return lock_or(e, other),
        };
        if let Some(done) = super::decide_apply(m, checksum, row)? {
            return Ok(Attempt::Done(BatchStep::Already(done)));
        }
        let progress = match tx
            .query_opt(
                &format!(
                    "SELECT checksum, last_key, batches, rows FROM {BATCHES_TABLE} WHERE name = $1"
                ),
                &[&m.name],
            )
            .await
        {
            Ok(r) => r,
            Err(e) => return lock_or(e, other),
        };
        let progress = match progress {
            None => Progress::default(),
            Some(r) => {
                let recorded: String = r.try_get(0).map_err(other)?;
                if recorded != checksum {
                    return Err(DbError::ChecksumMismatch {
                        name: m.name.clone(),
                        recorded,
                        current: checksum.to_string(),
                    });
                }
                Progress {
                    last_key: r.try_get(1).map_err(other)?,
                    batches: u64::try_from(r.try_get::<_, i64>(2).map_err(other)?).unwrap_or(0),
                    rows: u64::try_from(r.try_get::<_, i64>(3).map_err(other)?).unwrap_or(0),
                }
            }
        };
        let after = progress.last_key.as_deref();
        let bound = match tx
            .query_opt(&shape.bound_query(&batch.key, after, batch.size), &[])
            .await
        {
            Ok(r) => r,
            Err(e) => return lock_or(e, |e| self.statement_error(m, 1, 0, e)),
        };
        let upto: Option<String> = match bound {
            Some(r) => r.try_get(0).map_err(other)?,
            None => None,
        };
        let statement = shape.batch_statement(&batch.key, after, upto.as_deref());
        let rows = match tx.execute(&statement, &[]).await {
            Ok(n) => n,
            Err(e) => return lock_or(e, |e| self.statement_error(m, 1, 0, e)),
        };
        let done = BatchDone {
            batch: progress.batches.saturating_add(1),
            rows,
            total_rows: progress.rows.saturating_add(rows),
            last_key: upto.clone(),
            finished: upto.is_none(),
        };
        if done.finished {
            record_applied(&tx, m, checksum).await?;
            tx.execute(
                &format!("DELETE FROM {BATCHES_TABLE} WHERE name = $1"),
                &[&m.name],
            )
            .await
            .map_err(other)?;
        } else {
            let batches = i64::try_from(done.batch).unwrap_or(i64::MAX);
            let total = i64::try_from(done.total_rows).unwrap_or(i64::MAX);
            tx.execute(
                &format!(
                    "INSERT INTO {BATCHES_TABLE} (name, checksum, last_key, batches, rows)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum,
                       last_key = excluded.last_key, batches = excluded.batches, rows = excluded.rows"
                ),
                &[&m.name, &checksum, &upto, &batches, &total],
            )
            .await
            .map_err(other)?;
        }
        tx.commit().await.map_err(other)?;
        Ok(Attempt::Done(BatchStep::Ran(done)))
    }

    /// Runs a migration's verify query (read only, under the migration's timeouts) and gives
    /// its one value as text, as `psql` prints it.
    pub async fn verify(&self, m: &Migration, query: &str) -> Result<String, DbError> {
        let mut client = self.client.lock().await;
        let tx = client.transaction().await.map_err(other)?;
        tx.batch_execute(&format!(
            "SET TRANSACTION READ ONLY; {}",
            self.timeouts("LOCAL", m)
        ))
        .await
        .map_err(other)?;
        // The simple protocol gives every value as text, whatever its type.
        let messages = tx
            .simple_query(query)
            .await
            .map_err(|e| self.statement_error(m, 1, 0, e))?;
        let mut rows = 0;
        let mut columns = 0;
        let mut value = None;
        for msg in &messages {
            if let tokio_postgres::SimpleQueryMessage::Row(r) = msg {
                rows += 1;
                columns = r.len();
                value = r.try_get(0).ok().flatten().map(str::to_string);
            }
        }
        tx.rollback().await.map_err(other)?;
        super::one_value(&m.name, rows, columns, value)
    }

    /// Dumps the database (or the configured schema) with `pg_dump -Fc` to `dest`, then
    /// verifies the archive with `pg_restore --list`.
    pub async fn backup(&self, dest: &Path) -> Result<Backup, DbError> {
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| DbError::Backup(format!("{}: {e}", dir.display())))?;
        }
        let mut args = vec![
            "--format=custom".to_string(),
            format!("--file={}", dest.display()),
            format!("--dbname={}", self.url),
        ];
        if let Some(schema) = &self.options.schema {
            args.push(format!("--schema={schema}"));
        }
        self.tool("pg_dump", &args).await?;
        let list = self
            .tool(
                "pg_restore",
                &["--list".to_string(), dest.display().to_string()],
            )
            .await?;
        let entries = list
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
            .count();
        if entries == 0 {
            return Err(DbError::Backup(format!(
                "`pg_restore --list` found no entries in {}",
                dest.display()
            )));
        }
        let bytes = tokio::fs::metadata(dest)
            .await
            .map_err(|e| DbError::Backup(format!("{}: {e}", dest.display())))?
            .len();
        Ok(Backup {
            path: dest.to_path_buf(),
            bytes,
            verified: format!("{entries} entries"),
        })
    }

    /// Restores a backup made by [`Postgres::backup`]: the dumped objects are dropped and
    /// recreated in one transaction (`pg_restore --clean --if-exists --single-transaction`).
    pub async fn restore(&self, from: &Path) -> Result<(), DbError> {
        if !from.is_file() {
            return Err(DbError::Backup(format!("no backup at {}", from.display())));
        }
        let args = vec![
            "--clean".to_string(),
            "--if-exists".to_string(),
            "--single-transaction".to_string(),
            "--no-owner".to_string(),
            format!("--dbname={}", self.url),
            from.display().to_string(),
        ];
        self.tool("pg_restore", &args).await.map(|_| ())
    }

    /// Runs `pg_dump` or `pg_restore` with the password in the environment; returns stdout.
    async fn tool(&self, tool: &'static str, args: &[String]) -> Result<String, DbError> {
        let mut cmd = tokio::process::Command::new(tool);
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(p) = &self.password {
            cmd.env("PGPASSWORD", p);
        }
        let child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                DbError::ToolMissing {
                    tool,
                    hint: "install the PostgreSQL client tools (Debian and Ubuntu: postgresql-client), at least the server's major version",
                }
            } else {
                DbError::Backup(format!("cannot start `{tool}`: {e}"))
            }
        })?;
        let out = tokio::time::timeout(self.options.backup_timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                DbError::Backup(format!(
                    "`{tool}` did not finish within {:?}",
                    self.options.backup_timeout
                ))
            })?
            .map_err(|e| DbError::Backup(format!("`{tool}`: {e}")))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(DbError::Backup(self.redact(format!(
                "`{tool}` failed ({}): {}",
                out.status,
                stderr.trim()
            ))));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn redact(&self, m: String) -> String {
        redact(&m, self.password.as_deref(), &self.url)
    }

    async fn after_lock_timeout(&self, name: &str, attempt: u32) -> Result<(), DbError> {
        if attempt >= self.options.retry.attempts.max(1) {
            return Err(DbError::LockTimeout {
                name: name.to_string(),
                attempts: attempt,
            });
        }
        tokio::time::sleep(self.options.retry.wait_after(attempt)).await;
        Ok(())
    }

    /// The migration's own timeouts, else the database's.
    fn limits(&self, m: &Migration) -> (Duration, Duration) {
        (
            m.lock_timeout.unwrap_or(self.options.lock_timeout),
            m.statement_timeout
                .unwrap_or(self.options.statement_timeout),
        )
    }

    fn timeouts(&self, scope: &str, m: &Migration) -> String {
        let (lock, statement) = self.limits(m);
        format!(
            "SET {scope} lock_timeout = '{}ms'; SET {scope} statement_timeout = '{}ms'",
            lock.as_millis(),
            statement.as_millis()
        )
    }

    fn statement_error(
        &self,
        m: &Migration,
        statement: usize,
        committed: usize,
        e: tokio_postgres::Error,
    ) -> DbError {
        statement_error(&m.name, statement, committed, self.limits(m).1, e)
    }

    async fn apply_in_tx(
        &self,
        client: &mut Client,
        m: &Migration,
        statements: &[String],
        checksum: &str,
    ) -> Result<Attempt<Applied>, DbError> {
        let tx = client.transaction().await.map_err(other)?;
        // Dropping `tx` on any early return rolls everything back, ledger included.
        let setup = format!(
            "{}; SELECT pg_advisory_xact_lock({LOCK_KEY})",
            self.timeouts("LOCAL", m)
        );
        if let Err(e) = tx.batch_execute(&setup).await {
            return lock_or(e, other);
        }
        let row = ledger_row(&tx, &m.name).await;
        let row = match row {
            Ok(r) => r,
            Err(e) => return lock_or(e, other),
        };
        if let Some(done) = super::decide_apply(m, checksum, row)? {
            return Ok(Attempt::Done(Applied::Already(done)));
        }
        for (i, s) in statements.iter().enumerate() {
            if let Err(e) = tx.batch_execute(s).await {
                return lock_or(e, |e| self.statement_error(m, i + 1, 0, e));
            }
        }
        record_applied(&tx, m, checksum).await?;
        tx.commit().await.map_err(other)?;
        Ok(Attempt::Done(Applied::Now {
            transactional: true,
            attempts: 1,
        }))
    }

    async fn revert_in_tx(
        &self,
        client: &mut Client,
        m: &Migration,
        statements: &[String],
        checksum: &str,
    ) -> Result<Attempt<Reverted>, DbError> {
        let tx = client.transaction().await.map_err(other)?;
        let setup = format!(
            "{}; SELECT pg_advisory_xact_lock({LOCK_KEY})",
            self.timeouts("LOCAL", m)
        );
        if let Err(e) = tx.batch_execute(&setup).await {
            return lock_or(e, other);
        }
        let row = match ledger_row(&tx, &m.name).await {
            Ok(r) => r,
            Err(e) => return lock_or(e, other),
        };
        if let Some(done) = decide_revert(m, checksum, row)? {
            return Ok(Attempt::Done(done));
        }
        for (i, s) in statements.iter().enumerate() {
            if let Err(e) = tx.batch_execute(s).await {
                return lock_or(e, |e| self.statement_error(m, i + 1, 0, e));
            }
        }
        record_reverted(&tx, &m.name).await?;
        tx.commit().await.map_err(other)?;
        Ok(Attempt::Done(Reverted::Now {
            transactional: true,
            attempts: 1,
        }))
    }

    /// Takes the session advisory lock and sets the session timeouts, for statements that
    /// run outside a transaction; [`Postgres::unlock_session`] undoes both.
    async fn lock_session(&self, client: &Client, m: &Migration) -> Result<(), DbError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let setup = format!(
                "{}; SELECT pg_advisory_lock({LOCK_KEY})",
                self.timeouts("", m)
            );
            match client.batch_execute(&setup).await {
                Ok(()) => return Ok(()),
                Err(e) if is_lock_timeout(&e) => {
                    self.after_lock_timeout("the ledger lock", attempt).await?
                }
                Err(e) => return Err(other(e)),
            }
        }
    }

    /// Releases what [`Postgres::lock_session`] took, whatever `out` is.
    async fn unlock_session<T>(
        &self,
        client: &Client,
        out: Result<T, DbError>,
    ) -> Result<T, DbError> {
        let cleanup = client
            .batch_execute(&format!(
                "SELECT pg_advisory_unlock({LOCK_KEY}); RESET lock_timeout; RESET statement_timeout"
            ))
            .await;
        match (out, cleanup) {
            (Ok(v), Ok(())) => Ok(v),
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(other(e)),
        }
    }

    async fn apply_autocommit(
        &self,
        client: &Client,
        m: &Migration,
        statements: &[String],
        checksum: &str,
    ) -> Result<Applied, DbError> {
        let row = ledger_row(client, &m.name).await.map_err(other)?;
        if let Some(done) = super::decide_apply(m, checksum, row)? {
            return Ok(Applied::Already(done));
        }
        let attempts = self.run_one_by_one(client, m, statements).await?;
        self.check_indexes(client, &m.name, statements.len())
            .await?;
        record_applied(client, m, checksum).await?;
        Ok(Applied::Now {
            transactional: false,
            attempts,
        })
    }

    async fn revert_autocommit(
        &self,
        client: &Client,
        m: &Migration,
        statements: &[String],
        checksum: &str,
    ) -> Result<Reverted, DbError> {
        let row = ledger_row(client, &m.name).await.map_err(other)?;
        if let Some(done) = decide_revert(m, checksum, row)? {
            return Ok(done);
        }
        let attempts = self.run_one_by_one(client, m, statements).await?;
        record_reverted(client, &m.name).await?;
        Ok(Reverted::Now {
            transactional: false,
            attempts,
        })
    }

    /// Runs each statement on its own; a lock timeout retries that statement. Returns the
    /// largest number of attempts any statement took.
    async fn run_one_by_one(
        &self,
        client: &Client,
        m: &Migration,
        statements: &[String],
    ) -> Result<u32, DbError> {
        let name = m.name.as_str();
        let mut most = 1;
        for (i, s) in statements.iter().enumerate() {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match client.batch_execute(s).await {
                    Ok(()) => break,
                    Err(e) if is_lock_timeout(&e) => self.after_lock_timeout(name, attempt).await?,
                    Err(e) => return Err(self.statement_error(m, i + 1, i, e)),
                }
            }
            most = most.max(attempt);
        }
        Ok(most)
    }

    /// A `CREATE INDEX CONCURRENTLY` that failed half way leaves an invalid index behind, which
    /// a rerun with `IF NOT EXISTS` would silently accept: refuse to record the migration while
    /// the schema has one.
    async fn check_indexes(
        &self,
        client: &Client,
        name: &str,
        count: usize,
    ) -> Result<(), DbError> {
        let rows = client
            .query(
                "SELECT c.relname FROM pg_index i
                 JOIN pg_class c ON c.oid = i.indexrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE NOT i.indisvalid AND n.nspname = current_schema()",
                &[],
            )
            .await
            .map_err(other)?;
        let names: Vec<String> = rows.iter().filter_map(|r| r.try_get(0).ok()).collect();
        if names.is_empty() {
            return Ok(());
        }
        Err(DbError::Statement {
            name: name.to_string(),
            statement: count,
            committed: count,
            message: format!(
                "invalid index(es) left by an interrupted concurrent build: {}; drop them and run again",
                names.join(", ")
            ),
        })
    }
}

/// The advisory lock key of the ledger in the current schema.
const LOCK_KEY: &str = "hashtext(current_schema() || '.deployc_migrations')";

const COLUMNS: &str = "name, release, phase, checksum, \
     to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
     to_char(reverted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

/// `None` to go ahead, `Some` when there is nothing to undo, an error when the SQL changed.
fn decide_revert(
    m: &Migration,
    checksum: &str,
    row: Option<LedgerRow>,
) -> Result<Option<Reverted>, DbError> {
    match row {
        None => Ok(Some(Reverted::NotApplied)),
        Some(r) if r.reverted_at.is_some() => Ok(Some(Reverted::Already(r))),
        Some(r) if r.checksum != checksum => Err(DbError::ChecksumMismatch {
            name: m.name.clone(),
            recorded: r.checksum,
            current: checksum.to_string(),
        }),
        Some(_) => Ok(None),
    }
}

async fn ledger_row(
    c: &impl GenericClient,
    name: &str,
) -> Result<Option<LedgerRow>, tokio_postgres::Error> {
    let row = c
        .query_opt(
            &format!("SELECT {COLUMNS} FROM {LEDGER_TABLE} WHERE name = $1"),
            &[&name],
        )
        .await?;
    Ok(row.and_then(|r| row_of(&r).ok()))
}

async fn record_applied(
    c: &impl GenericClient,
    m: &Migration,
    checksum: &str,
) -> Result<(), DbError> {
    c.execute(
        &format!(
            "INSERT INTO {LEDGER_TABLE} (name, release, phase, checksum, applied_at, reverted_at)
             VALUES ($1, $2, $3, $4, now(), NULL)
             ON CONFLICT (name) DO UPDATE SET release = excluded.release, phase = excluded.phase,
               checksum = excluded.checksum, applied_at = excluded.applied_at, reverted_at = NULL"
        ),
        &[&m.name, &m.release, &m.phase, &checksum],
    )
    .await
    .map(|_| ())
    .map_err(other)
}

async fn record_reverted(c: &impl GenericClient, name: &str) -> Result<(), DbError> {
    c.execute(
        &format!("UPDATE {LEDGER_TABLE} SET reverted_at = now() WHERE name = $1"),
        &[&name],
    )
    .await
    .map(|_| ())
    .map_err(other)
}

fn row_of(r: &tokio_postgres::Row) -> Result<LedgerRow, DbError> {
    Ok(LedgerRow {
        name: r.try_get(0).map_err(other)?,
        release: r.try_get(1).map_err(other)?,
        phase: r.try_get(2).map_err(other)?,
        checksum: r.try_get(3).map_err(other)?,
        applied_at: r.try_get(4).map_err(other)?,
        reverted_at: r.try_get(5).map_err(other)?,
    })
}

fn is_lock_timeout(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
}

/// A lock timeout becomes a retry; anything else goes through `f`.
fn lock_or<T>(
    e: tokio_postgres::Error,
    f: impl FnOnce(tokio_postgres::Error) -> DbError,
) -> Result<Attempt<T>, DbError> {
    if is_lock_timeout(&e) {
        Ok(Attempt::LockTimeout)
    } else {
        Err(f(e))
    }
}

fn statement_error(
    name: &str,
    statement: usize,
    committed: usize,
    limit: Duration,
    e: tokio_postgres::Error,
) -> DbError {
    if e.code() == Some(&SqlState::QUERY_CANCELED) {
        return DbError::StatementTimeout {
            name: name.to_string(),
            statement,
            limit,
        };
    }
    DbError::Statement {
        name: name.to_string(),
        statement,
        committed,
        message: describe(&e),
    }
}

/// The server's message (with its SQLSTATE) rather than tokio-postgres' generic "db error".
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut m = format!("{} ({})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                m.push_str(": ");
                m.push_str(d);
            }
            m
        }
        None => {
            let mut m = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                m.push_str(": ");
                m.push_str(&s.to_string());
                source = s.source();
            }
            m
        }
    }
}

fn other(e: tokio_postgres::Error) -> DbError {
    DbError::Other(describe(&e))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// How a connection uses TLS: libpq's `sslmode` values and its `sslrootcert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    mode: TlsMode,
    /// `sslrootcert`: a PEM file of the certificate authorities to trust instead of the web
    /// PKI roots.
    root_cert: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Takes libpq's TLS options out of a connection string (URL or `key=value` form), which
/// tokio-postgres only partly understands (`verify-ca`, `verify-full` and `sslrootcert` are
/// refused): returns the string tokio-postgres gets — `sslmode=require` in place of the
/// verify modes, which must use TLS as well, and no `sslrootcert` — and what TLS must check.
/// `pg_dump` and `pg_restore` get the original string: libpq reads all of it itself.
pub(crate) fn tls_options(url: &str) -> Result<(String, TlsOptions), DbError> {
    let mut options = TlsOptions {
        mode: TlsMode::Prefer,
        root_cert: None,
    };
    let mut take = |key: &str, value: &str| -> Result<bool, DbError> {
        match key {
            "sslmode" => {
                options.mode = match value {
                    "disable" => TlsMode::Disable,
                    "allow" | "prefer" => TlsMode::Prefer,
                    "require" => TlsMode::Require,
                    "verify-ca" => TlsMode::VerifyCa,
                    "verify-full" => TlsMode::VerifyFull,
                    other => {
                        return Err(DbError::Connect(format!(
                            "invalid PostgreSQL URL: `sslmode={other}` (one of disable, allow, prefer, require, verify-ca, verify-full)"
                        )));
                    }
                };
                Ok(true)
            }
            "sslrootcert" => {
                options.root_cert = Some(std::path::PathBuf::from(value));
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if let Some((base, query)) = url.split_once('?').filter(|_| url.contains("://")) {
        let mut kept: Vec<&str> = Vec::new();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            if !take(key, &value)? {
                kept.push(pair);
            }
        }
        (base.to_string(), kept.join("&"), '?', "&")
    } else if url.contains("://") {
        (url.to_string(), String::new(), '?', "&")
    } else {
        // Only the TLS pairs are taken out; the rest is kept as written (quoted values with
        // spaces included).
        let mut kept = url.to_string();
        for pair in url.split_whitespace() {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if take(key, value.trim_matches('\''))? {
                kept = kept.replacen(pair, "", 1);
            }
        }
        (kept.trim().to_string(), String::new(), ' ', " ")
    };
    let (mut out, query, first, sep) = rest;
    let mode = match options.mode {
        TlsMode::Disable => "disable",
        TlsMode::Prefer => "prefer",
        TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => "require",
    };
    let mut params: Vec<String> = Vec::new();
    if !query.is_empty() {
        params.push(query);
    }
    params.push(format!("sslmode={mode}"));
    let joined = params.join(sep);
    if first == '?' {
        out.push('?');
    } else if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(&joined);
    Ok((out, options))
}

/// `%XX` escapes of a URL query value decoded (a path in `sslrootcert`, say).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// rustls with ring; no platform verifier, no aws-lc.
///
/// * `prefer` (the default) and `disable`: libpq's meaning — encrypt when the server offers
///   TLS, without verifying who it is; the handshake signatures are still checked.
/// * `require`: the certificate is verified against the web PKI roots, or against
///   `sslrootcert` when it is given (stricter than libpq, which does not verify under
///   `require` unless it finds a root certificate file).
/// * `verify-ca`: the certificate chains to a trusted root (`sslrootcert`, else the web PKI);
///   the host name is not compared.
/// * `verify-full`: as `verify-ca`, and the certificate names the host connected to.
pub(crate) fn tls_config(options: &TlsOptions) -> Result<rustls::ClientConfig, DbError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Connect(format!("cannot set up TLS: {e}")))?;
    if matches!(options.mode, TlsMode::Disable | TlsMode::Prefer) {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
            .with_no_client_auth());
    }
    let roots = match &options.root_cert {
        None => rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
        Some(path) => root_certificates(path)?,
    };
    if options.mode != TlsMode::VerifyCa {
        return Ok(builder.with_root_certificates(roots).with_no_client_auth());
    }
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| DbError::Connect(format!("cannot set up TLS: {e}")))?;
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyName(verifier)))
        .with_no_client_auth())
}

/// The certificate authorities of a PEM file (`sslrootcert`).
fn root_certificates(path: &Path) -> Result<rustls::RootCertStore, DbError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let shown = path.display();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| DbError::Connect(format!("cannot read `sslrootcert` {shown}: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| DbError::Connect(format!("cannot read `sslrootcert` {shown}: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(DbError::Connect(format!(
            "`sslrootcert` {shown} holds no certificate"
        )));
    }
    Ok(roots)
}

/// `verify-ca`: the chain is verified as `verify-full` verifies it; only a certificate for
/// another name is accepted.
#[derive(Debug)]
struct AnyName(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The certificate check of `sslmode=prefer`: none, as in libpq; the handshake signatures are
/// still checked, so the session is encrypted with whoever answered.
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The URL without the password in its user info (`postgres://user:pw@host` →
/// `postgres://user@host`); key/value strings lose their `password=` pair.
pub(crate) fn strip_password(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = url.get(scheme_end + 3..).unwrap_or("");
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = rest.get(..authority_end).unwrap_or("");
        if let Some(at) = authority.rfind('@') {
            let userinfo = authority.get(..at).unwrap_or("");
            let user = userinfo.split(':').next().unwrap_or("");
            return format!(
                "{}{}{}",
                url.get(..scheme_end + 3).unwrap_or(""),
                user,
                rest.get(at..).unwrap_or("")
            );
        }
        return url.to_string();
    }
    url.split_whitespace()
        .filter(|kv| !kv.starts_with("password="))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Removes the password (as given and as decoded) from a message.
fn redact(message: &str, password: Option<&str>, url: &str) -> String {
    let mut m = message.to_string();
    let raw = url
        .find("://")
        .and_then(|i| url.get(i + 3..))
        .and_then(|rest| rest.get(..rest.find(['/', '?']).unwrap_or(rest.len())))
        .and_then(|auth| auth.rfind('@').and_then(|at| auth.get(..at)))
        .and_then(|ui| ui.split_once(':').map(|(_, p)| p.to_string()));
    for secret in [password.map(str::to_string), raw].into_iter().flatten() {
        if !secret.is_empty() {
            m = m.replace(&secret, "[redacted]");
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_leave_tokio_postgres_what_it_understands() {
        let (url, tls) = tls_options(
            "postgres://app@db:5432/x?application_name=deployc&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20bundle.pem",
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://app@db:5432/x?application_name=deployc&sslmode=require"
        );
        assert_eq!(tls.mode, TlsMode::VerifyFull);
        assert_eq!(
            tls.root_cert.as_deref(),
            Some(Path::new("/etc/ca bundle.pem"))
        );
        let (url, tls) = tls_options("postgres://app@db/x").unwrap();
        assert_eq!(url, "postgres://app@db/x?sslmode=prefer");
        assert_eq!(tls.mode, TlsMode::Prefer);
        let (url, tls) =
            tls_options("host=db password='a b' sslmode=verify-ca sslrootcert=/ca.pem dbname=x")
                .unwrap();
        assert_eq!(url, "host=db password='a b'   dbname=x sslmode=require");
        assert_eq!(tls.mode, TlsMode::VerifyCa);
        assert!(tokio_postgres::Config::from_str(&url).is_ok());
        let Err(DbError::Connect(e)) = tls_options("postgres://db/x?sslmode=verify") else {
            panic!("an unknown sslmode is an error");
        };
        assert!(e.contains("`sslmode=verify`"), "{e}");
    }

    #[test]
    fn a_root_certificate_file_that_is_missing_or_empty_is_named() {
        let missing = TlsOptions {
            mode: TlsMode::VerifyFull,
            root_cert: Some("/nonexistent/root.crt".into()),
        };
        let Err(DbError::Connect(e)) = tls_config(&missing) else {
            panic!("a missing sslrootcert is an error");
        };
        assert!(e.contains("/nonexistent/root.crt"), "{e}");
        let empty = std::env::temp_dir().join(format!("deployc-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let Err(DbError::Connect(e)) = tls_config(&TlsOptions {
            mode: TlsMode::VerifyCa,
            root_cert: Some(empty.clone()),
        }) else {
            panic!("a file without certificates is an error");
        };
        let _ = std::fs::remove_file(&empty);
        assert!(e.contains("holds no certificate"), "{e}");
    }

    #[test]
    fn passwords_leave_urls() {
        assert_eq!(
            strip_password("postgres://app:s3cr%40t@db:5432/x?sslmode=require"),
            "postgres://app@db:5432/x?sslmode=require"
        );
        assert_eq!(strip_password("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(
            strip_password("host=db user=app password=pw dbname=x"),
            "host=db user=app dbname=x"
        );
        assert_eq!(
            redact(
                "bad s3cr%40t and s3cr@t",
                Some("s3cr@t"),
                "postgres://app:s3cr%40t@db/x"
            ),
            "bad [redacted] and [redacted]"
        );
    }

    /// The verify modes against the machine's PostgreSQL, which serves TLS with Debian's
    /// self-signed "snakeoil" certificate (named `localhost`): trusted through `sslrootcert`,
    /// checked for the host name by `verify-full` only, untrusted without it.
    #[test]
    fn verify_modes_check_the_certificate_of_a_real_server() {
        const CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
        let required = std::env::var("DEPLOYC_REQUIRE_POSTGRES").as_deref() == Ok("1");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Whether the server offers TLS at all (a server configuration, not the project's).
        let offered = rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(
                "postgres://postgres@127.0.0.1:5432/test",
                tokio_postgres::NoTls,
            )
            .await
            .ok()?;
            tokio::spawn(connection);
            let row = client.query_one("SHOW ssl", &[]).await.ok()?;
            Some(row.get::<_, String>(0) == "on")
        });
        match offered {
            None => {
                assert!(
                    !required,
                    "DEPLOYC_REQUIRE_POSTGRES=1 but no server on 127.0.0.1:5432"
                );
                eprintln!("skipped: no PostgreSQL on 127.0.0.1:5432");
                return;
            }
            Some(false) => {
                eprintln!("skipped: the server does not offer TLS (`ssl = off`)");
                return;
            }
            Some(true) => {}
        }
        assert!(
            Path::new(CERT).is_file(),
            "the server offers TLS but {CERT} is not there"
        );
        let connect = |url: String| {
            rt.block_on(async move {
                let (for_client, tls) = tls_options(&url)?;
                let config = tokio_postgres::Config::from_str(&for_client)
                    .map_err(|e| DbError::Connect(e.to_string()))?;
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(&tls)?);
                let (client, connection) = config
                    .connect(tls)
                    .await
                    .map_err(|e| DbError::Connect(describe(&e)))?;
                tokio::spawn(connection);
                let row = client
                    .query_one(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        &[],
                    )
                    .await
                    .map_err(|e| DbError::Connect(describe(&e)))?;
                Ok::<bool, DbError>(row.get(0))
            })
        };
        let url =
            |host: &str, params: &str| format!("postgres://postgres@{host}:5432/test?{params}");
        let root = format!("sslrootcert={CERT}");
        // Trusted and named: encrypted.
        assert!(connect(url("localhost", &format!("sslmode=verify-full&{root}"))).unwrap());
        // Trusted, another name: only `verify-ca` accepts it.
        let wrong_name = connect(url("127.0.0.1", &format!("sslmode=verify-full&{root}")));
        let Err(DbError::Connect(e)) = wrong_name else {
            panic!("verify-full accepted a certificate for another name: {wrong_name:?}");
        };
        assert!(e.contains("certificate"), "{e}");
        assert!(connect(url("127.0.0.1", &format!("sslmode=verify-ca&{root}"))).unwrap());
        // Not trusted: a self-signed certificate is no web PKI certificate.
        let untrusted = connect(url("localhost", "sslmode=verify-full"));
        assert!(untrusted.is_err(), "{untrusted:?}");
        let untrusted = connect(url("localhost", "sslmode=require"));
        assert!(untrusted.is_err(), "{untrusted:?}");
        // `require` with a root file verifies against it; `prefer` encrypts without checking.
        assert!(connect(url("localhost", &format!("sslmode=require&{root}"))).unwrap());
        assert!(connect(url("127.0.0.1", "sslmode=prefer")).unwrap());
        // The migration runner's own connection takes the same options (in a schema of its
        // own: connecting creates the ledger).
        let schema = format!("deployc_tls_{}", std::process::id());
        let admin = |sql: String| {
            rt.block_on(async move {
                let (client, connection) = tokio_postgres::connect(
                    "postgres://postgres@127.0.0.1:5432/test",
                    tokio_postgres::NoTls,
                )
                .await
                .unwrap();
                tokio::spawn(connection);
                client.batch_execute(&sql).await.unwrap();
            })
        };
        admin(format!("CREATE SCHEMA IF NOT EXISTS {schema}"));
        let options = PostgresOptions {
            schema: Some(schema.clone()),
            ..PostgresOptions::default()
        };
        let db = rt.block_on(Postgres::connect_with(
            &url("localhost", &format!("sslmode=verify-full&{root}")),
            options.clone(),
        ));
        let refused = rt.block_on(Postgres::connect_with(
            &url("127.0.0.1", &format!("sslmode=verify-full&{root}")),
            options,
        ));
        // The connection closes before its schema goes.
        let db = db.map(|_| ()).map_err(|e| format!("{e:?}"));
        admin(format!("DROP SCHEMA {schema} CASCADE"));
        assert!(db.is_ok(), "{db:?}");
        assert!(refused.is_err());
    }
}
