//! A built-in SQLite database with the migration ledger (`deployc_migrations`), enough for
//! local runs: a migration is applied once (the ledger is checked first, in the same
//! transaction), a changed migration is refused, `down` marks the row reverted, and the
//! backup is an online copy (`VACUUM INTO`).

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::world::{Applied, BoxFuture, Database, Done, Migration};
use crate::history::checksum;

pub(crate) struct Sqlite {
    path: PathBuf,
    backup_to: PathBuf,
    conn: Mutex<Connection>,
}

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS deployc_migrations (
    name TEXT PRIMARY KEY,
    release TEXT NOT NULL,
    phase TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    reverted_at TEXT
)";

impl Sqlite {
    pub(crate) fn open(path: PathBuf, backup_to: PathBuf) -> Result<Sqlite, String> {
        let conn = Connection::open(&path)
            .map_err(|e| format!("cannot open `{}`: {e}", path.display()))?;
        conn.execute_batch(LEDGER).map_err(|e| e.to_string())?;
        Ok(Sqlite {
            path,
            backup_to,
            conn: Mutex::new(conn),
        })
    }

    fn apply_now(&self, m: &Migration) -> Done {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| "database lock poisoned".to_string())?;
        let sum = checksum(&m.up);
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        let row: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT checksum, reverted_at FROM deployc_migrations WHERE name = ?1",
                params![m.name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| e.to_string())?;
        if let Some((old, None)) = &row {
            if old != &sum {
                return Err(format!(
                    "`{}` was applied with checksum {old} and has changed since ({sum})",
                    m.name
                ));
            }
            return Ok(format!("`{}` already applied (ledger)", m.name));
        }
        tx.execute_batch(&m.up)
            .map_err(|e| format!("`{}`: {e}", m.name))?;
        tx.execute(
            "INSERT OR REPLACE INTO deployc_migrations (name, release, phase, checksum, applied_at, reverted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
            params![m.name, m.release, m.phase, sum, jiff::Timestamp::now().to_string()],
        )
        .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok(format!("applied `{}` to {}", m.name, self.path.display()))
    }

    fn revert_now(&self, m: &Migration) -> Done {
        let Some(down) = &m.down else {
            return Err(format!("`{}` has no down migration", m.name));
        };
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| "database lock poisoned".to_string())?;
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        let applied: Option<Option<String>> = tx
            .query_row(
                "SELECT reverted_at FROM deployc_migrations WHERE name = ?1",
                params![m.name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| e.to_string())?;
        if !matches!(applied, Some(None)) {
            return Ok(format!("`{}` is not applied (ledger)", m.name));
        }
        tx.execute_batch(down)
            .map_err(|e| format!("down of `{}`: {e}", m.name))?;
        tx.execute(
            "UPDATE deployc_migrations SET reverted_at = ?2 WHERE name = ?1",
            params![m.name, jiff::Timestamp::now().to_string()],
        )
        .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        Ok(format!("reverted `{}`", m.name))
    }
}

impl Database for Sqlite {
    fn apply<'a>(&'a self, m: &'a Migration) -> BoxFuture<'a, Done> {
        Box::pin(async move { self.apply_now(m) })
    }
    fn revert<'a>(&'a self, m: &'a Migration) -> BoxFuture<'a, Done> {
        Box::pin(async move { self.revert_now(m) })
    }
    fn applied(&self) -> BoxFuture<'_, Result<Vec<Applied>, String>> {
        Box::pin(async move {
            let conn = self
                .conn
                .lock()
                .map_err(|_| "database lock poisoned".to_string())?;
            let mut st = conn
                .prepare("SELECT name, checksum, reverted_at FROM deployc_migrations ORDER BY applied_at")
                .map_err(|e| e.to_string())?;
            let rows = st
                .query_map([], |r| {
                    Ok(Applied {
                        name: r.get(0)?,
                        checksum: r.get(1)?,
                        reverted: r.get::<_, Option<String>>(2)?.is_some(),
                    })
                })
                .map_err(|e| e.to_string())?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())
        })
    }
    fn backup(&self) -> BoxFuture<'_, Done> {
        Box::pin(async move {
            let conn = self
                .conn
                .lock()
                .map_err(|_| "database lock poisoned".to_string())?;
            let _ = std::fs::remove_file(&self.backup_to);
            conn.execute(
                "VACUUM INTO ?1",
                params![self.backup_to.to_string_lossy().to_string()],
            )
            .map_err(|e| format!("backup: {e}"))?;
            Ok(format!(
                "copied {} to {}",
                self.path.display(),
                self.backup_to.display()
            ))
        })
    }
}
