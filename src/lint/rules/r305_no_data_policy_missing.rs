//! ## What it does
//! Flags a canary or blue/green strategy, or a written `analysis` clause, without a
//! `no_data` policy, in every strategy a release runs with (its own, an environment's
//! default, its environment blocks), where the strategy is written.
//!
//! ## Why is this bad?
//! Metrics go missing: a scrape fails, the new version receives no traffic yet, a label is
//! misspelt. Without a policy, what the analysis does with an empty result is left to a
//! default the reviewer does not see; a canary may pass its checks on no data at all.
//!
//! ## Example
//! ```deploy
//! strategy = canary {
//!   analysis every 1m
//!   step 10% for 10m require error_rate < 1%
//!   step 100%
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! strategy = canary {
//!   analysis every 1m, no_data fail after 3
//!   step 10% for 10m require error_rate < 1%
//!   step 100%
//! }
//! ```

use super::blocks::{self, Once};
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::Strategy;

pub(crate) static RULE: Rule = Rule {
    code: "R305",
    name: "no-data-policy-missing",
    level: Level::Warn,
    category: Category::Rollback,
    summary: "an analysis has no `no_data` policy",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    let mut once = Once::default();
    for r in blocks::releases(ctx) {
        for b in r.strategies.iter().map(|u| &u.bound) {
            let Some(analysis) = b.body.analysis() else {
                continue;
            };
            if analysis.no_data.is_some() {
                continue;
            }
            // Canary steps and the blue/green preview are always analysed; a rolling update
            // only when an `analysis` clause is written.
            let analysed = matches!(b.body, Strategy::Canary { .. } | Strategy::BlueGreen { .. })
                || analysis.span.is_some();
            if !analysed {
                continue;
            }
            let span = b.at(
                analysis
                    .span
                    .map(|s| blocks::until(s, &[analysis.every.map(|e| e.span)]))
                    .unwrap_or_else(|| blocks::head(b.body.span(), b.body.name().len())),
            );
            if !once.first(span, "") {
                continue;
            }
            let label = if analysis.span.is_some() {
                "this analysis says nothing about missing data"
            } else {
                "this strategy is analysed but says nothing about missing data"
            };
            out.report(
                finding(
                    format!(
                        "the `{}` analysis has no `no_data` policy",
                        b.body.name()
                    ),
                    span,
                    label,
                )
                .with_help(
                    "say what missing metrics mean: `analysis every 1m, no_data fail after 3` (or `pause`, `pass`)",
                ),
            );
        }
    }
}
