//! Code actions: suppressing a lint finding with a reason to fill in, and the mechanical
//! fixes a finding allows (the name a "did you mean" points at, `CONCURRENTLY` on an index
//! built or dropped on a live table).

use std::collections::HashMap;

use lsp_types::{CodeAction, CodeActionKind, TextEdit, Url, WorkspaceEdit};

use super::analysis::Analysis;
use super::position::LineIndex;
use crate::diagnostics::errors::Error;
use crate::source::Span;
use crate::syntax::ast::{Item, Module};

/// What the inserted suppression says until its author writes the real reason; L001 does
/// not flag it (it has a reason), so it is worded to stand out in review.
pub(crate) const REASON_PLACEHOLDER: &str = "TODO: say why this finding does not apply here";

/// The actions for the findings whose primary span meets `range` (byte offsets).
pub(crate) fn actions(
    analysis: &Analysis,
    uri: &Url,
    range: std::ops::Range<usize>,
) -> Vec<CodeAction> {
    let text = analysis.text();
    let lines = LineIndex::new(text);
    let mut out = Vec::new();
    let meets = |s: Span| s.start as usize <= range.end && range.start <= s.end as usize;
    let lsp_diags = super::diagnostics::to_lsp(analysis);
    for (d, lsp) in analysis.own_diagnostics().zip(lsp_diags) {
        let Some(span) = d.primary_span() else {
            continue;
        };
        if !meets(span) {
            continue;
        }
        let edit = |edits: Vec<TextEdit>| WorkspaceEdit {
            changes: Some(HashMap::from([(uri.clone(), edits)])),
            ..WorkspaceEdit::default()
        };
        if let Some(fix) = concurrently(text, &d.code, span) {
            out.push(CodeAction {
                title: "Build the index `CONCURRENTLY`".into(),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![lsp.clone()]),
                edit: Some(edit(vec![TextEdit::new(
                    lines.range(fix, fix),
                    " CONCURRENTLY".into(),
                )])),
                is_preferred: Some(true),
                ..CodeAction::default()
            });
        }
        let rule = crate::lint::find_rule(&d.code).filter(|r| !r.code.starts_with('L'));
        if let Some(rule) = rule
            && let Some(ast) = analysis.ast()
        {
            let at = suppression_line(ast, text, span.start as usize);
            let line_start = text
                .get(..at)
                .and_then(|t| t.rfind('\n'))
                .map_or(0, |n| n + 1);
            let indent: String = text
                .get(line_start..)
                .unwrap_or("")
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            let comment = format!(
                "{indent}# deployc: allow({}) \"{REASON_PLACEHOLDER}\"\n",
                rule.code
            );
            out.push(CodeAction {
                title: format!("Suppress {} ({}) here, with a reason", rule.code, rule.name),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![lsp.clone()]),
                edit: Some(edit(vec![TextEdit::new(
                    lines.range(line_start, line_start),
                    comment,
                )])),
                ..CodeAction::default()
            });
        }
    }
    for e in &analysis.compiled.output.errors {
        let (span, suggestion) = match e {
            Error::UnknownName {
                span,
                suggestion: Some(s),
                ..
            }
            | Error::ImportNotFound {
                span,
                suggestion: Some(s),
                ..
            }
            | Error::UnknownSetting {
                span,
                suggestion: Some(s),
                ..
            } => (*span, s),
            _ => continue,
        };
        if Some(span.file) != analysis.file() || !meets(span) {
            continue;
        }
        let diagnostics = super::diagnostics::to_lsp(analysis)
            .into_iter()
            .filter(|d| d.range == lines.range(span.start as usize, span.end as usize))
            .collect();
        out.push(CodeAction {
            title: format!("Change to `{suggestion}`"),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(diagnostics),
            edit: Some(WorkspaceEdit {
                changes: Some(HashMap::from([(
                    uri.clone(),
                    vec![TextEdit::new(
                        lines.range(span.start as usize, span.end as usize),
                        suggestion.clone(),
                    )],
                )])),
                ..WorkspaceEdit::default()
            }),
            is_preferred: Some(true),
            ..CodeAction::default()
        });
    }
    out
}

/// Where `CONCURRENTLY` goes for squawk's concurrent-index rules: right after `INDEX` in
/// the statement the finding points at, unless it is there already.
fn concurrently(text: &str, code: &str, span: Span) -> Option<usize> {
    if !matches!(
        code,
        "sql/require-concurrent-index-creation" | "sql/require-concurrent-index-deletion"
    ) {
        return None;
    }
    let statement = text.get(span.range())?;
    let upper = statement.to_ascii_uppercase();
    if upper.contains("CONCURRENTLY") {
        return None;
    }
    let at = upper.find("INDEX")?;
    Some(span.start as usize + at + "INDEX".len())
}

/// The offset whose line the suppression comment goes above, for a finding at `offset`: the
/// finding's own line, unless that line is inside a string that began on an earlier line (a
/// `"""` SQL text), where a comment would be part of the string: then the line of the
/// migration or item holding it, whose block the suppression then covers.
fn suppression_line(ast: &Module, text: &str, offset: usize) -> usize {
    let in_multiline_string = ast.strings.iter().any(|s| {
        let r = s.range();
        r.start < offset
            && offset < r.end
            && text.get(r.start..offset).is_some_and(|t| t.contains('\n'))
    });
    if !in_multiline_string {
        return offset;
    }
    let contains = |s: Span| s.start as usize <= offset && offset <= s.end as usize;
    for item in &ast.items {
        if !contains(item.span()) {
            continue;
        }
        if let Item::Release(r) = item
            && let Some(m) = r.migrations.iter().find(|m| contains(m.span))
        {
            return m.span.start as usize;
        }
        return item.span().start as usize;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrently_goes_after_index() {
        let text = "up = sql \"CREATE UNIQUE INDEX i ON t (a)\"";
        let start = text.find("CREATE").unwrap();
        let span = Span::new(crate::source::FileId(0), start, text.len() - 1);
        let at = concurrently(text, "sql/require-concurrent-index-creation", span).unwrap();
        assert_eq!(&text[..at], "up = sql \"CREATE UNIQUE INDEX");
        assert_eq!(concurrently(text, "M201", span), None);
    }

    #[test]
    fn a_finding_inside_a_multi_line_string_is_suppressed_above_its_migration() {
        let text = "release \"1\" {\n  migrations {\n    index i {\n      up = sql \"\"\"\n        CREATE INDEX i ON t (a)\n      \"\"\"\n    }\n  }\n}\n";
        let ast = crate::syntax::parse(crate::source::FileId(0), text)
            .0
            .unwrap();
        let create = text.find("CREATE").unwrap();
        assert_eq!(
            suppression_line(&ast, text, create),
            text.find("index i").unwrap()
        );
        let up = text.find("up =").unwrap();
        assert_eq!(suppression_line(&ast, text, up), up);
    }
}
