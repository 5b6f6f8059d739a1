//! Go to definition and find references, over the [`Index`].

use lsp_types::Location;

use super::analysis::Analysis;
use super::index::Index;
use super::position::LineIndex;
use crate::source::Span;

/// Where the name at byte `offset` is defined.
pub(crate) fn definition(analysis: &Analysis, index: &Index, offset: usize) -> Option<Location> {
    let o = index.at(analysis.file()?, offset)?;
    location(analysis, o.target)
}

/// Every place the symbol named at byte `offset` is named, its definition first when asked.
pub(crate) fn references(
    analysis: &Analysis,
    index: &Index,
    offset: usize,
    include_declaration: bool,
) -> Vec<Location> {
    let Some(o) = analysis.file().and_then(|f| index.at(f, offset)) else {
        return Vec::new();
    };
    let mut spans: Vec<Span> = index
        .references(o.target)
        .filter(|r| include_declaration || !r.is_definition)
        .map(|r| r.span)
        .collect();
    spans.sort();
    spans.dedup();
    spans
        .into_iter()
        .filter_map(|s| location(analysis, s))
        .collect()
}

pub(crate) fn location(analysis: &Analysis, span: Span) -> Option<Location> {
    let uri = super::uri::of_file(&analysis.session, span.file)?;
    let text = &analysis.session.sources.get(span.file)?.text;
    let range = LineIndex::new(text).range(span.start as usize, span.end as usize);
    Some(Location::new(uri, range))
}
