//! ## What it does
//! Flags a release whose plan, from T-0 to the end of monitoring, takes longer than one day's
//! deploy window of the environment. Flag schedules and check-ins, which run on later days,
//! do not count.
//!
//! ## Why is this bad?
//! Started when the window opens, the deployment or its monitoring is still running when the
//! window closes: the team either stops watching a release whose rollback triggers are still
//! armed, or works outside the hours everyone agreed to.
//!
//! ## Example
//! ```deploy
//! environment production { window = mon..thu 10:00..16:00 "America/New_York" }
//! release "5.8.0" {
//!   monitor 1d
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! release "5.8.0" {
//!   monitor 4h then checkins +1d
//! }
//! ```

use super::blocks::{self, release_span, window_ms};
use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::lower::fmt_ms;

pub(crate) static RULE: Rule = Rule {
    code: "W603",
    name: "plan-longer-than-window",
    level: Level::Deny,
    category: Category::Windows,
    summary: "the plan does not fit in one deploy window",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for r in blocks::releases(ctx) {
        for p in r.plans(ctx) {
            let Some(env) = blocks::environment_of(ctx, p)
            else {
                continue;
            };
            let Some(w) = env.window.first() else { continue };
            let window = window_ms(w);
            let expected = p.plan.timeline.expected_ms;
            if expected <= window {
                continue;
            }
            out.report(
                finding(
                    format!(
                        "release `{}` takes longer in `{}` than its deploy window",
                        p.release, p.environment
                    ),
                    release_span(r),
                    format!(
                        "`{}` from T-0 to the end of monitoring",
                        fmt_ms(expected)
                    ),
                )
                .with_label(Label::secondary(
                    blocks::window_span(w),
                    format!("this window is `{}` long", fmt_ms(window)),
                ))
                .with_help(
                    "monitor for less and follow up with check-ins (`monitor 2h then checkins +24h`), or widen the window",
                ),
            );
        }
    }
}
