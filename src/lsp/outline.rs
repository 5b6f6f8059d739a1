//! The document's outline (document symbols) and its folding ranges, from its syntax tree.

use lsp_types::{DocumentSymbol, FoldingRange, FoldingRangeKind, SymbolKind};

use super::position::LineIndex;
use crate::source::Span;
use crate::syntax::ast::*;

/// Releases with their migrations and flags, environments, the service, the team with its
/// roles, and every named item.
pub(crate) fn symbols(ast: &Module, text: &str) -> Vec<DocumentSymbol> {
    let lines = LineIndex::new(text);
    ast.items.iter().filter_map(|i| item(&lines, i)).collect()
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be named to build one
fn symbol(
    lines: &LineIndex<'_>,
    name: String,
    detail: Option<String>,
    kind: SymbolKind,
    full: Span,
    selection: Span,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    DocumentSymbol {
        name,
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: lines.range(full.start as usize, full.end as usize),
        selection_range: lines.range(selection.start as usize, selection.end as usize),
        children: (!children.is_empty()).then_some(children),
    }
}

fn named(
    lines: &LineIndex<'_>,
    name: &Ident,
    detail: &str,
    kind: SymbolKind,
    full: Span,
) -> DocumentSymbol {
    symbol(
        lines,
        name.name.clone(),
        Some(detail.to_string()),
        kind,
        full,
        name.span,
        Vec::new(),
    )
}

fn item(lines: &LineIndex<'_>, item: &Item) -> Option<DocumentSymbol> {
    Some(match item {
        Item::Import(i) => {
            let name = match &i.target {
                ImportTarget::Std(p) => p.to_string_dotted(),
                ImportTarget::File { path, alias } => format!("{} as {}", path.value, alias.name),
            };
            symbol(
                lines,
                name,
                Some("import".into()),
                SymbolKind::MODULE,
                i.span,
                i.span,
                Vec::new(),
            )
        }
        Item::Service(s) => named(lines, &s.name, "service", SymbolKind::CLASS, s.span),
        Item::Environment(e) => {
            let detail = if e.production.is_some() {
                "environment, production"
            } else {
                "environment"
            };
            named(lines, &e.name, detail, SymbolKind::NAMESPACE, e.span)
        }
        Item::Team(t) => {
            let roles = t
                .roles
                .iter()
                .map(|r| named(lines, &r.name, &r.who.value, SymbolKind::FIELD, r.span))
                .collect();
            symbol(
                lines,
                "team".into(),
                None,
                SymbolKind::STRUCT,
                t.span,
                t.span,
                roles,
            )
        }
        Item::Channel(c) => named(lines, &c.name, "channel", SymbolKind::VARIABLE, c.span),
        Item::Metric(m) => named(
            lines,
            &m.name,
            m.kind.value.name(),
            SymbolKind::PROPERTY,
            m.span,
        ),
        Item::Message(m) => named(lines, &m.name, "message", SymbolKind::STRING, m.span),
        Item::Strategy(s) => named(
            lines,
            &s.name,
            s.strategy.name(),
            SymbolKind::FUNCTION,
            s.span,
        ),
        Item::Rollback(r) => named(lines, &r.name, "rollback", SymbolKind::FUNCTION, r.span),
        Item::Comms(c) => named(lines, &c.name, "comms", SymbolKind::FUNCTION, c.span),
        Item::Checklist(c) => named(lines, &c.name, "checklist", SymbolKind::FUNCTION, c.span),
        Item::Release(r) => {
            let mut children: Vec<DocumentSymbol> = r
                .migrations
                .iter()
                .map(|m| {
                    named(
                        lines,
                        &m.name,
                        m.phase.value.name(),
                        SymbolKind::EVENT,
                        m.span,
                    )
                })
                .collect();
            children.extend(
                r.flags
                    .iter()
                    .map(|f| named(lines, &f.name, "flag", SymbolKind::BOOLEAN, f.span)),
            );
            let detail = r.strategy.first().map(|s| match s {
                StrategyRef::Inline(s) => s.name().to_string(),
                StrategyRef::Named(u) => u.path.to_string_dotted(),
            });
            symbol(
                lines,
                format!("release {}", r.version.value),
                detail,
                SymbolKind::PACKAGE,
                r.span,
                r.version.span,
                children,
            )
        }
    })
}

/// Every block that spans lines (items, strategies, migrations, flags, rollback, comms and
/// checklist bodies), runs of comment lines, and the run of imports.
pub(crate) fn folding(ast: &Module, text: &str) -> Vec<FoldingRange> {
    let lines = LineIndex::new(text);
    let mut out = Vec::new();
    let mut add = |span: Span, kind: Option<FoldingRangeKind>| {
        let start = lines.position(span.start as usize).line;
        // The closing line stays visible, as editors do for braces.
        let end = lines.position(span.end as usize).line;
        if end > start && !span.is_synthetic() {
            out.push(FoldingRange {
                start_line: start,
                start_character: None,
                end_line: end,
                end_character: None,
                kind,
                collapsed_text: None,
            });
        }
    };
    let mut imports: Option<Span> = None;
    for item in &ast.items {
        match item {
            Item::Import(i) => imports = Some(imports.map_or(i.span, |s| s.to(i.span))),
            Item::Release(r) => {
                add(r.span, None);
                for s in &r.strategy {
                    add(s.span(), None);
                }
                for m in &r.migrations {
                    add(m.span, None);
                }
                for f in &r.flags {
                    add(f.span, None);
                }
                for u in &r.rollback {
                    add(u.span(), None);
                }
                for u in &r.comms {
                    add(u.span(), None);
                }
                for u in &r.checklist {
                    add(u.span(), None);
                }
            }
            other => add(other.span(), None),
        }
    }
    if let Some(s) = imports {
        add(s, Some(FoldingRangeKind::Imports));
    }
    // Consecutive whole-line comments.
    let mut run: Option<Span> = None;
    for c in &ast.comments {
        let line = lines.position(c.span.start as usize).line;
        run = match run {
            Some(r) if lines.position(r.end as usize).line + 1 == line => Some(r.to(c.span)),
            Some(r) => {
                add(r, Some(FoldingRangeKind::Comment));
                Some(c.span)
            }
            None => Some(c.span),
        };
    }
    if let Some(r) = run {
        add(r, Some(FoldingRangeKind::Comment));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    const SRC: &str = "# one\n# two\nimport std.http\nimport std.comms\nrelease \"1.0.0\" {\n  strategy = canary {\n    step 100%\n  }\n  migrations {\n    expand a {\n      up = sql \"SELECT 1\"\n    }\n  }\n}\n";

    fn ast() -> Module {
        crate::syntax::parse(FileId(0), SRC).0.unwrap()
    }

    #[test]
    fn releases_hold_their_migrations() {
        let symbols = symbols(&ast(), SRC);
        let release = symbols.iter().find(|s| s.name == "release 1.0.0").unwrap();
        let children = release.children.as_ref().unwrap();
        assert_eq!(children[0].name, "a");
        assert_eq!(children[0].detail.as_deref(), Some("expand"));
        assert_eq!(release.detail.as_deref(), Some("canary"));
    }

    #[test]
    fn blocks_comments_and_imports_fold() {
        let ranges: Vec<(u32, u32, Option<FoldingRangeKind>)> = folding(&ast(), SRC)
            .into_iter()
            .map(|r| (r.start_line, r.end_line, r.kind))
            .collect();
        assert!(ranges.contains(&(4, 13, None)), "{ranges:?}");
        assert!(ranges.contains(&(5, 7, None)), "{ranges:?}");
        assert!(ranges.contains(&(9, 11, None)), "{ranges:?}");
        assert!(
            ranges.contains(&(0, 1, Some(FoldingRangeKind::Comment))),
            "{ranges:?}"
        );
        assert!(
            ranges.contains(&(2, 3, Some(FoldingRangeKind::Imports))),
            "{ranges:?}"
        );
    }
}
