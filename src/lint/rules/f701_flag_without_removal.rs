//! ## What it does
//! Flags a feature flag without `remove by day N`: in a release, in its environment blocks and
//! in an environment's `release { … }` defaults.
//!
//! ## Why is this bad?
//! Every flag is a branch in the code that someone must keep working both ways. Without a
//! deadline, flags outlive their rollout by years; the dead branch rots until someone flips
//! the flag back by mistake.
//!
//! ## Example
//! ```deploy
//! flag new_checkout {
//!   initially off
//!   day 1 10%
//!   day 3 100%
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! flag new_checkout {
//!   initially off
//!   day 1 10%
//!   day 3 100%
//!   remove by day 14
//! }
//! ```

use super::blocks;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};

pub(crate) static RULE: Rule = Rule {
    code: "F701",
    name: "flag-without-removal",
    level: Level::Warn,
    category: Category::Flags,
    summary: "a feature flag has no removal deadline",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    // Each schedule where it is written: one that an environment runs instead of the
    // release's needs its own deadline.
    for f in blocks::flag_schedules(ctx)
        .into_iter()
        .filter(|f| f.remove_by.is_empty())
    {
        let last = f.days.iter().map(|d| d.day.value).max().unwrap_or(0);
        out.report(
            finding(
                format!("flag `{}` has no removal deadline", f.name.name),
                f.name.span,
                "no `remove by day …`",
            )
            .with_help(format!(
                "say when the flag leaves the code: `remove by day {}`",
                last + 14
            )),
        );
    }
}
