//! ## What it does
//! Flags a release with a monitoring period (`monitor D`, D above zero) while the team has
//! no `monitor` role.
//!
//! ## Why is this bad?
//! During monitoring the rollback triggers are armed and someone is expected to watch the
//! dashboards, answer the alerts and take `manual` decisions. If the team names nobody for
//! it, everybody assumes somebody else is watching.
//!
//! Roles named by approvals, `rollback_decision` and `confirm … by` must exist already
//! (an error otherwise), so monitoring is the role a plan can need without naming it.
//!
//! ## Example
//! ```deploy
//! team { lead = "dana@example.com" }
//! release "2.0.0" { monitor 1h }
//! ```
//!
//! ## Use instead
//! ```deploy
//! team {
//!   lead    = "dana@example.com"
//!   monitor = "lee@example.com"
//! }
//! ```

use crate::lint::{Category, Context, Findings, Level, Rule, finding};

pub(crate) static RULE: Rule = Rule {
    code: "T801",
    name: "missing-role",
    level: Level::Warn,
    category: Category::Team,
    summary: "a role the plan needs is not set",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    if ctx.names.roles().any(|r| r.name.name == "monitor") {
        return;
    }
    for (_, r) in ctx.names.releases() {
        let Some(m) = r.monitor.first().filter(|m| m.duration.value > 0) else {
            continue;
        };
        out.report(
            finding(
                format!(
                    "release `{}` is monitored but the team has no `monitor` role",
                    r.version.value
                ),
                super::blocks::monitor_span(m),
                "someone must watch while the triggers are armed",
            )
            .with_help("name who watches: `monitor = \"lee@example.com\"` in `team`"),
        );
    }
}
