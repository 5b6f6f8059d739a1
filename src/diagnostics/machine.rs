//! Renderers for machines: SARIF 2.1.0 (code scanning) and GitHub workflow annotations.
//!
//! Both need rule metadata (names, default levels, docs), which comes from the lint
//! registry; compile errors (`E…`) are described by `docs/errors.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{Diagnostic, Label, Severity};
use crate::lint::{self, Level};
use crate::source::{SourceFile, SourceMap};

/// Where the project's documentation is published; rule help links point into it.
pub const DOCS_BASE: &str = "https://github.com/deployc/deployc/blob/main/docs";

/// The help page of a code: a rule's page, or the errors reference.
pub fn help_uri(code: &str) -> String {
    match lint::find_rule(code) {
        Some(rule) => format!("{DOCS_BASE}/rules/{}", lint::docs::page_name(rule)),
        None => format!("{DOCS_BASE}/errors.md#{}", code.to_lowercase()),
    }
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn default_level(l: Level) -> &'static str {
    match l {
        Level::Deny => "error",
        Level::Warn => "warning",
        Level::Allow => "none",
    }
}

/// The URI of a source file relative to `root` (the repository), with `/` separators and
/// percent-encoding; `None` for files that are not on disk (the embedded stdlib).
fn file_uri(f: &SourceFile, root: Option<&Path>) -> Option<String> {
    let path = f.path.as_ref()?;
    let abs: PathBuf = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
    let rel = root
        .and_then(|r| abs.strip_prefix(r).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from(&f.name));
    let text = rel.to_string_lossy().replace('\\', "/");
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    Some(out)
}

fn location(l: &Label, sources: &SourceMap, root: Option<&Path>) -> Option<Value> {
    let f = sources.get(l.span.file)?;
    let uri = file_uri(f, root)?;
    let (start, end) = (l.span.start as usize, l.span.end as usize);
    let (sl, sc) = f.line_col(start);
    let (el, ec) = f.line_col(end);
    Some(json!({
        "physicalLocation": {
            "artifactLocation": { "uri": uri, "uriBaseId": "%SRCROOT%" },
            "region": {
                "startLine": sl, "startColumn": sc, "endLine": el, "endColumn": ec,
                "charOffset": f.text.get(..start).map_or(0, |s| s.chars().count()),
                "charLength": f.text.get(start..end).map_or(0, |s| s.chars().count()),
            }
        }
    }))
}

fn full_message(d: &Diagnostic) -> String {
    let mut text = d.message.clone();
    for n in &d.notes {
        let _ = write!(text, "\nnote: {n}");
    }
    if let Some(h) = &d.help {
        let _ = write!(text, "\nhelp: {h}");
    }
    text
}

/// The SARIF 2.1.0 log of one check run. `root` is the repository root URIs are relative to.
pub fn to_sarif(diags: &[Diagnostic], sources: &SourceMap, root: Option<&Path>) -> Value {
    let mut rules: Vec<Value> = lint::all_rules()
        .map(|r| {
            json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": r.doc() },
                "help": { "text": r.doc(), "markdown": r.doc() },
                "helpUri": help_uri(r.code),
                "defaultConfiguration": { "level": default_level(r.level), "enabled": r.level != Level::Allow },
                "properties": { "category": r.category.title(), "tags": [r.category.title()] },
            })
        })
        .collect();
    let mut ids: Vec<String> = lint::all_rules().map(|r| r.code.to_string()).collect();
    // Compile errors appear as rules too, so every result has its metadata.
    for d in diags {
        if !ids.contains(&d.code) {
            ids.push(d.code.clone());
            rules.push(json!({
                "id": d.code,
                "shortDescription": { "text": "the program is not valid; no plan can be made" },
                "helpUri": help_uri(&d.code),
                "defaultConfiguration": { "level": "error" },
            }));
        }
    }
    let results: Vec<Value> = diags
        .iter()
        .map(|d| {
            let primary = d
                .labels
                .iter()
                .filter(|l| l.primary)
                .chain(d.labels.iter().filter(|l| !l.primary))
                .find_map(|l| location(l, sources, root).map(|loc| (l, loc)));
            let related: Vec<Value> = d
                .labels
                .iter()
                .filter(|l| primary.as_ref().is_none_or(|(p, _)| !std::ptr::eq(*p, *l)))
                .filter_map(|l| {
                    let mut loc = location(l, sources, root)?;
                    set(&mut loc, "message", json!({ "text": l.message }));
                    Some(loc)
                })
                .enumerate()
                .map(|(i, mut loc)| {
                    set(&mut loc, "id", json!(i));
                    loc
                })
                .collect();
            let mut result = json!({
                "ruleId": d.code,
                "ruleIndex": ids.iter().position(|c| *c == d.code).unwrap_or(0),
                "level": sarif_level(d.severity),
                "message": { "text": full_message(d) },
                "locations": primary.map(|(_, loc)| vec![loc]).unwrap_or_default(),
            });
            if !related.is_empty() {
                set(&mut result, "relatedLocations", Value::Array(related));
            }
            result
        })
        .collect();
    let mut run = json!({
        "tool": {
            "driver": {
                "name": "deployc",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": DOCS_BASE,
                "rules": rules,
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
    });
    if let Some(r) = root {
        let mut uri = format!("file://{}", r.to_string_lossy().replace('\\', "/"));
        if !uri.ends_with('/') {
            uri.push('/');
        }
        set(
            &mut run,
            "originalUriBaseIds",
            json!({ "%SRCROOT%": { "uri": uri } }),
        );
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    })
}

/// Sets `key` of a JSON object (the values built here are always objects).
fn set(v: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = v {
        map.insert(key.to_string(), value);
    }
}

/// Escapes workflow-command data (the message). Line breaks are encoded as the format
/// wants; other control characters are written out, so that they cannot act on a log viewer.
fn escape_data(s: &str) -> String {
    let encoded = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    super::render::one_line(&encoded).into_owned()
}

/// Escapes a workflow-command property value (file, title).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands: one annotation per diagnostic.
pub fn to_github(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diags {
        let kind = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let title = match lint::find_rule(&d.code) {
            Some(r) => format!("{} {}", r.code, r.name),
            None => d.code.clone(),
        };
        let mut props = Vec::new();
        if let Some(span) = d.primary_span()
            && let Some(f) = sources.get(span.file)
        {
            let (sl, sc) = f.line_col(span.start as usize);
            let (el, ec) = f.line_col(span.end as usize);
            props.push(format!("file={}", escape_property(&f.name)));
            props.push(format!("line={sl}"));
            props.push(format!("endLine={el}"));
            if sl == el {
                props.push(format!("col={sc}"));
                props.push(format!("endColumn={ec}"));
            }
        }
        props.push(format!("title={}", escape_property(&title)));
        let _ = writeln!(
            out,
            "::{kind} {}::{}",
            props.join(","),
            escape_data(&full_message(d))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_escaping() {
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
