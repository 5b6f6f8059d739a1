//! ## What it does
//! Flags a canary whose first step sends more than 25% of the traffic to the new version.
//!
//! ## Why is this bad?
//! The first step is where a bad version is expected to be caught. The larger it is, the
//! more users meet the bug before any analysis ran; at 50% the canary is half a full rollout
//! before the first check.
//!
//! ## Example
//! ```deploy
//! strategy = canary { step 50% for 10m, step 100% }
//! ```
//!
//! ## Use instead
//! ```deploy
//! strategy = canary { step 5% for 10m, step 50% for 10m, step 100% }
//! ```

use super::blocks;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::Strategy;

pub(crate) static RULE: Rule = Rule {
    code: "S405",
    name: "large-first-step",
    level: Level::Warn,
    category: Category::Strategy,
    summary: "the first canary step exposes more than 25% of the traffic",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for s in blocks::user_strategies(ctx) {
        let Strategy::Canary { steps, .. } = s else { continue };
        let Some(first) = steps.first() else { continue };
        if first.weight.value <= 25.0 {
            continue;
        }
        out.report(
            finding(
                format!(
                    "the first canary step sends `{}` of the traffic to the new version",
                    ctx.session.sources.text(first.weight.span)
                ),
                first.weight.span,
                "more than 25% before the first analysis",
            )
            .with_help("start small (`step 5%` or `step 10%`) and widen once it passes"),
        );
    }
}
