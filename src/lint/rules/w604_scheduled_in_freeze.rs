//! ## What it does
//! Flags a planned start (`deployc plan/run/check --start TIME`) that falls in one of the
//! environment's `freeze` periods or outside its `window`.
//!
//! ## Why is this bad?
//! Freezes and windows are agreements: no changes over the holidays, deployments only while
//! the team is there. A run scheduled against them is refused at run time anyway; finding it
//! when the plan is made leaves time to pick another slot.
//!
//! ## Example
//! ```deploy
//! # deployc plan checkout.deploy --env production --start 2026-12-21T10:00:00Z
//! environment production {
//!   freeze = 2026-12-20..2027-01-04
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! # deployc plan checkout.deploy --env production --start 2027-01-05T10:00:00Z
//! ```

use super::w602_window_includes_friday::days;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::Weekday;

pub(crate) static RULE: Rule = Rule {
    code: "W604",
    name: "scheduled-in-freeze",
    level: Level::Deny,
    category: Category::Windows,
    summary: "the planned start falls in a freeze or outside the window",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    let Some(start) = ctx.options.start else {
        return;
    };
    for env in ctx.names.environments() {
        if !ctx.plans().iter().any(|p| p.environment == env.name.name) {
            continue;
        }
        let window = env.window.first();
        // Freeze dates are read in the window's time zone (UTC without a window).
        let tz = window
            .and_then(|w| jiff::tz::TimeZone::get(&w.time_zone.value).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let local = start.to_zoned(tz);
        let date = (local.year(), local.month(), local.day());
        for f in &env.freeze {
            let from = (f.from.value.year, f.from.value.month, f.from.value.day);
            let to = (f.to.value.year, f.to.value.month, f.to.value.day);
            if from <= date && date <= to {
                out.report(
                    finding(
                        format!(
                            "the planned start `{start}` falls in a freeze of `{}`",
                            env.name.name
                        ),
                        f.span,
                        format!("`{}` is frozen", ctx.session.sources.text(f.span)),
                    )
                    .with_help("start after the freeze, or ask whoever set it for an exception"),
                );
            }
        }
        let Some(w) = window else { continue };
        let weekday = match local.weekday() {
            jiff::civil::Weekday::Monday => Weekday::Mon,
            jiff::civil::Weekday::Tuesday => Weekday::Tue,
            jiff::civil::Weekday::Wednesday => Weekday::Wed,
            jiff::civil::Weekday::Thursday => Weekday::Thu,
            jiff::civil::Weekday::Friday => Weekday::Fri,
            jiff::civil::Weekday::Saturday => Weekday::Sat,
            jiff::civil::Weekday::Sunday => Weekday::Sun,
        };
        let minute = u32::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute()))
            .unwrap_or(0);
        let in_day = days(w.first_day.value, w.last_day.value).contains(&weekday);
        let in_hours = if w.from.value < w.to.value {
            w.from.value <= minute && minute < w.to.value
        } else {
            minute >= w.from.value || minute < w.to.value
        };
        if in_day && in_hours {
            continue;
        }
        out.report(
            finding(
                format!(
                    "the planned start `{start}` is outside the window of `{}`",
                    env.name.name
                ),
                super::blocks::window_span(w),
                format!(
                    "deployments run `{}`; the start is {} {:02}:{:02} there",
                    ctx.session.sources.text(super::blocks::window_span(w)),
                    weekday.name(),
                    local.hour(),
                    local.minute()
                ),
            )
            .with_help("pick a start inside the window"),
        );
    }
}
