//! ## What it does
//! Flags a release whose strategy changes traffic progressively (`canary`, `blue_green`,
//! `rolling`) but that has no `auto` rollback trigger. The strategy may be the release's own,
//! an environment's `release { … }` default or the release's `environment NAME { … }` block:
//! each is reported where it is written.
//!
//! ## Why is this bad?
//! A progressive rollout exists so that a bad version is caught while it serves only part of
//! the traffic and rolled back before everyone sees it. Without an automatic trigger, a
//! breach during the rollout is only acted on if a person happens to watch the dashboards;
//! the rollout keeps going while errors pile up.
//!
//! A release whose irreversible migration runs before the rollout is the exception: there an
//! automatic rollback cannot restore the previous state (`auto-rollback-past-point-of-no-return`,
//! R304), so `manual` triggers alone are accepted.
//!
//! ## Example
//! ```deploy
//! release "2.0.0" {
//!   strategy = canary { step 10% for 10m, step 100% }
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! release "2.0.0" {
//!   strategy = canary { step 10% for 10m, step 100% }
//!   rollback = std.rollback.standard
//! }
//! ```

use super::blocks::{self, Once};
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::lower::PhaseName;
use crate::syntax::ast::TriggerKind;

pub(crate) static RULE: Rule = Rule {
    code: "R301",
    name: "no-rollback-trigger",
    level: Level::Deny,
    category: Category::Rollback,
    summary: "a progressive rollout has no automatic rollback trigger",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    // An environment's default is shared by every release: one finding for it.
    let mut once = Once::default();
    for r in blocks::releases(ctx) {
        for s in r.strategies.iter().map(|u| &u.bound) {
            if !s.body.is_progressive() {
                continue;
            }
            if r.all_triggers().any(|(_, t)| t.kind.value == TriggerKind::Auto) {
                continue;
            }
            let manual = r.all_triggers().count();
            // After an irreversible migration before the rollout, automatic rollback cannot
            // restore (R304 asks for `manual` triggers there): manual triggers are right.
            let past_no_return = r.plans(ctx).any(|p| {
                p.plan
                    .phases
                    .iter()
                    .filter(|ph| ph.name == PhaseName::Migrate)
                    .flat_map(|ph| ph.steps.iter())
                    .any(|s| s.point_of_no_return)
            });
            if manual > 0 && past_no_return {
                continue;
            }
            let mut d = finding(
                format!(
                    "release `{}` rolls out with `{}` but has no `auto` rollback trigger",
                    r.release.version.value,
                    s.body.name()
                ),
                s.keyword_span(),
                "traffic moves to the new version step by step here",
            );
            if manual > 0 {
                d = d.with_note("`manual` triggers wait for a person; nothing rolls back by itself");
            }
            if !once.first(s.keyword_span(), "") {
                continue;
            }
            out.report(d.with_help(
                "add a trigger such as `rollback { auto when error_rate > 5% for 5m }`, or `rollback = std.rollback.standard`",
            ));
        }
    }
}
