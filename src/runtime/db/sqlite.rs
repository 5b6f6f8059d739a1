//! SQLite migrations (rusqlite with the bundled library).
//!
//! rusqlite is synchronous, so every operation runs on tokio's blocking pool, holding the one
//! connection behind a mutex: migrations of one database are serial by nature. `BEGIN
//! IMMEDIATE` takes the write lock before the ledger is read, so two runners on the same file
//! cannot both decide to apply; the connection's busy timeout is the SQLite lock timeout, and a
//! busy database is retried with backoff like a PostgreSQL lock timeout.
//!
//! Statements are executed one at a time through SQLite's own parser (`rusqlite::Batch`), so
//! an error names the statement. In SQLite only `VACUUM` cannot run inside a transaction; a
//! migration that contains it runs statement by statement.

use super::{Applied, Backup, DbError, LEDGER_TABLE, LedgerRow, Migration, Retry, Reverted};
use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::{Connection, ErrorCode, MAIN_DB, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
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
        self.with_retry(&m.name, move |conn| apply_once(conn, &m2, &checksum))
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
        let name = m.name.clone();
        self.with_retry(&m.name, move |conn| {
            revert_once(conn, &name, &down, &checksum)
        })
        .await
        .map(|(r, attempts)| match r {
            Reverted::Now { transactional, .. } => Reverted::Now {
                transactional,
                attempts,
            },
            r => r,
        })
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
    async fn with_retry<T: Send + 'static>(
        &self,
        name: &str,
        op: impl Fn(&mut Connection) -> Result<Attempt<T>, DbError> + Send + Sync + 'static,
    ) -> Result<(T, u32), DbError> {
        let op = Arc::new(op);
        let retry = self.options.retry;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let conn = self.conn.clone();
            let op = op.clone();
            let out = blocking(move || {
                let mut conn = lock(&conn)?;
                op(&mut conn)
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
        run_statements(conn, &m.name, &m.up, false)?;
        record_applied(conn, m, checksum)?;
        return Ok(Attempt::Done(Applied::Now {
            transactional: false,
            attempts: 1,
        }));
    }
    let result =
        run_statements(conn, &m.name, &m.up, true).and_then(|()| record_applied(conn, m, checksum));
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
    name: &str,
    down: &str,
    checksum: &str,
) -> Result<Attempt<Reverted>, DbError> {
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
        run_statements(conn, name, down, false)?;
        record_reverted(conn, name)?;
        return Ok(Attempt::Done(Reverted::Now {
            transactional: false,
            attempts: 1,
        }));
    }
    match run_statements(conn, name, down, true).and_then(|()| record_reverted(conn, name)) {
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

/// Executes each statement with SQLite's parser. `in_tx` only changes the error's account of
/// what stays committed.
fn run_statements(conn: &Connection, name: &str, sql: &str, in_tx: bool) -> Result<(), DbError> {
    let mut batch = rusqlite::Batch::new(conn, sql);
    let mut index = 0usize;
    let fail = |index: usize, e: rusqlite::Error| DbError::Statement {
        name: name.to_string(),
        statement: index,
        committed: if in_tx { 0 } else { index.saturating_sub(1) },
        message: e.to_string(),
    };
    loop {
        index += 1;
        let next = batch.next().map_err(|e| fail(index, e))?;
        let Some(mut stmt) = next else {
            return Ok(());
        };
        stmt.raw_execute().map_err(|e| fail(index, e))?;
    }
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
