//! Hover: what a name denotes (its definition's first line, its type with its unit, its doc
//! comment) and, on a lint finding, the rule's explanation as `deployc explain` prints it.

use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use super::analysis::Analysis;
use super::index::{Index, SymbolKind};
use super::position::LineIndex;
use crate::resolve::Kind;
use crate::syntax::ast::{MetricKind, TimeUnit};

/// The hover at byte `offset` of the analysed document.
pub(crate) fn hover(analysis: &Analysis, index: &Index, offset: usize) -> Option<Hover> {
    let file = analysis.file()?;
    let lines = LineIndex::new(analysis.text());
    let mut parts: Vec<String> = Vec::new();
    let mut range = None;
    if let Some(o) = index.at(file, offset)
        && let Some(sym) = index.symbol(o.target)
    {
        parts.push(describe(analysis, sym));
        range = Some(lines.range(o.span.start as usize, o.span.end as usize));
    }
    for d in analysis.own_diagnostics() {
        let Some(span) = d.primary_span() else {
            continue;
        };
        if !(span.start as usize <= offset && offset <= span.end as usize) {
            continue;
        }
        match crate::lint::find_rule(&d.code) {
            Some(rule) => parts.push(crate::lint::docs::explain(rule)),
            None => parts.push(format!(
                "**{}** {}\n\nSee [docs/errors.md]({}).",
                d.code,
                d.message,
                crate::diagnostics::help_uri(&d.code)
            )),
        }
        range.get_or_insert_with(|| lines.range(span.start as usize, span.end as usize));
    }
    if parts.is_empty() {
        return None;
    }
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: parts.join("\n\n---\n\n"),
        }),
        range,
    })
}

/// A symbol as hover shows it: a code block with its definition's head, its type, its
/// documentation, and where it is defined when that is another file.
fn describe(analysis: &Analysis, sym: &super::index::Symbol) -> String {
    let sources = &analysis.session.sources;
    let mut out = String::new();
    let head = match sym.kind {
        SymbolKind::Module => format!("import {}", sym.name),
        SymbolKind::Param(k) => format!("{}: {}", sym.name, param_kind(k)),
        _ => definition_head(sources.text(sym.full)),
    };
    out.push_str(&format!("```deploy\n{head}\n```\n"));
    out.push_str(&format!("\n{} `{}`", sym.kind.describe(), sym.name));
    if let Some((kind, per)) = sym.metric {
        out.push_str(&format!(": {}", unit_of(kind, per)));
    }
    out.push('\n');
    if let Some(doc) = &sym.doc {
        out.push_str(&format!("\n{}\n", doc.trim()));
    }
    if Some(sym.span.file) != analysis.file()
        && let Some(f) = sources.get(sym.span.file)
    {
        let (line, _) = f.line_col(sym.span.start as usize);
        out.push_str(&format!("\ndefined in `{}` line {line}\n", f.name));
    }
    out
}

fn param_kind(k: Kind) -> &'static str {
    match k {
        Kind::Channel => "channel",
        Kind::Role => "role",
        _ => "metric",
    }
}

/// The first line of a definition, without the body of a block.
fn definition_head(text: &str) -> String {
    let first = text.lines().next().unwrap_or("").trim_end();
    match first.find('{') {
        // Keep a block that closes on the same line whole when it is short.
        Some(i) if !(first.ends_with('}') && first.len() <= 80) => {
            format!("{} {{ … }}", first.get(..i).unwrap_or("").trim_end())
        }
        _ => first.to_string(),
    }
}

/// A metric's type with the unit its values are written in.
fn unit_of(kind: MetricKind, per: Option<TimeUnit>) -> String {
    match kind {
        MetricKind::Percent => "a percentage, compared with values like `1%` or `0.5%`".into(),
        MetricKind::Duration => {
            "a duration, compared with values like `500ms`, `2s` or `1m`".into()
        }
        MetricKind::Rate => match per {
            Some(u) => format!(
                "a rate per {}, compared with values like `20/{}`",
                u.name(),
                u.name().get(..1).unwrap_or("s")
            ),
            None => "a rate, compared with values like `20/s` or `100/m`".into(),
        },
        MetricKind::Count => "a count, compared with whole numbers like `10`".into(),
        MetricKind::Number => "a number, compared with values like `0.5` or `10`".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::lsp::{analysis::analyze, index};

    fn hover_text(src: &str, needle: &str) -> String {
        let a = analyze(None, src, &HashMap::new());
        let i = index::build(&a);
        let offset = src.find(needle).unwrap() + 1;
        match hover(&a, &i, offset).map(|h| h.contents) {
            Some(HoverContents::Markup(m)) => m.value,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_metric_shows_its_definition_and_unit() {
        let src = "# Share of failed requests.\nmetric error_rate: percent = probe \"errors\"\nrollback r { auto when error_rate > 5% }\n";
        let text = hover_text(src, "error_rate >");
        assert!(
            text.contains("metric error_rate: percent = probe \"errors\""),
            "{text}"
        );
        assert!(text.contains("a percentage"), "{text}");
        assert!(text.contains("Share of failed requests."), "{text}");
    }

    #[test]
    fn a_stdlib_message_shows_its_doc_comment() {
        let src = "import std.comms\nchannel ops = stdout\ncomms c { on done notify ops std.comms.done }\n";
        let text = hover_text(src, "std.comms.done");
        assert!(
            text.contains("Sent when the deployment and its monitoring finished."),
            "{text}"
        );
        assert!(
            text.contains("defined in `<stdlib>/std/comms.deploy`"),
            "{text}"
        );
    }
}
