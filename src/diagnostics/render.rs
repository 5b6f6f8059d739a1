//! Renderers: human (codespan-reporting), short (`file:line:col: CODE message`) and JSON.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term::{self, termcolor::WriteColor};
use serde::Serialize;

use super::{Diagnostic, Severity};
use crate::source::{FileId, SourceMap};

impl<'a> Files<'a> for SourceMap {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, FilesError> {
        self.get(id)
            .map(|f| f.name.as_str())
            .ok_or(FilesError::FileMissing)
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, FilesError> {
        self.get(id)
            .map(|f| f.text.as_str())
            .ok_or(FilesError::FileMissing)
    }

    fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, FilesError> {
        let f = self.get(id).ok_or(FilesError::FileMissing)?;
        Ok(f.line_col(byte_index).0 - 1)
    }

    fn line_range(
        &'a self,
        id: FileId,
        line_index: usize,
    ) -> Result<std::ops::Range<usize>, FilesError> {
        let f = self.get(id).ok_or(FilesError::FileMissing)?;
        f.line_range(line_index).ok_or(FilesError::LineTooLarge {
            given: line_index,
            max: f.line_count().saturating_sub(1),
        })
    }
}

fn to_codespan(d: &Diagnostic, sources: &SourceMap) -> cs::Diagnostic<FileId> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
        Severity::Note => cs::Severity::Note,
    };
    let labels = d
        .labels
        .iter()
        .filter(|l| sources.get(l.span.file).is_some())
        .map(|l| {
            let style = if l.primary {
                cs::LabelStyle::Primary
            } else {
                cs::LabelStyle::Secondary
            };
            cs::Label::new(style, l.span.file, l.span.range())
                .with_message(one_line(&l.message).into_owned())
        })
        .collect();
    // Messages quote the program's text (names, versions): a control character in them
    // (an escape sequence in a release name) must reach the terminal as text, not act on it.
    let mut notes: Vec<String> = d
        .notes
        .iter()
        .map(|n| format!("note: {}", keep_lines(n)))
        .collect();
    if let Some(h) = &d.help {
        notes.push(format!("help: {}", keep_lines(h)));
    }
    cs::Diagnostic::new(severity)
        .with_code(d.code.clone())
        .with_message(one_line(&d.message).into_owned())
        .with_labels(labels)
        .with_notes(notes)
}

/// The files as a diagnostic shows them: a file whose text or name holds a control
/// character (other than tab and line breaks) is shown with each one replaced by a
/// printable character of the same UTF-8 length, so that the offsets of the labels still
/// fit and a hostile file cannot send escape sequences to the terminal through a snippet.
struct Shown<'s> {
    map: &'s SourceMap,
    clean: std::collections::HashMap<FileId, (String, String)>,
}

fn is_hostile(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

impl<'s> Shown<'s> {
    fn new(map: &'s SourceMap, diags: &[Diagnostic]) -> Shown<'s> {
        let mut clean = std::collections::HashMap::new();
        // Each file is scanned once, however many labels point into it: many findings in a
        // large file must not cost a scan of the file each.
        let mut scanned = std::collections::HashSet::new();
        for l in diags.iter().flat_map(|d| d.labels.iter()) {
            let id = l.span.file;
            if !scanned.insert(id) {
                continue;
            }
            let Some(f) = map.get(id) else { continue };
            if !(f.text.chars().any(is_hostile) || f.name.chars().any(char::is_control)) {
                continue;
            }
            let text: String = f
                .text
                .chars()
                .map(|c| match (is_hostile(c), c.len_utf8()) {
                    (false, _) => c,
                    (true, 1) => '?',
                    // C1 controls take two bytes, as `¿` does.
                    (true, _) => '¿',
                })
                .collect();
            clean.insert(id, (one_line(&f.name).into_owned(), text));
        }
        Shown { map, clean }
    }
}

impl<'a> Files<'a> for Shown<'_> {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, FilesError> {
        match self.clean.get(&id) {
            Some((name, _)) => Ok(name.as_str()),
            None => self.map.name(id),
        }
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, FilesError> {
        match self.clean.get(&id) {
            Some((_, text)) => Ok(text.as_str()),
            None => self.map.source(id),
        }
    }

    fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, FilesError> {
        self.map.line_index(id, byte_index)
    }

    fn line_range(
        &'a self,
        id: FileId,
        line_index: usize,
    ) -> Result<std::ops::Range<usize>, FilesError> {
        self.map.line_range(id, line_index)
    }
}

/// Renders diagnostics with their source, as a person reads them.
pub fn render_human(
    diags: &[Diagnostic],
    sources: &SourceMap,
    out: &mut dyn WriteColor,
) -> std::io::Result<()> {
    let config = term::Config::default();
    let shown = Shown::new(sources, diags);
    for d in diags {
        term::emit_to_write_style(out, &config, &shown, &to_codespan(d, sources))
            .map_err(std::io::Error::other)?;
    }
    Ok(())
}

/// One line per diagnostic: `file:line:col: CODE message`.
pub fn render_short(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diags {
        let loc = d
            .primary_span()
            .and_then(|s| sources.get(s.file).map(|f| (f, s)))
            .map(|(f, s)| {
                let (l, c) = f.line_col(s.start as usize);
                format!("{}:{l}:{c}", f.name)
            })
            .unwrap_or_else(|| "<deployc>".to_string());
        let sev = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        out.push_str(&format!(
            "{}: {sev}[{}] {}\n",
            one_line(&loc),
            d.code,
            one_line(&d.message)
        ));
    }
    out
}

/// `text` with its control characters escaped, line breaks kept (notes and help may span
/// lines).
fn keep_lines(text: &str) -> String {
    text.split('\n')
        .map(|l| one_line(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` on one line: the short format is one line per diagnostic (editors and `grep` read
/// it so), and a message may quote source text with a newline in it (`"1.0\n.0"`). Every
/// other control character is escaped too.
pub(crate) fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[derive(Serialize)]
struct JsonPosition {
    line: usize,
    column: usize,
    offset: usize,
}

#[derive(Serialize)]
struct JsonLabel {
    file: String,
    start: JsonPosition,
    end: JsonPosition,
    message: String,
    primary: bool,
}

#[derive(Serialize)]
struct JsonDiagnostic {
    code: String,
    /// The lint rule's name; `None` for compile errors.
    rule: Option<&'static str>,
    severity: Severity,
    message: String,
    labels: Vec<JsonLabel>,
    notes: Vec<String>,
    help: Option<String>,
}

/// The JSON form of one diagnostic (see `docs/json-output.md`).
pub fn to_json(d: &Diagnostic, sources: &SourceMap) -> serde_json::Value {
    let labels = d
        .labels
        .iter()
        .filter_map(|l| {
            let f = sources.get(l.span.file)?;
            let (sl, sc) = f.line_col(l.span.start as usize);
            let (el, ec) = f.line_col(l.span.end as usize);
            Some(JsonLabel {
                file: f.name.clone(),
                start: JsonPosition {
                    line: sl,
                    column: sc,
                    offset: l.span.start as usize,
                },
                end: JsonPosition {
                    line: el,
                    column: ec,
                    offset: l.span.end as usize,
                },
                message: l.message.clone(),
                primary: l.primary,
            })
        })
        .collect();
    serde_json::to_value(JsonDiagnostic {
        code: d.code.clone(),
        rule: crate::lint::find_rule(&d.code).map(|r| r.name),
        severity: d.severity,
        message: d.message.clone(),
        labels,
        notes: d.notes.clone(),
        help: d.help.clone(),
    })
    .unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_format_is_one_line_per_diagnostic() {
        let src = "service api {}\nrelease \"1.0\\n.0\" {\n  strategy = flags_only\n}\n";
        let (session, compiled) = crate::compile::compile_source("nl.deploy", src.as_bytes());
        let diags: Vec<Diagnostic> = compiled
            .output
            .errors
            .iter()
            .map(|e| e.to_diagnostic())
            .collect();
        assert!(diags.iter().any(|d| d.message.contains('\n')), "{diags:?}");
        let short = render_short(&diags, &session.sources);
        assert_eq!(short.lines().count(), diags.len(), "{short}");
        assert!(
            short.contains("`1.0\\n.0` is not a semantic version"),
            "{short}"
        );
        assert_eq!(one_line("a\tb\u{7}"), "a\\tb\\u{7}");
    }
}
