//! ## What it does
//! Flags a canary step below `100%` that has no `require` while the release has no rollback
//! trigger either: nothing judges the new version during that step. Every strategy the
//! release runs with is read — its own, an environment's `release { … }` default, its
//! `environment NAME { … }` blocks — and the step is reported where it is written.
//!
//! ## Why is this bad?
//! A canary step is worth its wait only if something is checked during it. Without a
//! `require` and without an armed trigger, the step just waits and moves on, whatever the
//! new version does; the canary is a slow full rollout.
//!
//! ## Example
//! ```deploy
//! release "2.0.0" {
//!   strategy = canary { step 10% for 10m, step 100% }
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! release "2.0.0" {
//!   strategy = canary { step 10% for 10m require error_rate < 1%, step 100% }
//!   rollback = std.rollback.standard
//! }
//! ```

use super::blocks::{self, Once};
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::Strategy;

pub(crate) static RULE: Rule = Rule {
    code: "S403",
    name: "step-without-analysis",
    level: Level::Warn,
    category: Category::Strategy,
    summary: "a canary step below 100% checks nothing",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    let mut once = Once::default();
    for r in blocks::releases(ctx) {
        if r.all_triggers().next().is_some() {
            continue;
        }
        for (b, st) in r.strategies.iter().flat_map(|u| match u.bound.body {
            Strategy::Canary { steps, .. } => steps.iter().map(|st| (&u.bound, st)).collect(),
            _ => Vec::new(),
        }) {
            if st.weight.value >= 100.0 || st.require.is_some() {
                continue;
            }
            let span = b.at(blocks::until(
                st.span,
                &[Some(st.weight.span), st.hold.map(|h| h.span)],
            ));
            if !once.first(span, "") {
                continue;
            }
            out.report(
                finding(
                    format!(
                        "canary step `{}` checks nothing in release `{}`",
                        ctx.session.sources.text(st.weight.span),
                        r.release.version.value
                    ),
                    span,
                    "no `require` here and no rollback trigger in the release",
                )
                .with_help("add `require error_rate < 1%` to the step, or rollback triggers to the release"),
            );
        }
    }
}
