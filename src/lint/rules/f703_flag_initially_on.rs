//! ## What it does
//! Flags a feature flag that starts `initially on` in the release that introduces it.
//!
//! ## Why is this bad?
//! A new flag exists to expose new code gradually. Starting it on exposes everyone the
//! moment the release is deployed, before any day of the schedule: the flag offers no
//! protection and the schedule below it is misleading.
//!
//! ## Example
//! ```deploy
//! flag new_search {
//!   initially on
//!   day 1 10%
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! flag new_search {
//!   initially off
//!   day 1 10%
//! }
//! ```

use crate::lint::{Category, Context, Findings, Level, Rule, finding};

pub(crate) static RULE: Rule = Rule {
    code: "F703",
    name: "flag-initially-on",
    level: Level::Warn,
    category: Category::Flags,
    summary: "a new feature flag starts on",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    let mut seen: Vec<&str> = Vec::new();
    for (_, r) in ctx.names.releases() {
        for f in &r.flags {
            let new = !seen.contains(&f.name.name.as_str());
            seen.push(&f.name.name);
            let Some(on) = f.initially.first().filter(|i| i.value) else {
                continue;
            };
            if !new {
                continue;
            }
            out.report(
                finding(
                    format!(
                        "new flag `{}` starts on in release `{}`",
                        f.name.name, r.version.value
                    ),
                    on.span,
                    "every user gets the new code as soon as the release is deployed",
                )
                .with_help("start it `initially off` and let the schedule turn it on"),
            );
        }
    }
}
