//! ## What it does
//! Flags a canary whose last step is not `100%`.
//!
//! ## Why is this bad?
//! When the last step passes, the rollout is over, but part of the traffic still goes to the
//! old version. The release is declared done while two versions serve users, and the next
//! release starts from an unclear state.
//!
//! ## Example
//! ```deploy
//! strategy = canary {
//!   step 10% for 10m
//!   step 50% for 10m
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! strategy = canary {
//!   step 10% for 10m
//!   step 50% for 10m
//!   step 100%
//! }
//! ```

use super::blocks;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::Strategy;

pub(crate) static RULE: Rule = Rule {
    code: "S402",
    name: "canary-never-completes",
    level: Level::Deny,
    category: Category::Strategy,
    summary: "the last canary step is not 100%",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for s in blocks::user_strategies(ctx) {
        let Strategy::Canary { steps, .. } = s else { continue };
        let Some(last) = steps.last() else { continue };
        if last.weight.value >= 100.0 {
            continue;
        }
        out.report(
            finding(
                "the canary never sends all traffic to the new version",
                last.weight.span,
                format!(
                    "the last step stops at `{}`",
                    ctx.session.sources.text(last.weight.span)
                ),
            )
            .with_help("end the canary with `step 100%`"),
        );
    }
}
