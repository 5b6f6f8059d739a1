//! ## What it does
//! Flags a feature flag that starts `initially on` in the release that introduces it, in
//! every schedule the release runs: its own, an environment's `release { … }` defaults and
//! the release's `environment NAME { … }` blocks.
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
use crate::source::Span;
use crate::syntax::ast::Flag;

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
    // Flag names some earlier release already ran, in any environment.
    let mut earlier: Vec<&str> = Vec::new();
    let mut reported: Vec<Span> = Vec::new();
    for (module, r) in ctx.names.releases() {
        // Every schedule the release runs: its own, and in each environment the one the
        // environment's defaults or the release's environment block give instead.
        let mut runs: Vec<&Flag> = r.flags.iter().collect();
        for env in ctx.names.environments() {
            runs.extend(ctx.names.settings_in(module, r, env).flags);
        }
        for f in &runs {
            if earlier.contains(&f.name.name.as_str()) {
                continue;
            }
            let Some(on) = f.initially.first().filter(|i| i.value) else {
                continue;
            };
            // A schedule several environments share is one place to fix.
            if reported.contains(&on.span) {
                continue;
            }
            reported.push(on.span);
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
        earlier.extend(runs.iter().map(|f| f.name.name.as_str()));
    }
}
