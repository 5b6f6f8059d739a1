//! ## What it does
//! Flags a release whose plan, started when the deploy window opens, could still be rolling
//! back after the window closes: its expected duration to the end of monitoring, plus the
//! worst-case time to detect a breach, plus the worst-case rollback, is longer than the
//! window.
//!
//! ## Why is this bad?
//! The window is when the team is there and the business accepts risk. A breach found late
//! in monitoring starts a rollback that ends outside it, with fewer people around and under
//! more pressure. (A plan that does not fit in the window even without a rollback is
//! reported by `plan-longer-than-window`, W603.)
//!
//! ## Example
//! ```deploy
//! environment production { window = tue..thu 09:00..11:00 "Europe/Berlin" }
//! release "2.0.0" {
//!   rollback { auto when error_rate > 5% for 30m }
//!   monitor 90m
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! environment production { window = tue..thu 09:00..13:00 "Europe/Berlin" }
//! ```
//! or monitor for less, or detect faster.

use super::blocks;
use super::blocks::{release_span, window_ms};
use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::lower::fmt_ms;

pub(crate) static RULE: Rule = Rule {
    code: "R308",
    name: "rollback-slower-than-window",
    level: Level::Warn,
    category: Category::Rollback,
    summary: "a rollback late in the plan ends after the deploy window closes",
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
            let t = &p.plan.timeline;
            let worst = t
                .expected_ms
                .saturating_add(t.worst_case_detection_ms)
                .saturating_add(t.worst_case_rollback_ms);
            // Longer than the window without a rollback: W603 reports it.
            if t.expected_ms > window || worst <= window {
                continue;
            }
            out.report(
                finding(
                    format!(
                        "a rollback of release `{}` in `{}` can end after the window closes",
                        p.release, p.environment
                    ),
                    release_span(r),
                    format!(
                        "`{}` to the end of monitoring, up to `{}` to detect a breach and `{}` to roll back",
                        fmt_ms(t.expected_ms),
                        fmt_ms(t.worst_case_detection_ms),
                        fmt_ms(t.worst_case_rollback_ms)
                    ),
                )
                .with_label(Label::secondary(
                    blocks::window_span(w),
                    format!("this window is `{}` long", fmt_ms(window)),
                ))
                .with_note(format!(
                    "started when the window opens, the worst case ends `{}` after it closes",
                    fmt_ms(worst - window)
                ))
                .with_help("monitor for less, detect faster (shorter `for` windows), or widen the window"),
            );
        }
    }
}
