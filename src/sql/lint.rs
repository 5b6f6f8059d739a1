//! Statement rules from the squawk linter, run with the context deployc knows.
//!
//! One SQL text is parsed once; the same tree gives the schema-effect model
//! ([`super::model`]) and squawk's findings. squawk is told the transaction mode the runtime
//! will use (a text with a statement PostgreSQL refuses inside a transaction block runs
//! outside one, every other text inside one; see [`super::model::SqlModel::transactional`]),
//! never left to guess it, and the PostgreSQL version from `deployc.toml`.
//! Timeout-setting rules are never run: the runtime sets `lock_timeout` and
//! `statement_timeout` for every migration.

use std::ops::Range;
use std::str::FromStr;

use super::model::{self, SqlModel};

/// One squawk finding, in the SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlViolation {
    /// squawk's rule name (`require-concurrent-index-creation`).
    pub rule: String,
    pub message: String,
    pub help: Option<String>,
    pub range: Range<usize>,
}

/// Everything deployc reads from one `up` or `down`.
#[derive(Debug, Clone, Default)]
pub struct SqlAnalysis {
    pub model: SqlModel,
    pub violations: Vec<SqlViolation>,
}

/// Rules that are satisfied by construction (the runtime sets the timeouts) or that refer
/// to squawk's own ignore comments; never run.
pub(crate) const NEVER: &[&str] = &[
    "require-timeout-settings",
    "require-lock-timeout",
    "require-statement-timeout",
    "unused-ignore",
];

thread_local! {
    /// The last rule list asked for and its squawk rules: every SQL text of a program is
    /// linted with the same list, and turning names into rules for each of hundreds of texts
    /// was a tenth of the lint's cost.
    static SELECTED: std::cell::RefCell<(Vec<String>, Vec<squawk_linter::Rule>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// The squawk rules named in `rules`, without those never run.
fn selected_rules(rules: &[&str]) -> Vec<squawk_linter::Rule> {
    SELECTED.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0.len() != rules.len() || cached.0.iter().zip(rules).any(|(a, b)| a != b) {
            let names: Vec<String> = rules.iter().map(|r| (*r).to_string()).collect();
            let selected = rules
                .iter()
                .filter(|r| !NEVER.contains(r))
                .filter_map(|r| squawk_linter::Rule::from_str(r).ok())
                .collect();
            *cached = (names, selected);
        }
        cached.1.clone()
    })
}

/// Parses `text`, builds its model and lints it with every rule in `rules` (squawk names).
pub fn analyze(text: &str, rules: &[&str], postgres_version: Option<u32>) -> SqlAnalysis {
    analyze_parsed(text, None, rules, postgres_version)
}

/// [`analyze`] with the syntax tree of `text` when the caller already has it.
pub fn analyze_parsed(
    text: &str,
    tree: Option<&squawk_syntax::Parse<squawk_syntax::SourceFile>>,
    rules: &[&str],
    postgres_version: Option<u32>,
) -> SqlAnalysis {
    super::guard(|| {
        let parse = match tree {
            Some(t) => t.clone(),
            None => squawk_syntax::SourceFile::parse(text),
        };
        let model = model::build(&parse.tree());
        let selected = selected_rules(rules);
        if selected.is_empty() {
            return SqlAnalysis {
                model,
                violations: Vec::new(),
            };
        }
        let mut linter = squawk_linter::Linter::from(selected);
        linter.settings.assume_in_transaction = model.transactional;
        if let Some(v) = postgres_version
            && let Ok(v) = squawk_linter::Version::from_str(&format!("{v}.0.0"))
        {
            linter.settings.pg_version = v;
        }
        let violations = linter
            .lint(&parse, text)
            .into_iter()
            .map(|v| SqlViolation {
                rule: v.code.to_string(),
                message: v.message,
                help: v.help,
                range: usize::from(v.text_range.start())..usize::from(v.text_range.end()),
            })
            .collect();
        SqlAnalysis { model, violations }
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_mode_is_known_not_assumed() {
        // Inside a transaction, a concurrent index build would fail; deployc runs this text
        // outside one, so squawk must not report it.
        let a = analyze(
            "CREATE INDEX CONCURRENTLY i ON t (a)",
            &["ban-concurrent-index-creation-in-transaction"],
            None,
        );
        assert!(a.violations.is_empty(), "{:?}", a.violations);
        let a = analyze(
            "CREATE INDEX i ON t (a)",
            &[
                "require-concurrent-index-creation",
                "require-timeout-settings",
            ],
            None,
        );
        assert_eq!(a.violations.len(), 1, "{:?}", a.violations);
        assert_eq!(a.violations[0].rule, "require-concurrent-index-creation");
    }
}
