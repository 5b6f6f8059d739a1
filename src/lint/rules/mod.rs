//! The registry: every lint rule, one file each.
//!
//! To add a rule: create `<code>_<name>.rs` here with a `//!` doc in the four sections and a
//! `pub(crate) static RULE: Rule`, list its module below, and add a firing and a silent
//! fixture under `tests/fixtures/lint/<CODE>/`. The meta-tests in `tests/lint.rs` enforce all
//! of that; `DEPLOYC_UPDATE_DOCS=1 cargo test --test lint` regenerates `docs/rules/`.

use super::Rule;

macro_rules! registry {
    ($($module:ident),* $(,)?) => {
        $(mod $module;)*
        static RULES: &[&Rule] = &[$(&$module::RULE),*];
    };
}

registry! {
    l001_suppression_without_reason,
    l002_unused_suppression,
    m204_contract_in_expand_release,
}

/// Every rule, in registry order.
pub(crate) fn all() -> impl Iterator<Item = &'static Rule> {
    RULES.iter().copied()
}

include!(concat!(env!("OUT_DIR"), "/rule_docs.rs"));

/// The `//!` doc of the rule defined in `file` (its `file!()`).
pub(super) fn doc_of(file: &str) -> &'static str {
    let file = file.replace('\\', "/");
    RULE_DOCS
        .iter()
        .find(|(f, _)| file.ends_with(f) || f.ends_with(file.as_str()))
        .map_or("", |(_, d)| d)
}

/// A rule implemented by the engine itself (suppressions), not by a `check` function.
pub(super) fn engine(_: &super::Context<'_>, _: &mut super::Findings) {}
