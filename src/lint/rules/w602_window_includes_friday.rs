//! ## What it does
//! Flags a production window that includes Friday, Saturday or Sunday.
//!
//! ## Why is this bad?
//! Problems from a deployment often show up hours or a day later. A Friday deployment leaves
//! them to the weekend, when the people who know the change are away and the on-call
//! engineer has the least help.
//!
//! ## Example
//! ```deploy
//! environment production {
//!   window = mon..fri 09:00..16:00 "Europe/Berlin"
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! environment production {
//!   window = mon..thu 09:00..16:00 "Europe/Berlin"
//! }
//! ```
//! A maintenance window that must be at the weekend is a deliberate choice: suppress the
//! finding there with the reason.

use super::blocks::is_production;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::Weekday;

pub(crate) static RULE: Rule = Rule {
    code: "W602",
    name: "window-includes-friday",
    level: Level::Warn,
    category: Category::Windows,
    summary: "a production window includes Friday or the weekend",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for env in ctx.names.environments() {
        if !is_production(env) {
            continue;
        }
        for w in &env.window {
            let days = days(w.first_day.value, w.last_day.value);
            let late: Vec<&str> = days
                .iter()
                .filter(|d| matches!(d, Weekday::Fri | Weekday::Sat | Weekday::Sun))
                .map(|d| d.name())
                .collect();
            if late.is_empty() {
                continue;
            }
            let span = w.first_day.span.to(w.last_day.span);
            let list: Vec<String> = late.iter().map(|d| format!("`{d}`")).collect();
            out.report(
                finding(
                    format!(
                        "the window of production environment `{}` includes {}",
                        env.name.name,
                        list.join(", ")
                    ),
                    span,
                    "this range reaches the end of the week",
                )
                .with_note("problems found after a deployment then fall to the weekend on-call")
                .with_help("end the window on Thursday (`mon..thu`)"),
            );
        }
    }
}

/// The days from `first` to `last`, wrapping past Sunday.
pub(super) fn days(first: Weekday, last: Weekday) -> Vec<Weekday> {
    let (a, b) = (usize::from(first.index()), usize::from(last.index()));
    let count = if b >= a { b - a + 1 } else { b + 7 - a + 1 };
    (0..count)
        .filter_map(|i| Weekday::ALL.get((a + i) % 7).copied())
        .collect()
}
