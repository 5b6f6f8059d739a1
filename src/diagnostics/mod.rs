//! deployc's own diagnostic type and its renderers.
//!
//! Every stage reports problems as data ([`crate::diagnostics::errors::Error`] for hard
//! errors); this module turns them into [`Diagnostic`]s — the only place that knows their
//! wording — and renders those for people (codespan-reporting) and machines (JSON).

pub mod errors;
mod machine;
mod render;

pub use machine::{DOCS_BASE, help_uri, to_github, to_sarif};
pub use render::{render_human, render_short, to_json};

use crate::source::Span;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

/// A span with a message; the primary label is where the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

impl Label {
    pub fn primary(span: Span, message: impl Into<String>) -> Self {
        Label {
            span,
            message: message.into(),
            primary: true,
        }
    }
    pub fn secondary(span: Span, message: impl Into<String>) -> Self {
        Label {
            span,
            message: message.into(),
            primary: false,
        }
    }
}

/// One finding, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// `E101`, `M204`, …
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            code: code.to_string(),
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }
    pub fn with_label(mut self, label: Label) -> Self {
        self.labels.push(label);
        self
    }
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// The span of the first primary label, used for sorting and short output.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels
            .iter()
            .find(|l| l.primary)
            .or_else(|| self.labels.first())
            .map(|l| l.span)
    }
}

/// Sorts diagnostics by file and position so output is stable. The order is total (it
/// compares everything a diagnostic holds), so equal diagnostics end up side by side.
pub fn sort(diags: &mut [Diagnostic]) {
    fn labels(d: &Diagnostic) -> Vec<(Span, &str, bool)> {
        d.labels
            .iter()
            .map(|l| (l.span, l.message.as_str(), l.primary))
            .collect()
    }
    diags.sort_by(|a, b| {
        let ka = a.primary_span().map(|s| (s.file, s.start, s.end));
        let kb = b.primary_span().map(|s| (s.file, s.start, s.end));
        ka.cmp(&kb)
            .then_with(|| a.code.cmp(&b.code))
            .then_with(|| a.message.cmp(&b.message))
            .then_with(|| labels(a).cmp(&labels(b)))
            .then_with(|| a.notes.cmp(&b.notes))
            .then_with(|| a.help.cmp(&b.help))
            .then_with(|| a.severity.cmp(&b.severity))
    });
}
