//! The compiler's diagnostics as LSP diagnostics: the primary label's range, the code linked
//! to its documentation, the other labels as related locations, notes and help in the
//! message (LSP has no field for them, and editors show the message whole).

use lsp_types::{
    CodeDescription, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    Url,
};

use super::analysis::Analysis;
use super::position::LineIndex;
use crate::diagnostics::{Diagnostic, Severity, help_uri};

/// The LSP diagnostics of the document an analysis was made of.
pub(crate) fn to_lsp(analysis: &Analysis) -> Vec<lsp_types::Diagnostic> {
    let index = LineIndex::new(analysis.text());
    analysis
        .own_diagnostics()
        .filter_map(|d| convert(analysis, &index, d))
        .collect()
}

fn convert(
    analysis: &Analysis,
    index: &LineIndex<'_>,
    d: &Diagnostic,
) -> Option<lsp_types::Diagnostic> {
    let primary = d.primary_span()?;
    let mut message = d.message.clone();
    if let Some(label) = d.labels.iter().find(|l| l.primary && l.span == primary)
        && !label.message.is_empty()
    {
        message.push_str(&format!(": {}", label.message));
    }
    for note in &d.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .filter(|l| l.span != primary && !l.span.is_synthetic())
        .filter_map(|l| {
            let uri = super::uri::of_file(&analysis.session, l.span.file)?;
            let text = &analysis.session.sources.get(l.span.file)?.text;
            let range = LineIndex::new(text).range(l.span.start as usize, l.span.end as usize);
            Some(DiagnosticRelatedInformation {
                location: Location::new(uri, range),
                message: l.message.clone(),
            })
        })
        .collect();
    Some(lsp_types::Diagnostic {
        range: index.range(primary.start as usize, primary.end as usize),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
            Severity::Note => DiagnosticSeverity::INFORMATION,
        }),
        code: Some(NumberOrString::String(d.code.clone())),
        code_description: Url::parse(&help_uri(&d.code))
            .ok()
            .map(|href| CodeDescription { href }),
        source: Some("deployc".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::lsp::analysis::analyze;

    #[test]
    fn an_unknown_name_has_its_code_link_range_and_help() {
        let src =
            "metric error_rate: percent = probe \"e\"\nrollback r { auto when eror_rate > 5% }\n";
        let a = analyze(None, src, &HashMap::new());
        let diags = to_lsp(&a);
        let d = diags
            .iter()
            .find(|d| d.code == Some(NumberOrString::String("E201".into())))
            .unwrap_or_else(|| panic!("{diags:?}"));
        assert_eq!(d.range.start, lsp_types::Position::new(1, 23));
        assert_eq!(d.range.end, lsp_types::Position::new(1, 32));
        assert!(
            d.message.contains("help: did you mean `error_rate`?"),
            "{}",
            d.message
        );
        let href = d.code_description.as_ref().unwrap().href.as_str();
        assert!(href.ends_with("errors.md#e201"), "{href}");
    }
}
