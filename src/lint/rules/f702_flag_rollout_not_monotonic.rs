//! ## What it does
//! Flags a flag schedule whose days are not strictly increasing, or whose share goes down
//! from one day to a later one of the same segment: in a release, in its environment blocks and
//! in an environment's `release { … }` defaults.
//!
//! ## Why is this bad?
//! A rollout schedule is read top to bottom as a timeline that widens exposure. A day listed
//! out of order, or a share that drops, is almost always a typo (`day 2` for `day 12`, `5%`
//! for `50%`); applied as written it takes the feature away from users who already had it.
//!
//! ## Example
//! ```deploy
//! flag new_search {
//!   day 1 25%
//!   day 3 10%
//!   day 2 100%
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! flag new_search {
//!   day 1 10%
//!   day 2 25%
//!   day 3 100%
//! }
//! ```

use super::blocks;
use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};

pub(crate) static RULE: Rule = Rule {
    code: "F702",
    name: "flag-rollout-not-monotonic",
    level: Level::Deny,
    category: Category::Flags,
    summary: "a flag's rollout goes back in days or in share",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    let text = |s| ctx.session.sources.text(s).to_string();
    for f in blocks::flag_schedules(ctx) {
        for pair in f.days.windows(2) {
            let [prev, day] = pair else { continue };
            if day.day.value <= prev.day.value {
                out.report(
                    finding(
                        format!(
                            "flag `{}` lists day {} after day {}",
                            f.name.name, day.day.value, prev.day.value
                        ),
                        day.day.span,
                        "not later than the day before it",
                    )
                    .with_label(Label::secondary(prev.day.span, "the previous day"))
                    .with_help("list the days in increasing order, each one once"),
                );
            }
        }
        // Shares compare within one segment: `5% of internal` then `25% of beta` is
        // a different population, not a step back.
        for (i, day) in f.days.iter().enumerate() {
            let segment = day.segment.as_ref().map(|s| s.name.as_str());
            let Some(prev) = f
                .days
                .iter()
                .take(i)
                .rev()
                .find(|p| p.segment.as_ref().map(|s| s.name.as_str()) == segment)
            else {
                continue;
            };
            if day.percent.value >= prev.percent.value {
                continue;
            }
            out.report(
                finding(
                    format!(
                        "flag `{}` goes down from `{}` to `{}`",
                        f.name.name,
                        text(prev.percent.span),
                        text(day.percent.span)
                    ),
                    day.percent.span,
                    "less than on an earlier day",
                )
                .with_label(Label::secondary(prev.percent.span, "the earlier share"))
                .with_note("applied as written, the feature is taken away from users who had it")
                .with_help("keep each share at least as high as the one before it"),
            );
        }
    }
}
