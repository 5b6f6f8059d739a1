//! The run journal: `RUN/journal.jsonl`, one event per line, appended and flushed to disk
//! (`fsync`) before the side effect that follows it. It is the run's memory: `--resume` rebuilds
//! the executor's state from it, `deployc status` reads it, and the report is written from it.
//!
//! Order matters more than speed: a `step_started` line is durable before the step does
//! anything, so after a crash the runtime knows which step may be half done and checks it
//! (the migration ledger, the provider) instead of guessing.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::redact::Redactor;

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
}

/// Where journal lines go.
pub(crate) struct Journal {
    file: Option<(File, PathBuf)>,
    entries: Vec<Entry>,
    redactor: Redactor,
}

impl Journal {
    /// A journal kept in memory only (simulation, dry run).
    pub(crate) fn memory(redactor: Redactor) -> Journal {
        Journal {
            file: None,
            entries: Vec::new(),
            redactor,
        }
    }

    /// Opens (or creates) `path` for appending, after reading what it already holds.
    pub(crate) fn open(path: &Path, redactor: Redactor) -> Result<Journal, String> {
        let entries = if path.exists() {
            read(path)?
        } else {
            Vec::new()
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open the journal `{}`: {e}", path.display()))?;
        Ok(Journal {
            file: Some((file, path.to_path_buf())),
            entries,
            redactor,
        })
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
        if let Some((file, path)) = &mut self.file {
            let mut bytes = line.into_bytes();
            bytes.push(b'\n');
            file.write_all(&bytes)
                .and_then(|()| file.sync_data())
                .map_err(|e| format!("cannot write the journal `{}`: {e}", path.display()))?;
        }
        self.entries.push(entry);
        self.entries
            .last()
            .ok_or_else(|| "journal is empty".to_string())
    }
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
