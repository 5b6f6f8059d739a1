//! ## What it does
//! Flags a production environment (named `production` or marked `production`) without a
//! `window`.
//!
//! ## Why is this bad?
//! Without a window, a deployment to production can start at any hour: on a Friday evening,
//! during the night, when nobody who could help is around. The window states when the team
//! accepts the risk, and deployc checks every run against it.
//!
//! ## Example
//! ```deploy
//! environment production {
//!   provider = command { deploy = "./deploy.sh {version}" }
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! environment production {
//!   provider = command { deploy = "./deploy.sh {version}" }
//!   window   = mon..thu 09:00..16:00 "Europe/Berlin"
//! }
//! ```

use super::blocks::is_production;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};

pub(crate) static RULE: Rule = Rule {
    code: "W601",
    name: "production-without-window",
    level: Level::Warn,
    category: Category::Windows,
    summary: "a production environment has no deploy window",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for env in ctx.names.environments() {
        if !is_production(env) || !env.window.is_empty() {
            continue;
        }
        out.report(
            finding(
                format!("production environment `{}` has no deploy window", env.name.name),
                env.name.span,
                "deployments may start here at any time",
            )
            .with_help("say when deployments may run: `window = mon..thu 09:00..16:00 \"Europe/Berlin\"`"),
        );
    }
}
