//! The run journal: `RUN/journal.jsonl`, one event per line, appended and flushed to disk
//! (`fsync`) before the side effect that follows it. It is the run's memory: `--resume` rebuilds
//! the executor's state from it, `deployc status` reads it, and the report is written from it.
//!
//! In a PostgreSQL state store the lines are rows of `deployc_journal` instead, each
//! committed before `append` returns: the same contract, shared by every machine.
//!
//! Order matters more than speed: a `step_started` line is durable before the step does
//! anything, so after a crash the runtime knows which step may be half done and checks it
//! (the migration ledger, the provider) instead of guessing.
//!
//! Observations (`sample`, `baseline`, `check`: what a metric read, what a condition gave) are
//! the exception. Nothing is done on an observation alone: whatever the run does next is
//! announced by a line of its own (`trigger_fired`, `step_failed`, `action`…), which is made
//! durable before it happens, and making a line durable makes every line before it durable
//! too (one file flushed as a whole; PostgreSQL's write-ahead log flushed in order). So an
//! observation is written without waiting for the disk: a process killed outright loses
//! nothing (the line is in the kernel's cache, or committed on the server), and a machine or
//! database server that fails loses at most the observations made since the last side
//! effect, which a resumed run makes again. On a canary whose analysis samples several metrics
//! every interval, most lines are observations; this keeps the disk's flush off them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::redact::Redactor;
use super::store::postgres::PgStore;

/// One journal line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Entry {
    pub(crate) seq: u64,
    /// RFC 3339.
    pub(crate) at: String,
    #[serde(flatten)]
    pub(crate) event: Event,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Event {
    RunStarted {
        run: String,
        service: String,
        release: String,
        environment: String,
        /// T-0.
        t0: String,
        stable: Option<String>,
        /// The deploy run whose schedule (flag days, check-ins) this run is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        of: Option<String>,
    },
    Resumed {
        finished_steps: usize,
    },
    StepStarted {
        step: String,
        title: String,
    },
    /// A side effect, with its resolved command or target.
    Action {
        step: Option<String>,
        what: String,
        ok: bool,
        detail: String,
    },
    Sample {
        step: String,
        metric: String,
        track: String,
        value: Option<f64>,
        /// Why there is no value (`timeout`, `empty`…, with the source's explanation), when
        /// the source says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        no_data: Option<String>,
    },
    Baseline {
        metric: String,
        value: Option<f64>,
    },
    Check {
        step: String,
        condition: String,
        kind: String,
        /// `pass`, `fail` or `no_data`.
        result: String,
    },
    TriggerFired {
        step: String,
        condition: String,
        mode: String,
        /// When the condition first held (RFC 3339).
        breach_since: String,
    },
    Decision {
        step: String,
        question: String,
        decision: String,
        by: String,
    },
    /// A message's intent, journaled before it is handed to the channel: `key` names the
    /// message (its step, event, channel and occurrence) so that a resumed run neither loses
    /// nor repeats it.
    MessageQueued {
        key: String,
        channel: String,
        event: String,
        text: String,
        step: Option<String>,
    },
    /// The result of a delivery (after its retries). With a `key`, it closes that intent.
    MessageSent {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        channel: String,
        event: String,
        text: String,
        ok: bool,
        detail: String,
    },
    /// The run ended while this message was still being delivered: it may not have arrived.
    MessagePending {
        key: String,
        channel: String,
        event: String,
    },
    /// The journal ended in a torn line (the process died while writing it): the line was
    /// cut off before the run went on.
    JournalRepaired {
        dropped_bytes: u64,
    },
    /// A signal (SIGTERM, SIGINT) stopped the run; `action` is `rollback` or `pause`.
    Interrupted {
        signal: String,
        action: String,
    },
    MigrationApplied {
        step: String,
        name: String,
        phase: String,
        checksum: String,
    },
    MigrationReverted {
        name: String,
    },
    /// One batch of a batched migration committed (with its progress row).
    MigrationBatch {
        step: String,
        name: String,
        /// 1-based over every run of the migration.
        batch: u64,
        rows: u64,
        total_rows: u64,
        /// The key the batch ended at; absent for the last batch.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_key: Option<String>,
    },
    StepFinished {
        step: String,
    },
    /// `no_data pause`: a required condition has had no data too often in a row, and the
    /// step's hold stands still until it has data again.
    HoldPaused {
        step: String,
        condition: String,
    },
    /// The paused hold goes on; `paused_ms` is how long it has stood still in all.
    HoldResumed {
        step: String,
        paused_ms: u64,
    },
    StepFailed {
        step: String,
        reason: String,
    },
    RollbackStarted {
        step: String,
        reason: String,
    },
    RollbackFinished {
        complete: bool,
    },
    /// The next step is far in the future: the run exits and is resumed later.
    Paused {
        step: String,
        due: String,
    },
    RunFinished {
        outcome: String,
    },
    /// An operator's request (`deployc pause RUN`…) taken by the run: `id` is the request's
    /// (in `commands.jsonl`), `ok` whether the run did what it asked, `state` what the run is
    /// doing now.
    OperatorCommand {
        id: String,
        command: String,
        who: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        ok: bool,
        state: String,
    },
    /// The deploy lease of this service in this environment was taken over from a holder
    /// that stopped renewing it (its process died): who held it, for which run, and when its
    /// lease expired.
    LeaseTakenOver {
        previous: String,
        previous_run: String,
        expired_at: String,
    },
    /// The run waits at a gate for a decision of one of `roles` (`deployc approve RUN --as
    /// ROLE` answers it from another terminal).
    GateWaiting {
        step: String,
        roles: Vec<String>,
        question: String,
    },
    /// A note the team added to the report (`deployc report RUN --note`): `section` is
    /// `issues` or `lessons`.
    Note {
        section: String,
        text: String,
        by: String,
    },
}

impl Event {
    /// Whether the line must be on disk before `append` returns: every line but an
    /// observation, which the next line that precedes a side effect makes durable with it
    /// (see the module's documentation).
    pub(crate) fn needs_flush(&self) -> bool {
        !matches!(
            self,
            Event::Sample { .. } | Event::Baseline { .. } | Event::Check { .. }
        )
    }
}

/// Where journal lines go.
pub(crate) struct Journal {
    file: Option<(File, PathBuf)>,
    /// The shared store's journal of this run, instead of a file.
    shared: Option<(Arc<PgStore>, String)>,
    entries: Vec<Entry>,
    redactor: Redactor,
    /// The bytes of a torn last line cut off when the journal was opened, to be journaled.
    repaired: Option<u64>,
    /// Why the file could not be written, once a write failed.
    broken: Option<String>,
    /// After a failed write the run only rolls back: lines are kept in memory, and the file
    /// (whose end may be torn) is not written again.
    degraded: bool,
}

impl Journal {
    /// A journal kept in memory only (simulation, dry run).
    pub(crate) fn memory(redactor: Redactor) -> Journal {
        Journal {
            file: None,
            shared: None,
            entries: Vec::new(),
            redactor,
            repaired: None,
            broken: None,
            degraded: false,
        }
    }

    /// Opens (or creates) `path` for appending, after reading what it already holds. A torn
    /// last line (the process died, or the disk filled, while writing it) is cut off the file
    /// before anything is appended, so that the next line does not continue it; how many
    /// bytes were cut is kept for [`Journal::take_repaired`].
    pub(crate) fn open(path: &Path, redactor: Redactor) -> Result<Journal, String> {
        let cannot =
            |e: std::io::Error| format!("cannot open the journal `{}`: {e}", path.display());
        let (entries, good, total) = if path.exists() {
            let bytes = std::fs::read(path).map_err(cannot)?;
            let (entries, good) = parse_prefix(&bytes, path)?;
            (entries, good, bytes.len())
        } else {
            (Vec::new(), 0, 0)
        };
        let mut repaired = None;
        if good < total {
            let f = OpenOptions::new().write(true).open(path).map_err(cannot)?;
            f.set_len(u64::try_from(good).unwrap_or(0))
                .and_then(|()| f.sync_all())
                .map_err(|e| format!("cannot cut the torn line off `{}`: {e}", path.display()))?;
            repaired = Some(u64::try_from(total - good).unwrap_or(0));
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(cannot)?;
        Ok(Journal {
            file: Some((file, path.to_path_buf())),
            shared: None,
            entries,
            redactor,
            repaired,
            broken: None,
            degraded: false,
        })
    }

    /// The journal of `run` in a PostgreSQL state store, after reading what it holds. Rows
    /// are whole (a row is committed or absent), so nothing is ever torn.
    pub(crate) fn postgres(
        store: Arc<PgStore>,
        run: &str,
        redactor: Redactor,
    ) -> Result<Journal, String> {
        let entries = parse_lines(&store.journal_lines(run, 0)?, run)?;
        Ok(Journal {
            file: None,
            shared: Some((store, run.to_string())),
            entries,
            redactor,
            repaired: None,
            broken: None,
            degraded: false,
        })
    }

    /// How many bytes of a torn last line were cut off when the journal was opened (once).
    pub(crate) fn take_repaired(&mut self) -> Option<u64> {
        self.repaired.take()
    }

    /// Why the journal file could not be written, if a write failed.
    pub(crate) fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    /// Keeps the lines in memory only from now on (after a failed write).
    pub(crate) fn degrade(&mut self) {
        self.degraded = true;
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Appends an event and makes it durable before returning.
    pub(crate) fn append(&mut self, at: jiff::Timestamp, event: Event) -> Result<&Entry, String> {
        let entry = Entry {
            seq: self.entries.last().map(|e| e.seq + 1).unwrap_or(1),
            at: at.to_string(),
            event,
        };
        // Secrets are removed from the line itself, so neither the file nor the report built
        // from it can hold one.
        let line = serde_json::to_string(&entry).map_err(|e| e.to_string())?;
        let line = self.redactor.apply(&line);
        let entry: Entry = serde_json::from_str(&line).map_err(|e| e.to_string())?;
        if let Some((file, path)) = &mut self.file
            && !self.degraded
        {
            let mut bytes = line.as_bytes().to_vec();
            bytes.push(b'\n');
            let durable = entry.event.needs_flush();
            if let Err(e) = file
                .write_all(&bytes)
                .and_then(|()| if durable { file.sync_data() } else { Ok(()) })
            {
                let m = format!("cannot write the journal `{}`: {e}", path.display());
                self.broken = Some(m.clone());
                return Err(m);
            }
        }
        if let Some((store, run)) = &self.shared
            && !self.degraded
        {
            let seq = i64::try_from(entry.seq).unwrap_or(i64::MAX);
            if let Err(e) = store.append_journal(run, seq, &line, entry.event.needs_flush()) {
                let m = format!("cannot write the journal of run `{run}`: {e}");
                self.broken = Some(m.clone());
                return Err(m);
            }
        }
        self.entries.push(entry);
        self.entries
            .last()
            .ok_or_else(|| "journal is empty".to_string())
    }
}

/// The entries of the complete lines at the start of `bytes`, and the length of that part: a
/// last line that is cut short (no newline, or not a whole entry) is left out. A line in the
/// middle that does not parse is an error: that is not a torn write.
pub(super) fn parse_prefix(bytes: &[u8], path: &Path) -> Result<(Vec<Entry>, usize), String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut good = 0;
    let mut number = 0;
    while start < bytes.len() {
        let end = bytes
            .get(start..)
            .and_then(|rest| rest.iter().position(|b| *b == b'\n'))
            .map(|i| start + i);
        let line = bytes.get(start..end.unwrap_or(bytes.len())).unwrap_or(&[]);
        number += 1;
        let next = end.map(|e| e + 1).unwrap_or(bytes.len());
        let is_last = bytes
            .get(next..)
            .is_none_or(|rest| rest.iter().all(u8::is_ascii_whitespace));
        if line.iter().all(u8::is_ascii_whitespace) {
            if end.is_some() {
                good = next;
            }
            start = next;
            continue;
        }
        match serde_json::from_slice::<Entry>(line) {
            Ok(e) if end.is_some() => {
                out.push(e);
                good = next;
            }
            // A whole entry without its newline: the write stopped just before it. It is
            // left out with the torn lines (its side effect may not have happened).
            Ok(_) => break,
            Err(_) if is_last => break,
            Err(e) => {
                return Err(format!("journal `{}` line {number}: {e}", path.display()));
            }
        }
        start = next;
    }
    Ok((out, good))
}

/// Reads a journal. A torn last line (the process died while writing it) is dropped: it was
/// never acknowledged, so the side effect after it never happened.
pub(crate) fn read(path: &Path) -> Result<Vec<Entry>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the journal `{}`: {e}", path.display()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => out.push(e),
            Err(_) if i + 1 == lines.len() => break,
            Err(e) => {
                return Err(format!("journal `{}` line {}: {e}", path.display(), i + 1));
            }
        }
    }
    Ok(out)
}

/// The entries of a journal kept as rows (one line each, in order). Every row was committed
/// whole, so a line that does not parse is an error, wherever it is.
pub(crate) fn parse_lines(lines: &[String], run: &str) -> Result<Vec<Entry>, String> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| format!("journal of run `{run}` line {}: {e}", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64) -> String {
        format!(
            "{{\"seq\":{seq},\"at\":\"2026-01-01T00:00:00Z\",\"type\":\"step_finished\",\"step\":\"s{seq}\"}}\n"
        )
    }

    #[test]
    fn a_torn_last_line_is_left_out_and_cut_off() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("journal.jsonl");
        let whole = format!("{}{}", line(1), line(2));
        std::fs::write(&path, format!("{whole}{{\"seq\":3,\"at\":\"20")).unwrap_or_default();
        let mut j = Journal::open(&path, Redactor::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(j.entries().len(), 2);
        assert_eq!(j.take_repaired(), Some(17));
        assert_eq!(std::fs::read_to_string(&path).ok(), Some(whole));
        let at = jiff::Timestamp::UNIX_EPOCH;
        j.append(
            at,
            Event::RunFinished {
                outcome: "succeeded".into(),
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(&path).map(|e| e.len()), Ok(3));
    }

    #[test]
    fn a_whole_journal_is_not_touched_and_a_bad_middle_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, format!("{}{}", line(1), line(2))).unwrap_or_default();
        let mut j = Journal::open(&path, Redactor::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(j.take_repaired(), None);
        drop(j);
        std::fs::write(&path, format!("{}garbage\n{}", line(1), line(2))).unwrap_or_default();
        assert!(Journal::open(&path, Redactor::default()).is_err());
    }
}
