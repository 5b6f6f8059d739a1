//! The migration step: apply (at once, or batch by batch), record, verify.
//!
//! A batched migration commits each batch with its progress row, so the journal's
//! `migration_batch` lines follow what the database already holds: a crash between a commit
//! and its line loses the line, never the batch, and the step run again (`--resume`) goes on
//! from the database's progress, not the journal's.

use super::{Executor, Failure, fail};
use crate::history::checksum;
use crate::runtime::journal::Event;
use crate::runtime::world::{BatchOutcome, Migration};

impl Executor<'_> {
    pub(super) async fn migrate(&mut self, id: &str, name: &str) -> Result<(), Failure> {
        let Some(m) = self.migration(name) else {
            return fail(format!("migration `{name}` is not in the plan"));
        };
        self.apply_and_record(id, &m).await?;
        let Some(v) = &m.verify else {
            return Ok(());
        };
        let Some(db) = &self.world.database else {
            return fail("the environment has no database");
        };
        // Recorded before this check, the migration is this run's to revert when it fails.
        let r = db.verify(&m, v).await;
        self.action(Some(id), "verify migration", r)?;
        Ok(())
    }

    async fn apply_and_record(&mut self, id: &str, m: &Migration) -> Result<(), Failure> {
        let Some(db) = &self.world.database else {
            return fail("the environment has no database");
        };
        // After a crash inside this step the ledger, not the journal, says whether the
        // migration ran: it is committed in the same transaction as the migration.
        let ledger = db.applied().await.map_err(|e| Failure { reason: e })?;
        let done = ledger.iter().any(|a| a.name == m.name && !a.reverted);
        let r = if done {
            Ok(format!(
                "`{}` already applied (ledger): not run again",
                m.name
            ))
        } else if m.batch.is_some() {
            self.apply_batches(id, m).await?
        } else {
            db.apply(m).await.map_err(|f| {
                if let Some(stays) = &f.stays_applied {
                    self.partially_applied.push(stays.clone());
                }
                f.message
            })
        };
        self.action(Some(id), "migrate", r)?;
        if self.applied.iter().any(|a| a.name == m.name) {
            // Journaled before a crash; the ledger made the re-run a no-op.
            return Ok(());
        }
        // Found in the ledger on the step's first start: an earlier run applied it, so
        // it is not this run's to record (nor to revert). On a redo after a crash it
        // may be this run's commit, whose journal line was lost.
        let redo = self
            .journal
            .entries()
            .iter()
            .filter(|e| matches!(&e.event, Event::StepStarted { step, .. } if step == id))
            .count()
            > 1;
        if done && !redo {
            return Ok(());
        }
        self.log(Event::MigrationApplied {
            step: id.to_string(),
            name: m.name.clone(),
            phase: m.phase.clone(),
            checksum: checksum(&m.up),
        })?;
        self.applied.push(m.clone());
        Ok(())
    }

    /// Runs batch after batch, journaling each, until the last; gives the `migrate`
    /// action's result.
    async fn apply_batches(
        &mut self,
        id: &str,
        m: &Migration,
    ) -> Result<Result<String, String>, Failure> {
        loop {
            let Some(db) = &self.world.database else {
                return fail("the environment has no database");
            };
            let step = match db.apply_batch(m).await {
                Ok(step) => step,
                Err(f) => {
                    // Batches committed before this one (in this process or an earlier one)
                    // stay: the rollback cannot take them back, a resumed run goes on.
                    if let Some((batch, rows)) = self.committed_batches(&m.name) {
                        self.partially_applied.push(format!(
                            "batches 1 to {batch} of migration `{}` ({rows} rows) stay committed",
                            m.name
                        ));
                    }
                    return Ok(Err(f.message));
                }
            };
            match step {
                BatchOutcome::Already(detail) | BatchOutcome::Described(detail) => {
                    return Ok(Ok(detail));
                }
                BatchOutcome::Ran(b) => {
                    self.log(Event::MigrationBatch {
                        step: id.to_string(),
                        name: m.name.clone(),
                        batch: b.batch,
                        rows: b.rows,
                        total_rows: b.total_rows,
                        last_key: b.last_key.clone(),
                    })?;
                    if b.finished {
                        return Ok(Ok(format!(
                            "applied `{}` in {} batch(es), {} rows (one transaction each)",
                            m.name, b.batch, b.total_rows
                        )));
                    }
                }
            }
        }
    }

    /// The last batch of `name` the journal has: its number and the rows done so far.
    fn committed_batches(&self, name: &str) -> Option<(u64, u64)> {
        self.journal
            .entries()
            .iter()
            .rev()
            .find_map(|e| match &e.event {
                Event::MigrationBatch {
                    name: n,
                    batch,
                    total_rows,
                    ..
                } if n == name => Some((*batch, *total_rows)),
                _ => None,
            })
    }
}

/// The restore-or-fix-forward gate's restore: every backup kind the plan can take.
impl Executor<'_> {
    /// The `{file}` a `run` backup command writes (`what` = `backup`) or the snapshot before a
    /// restore (`before-restore`), relative to where deployc runs, as the commands see it.
    pub(super) fn command_backup_file(&self, what: &str) -> String {
        format!("{}-{}.{what}", self.plan.service, self.settings.run)
    }

    /// `command` of a `run` backup (its backup, verify or restore command) with `{file}` and
    /// the release placeholders filled, shell-quoted.
    pub(super) fn backup_command(&self, command: &str, file: &str) -> String {
        let names =
            crate::runtime::shell::ReleaseNames::of(self.plan, self.settings.stable.clone());
        let v = |n: &str| match n {
            "file" => Some(file.to_string()),
            _ => names.get(n),
        };
        crate::runtime::shell::render(command, &v)
    }

    /// The plan's backup: its method, its command and its restore command.
    fn backup_action(&self) -> Option<(Option<&str>, Option<&str>)> {
        self.steps().find_map(|s| match &s.action {
            crate::lower::Action::Backup {
                command, restore, ..
            } => Some((command.as_deref(), restore.as_deref())),
            _ => None,
        })
    }

    /// Whether the backup this run took can be put back: by the database (a snapshot or a
    /// dump) or by the backup's own `restore` command.
    pub(super) fn restorable(&self) -> bool {
        match self.backup_action() {
            Some((Some(_), restore)) => restore.is_some(),
            Some((None, _)) => self.world.database.is_some(),
            None => false,
        }
    }

    /// Saves the database as it is, then restores this run's backup over it. Nothing is
    /// restored unless the snapshot was taken: the writes made since the backup would be lost
    /// for good otherwise.
    pub(super) async fn restore_from_backup(
        &mut self,
        step: &str,
        by: &str,
    ) -> Result<Result<String, String>, String> {
        let (command, restore) = self.backup_action().unwrap_or((None, None));
        let (command, restore) = (command.map(str::to_string), restore.map(str::to_string));
        let snapshot = match (&self.world.database, &command) {
            (Some(db), _) => db.snapshot().await,
            (None, Some(cmd)) => {
                let file = self.command_backup_file("before-restore");
                let c = self.backup_command(cmd, &file);
                self.world
                    .shell
                    .run(&c, 3_600_000)
                    .await
                    .map(|out| format!("saved the database as it was to {file} ({out})"))
            }
            (None, None) => Err("the environment has no database".to_string()),
        };
        let failed = snapshot.as_ref().err().cloned();
        let detail = match snapshot {
            Ok(d) | Err(d) => d,
        };
        self.emit(Event::Action {
            step: Some(step.to_string()),
            what: "snapshot before restore".into(),
            ok: failed.is_none(),
            detail,
        })?;
        if let Some(e) = failed {
            return Ok(Err(format!(
                "nothing was restored: the database as it is could not be saved first ({e})"
            )));
        }
        let r = match (restore, &self.world.database) {
            (Some(cmd), _) => {
                let file = self.command_backup_file("backup");
                let c = self.backup_command(&cmd, &file);
                self.world
                    .shell
                    .run(&c, 3_600_000)
                    .await
                    .map(|out| format!("restored from {file}: {out}"))
            }
            (None, Some(db)) => db.restore().await,
            (None, None) => Err("the environment has no database".to_string()),
        };
        Ok(r.map(|d| format!("{d} (chosen by {by})")))
    }
}
