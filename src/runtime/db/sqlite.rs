//! SQLite migrations (rusqlite with the bundled library).
//!
//! rusqlite is synchronous, so every operation runs on tokio's blocking pool, holding the one
//! connection behind a mutex: migrations of one database are serial by nature. `BEGIN
//! IMMEDIATE` takes the write lock before the ledger is read, so two runners on the same file
//! cannot both decide to apply; the connection's busy timeout is the SQLite lock timeout, and a
//! busy database is retried with backoff like a PostgreSQL lock timeout.
//!
//! Statements are executed one at a time through SQLite's own parser (`rusqlite::Batch`), so
//! an error names the statement. SQLite has no statement timeout of its own: a watchdog thread
//! interrupts the connection (`sqlite3_interrupt`) when a statement outlives the migration's
//! `statement_timeout`, which rolls the transaction back like PostgreSQL's. In SQLite only `VACUUM` cannot run inside a transaction; a
//! migration that contains it runs statement by statement.

use super::{
    Applied, BATCHES_TABLE, Backup, BatchDone, BatchStep, DbError, LEDGER_TABLE, LedgerRow,
    Migration, Progress, Retry, Reverted,
};
use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::{Connection, ErrorCode, MAIN_DB, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// How an SQLite database is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// How long to wait for another connection's lock before the attempt fails.
    pub busy_timeout: Duration,
    /// What to do when it does.
    pub retry: Retry,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            busy_timeout: Duration::from_secs(5),
            retry: Retry::default(),
        }
    }
}

/// An SQLite database with its ledger.
#[derive(Clone)]
pub struct Sqlite {
    path: PathBuf,
    options: SqliteOptions,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite").field("path", &self.path).finish()
    }
}

/// What one blocking attempt ended with: done, or busy (worth retrying).
enum Attempt<T> {
    Done(T),
    Busy(String),
}

impl Sqlite {
    /// Opens (creating if needed) the database file and its ledger table.
    pub async fn open(path: impl Into<PathBuf>) -> Result<Sqlite, DbError> {
        Sqlite::open_with(path, SqliteOptions::default()).await
    }

    /// [`Sqlite::open`] with explicit options.
    pub async fn open_with(
        path: impl Into<PathBuf>,
        options: SqliteOptions,
    ) -> Result<Sqlite, DbError> {
        let path = path.into();
        let p = path.clone();
        let conn = blocking(move || {
            let conn = Connection::open(&p)
                .map_err(|e| DbError::Connect(format!("{}: {e}", p.display())))?;
            conn.busy_timeout(options.busy_timeout).map_err(other)?;
            conn.execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (
                    name TEXT PRIMARY KEY NOT NULL,
                    release TEXT NOT NULL,
                    phase TEXT NOT NULL,
                    checksum TEXT NOT NULL,
                    applied_at TEXT NOT NULL,
                    reverted_at TEXT
                );
                CREATE TABLE IF NOT EXISTS {BATCHES_TABLE} (
                    name TEXT PRIMARY KEY NOT NULL,
                    checksum TEXT NOT NULL,
                    last_key TEXT,
                    batches INTEGER NOT NULL,
                    rows INTEGER NOT NULL
                )"
            ))
            .map_err(other)?;
            Ok(conn)
        })
        .await?;
        Ok(Sqlite {
            path,
            options,
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies a migration exactly once (see the [module rules](super)).
    pub async fn apply(&self, m: &Migration) -> Result<Applied, DbError> {
        let checksum = m.checksum();
        let m2 = m.clone();
        self.with_retry(m, move |conn| apply_once(conn, &m2, &checksum))
            .await
            .map(|(a, attempts)| match a {
                Applied::Now { transactional, .. } => Applied::Now {
                    transactional,
                    attempts,
                },
                a => a,
            })
    }

    /// Runs the migration's `down` and marks it reverted.
    pub async fn revert(&self, m: &Migration) -> Result<Reverted, DbError> {
        let Some(down) = m.down.clone() else {
            return Err(DbError::Irreversible {
                name: m.name.clone(),
            });
        };
        let checksum = m.checksum();
        let m2 = m.clone();
        self.with_retry(m, move |conn| revert_once(conn, &m2, &down, &checksum))
            .await
            .map(|(r, attempts)| match r {
                Reverted::Now { transactional, .. } => Reverted::Now {
                    transactional,
                    attempts,
                },
                r => r,
            })
    }

    /// Runs the next batch of a batched migration in one transaction with its progress row;
    /// the last batch writes the ledger row instead (see [`super::postgres::Postgres::apply_batch`]).
    pub async fn apply_batch(&self, m: &Migration) -> Result<BatchStep, DbError> {
        let Some(batch) = m.batch.clone() else {
            return Err(DbError::Other(format!(
                "migration `{}` is not batched",
                m.name
            )));
        };
        let shape = super::batch_shape(m, &batch)?;
        let checksum = m.checksum();
        let m2 = m.clone();
        self.with_retry(m, move |conn| {
            batch_once(conn, &m2, &batch, &shape, &checksum)
        })
        .await
        .map(|(step, _)| step)
    }

    /// Runs a migration's verify query and gives its one value as text.
    pub async fn verify(&self, m: &Migration, query: &str) -> Result<String, DbError> {
        let conn = self.conn.clone();
        let m = m.clone();
        let query = query.to_string();
        blocking(move || {
            let conn = lock(&conn)?;
            let limit = m.statement_timeout;
            let fail =
                |e: rusqlite::Error, fired: bool| statement_failure(&m, 1, 0, limit, fired, e);
            let mut stmt = conn.prepare(&query).map_err(|e| fail(e, false))?;
            let columns = stmt.column_count();
            let (rows, value) = timed(&conn, limit, || {
                let mut rows = stmt.query([])?;
                let mut count = 0usize;
                let mut value = None;
                while let Some(r) = rows.next()? {
                    count += 1;
                    if count == 1 && columns > 0 {
                        value = text_of(r.get_ref(0)?);
                    }
                }
                Ok((count, value))
            })
            .map_err(|(e, fired)| fail(e, fired))?;
            super::one_value(&m.name, rows, columns, value)
        })
        .await
    }

    /// The whole ledger, in application order.
    pub async fn ledger(&self) -> Result<Vec<LedgerRow>, DbError> {
        let conn = self.conn.clone();
        blocking(move || {
            let conn = lock(&conn)?;
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT name, release, phase, checksum, applied_at, reverted_at
                     FROM {LEDGER_TABLE} ORDER BY applied_at, name"
                ))
                .map_err(other)?;
            let rows = stmt.query_map([], row_of).map_err(other)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(other)
        })
        .await
    }

    /// Copies the live database to `dest` with SQLite's online backup API (readers and writers
    /// may continue meanwhile), then checks the copy with `PRAGMA integrity_check`.
    pub async fn backup(&self, dest: &Path) -> Result<Backup, DbError> {
        let conn = self.conn.clone();
        let dest = dest.to_path_buf();
        blocking(move || {
            if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbError::Backup(format!("{}: {e}", dir.display())))?;
            }
            {
                let conn = lock(&conn)?;
                conn.backup(MAIN_DB, &dest, None)
                    .map_err(|e| DbError::Backup(format!("{}: {e}", dest.display())))?;
            }
            let copy = Connection::open(&dest)
                .map_err(|e| DbError::Backup(format!("{}: {e}", dest.display())))?;
            let verdict: String = copy
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .map_err(|e| DbError::Backup(format!("verifying {}: {e}", dest.display())))?;
            if verdict != "ok" {
                return Err(DbError::Backup(format!(
                    "the copy {} failed its integrity check: {verdict}",
                    dest.display()
                )));
            }
            let bytes = std::fs::metadata(&dest)
                .map_err(|e| DbError::Backup(format!("{}: {e}", dest.display())))?
                .len();
            Ok(Backup {
                path: dest,
                bytes,
                verified: verdict,
            })
        })
        .await
    }

    /// Replaces the live database's content with a backup made by [`Sqlite::backup`].
    pub async fn restore(&self, from: &Path) -> Result<(), DbError> {
        let conn = self.conn.clone();
        let from = from.to_path_buf();
        blocking(move || {
            if !from.is_file() {
                return Err(DbError::Backup(format!("no backup at {}", from.display())));
            }
            let mut conn = lock(&conn)?;
            conn.restore(MAIN_DB, &from, None::<fn(rusqlite::backup::Progress)>)
                .map_err(|e| DbError::Backup(format!("restoring {}: {e}", from.display())))
        })
        .await
    }

    /// Runs `op` on the blocking pool, again with backoff while the database is busy.
    /// The migration's lock timeout is the connection's busy timeout while `op` runs.
    async fn with_retry<T: Send + 'static>(
        &self,
        m: &Migration,
        op: impl Fn(&mut Connection) -> Result<Attempt<T>, DbError> + Send + Sync + 'static,
    ) -> Result<(T, u32), DbError> {
        let name = m.name.as_str();
        let default_busy = self.options.busy_timeout;
        let busy = m.lock_timeout.unwrap_or(default_busy);
        let op = Arc::new(op);
        let retry = self.options.retry;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let conn = self.conn.clone();
            let op = op.clone();
            let out = blocking(move || {
                let mut conn = lock(&conn)?;
                conn.busy_timeout(busy).map_err(other)?;
                let out = op(&mut conn);
                // The ledger reads between migrations wait as long as the database's default.
                conn.busy_timeout(default_busy).map_err(other)?;
                out
            })
            .await?;
            match out {
                Attempt::Done(v) => return Ok((v, attempt)),
                Attempt::Busy(_) if attempt < retry.attempts.max(1) => {
                    tokio::time::sleep(retry.wait_after(attempt)).await;
                }
                Attempt::Busy(_) => {
                    return Err(DbError::LockTimeout {
                        name: name.to_string(),
                        attempts: attempt,
                    });
                }
            }
        }
    }
}

fn apply_once(
    conn: &mut Connection,
    m: &Migration,
    checksum: &str,
) -> Result<Attempt<Applied>, DbError> {
    let autocommit = outside_transaction(&m.up);
    if let Attempt::Busy(e) = begin(conn)? {
        return Ok(Attempt::Busy(e));
    }
    match ledger_row(conn, &m.name).and_then(|row| super::decide_apply(m, checksum, row)) {
        Ok(None) => {}
        Ok(Some(row)) => {
            rollback(conn);
            return Ok(Attempt::Done(Applied::Already(row)));
        }
        Err(e) => {
            rollback(conn);
            return Err(e);
        }
    }
    if autocommit {
        // The ledger was checked under the write lock; release it, run the statements on their
        // own, then record.
        rollback(conn);
        run_statements(conn, m, &m.up, false)?;
        record_applied(conn, m, checksum)?;
        return Ok(Attempt::Done(Applied::Now {
            transactional: false,
            attempts: 1,
        }));
    }
    let result =
        run_statements(conn, m, &m.up, true).and_then(|()| record_applied(conn, m, checksum));
    match result {
        Ok(()) => {
            commit(conn)?;
            Ok(Attempt::Done(Applied::Now {
                transactional: true,
                attempts: 1,
            }))
        }
        Err(e) => {
            rollback(conn);
            busy_or(e)
        }
    }
}

fn revert_once(
    conn: &mut Connection,
    m: &Migration,
    down: &str,
    checksum: &str,
) -> Result<Attempt<Reverted>, DbError> {
    let name = m.name.as_str();
    let autocommit = outside_transaction(down);
    if let Attempt::Busy(e) = begin(conn)? {
        return Ok(Attempt::Busy(e));
    }
    let row = match ledger_row(conn, name) {
        Ok(r) => r,
        Err(e) => {
            rollback(conn);
            return Err(e);
        }
    };
    match row {
        None => {
            rollback(conn);
            return Ok(Attempt::Done(Reverted::NotApplied));
        }
        Some(r) if r.reverted_at.is_some() => {
            rollback(conn);
            return Ok(Attempt::Done(Reverted::Already(r)));
        }
        Some(r) if r.checksum != checksum => {
            rollback(conn);
            return Err(DbError::ChecksumMismatch {
                name: name.to_string(),
                recorded: r.checksum,
                current: checksum.to_string(),
            });
        }
        Some(_) => {}
    }
    if autocommit {
        rollback(conn);
        run_statements(conn, m, down, false)?;
        record_reverted(conn, name)?;
        return Ok(Attempt::Done(Reverted::Now {
            transactional: false,
            attempts: 1,
        }));
    }
    match run_statements(conn, m, down, true).and_then(|()| record_reverted(conn, name)) {
        Ok(()) => {
            commit(conn)?;
            Ok(Attempt::Done(Reverted::Now {
                transactional: true,
                attempts: 1,
            }))
        }
        Err(e) => {
            rollback(conn);
            busy_or(e)
        }
    }
}

/// Whether the SQL has a statement that cannot run in a transaction (`VACUUM`): the schema
/// model's decision, the one the plan shows as `transactional`.
fn outside_transaction(sql: &str) -> bool {
    !crate::sql::model::of_text(sql).transactional
}

/// Executes each statement with SQLite's parser, each under the migration's statement
/// timeout. `in_tx` only changes the error's account of what stays committed.
fn run_statements(conn: &Connection, m: &Migration, sql: &str, in_tx: bool) -> Result<(), DbError> {
    let mut batch = rusqlite::Batch::new(conn, sql);
    let mut index = 0usize;
    let limit = m.statement_timeout;
    let committed = |index: usize| if in_tx { 0 } else { index.saturating_sub(1) };
    loop {
        index += 1;
        let next = batch
            .next()
            .map_err(|e| statement_failure(m, index, committed(index), limit, false, e))?;
        let Some(mut stmt) = next else {
            return Ok(());
        };
        timed(conn, limit, || stmt.raw_execute())
            .map_err(|(e, fired)| statement_failure(m, index, committed(index), limit, fired, e))?;
    }
}

/// A failed statement: a statement timeout when the watchdog interrupted it.
fn statement_failure(
    m: &Migration,
    statement: usize,
    committed: usize,
    limit: Option<Duration>,
    fired: bool,
    e: rusqlite::Error,
) -> DbError {
    let interrupted = e.sqlite_error_code() == Some(ErrorCode::OperationInterrupted);
    match limit {
        Some(limit) if fired && interrupted => DbError::StatementTimeout {
            name: m.name.clone(),
            statement,
            limit,
        },
        _ => DbError::Statement {
            name: m.name.clone(),
            statement,
            committed,
            message: e.to_string(),
        },
    }
}

/// Runs `f` with a watchdog that interrupts the connection once `limit` has passed; the
/// error comes with whether the watchdog fired. Without a limit `f` just runs.
fn timed<T>(
    conn: &Connection,
    limit: Option<Duration>,
    f: impl FnOnce() -> rusqlite::Result<T>,
) -> Result<T, (rusqlite::Error, bool)> {
    let Some(limit) = limit else {
        return f().map_err(|e| (e, false));
    };
    let handle = conn.get_interrupt_handle();
    let fired = Arc::new(AtomicBool::new(false));
    let (stop, stopped) = mpsc::channel::<()>();
    let flag = fired.clone();
    let dog = std::thread::spawn(move || {
        // A message or a hang-up means the statement ended first.
        if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(limit) {
            flag.store(true, Ordering::SeqCst);
            handle.interrupt();
        }
    });
    let out = f();
    drop(stop);
    // The watchdog ends as soon as it sees the hang-up; joining it makes sure it cannot
    // interrupt a later statement.
    let _ = dog.join();
    out.map_err(|e| (e, fired.load(Ordering::SeqCst)))
}

/// A value as the text a verify compares: `None` for NULL.
fn text_of(v: rusqlite::types::ValueRef<'_>) -> Option<String> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(r) => Some(r.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

/// One batch of a batched migration (see [`Sqlite::apply_batch`]).
fn batch_once(
    conn: &mut Connection,
    m: &Migration,
    batch: &super::Batch,
    shape: &crate::sql::batch::Shape,
    checksum: &str,
) -> Result<Attempt<BatchStep>, DbError> {
    if let Attempt::Busy(e) = begin(conn)? {
        return Ok(Attempt::Busy(e));
    }
    let out = batch_in_tx(conn, m, batch, shape, checksum);
    match out {
        Ok(BatchStep::Ran(done)) => {
            commit(conn)?;
            Ok(Attempt::Done(BatchStep::Ran(done)))
        }
        Ok(already) => {
            rollback(conn);
            Ok(Attempt::Done(already))
        }
        Err(e) => {
            rollback(conn);
            busy_or(e)
        }
    }
}

fn batch_in_tx(
    conn: &Connection,
    m: &Migration,
    batch: &super::Batch,
    shape: &crate::sql::batch::Shape,
    checksum: &str,
) -> Result<BatchStep, DbError> {
    if let Some(row) = super::decide_apply(m, checksum, ledger_row(conn, &m.name)?)? {
        return Ok(BatchStep::Already(row));
    }
    let progress: Option<(String, Option<String>, i64, i64)> = conn
        .query_row(
            &format!(
                "SELECT checksum, last_key, batches, rows FROM {BATCHES_TABLE} WHERE name = ?1"
            ),
            [&m.name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(other)?;
    let progress = match progress {
        None => Progress::default(),
        Some((recorded, _, _, _)) if recorded != checksum => {
            return Err(DbError::ChecksumMismatch {
                name: m.name.clone(),
                recorded,
                current: checksum.to_string(),
            });
        }
        Some((_, last_key, batches, rows)) => Progress {
            last_key,
            batches: u64::try_from(batches).unwrap_or(0),
            rows: u64::try_from(rows).unwrap_or(0),
        },
    };
    let limit = m.statement_timeout;
    let fail = |(e, fired): (rusqlite::Error, bool)| statement_failure(m, 1, 0, limit, fired, e);
    let after = progress.last_key.as_deref();
    let bound = shape.bound_query(&batch.key, after, batch.size);
    let upto: Option<String> = timed(conn, limit, || {
        conn.query_row(&bound, [], |r| r.get::<_, Option<String>>(0))
            .optional()
            .map(Option::flatten)
    })
    .map_err(fail)?;
    let statement = shape.batch_statement(&batch.key, after, upto.as_deref());
    let rows = timed(conn, limit, || conn.execute(&statement, [])).map_err(fail)?;
    let rows = u64::try_from(rows).unwrap_or(u64::MAX);
    let done = BatchDone {
        batch: progress.batches.saturating_add(1),
        rows,
        total_rows: progress.rows.saturating_add(rows),
        last_key: upto.clone(),
        finished: upto.is_none(),
    };
    if done.finished {
        record_applied(conn, m, checksum)?;
        conn.execute(
            &format!("DELETE FROM {BATCHES_TABLE} WHERE name = ?1"),
            [&m.name],
        )
        .map_err(other)?;
    } else {
        conn.execute(
            &format!(
                "INSERT INTO {BATCHES_TABLE} (name, checksum, last_key, batches, rows)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum,
                   last_key = excluded.last_key, batches = excluded.batches, rows = excluded.rows"
            ),
            params![
                m.name,
                checksum,
                upto,
                i64::try_from(done.batch).unwrap_or(i64::MAX),
                i64::try_from(done.total_rows).unwrap_or(i64::MAX)
            ],
        )
        .map_err(other)?;
    }
    Ok(BatchStep::Ran(done))
}

fn record_applied(conn: &Connection, m: &Migration, checksum: &str) -> Result<(), DbError> {
    conn.execute(
        &format!(
            "INSERT INTO {LEDGER_TABLE} (name, release, phase, checksum, applied_at, reverted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, NULL)
             ON CONFLICT (name) DO UPDATE SET release = excluded.release, phase = excluded.phase,
               checksum = excluded.checksum, applied_at = excluded.applied_at, reverted_at = NULL"
        ),
        params![m.name, m.release, m.phase, checksum, super::now_rfc3339()],
    )
    .map(|_| ())
    .map_err(other)
}

fn record_reverted(conn: &Connection, name: &str) -> Result<(), DbError> {
    conn.execute(
        &format!("UPDATE {LEDGER_TABLE} SET reverted_at = ?1 WHERE name = ?2"),
        params![super::now_rfc3339(), name],
    )
    .map(|_| ())
    .map_err(other)
}

fn ledger_row(conn: &Connection, name: &str) -> Result<Option<LedgerRow>, DbError> {
    conn.query_row(
        &format!(
            "SELECT name, release, phase, checksum, applied_at, reverted_at
             FROM {LEDGER_TABLE} WHERE name = ?1"
        ),
        [name],
        row_of,
    )
    .optional()
    .map_err(other)
}

fn row_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<LedgerRow> {
    Ok(LedgerRow {
        name: r.get(0)?,
        release: r.get(1)?,
        phase: r.get(2)?,
        checksum: r.get(3)?,
        applied_at: r.get(4)?,
        reverted_at: r.get(5)?,
    })
}

fn begin(conn: &Connection) -> Result<Attempt<()>, DbError> {
    match conn.execute_batch("BEGIN IMMEDIATE") {
        Ok(()) => Ok(Attempt::Done(())),
        Err(e) if is_busy(&e) => Ok(Attempt::Busy(e.to_string())),
        Err(e) => Err(other(e)),
    }
}

fn commit(conn: &Connection) -> Result<(), DbError> {
    conn.execute_batch("COMMIT").map_err(|e| {
        rollback(conn);
        other(e)
    })
}

/// Rolls back if a transaction is open; a failure here leaves nothing to undo.
fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// Turns a busy statement error into a retry, anything else into the error.
fn busy_or<T>(e: DbError) -> Result<Attempt<T>, DbError> {
    match &e {
        DbError::Statement {
            message,
            committed: 0,
            ..
        } if message.contains("database is locked") || message.contains("database is busy") => {
            Ok(Attempt::Busy(message.clone()))
        }
        _ => Err(e),
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn other(e: rusqlite::Error) -> DbError {
    DbError::Other(e.to_string())
}

fn lock(conn: &Mutex<Connection>) -> Result<std::sync::MutexGuard<'_, Connection>, DbError> {
    conn.lock().map_err(|_| {
        DbError::Other("the database connection was poisoned by an earlier failure".into())
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DbError> + Send + 'static,
) -> Result<T, DbError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DbError::Other(format!("the database task failed: {e}")))?
}
