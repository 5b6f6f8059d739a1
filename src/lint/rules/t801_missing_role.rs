//! ## What it does
//! Flags a release with a monitoring period (`monitor D`, D above zero) while the team has
//! no `monitor` role: its own, or the one an environment runs it with (an environment's
//! `release { … }` defaults or the release's `environment NAME { … }` block).
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
    // One finding for the whole program: the fix is one line in `team`.
    // A release is monitored if it is anywhere: by its own `monitor` or by the one an
    // environment runs it with.
    let monitored: Vec<_> = ctx
        .names
        .releases()
        .filter_map(|(module, r)| {
            let in_envs = ctx
                .names
                .environments()
                .flat_map(|e| ctx.names.settings_in(module, r, e).monitor.value);
            r.monitor
                .iter()
                .chain(in_envs)
                .find(|m| m.duration.value > 0)
                .map(|m| (r, m))
        })
        .collect();
    let Some((first, m)) = monitored.first() else {
        return;
    };
    let mut d = finding(
        format!(
            "release `{}` is monitored but the team has no `monitor` role",
            first.version.value
        ),
        super::blocks::monitor_span(m),
        "someone must watch while the triggers are armed",
    );
    let others: Vec<String> = monitored
        .iter()
        .skip(1)
        .map(|(r, _)| format!("`{}`", r.version.value))
        .collect();
    if !others.is_empty() {
        d = d.with_note(format!("monitored too: {}", others.join(", ")));
    }
    out.report(d.with_help("name who watches: `monitor = \"lee@example.com\"` in `team`"));
}
