//! Migration databases: SQLite and PostgreSQL behind one ledger discipline.
//!
//! Every database keeps a ledger table, `deployc_migrations`, with one row per migration name:
//!
//! | column | meaning |
//! |---|---|
//! | `name` | the migration's name (primary key) |
//! | `release` | the release whose run applied it |
//! | `phase` | `expand`, `data`, `index` or `contract` |
//! | `checksum` | [`crate::history::checksum`] of the `up` SQL |
//! | `applied_at` | when the `up` committed |
//! | `reverted_at` | when the `down` committed, or null |
//!
//! The rules, the same for both databases:
//!
//! * **Exactly once.** A migration whose row exists (and is not reverted) is not applied again,
//!   whatever happened to the process in between. When the migration can run in a transaction,
//!   the ledger check, the statements and the ledger row share that one transaction, so a crash
//!   at any point leaves either everything or nothing.
//! * **Changed migrations are refused.** A recorded checksum that differs from the current `up`
//!   is an error ([`DbError::ChecksumMismatch`]); nothing runs.
//! * **Statements that cannot run in a transaction** (`CREATE INDEX CONCURRENTLY`, `DROP INDEX
//!   CONCURRENTLY`, `REINDEX … CONCURRENTLY`, `VACUUM`, `ALTER TYPE … ADD VALUE` before
//!   PostgreSQL 12, database and tablespace commands) make the whole migration run statement by
//!   statement, each on its own, with the ledger row written after the last one. Such a migration
//!   should be written to be re-runnable (`IF NOT EXISTS`), since a crash in the middle leaves
//!   the first statements done and no ledger row.
//! * **Reverts** run the `down` (in a transaction when possible) and set `reverted_at`; applying
//!   a reverted migration again clears it.
//! * **Backups** before the first irreversible migration: see [`sqlite::Sqlite::backup`] and
//!   [`postgres::Postgres::backup`].
//!
//! Statements are split with the PostgreSQL parser of [`crate::sql`] for PostgreSQL, and with
//! SQLite's own parser for SQLite, so string literals, dollar quoting and comments never
//! confuse the split.

pub mod postgres;
pub mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use postgres::{Postgres, PostgresOptions};
pub use sqlite::Sqlite;

/// The ledger table's name.
pub const LEDGER_TABLE: &str = "deployc_migrations";

/// The progress table of batched migrations: one row per migration under way, written in the
/// transaction of each batch and deleted in the one that writes the ledger row.
pub const BATCHES_TABLE: &str = "deployc_migration_batches";

/// One migration, as the plan gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Migration {
    pub name: String,
    /// The release that applies it.
    pub release: String,
    /// `expand`, `data`, `index` or `contract`.
    pub phase: String,
    pub up: String,
    /// The SQL that undoes `up`; `None` for an irreversible migration.
    pub down: Option<String>,
    /// This migration's `statement_timeout`; `None` keeps the database's default.
    pub statement_timeout: Option<Duration>,
    /// This migration's `lock_timeout` (SQLite: the busy timeout); `None` keeps the default.
    pub lock_timeout: Option<Duration>,
    /// `batch N by KEY`: run by [`Sqlite::apply_batch`] or [`Postgres::apply_batch`].
    pub batch: Option<Batch>,
}

/// How a batched migration walks its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Rows per batch (at least one).
    pub size: u64,
    /// The key column, in whose order the batches go.
    pub key: String,
}

/// What one call of `apply_batch` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchStep {
    /// One batch committed, with the progress row (or, for the last, the ledger row).
    Ran(BatchDone),
    /// The ledger already had the migration with the same checksum: nothing ran.
    Already(LedgerRow),
}

/// One committed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchDone {
    /// 1-based, counted over every run of the migration (a resumed one goes on counting).
    pub batch: u64,
    /// Rows this batch changed.
    pub rows: u64,
    /// Rows all batches so far changed.
    pub total_rows: u64,
    /// The key the batch ended at; `None` for the last batch, which took the rest.
    pub last_key: Option<String>,
    /// Whether it was the last batch: the migration is in the ledger now.
    pub finished: bool,
}

/// The progress of a batched migration, read at the start of each batch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Progress {
    pub(crate) last_key: Option<String>,
    pub(crate) batches: u64,
    pub(crate) rows: u64,
}

/// The statement shape of a batched migration, or why it has none (the checker's E417, in
/// case a plan was written by hand).
pub(crate) fn batch_shape(m: &Migration, b: &Batch) -> Result<crate::sql::batch::Shape, DbError> {
    crate::sql::batch::shape(&m.up, &b.key).map_err(|e| DbError::Parse {
        name: m.name.clone(),
        message: e.reason,
    })
}

/// The value a verify query gave, as text: its one row's one column (`NULL` for null).
pub(crate) fn one_value(
    name: &str,
    rows: usize,
    columns: usize,
    value: Option<String>,
) -> Result<String, DbError> {
    if rows != 1 || columns != 1 {
        return Err(DbError::Other(format!(
            "migration `{name}`: the verify query must give one row of one column; it gave {rows} row(s) of {columns} column(s)"
        )));
    }
    Ok(value.unwrap_or_else(|| "NULL".into()))
}

impl Migration {
    /// The checksum recorded in the ledger (and in the run history).
    pub fn checksum(&self) -> String {
        crate::history::checksum(&self.up)
    }
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub name: String,
    pub release: String,
    pub phase: String,
    pub checksum: String,
    /// RFC 3339.
    pub applied_at: String,
    /// RFC 3339, when the migration was reverted.
    pub reverted_at: Option<String>,
}

/// What [`Sqlite::apply`] or [`Postgres::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The migration ran now.
    Now {
        /// Whether it ran in one transaction with its ledger row.
        transactional: bool,
        /// How many attempts it took (more than one when a lock timeout was retried).
        attempts: u32,
    },
    /// The ledger already had it with the same checksum: nothing ran.
    Already(LedgerRow),
}

/// What a revert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reverted {
    /// The `down` ran now.
    Now { transactional: bool, attempts: u32 },
    /// The ledger has no applied row for it: nothing to undo.
    NotApplied,
    /// It was reverted before: nothing ran.
    Already(LedgerRow),
}

/// A backup file, written and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub path: PathBuf,
    /// The size of the file in bytes.
    pub bytes: u64,
    /// What the verification found: SQLite's `integrity_check` answer, or the number of entries
    /// `pg_restore --list` printed.
    pub verified: String,
}

/// Why a database operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbError {
    /// The database could not be opened or reached.
    Connect(String),
    /// The ledger has the migration with another checksum: the SQL changed after it was applied.
    ChecksumMismatch {
        name: String,
        recorded: String,
        current: String,
    },
    /// The SQL could not be split into statements.
    Parse { name: String, message: String },
    /// A statement failed; in transactional mode everything was rolled back.
    Statement {
        name: String,
        /// 1-based index of the statement in the migration.
        statement: usize,
        /// How many statements had been committed before it (non-zero only outside a
        /// transaction).
        committed: usize,
        message: String,
    },
    /// The lock timeout hit on every attempt.
    LockTimeout { name: String, attempts: u32 },
    /// The statement timeout hit.
    StatementTimeout {
        name: String,
        statement: usize,
        /// The timeout that was exceeded.
        limit: Duration,
    },
    /// A revert was asked of a migration without `down`.
    Irreversible { name: String },
    /// A tool the operation needs is not installed.
    ToolMissing {
        tool: &'static str,
        hint: &'static str,
    },
    /// A backup or restore failed.
    Backup(String),
    /// Anything else the database answered.
    Other(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Connect(m) => write!(f, "cannot connect to the database: {m}"),
            DbError::ChecksumMismatch {
                name,
                recorded,
                current,
            } => write!(
                f,
                "migration `{name}` changed after it was applied (ledger {recorded}, now {current}); write a new migration instead of editing this one"
            ),
            DbError::Parse { name, message } => {
                write!(f, "migration `{name}`: cannot split the SQL: {message}")
            }
            DbError::Statement {
                name,
                statement,
                committed,
                message,
            } => {
                write!(f, "migration `{name}`, statement {statement}: {message}")?;
                if *committed > 0 {
                    write!(
                        f,
                        " ({committed} earlier statement(s) ran outside a transaction and stay applied)"
                    )?;
                }
                Ok(())
            }
            DbError::LockTimeout { name, attempts } => write!(
                f,
                "migration `{name}`: lock timeout on each of {attempts} attempt(s); a long transaction holds a lock it needs"
            ),
            DbError::StatementTimeout {
                name,
                statement,
                limit,
            } => write!(
                f,
                "migration `{name}`, statement {statement}: cancelled after its statement timeout of {}; raise `statement_timeout` for this migration or its environment, or batch it",
                crate::lower::format::fmt_ms(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX))
            ),
            DbError::Irreversible { name } => {
                write!(f, "migration `{name}` has no `down`: it cannot be reverted")
            }
            DbError::ToolMissing { tool, hint } => {
                write!(f, "`{tool}` was not found on PATH; {hint}")
            }
            DbError::Backup(m) => write!(f, "backup failed: {m}"),
            DbError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DbError {}

/// How hard a migration tries when it meets a lock held by someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (at least one).
    pub attempts: u32,
    /// The wait before the second attempt; doubled each time, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl Retry {
    /// The wait after attempt `n` (1-based) failed.
    pub(crate) fn wait_after(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

/// The statements of PostgreSQL text, and whether the migration must run outside a
/// transaction (statement by statement). The decision is the schema-effect model's, the one
/// the plan shows as `transactional`, so a migration runs as it was reviewed; on servers
/// before 12, `ALTER TYPE … ADD VALUE` cannot run in a transaction either.
pub(crate) fn postgres_statements(
    name: &str,
    sql: &str,
    server_version: u32,
) -> Result<(Vec<String>, bool), DbError> {
    let parse = crate::sql::parse(sql);
    if let Some(e) = parse.errors.first() {
        return Err(DbError::Parse {
            name: name.to_string(),
            message: e.message.clone(),
        });
    }
    let model = parse
        .tree
        .as_ref()
        .and_then(|t| crate::sql::guard(|| crate::sql::model::build(&t.tree())))
        .unwrap_or_default();
    let old_enum_rules = server_version < 120000;
    let autocommit = !model.transactional
        || (old_enum_rules
            && model
                .effects()
                .any(|e| matches!(e.kind, crate::sql::model::EffectKind::AddEnumValue { .. })));
    let statements = parse
        .statements
        .iter()
        .filter_map(|r| sql.get(r.clone()))
        .map(str::to_string)
        .filter(|s| !s.trim().is_empty())
        .collect();
    Ok((statements, autocommit))
}

/// `None` to go ahead, `Some(row)` when already applied, an error when the SQL changed.
pub(crate) fn decide_apply(
    m: &Migration,
    checksum: &str,
    row: Option<LedgerRow>,
) -> Result<Option<LedgerRow>, DbError> {
    match row {
        None => Ok(None),
        Some(r) if r.reverted_at.is_some() => Ok(None),
        Some(r) if r.checksum != checksum => Err(DbError::ChecksumMismatch {
            name: m.name.clone(),
            recorded: r.checksum,
            current: checksum.to_string(),
        }),
        Some(r) => Ok(Some(r)),
    }
}

/// The time now, RFC 3339 in UTC (what the SQLite ledger stores).
pub(crate) fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statements() {
        let autocommit =
            |sql: &str, version: u32| postgres_statements("m", sql, version).unwrap().1;
        assert!(autocommit("CREATE INDEX CONCURRENTLY i ON t (a)", 150000));
        assert!(autocommit(
            "create unique index concurrently if not exists i on t (a)",
            150000
        ));
        assert!(autocommit("-- why\nDROP INDEX CONCURRENTLY i", 150000));
        assert!(autocommit("REINDEX (VERBOSE) TABLE CONCURRENTLY t", 150000));
        assert!(autocommit("VACUUM ANALYZE t", 150000));
        assert!(autocommit("CREATE DATABASE other", 150000));
        assert!(!autocommit(
            "CREATE INDEX i ON t (\"concurrently\")",
            150000
        ));
        assert!(!autocommit("CREATE TABLE \"concurrently\" (a int)", 150000));
        assert!(!autocommit("ALTER TYPE mood ADD VALUE 'ok'", 150000));
        assert!(autocommit("ALTER TYPE mood ADD VALUE 'ok'", 110000));
        assert!(!autocommit("UPDATE t SET a = 'VACUUM'", 150000));
    }

    #[test]
    fn splits_with_the_parser() {
        let (s, autocommit) = postgres_statements(
            "m",
            "CREATE TABLE t (a text DEFAULT 'x;y');\n-- c;\nINSERT INTO t VALUES ('1;2');",
            150000,
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        assert!(s[1].starts_with("INSERT"));
        assert!(!autocommit);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = Retry {
            attempts: 5,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
        };
        assert_eq!(r.wait_after(1), Duration::from_millis(100));
        assert_eq!(r.wait_after(2), Duration::from_millis(200));
        assert_eq!(r.wait_after(3), Duration::from_millis(300));
    }
}
