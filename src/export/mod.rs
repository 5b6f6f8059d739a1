//! Exports of a checked plan to other tools' objects: `deployc export argo-rollouts`.
//!
//! An export never drops part of the plan silently: whatever the target cannot express is an
//! [`ExportDiagnostic`] with the reason and, where the plan knows it, the place in the source.
//! Errors mean no output at all; warnings and notes come with the objects.

pub mod argo;
pub mod yaml;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::lower::plan::SourceRef;

/// How serious an export diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExportSeverity {
    /// Something the reader should know; the export is complete for it.
    Note,
    /// Part of the plan that the target does not carry; `deployc run` still does it.
    Warning,
    /// The export cannot be made (nothing is written).
    Error,
}

impl ExportSeverity {
    fn as_str(self) -> &'static str {
        match self {
            ExportSeverity::Note => "note",
            ExportSeverity::Warning => "warning",
            ExportSeverity::Error => "error",
        }
    }
}

/// One finding of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportDiagnostic {
    pub severity: ExportSeverity,
    /// What is not exported (or how it is exported).
    pub message: String,
    /// Why.
    pub reason: String,
    pub source: Option<SourceRef>,
}

impl ExportDiagnostic {
    pub(crate) fn new(
        severity: ExportSeverity,
        message: impl Into<String>,
        reason: impl Into<String>,
        source: Option<&SourceRef>,
    ) -> ExportDiagnostic {
        ExportDiagnostic {
            severity,
            message: message.into(),
            reason: reason.into(),
            source: source.cloned(),
        }
    }

    /// The diagnostic for people: `warning: …`, the place and source line, and the reason.
    /// `read` gives the text of a source file, when it can be read.
    pub fn render(&self, read: &dyn Fn(&str) -> Option<String>) -> String {
        let mut out = format!("{}: {}\n", self.severity.as_str(), self.message);
        if let Some(src) = &self.source {
            let _ = writeln!(out, "  --> {}:{}:{}", src.file, src.line, src.column);
            if let Some(text) = read(&src.file)
                && let Some(line) = text.lines().nth(src.line.saturating_sub(1))
            {
                let number = src.line.to_string();
                let pad = " ".repeat(number.len());
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{number} | {line}");
                // Underline from the column to the end of the span on this line.
                let start = src.column.saturating_sub(1);
                let line_rest = line.chars().count().saturating_sub(start);
                let width = src.end.saturating_sub(src.start).clamp(1, line_rest.max(1));
                let _ = writeln!(out, "{pad} | {}{}", " ".repeat(start), "^".repeat(width));
            }
        }
        let _ = writeln!(out, "  = why: {}", self.reason);
        out
    }
}

/// The exported objects, each with the file name it gets under `-o`.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub objects: Vec<(String, serde_json::Value)>,
    pub diagnostics: Vec<ExportDiagnostic>,
}

impl Export {
    /// Whether the export has an error (and must not be written).
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == ExportSeverity::Error)
    }

    /// All objects as one multi-document YAML stream.
    pub fn to_stream(&self) -> String {
        let values: Vec<serde_json::Value> = self.objects.iter().map(|(_, v)| v.clone()).collect();
        yaml::stream(&values)
    }

    /// Writes one YAML file per object into `dir`, all or nothing: every file is first
    /// written to a temporary directory inside `dir` and only then renamed into place, so
    /// that a failure leaves the directory as it was (apart from a rename that fails half
    /// way, which only a full disk or a permission change during the export can cause).
    pub fn write_dir(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let staging = dir.join(format!(".deployc-export-{}", std::process::id()));
        std::fs::create_dir_all(&staging)?;
        let result = (|| {
            let mut staged = Vec::new();
            for (name, value) in &self.objects {
                let path = staging.join(name);
                std::fs::write(&path, yaml::to_yaml(value))?;
                staged.push((path, dir.join(name)));
            }
            let mut written = Vec::new();
            for (from, to) in staged {
                std::fs::rename(&from, &to)?;
                written.push(to);
            }
            Ok(written)
        })();
        // The staging directory is empty after the renames, and holds only our files if one
        // failed; either way it goes.
        let _ = std::fs::remove_dir_all(&staging);
        result
    }
}

/// Files in `dir` named like exported objects (`rollout.yaml`, `deployment.yaml`,
/// `analysistemplate-*.yaml`) that are not among `written`, sorted.
pub fn stale_files(dir: &Path, written: &[PathBuf]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut stale: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (name == "rollout.yaml"
                || name == "deployment.yaml"
                || (name.starts_with("analysistemplate-") && name.ends_with(".yaml")))
                && !written.contains(p)
        })
        .collect();
    stale.sort();
    stale
}
