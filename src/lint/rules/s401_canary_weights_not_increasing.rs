//! ## What it does
//! Flags a canary step whose traffic weight is not higher than the step before it.
//!
//! ## Why is this bad?
//! A canary widens exposure step by step, so each step's analysis judges the new version on
//! more traffic than the last. A step that stays level or goes back repeats or undoes the
//! previous one; usually it is a typo (`50%` written for `15%`) that makes a jump much larger
//! than intended.
//!
//! ## Example
//! ```deploy
//! strategy = canary {
//!   step 25% for 10m
//!   step 10% for 10m
//!   step 100%
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! strategy = canary {
//!   step 10% for 10m
//!   step 25% for 10m
//!   step 100%
//! }
//! ```

use super::blocks;
use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::Strategy;

pub(crate) static RULE: Rule = Rule {
    code: "S401",
    name: "canary-weights-not-increasing",
    level: Level::Deny,
    category: Category::Strategy,
    summary: "canary step weights are not strictly increasing",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for s in blocks::user_strategies(ctx) {
        let Strategy::Canary { steps, .. } = s else { continue };
        for pair in steps.windows(2) {
            let [prev, step] = pair else { continue };
            if step.weight.value > prev.weight.value {
                continue;
            }
            let text = |x: &crate::syntax::ast::CanaryStep| ctx.session.sources.text(x.weight.span).to_string();
            out.report(
                finding(
                    format!(
                        "canary step `{}` does not increase the traffic of the step before it",
                        text(step)
                    ),
                    step.weight.span,
                    "not more than the previous step",
                )
                .with_label(Label::secondary(
                    prev.weight.span,
                    format!("the previous step already sends `{}`", text(prev)),
                ))
                .with_help("order the steps by weight, each one higher than the last"),
            );
        }
    }
}
