//! The run history: `.deployc/history`, one JSON object per line, one line per finished run.
//!
//! The runtime appends a line when a run ends (whatever the outcome); `requires = staging`
//! reads it to know what succeeded where, and lint M214 compares the checksums of released
//! migrations with the program. The format is documented in `docs/history-format.md`; fields
//! are only ever added, and `format` changes when one is removed or changes meaning.
//!
//! The state directory is `.deployc/` in the directory of the `.deploy` file, unless
//! `--state-dir` says otherwise.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The history format version written in every line.
pub const HISTORY_FORMAT: u32 = 1;

/// The state directory's name, beside the `.deploy` file.
pub const STATE_DIR: &str = ".deployc";

/// The history file's name inside the state directory.
pub const HISTORY_FILE: &str = "history";

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every step finished.
    Succeeded,
    /// A step failed or a trigger fired, and the rollback finished.
    RolledBack,
    /// The rollback could not finish; a person must act.
    RollbackIncomplete,
    /// Stopped by a person or a gate before anything changed.
    Aborted,
}

impl Outcome {
    /// The outcome as the history file and `deployc status` write it (`rolled_back`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::RolledBack => "rolled_back",
            Outcome::RollbackIncomplete => "rollback_incomplete",
            Outcome::Aborted => "aborted",
        }
    }
}

/// One migration as it was applied by a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationRecord {
    pub name: String,
    /// `expand`, `data`, `index` or `contract`.
    pub phase: String,
    /// [`checksum`] of the migration's `up` SQL.
    pub checksum: String,
}

/// One finished run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub format: u32,
    /// The run id (the directory name under `.deployc/runs/`).
    pub run: String,
    pub service: String,
    pub release: String,
    pub environment: String,
    pub outcome: Outcome,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339.
    pub finished_at: String,
    /// The migrations the run applied (in the order applied).
    #[serde(default)]
    pub migrations: Vec<MigrationRecord>,
    /// Set when the run took a finished release back (`deployc rollback`): `release` is the
    /// version it went back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackRecord>,
}

/// What a rollback of a finished release did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackRecord {
    /// The release that served before the rollback.
    pub from: String,
    /// The migrations the run reverted (in the order reverted).
    #[serde(default)]
    pub reverted: Vec<MigrationRecord>,
}

/// The way back from the release serving in an environment to an earlier one, as the history
/// tells it: what [`History::rollback_path`] finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackPath {
    /// The release serving now (the last success).
    pub from: String,
    /// The release to go back to.
    pub to: String,
    /// The migrations applied since `to` and still applied, newest first: the order in which
    /// they are reverted.
    pub reverts: Vec<AppliedMigration>,
}

/// A migration applied by a successful run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    /// The release whose run applied it.
    pub release: String,
    /// That run's id.
    pub run: String,
    pub migration: MigrationRecord,
}

/// Why there is no way back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackPathError {
    /// No successful release of the service in the environment.
    NoSuccess,
    /// Only one release ever succeeded there (still serving): there is nothing before it.
    NothingBefore { current: String },
    /// `--to` is the release serving now.
    IsCurrent { to: String },
    /// `--to` never succeeded there.
    NeverDeployed { to: String, deployed: Vec<String> },
    /// `--to` succeeded there, but a rollback took it back since: it is not on the way back.
    TakenBack { to: String, current: String },
}

impl std::fmt::Display for RollbackPathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RollbackPathError::NoSuccess => {
                write!(f, "no successful release: nothing to roll back")
            }
            RollbackPathError::NothingBefore { current } => write!(
                f,
                "`{current}` is the only successful release: there is no earlier one to go back to"
            ),
            RollbackPathError::IsCurrent { to } => {
                write!(
                    f,
                    "`--to {to}` is the release serving now, not an earlier one"
                )
            }
            RollbackPathError::NeverDeployed { to, deployed } => write!(
                f,
                "`--to {to}` never succeeded here (successful releases: {})",
                deployed.join(", ")
            ),
            RollbackPathError::TakenBack { to, current } => write!(
                f,
                "`--to {to}` was taken back by a rollback: it is not earlier than `{current}` on the way back"
            ),
        }
    }
}

/// A whole history file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub entries: Vec<HistoryEntry>,
}

/// A history file read for linting: its entries and where each one is written.
#[derive(Debug, Clone)]
pub struct LoadedHistory {
    pub history: History,
    /// The span of each entry's line in the session's sources, by entry index.
    pub lines: Vec<crate::source::Span>,
}

impl LoadedHistory {
    /// Indexes the entries of `history`, read from `text` loaded as `file`: entries are the
    /// non-blank lines, in order.
    pub fn new(history: History, text: &str, file: crate::source::FileId) -> Self {
        let mut lines = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let content = line.trim_end_matches(['\n', '\r']);
            if !content.trim().is_empty() {
                lines.push(crate::source::Span::new(
                    file,
                    offset,
                    offset + content.len(),
                ));
            }
            offset += line.len();
        }
        LoadedHistory { history, lines }
    }
}

/// A line of the history that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

impl History {
    /// Reads a history file's text. Blank lines are skipped; a line that is not an entry is
    /// an error (a truncated last line after a crash is reported, not guessed at).
    pub fn parse(text: &str) -> Result<History, HistoryError> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry: HistoryEntry = serde_json::from_str(line).map_err(|e| HistoryError {
                line: i + 1,
                message: e.to_string(),
            })?;
            entries.push(entry);
        }
        Ok(History { entries })
    }

    /// Reads every line that is an entry, and reports the others instead of stopping at the
    /// first: for readers that can do without a line (the delivery figures) rather than
    /// without the whole file. Entries come with their 1-based line numbers.
    pub fn parse_each(text: &str) -> (Vec<(usize, HistoryEntry)>, Vec<HistoryError>) {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<HistoryEntry>(line) {
                Ok(entry) => entries.push((i + 1, entry)),
                Err(e) => errors.push(HistoryError {
                    line: i + 1,
                    message: e.to_string(),
                }),
            }
        }
        (entries, errors)
    }

    /// The line to append for `entry` (with its newline).
    pub fn line(entry: &HistoryEntry) -> String {
        let mut s = serde_json::to_string(entry).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The last successful run of `service` in `environment`.
    pub fn last_success(&self, service: &str, environment: &str) -> Option<&HistoryEntry> {
        self.entries.iter().rev().find(|e| {
            e.service == service && e.environment == environment && e.outcome == Outcome::Succeeded
        })
    }

    /// The way back from the release serving `service` in `environment` to the one before it,
    /// or to `to`, which must be an earlier successful release there.
    ///
    /// The successful runs of the service there form a line: a deployment puts its release
    /// (and the migrations it applied) on top, a rollback takes releases off down to the one it
    /// went back to. The way back to a release on the line reverts the migrations of every
    /// release above it, newest first. A release taken off by a rollback is no longer on the
    /// line: going "back" to it would need its migrations applied, which is a deployment.
    pub fn rollback_path(
        &self,
        service: &str,
        environment: &str,
        to: Option<&str>,
    ) -> Result<RollbackPath, RollbackPathError> {
        let mut line: Vec<&HistoryEntry> = Vec::new();
        let mut deployed: Vec<String> = Vec::new();
        for e in self.entries.iter().filter(|e| {
            e.service == service && e.environment == environment && e.outcome == Outcome::Succeeded
        }) {
            if !deployed.contains(&e.release) {
                deployed.push(e.release.clone());
            }
            if e.rollback.is_some() {
                line.pop();
                while line.last().is_some_and(|top| top.release != e.release) {
                    line.pop();
                }
                // A rollback to a release not on the line (a history written by hand, or
                // cut): its release serves from here on, with nothing known below it.
                if line.is_empty() {
                    line.push(e);
                }
            } else {
                line.push(e);
            }
        }
        let Some((current, below)) = line.split_last() else {
            return Err(RollbackPathError::NoSuccess);
        };
        let at = match to {
            None => below
                .len()
                .checked_sub(1)
                .ok_or_else(|| RollbackPathError::NothingBefore {
                    current: current.release.clone(),
                })?,
            Some(to) if to == current.release => {
                return Err(RollbackPathError::IsCurrent { to: to.to_string() });
            }
            Some(to) => match below.iter().rposition(|e| e.release == to) {
                Some(i) => i,
                None if deployed.iter().any(|d| d == to) => {
                    return Err(RollbackPathError::TakenBack {
                        to: to.to_string(),
                        current: current.release.clone(),
                    });
                }
                None => {
                    return Err(RollbackPathError::NeverDeployed {
                        to: to.to_string(),
                        deployed,
                    });
                }
            },
        };
        let target = below.get(at).ok_or(RollbackPathError::NoSuccess)?;
        let reverts = line
            .iter()
            .skip(at + 1)
            .rev()
            .flat_map(|e| {
                e.migrations.iter().rev().map(|m| AppliedMigration {
                    release: e.release.clone(),
                    run: e.run.clone(),
                    migration: m.clone(),
                })
            })
            .collect();
        Ok(RollbackPath {
            from: current.release.clone(),
            to: target.release.clone(),
            reverts,
        })
    }

    /// Whether `release` of `service` succeeded in `environment`.
    pub fn succeeded(&self, service: &str, release: &str, environment: &str) -> bool {
        self.entries.iter().any(|e| {
            e.service == service
                && e.release == release
                && e.environment == environment
                && e.outcome == Outcome::Succeeded
        })
    }
}

impl HistoryError {
    /// The E502 diagnostic for this error in the history `text` loaded as `file`: it points
    /// at the whole line.
    pub fn diagnostic(
        &self,
        text: &str,
        file: crate::source::FileId,
    ) -> crate::diagnostics::Diagnostic {
        use crate::diagnostics::{Diagnostic, Label};
        let start: usize = text
            .split_inclusive('\n')
            .take(self.line.saturating_sub(1))
            .map(str::len)
            .sum();
        let len = text
            .get(start..)
            .and_then(|rest| rest.lines().next())
            .map_or(0, str::len);
        // serde_json's position is within the line; the label already shows where it is.
        let message = self
            .message
            .split(" at line ")
            .next()
            .unwrap_or(&self.message);
        Diagnostic::error(
            "E502",
            format!("cannot read line {} of the run history", self.line),
        )
        .with_label(Label::primary(
            crate::source::Span::new(file, start, start + len.max(1)),
            message.to_string(),
        ))
        .with_help(
            "each line is one JSON object (see docs/history-format.md); fix or remove the line",
        )
    }
}

/// The checksum recorded for a migration: `sha256:` and the hex digest of its `up` SQL text
/// exactly as written (after string escapes are decoded, or the `.sql` file's bytes).
pub fn checksum(sql: &str) -> String {
    let digest = Sha256::digest(sql.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let e = HistoryEntry {
            format: HISTORY_FORMAT,
            run: "r1".into(),
            service: "checkout".into(),
            release: "2.1.0".into(),
            environment: "staging".into(),
            outcome: Outcome::Succeeded,
            started_at: "2026-11-22T10:00:00Z".into(),
            finished_at: "2026-11-22T10:30:00Z".into(),
            migrations: vec![MigrationRecord {
                name: "a".into(),
                phase: "expand".into(),
                checksum: checksum("SELECT 1"),
            }],
            rollback: None,
        };
        let h = History::parse(&History::line(&e)).unwrap();
        assert_eq!(h.entries, vec![e]);
        assert!(h.succeeded("checkout", "2.1.0", "staging"));
    }

    fn entry(release: &str, outcome: Outcome, migrations: &[&str]) -> HistoryEntry {
        HistoryEntry {
            format: HISTORY_FORMAT,
            run: format!("run-{release}"),
            service: "app".into(),
            release: release.into(),
            environment: "prod".into(),
            outcome,
            started_at: "2026-11-22T10:00:00Z".into(),
            finished_at: "2026-11-22T10:30:00Z".into(),
            migrations: migrations
                .iter()
                .map(|m| MigrationRecord {
                    name: (*m).into(),
                    phase: "expand".into(),
                    checksum: checksum(m),
                })
                .collect(),
            rollback: None,
        }
    }

    fn rolled_back_to(release: &str, from: &str) -> HistoryEntry {
        let mut e = entry(release, Outcome::Succeeded, &[]);
        e.run = format!("rollback-{from}-{release}");
        e.rollback = Some(RollbackRecord {
            from: from.into(),
            reverted: Vec::new(),
        });
        e
    }

    fn names(p: &RollbackPath) -> Vec<String> {
        p.reverts
            .iter()
            .map(|r| format!("{}:{}", r.release, r.migration.name))
            .collect()
    }

    #[test]
    fn the_way_back_reverts_newest_first() {
        let h = History {
            entries: vec![
                entry("1.0.0", Outcome::Succeeded, &["base"]),
                entry("1.1.0", Outcome::Succeeded, &["a", "b"]),
                // Rolled back by its own run: its migrations were reverted then.
                entry("1.2.0", Outcome::RolledBack, &["c"]),
                entry("1.2.1", Outcome::Succeeded, &["d"]),
            ],
        };
        let p = h.rollback_path("app", "prod", None).unwrap();
        assert_eq!((p.from.as_str(), p.to.as_str()), ("1.2.1", "1.1.0"));
        assert_eq!(names(&p), vec!["1.2.1:d"]);
        let p = h.rollback_path("app", "prod", Some("1.0.0")).unwrap();
        assert_eq!(names(&p), vec!["1.2.1:d", "1.1.0:b", "1.1.0:a"]);
        assert!(h.rollback_path("app", "staging", None).is_err());
    }

    #[test]
    fn a_rollback_takes_releases_off_the_line() {
        let mut h = History {
            entries: vec![
                entry("1.0.0", Outcome::Succeeded, &[]),
                entry("1.1.0", Outcome::Succeeded, &["a"]),
                entry("1.2.0", Outcome::Succeeded, &["b"]),
                rolled_back_to("1.0.0", "1.2.0"),
            ],
        };
        assert_eq!(
            h.last_success("app", "prod").map(|e| e.release.as_str()),
            Some("1.0.0")
        );
        assert_eq!(
            h.rollback_path("app", "prod", None),
            Err(RollbackPathError::NothingBefore {
                current: "1.0.0".into()
            })
        );
        assert_eq!(
            h.rollback_path("app", "prod", Some("1.2.0")),
            Err(RollbackPathError::TakenBack {
                to: "1.2.0".into(),
                current: "1.0.0".into()
            })
        );
        h.entries.push(entry("1.3.0", Outcome::Succeeded, &["c"]));
        let p = h.rollback_path("app", "prod", None).unwrap();
        assert_eq!(
            (p.to.as_str(), names(&p)),
            ("1.0.0", vec!["1.3.0:c".into()])
        );
    }

    #[test]
    fn bad_targets_are_refused() {
        let h = History {
            entries: vec![
                entry("1.0.0", Outcome::Succeeded, &[]),
                entry("1.1.0", Outcome::Succeeded, &[]),
                entry("1.2.0", Outcome::Aborted, &[]),
            ],
        };
        assert_eq!(
            h.rollback_path("app", "prod", Some("1.1.0")),
            Err(RollbackPathError::IsCurrent { to: "1.1.0".into() })
        );
        assert_eq!(
            h.rollback_path("app", "prod", Some("1.2.0")),
            Err(RollbackPathError::NeverDeployed {
                to: "1.2.0".into(),
                deployed: vec!["1.0.0".into(), "1.1.0".into()]
            })
        );
        assert_eq!(
            History::default().rollback_path("app", "prod", None),
            Err(RollbackPathError::NoSuccess)
        );
    }

    #[test]
    fn an_entry_without_rollback_reads_and_writes_as_before() {
        let e = entry("1.0.0", Outcome::Succeeded, &[]);
        assert!(!History::line(&e).contains("rollback"));
        let mut r = rolled_back_to("1.0.0", "1.1.0");
        r.rollback = Some(RollbackRecord {
            from: "1.1.0".into(),
            reverted: e.migrations.clone(),
        });
        let h = History::parse(&History::line(&r)).unwrap();
        assert_eq!(h.entries, vec![r]);
    }

    #[test]
    fn bad_line_is_reported() {
        let err = History::parse("\n{\"format\":1\n").unwrap_err();
        assert_eq!(err.line, 2);
    }

    #[test]
    fn parse_each_skips_bad_lines() {
        let good = "{\"format\":1,\"run\":\"r1\",\"service\":\"s\",\"release\":\"1\",\"environment\":\"e\",\"outcome\":\"aborted\",\"started_at\":\"2026-11-02T09:00:00Z\",\"finished_at\":\"2026-11-02T09:00:00Z\"}";
        let text = format!("{good}\n{{\"format\":1\n\n{good}\n");
        let (entries, errors) = History::parse_each(&text);
        assert_eq!(entries.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 4]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 2);
    }

    #[test]
    fn checksum_is_sha256() {
        assert_eq!(
            checksum(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
