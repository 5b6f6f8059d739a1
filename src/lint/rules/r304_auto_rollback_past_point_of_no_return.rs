//! ## What it does
//! Flags an `auto` rollback trigger that is still armed after the plan's point of no return:
//! an irreversible migration that runs before the traffic change.
//!
//! ## Why is this bad?
//! After an irreversible migration, rolling back the application does not restore the
//! previous state: the old version meets a schema it was not written for, and only a restore
//! from the backup brings the data back. An automatic rollback at that point acts on its own
//! and can make things worse; a person must choose between restoring and fixing forward.
//!
//! ## Example
//! ```deploy
//! release "2.0.0" {
//!   strategy = canary { step 10% for 10m, step 100% }
//!   migrations {
//!     expand drop_nickname {
//!       up = sql "ALTER TABLE users DROP COLUMN nickname"
//!       irreversible "the column is gone"
//!     }
//!   }
//!   rollback { auto when error_rate > 5% for 5m }
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! rollback { manual when error_rate > 5% for 5m timeout 15m else abort }
//! ```
//! or move the irreversible change to a `contract` migration, which runs after monitoring.

use super::blocks::{self, Once};
use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::lower::PhaseName;
use crate::syntax::ast::TriggerKind;

pub(crate) static RULE: Rule = Rule {
    code: "R304",
    name: "auto-rollback-past-point-of-no-return",
    level: Level::Deny,
    category: Category::Rollback,
    summary: "an automatic rollback trigger is armed after an irreversible step",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    let mut once = Once::default();
    for r in blocks::releases(ctx) {
        for p in r.plans(ctx) {
            // The schedule (flag days) is a run of its own whose rollback turns flags back
            // only: its armed triggers undo no migration.
            let steps: Vec<_> = p
                .plan
                .phases
                .iter()
                .filter(|ph| ph.name != PhaseName::Schedule)
                .flat_map(|ph| ph.steps.iter())
                .collect();
            let Some(at) = steps.iter().position(|s| s.point_of_no_return) else {
                continue;
            };
            let armed_after = steps
                .iter()
                .skip(at + 1)
                .any(|s| s.guards.iter().any(|g| g.kind == "trigger"));
            if !armed_after {
                continue;
            }
            let pnr = steps.get(at).copied();
            let migration = pnr
                .and_then(|s| s.id.strip_prefix("migrate."))
                .unwrap_or_default();
            for (b, t) in r.all_triggers() {
                if t.kind.value != TriggerKind::Auto {
                    continue;
                }
                let span = b.at(blocks::trigger_span(t));
                if !once.first(span, &format!("{}:{}", r.release.version.value, t.span.start)) {
                    continue;
                }
                let mut d = finding(
                    format!(
                        "automatic rollback stays armed after irreversible migration `{migration}`"
                    ),
                    span,
                    "this trigger rolls back by itself",
                );
                if let Some(s) = pnr.and_then(|s| ctx.step_span(s)) {
                    d = d.with_label(Label::secondary(
                        s,
                        "after this migration a rollback cannot restore the previous state",
                    ));
                }
                out.report(
                    d.with_note(format!(
                        "release `{}` runs the migration before the traffic change",
                        r.release.version.value
                    ))
                    .with_help(
                        "make the trigger `manual` so a person chooses between restoring the backup and fixing forward, or move the irreversible change to a `contract` migration in a later release",
                    ),
                );
            }
        }
    }
}
