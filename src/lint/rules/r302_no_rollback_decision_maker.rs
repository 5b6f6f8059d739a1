//! ## What it does
//! Flags `manual` rollback triggers when `team.rollback_decision` names nobody.
//!
//! ## Why is this bad?
//! A `manual` trigger stops and asks the roles in `team.rollback_decision` whether to roll
//! back. With no such roles, nobody is asked, or everyone is: at the moment the metric is
//! breached, the team first has to work out who may decide.
//!
//! ## Example
//! ```deploy
//! team { lead = "dana@example.com" }
//! release "2.0.0" {
//!   rollback { manual when signups < 80% of baseline for 30m }
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! team {
//!   lead = "dana@example.com"
//!   rollback_decision = lead
//! }
//! ```

use super::blocks::{self, Once};
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::TriggerKind;

pub(crate) static RULE: Rule = Rule {
    code: "R302",
    name: "no-rollback-decision-maker",
    level: Level::Warn,
    category: Category::Rollback,
    summary: "manual rollback triggers exist but no role decides them",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    let team = ctx.names.team();
    if team.is_some_and(|t| t.rollback_decision.iter().any(|(roles, _)| !roles.is_empty())) {
        return;
    }
    let mut once = Once::default();
    for r in blocks::releases(ctx) {
        for (b, t) in r.all_triggers() {
            if t.kind.value != TriggerKind::Manual {
                continue;
            }
            let span = b.at(blocks::trigger_span(t));
            if !once.first(span, "") {
                continue;
            }
            let d = finding(
                "a `manual` rollback trigger has nobody to decide it",
                span,
                "this trigger asks the roles in `team.rollback_decision`",
            )
            .with_note(match team {
                Some(_) => "`team` sets no `rollback_decision`",
                None => "the program has no `team`",
            });
            out.report(d.with_help(
                "name the roles who decide rollbacks: `rollback_decision = lead, on_call` in `team`",
            ));
        }
    }
}
