//! ## What it does
//! Flags an approval gate (`approval = ROLE`, `switch after approval ROLE`) or a `manual`
//! rollback trigger without `timeout … else …`.
//!
//! ## Why is this bad?
//! A gate waits for a person. Without a timeout, the deployment waits for as long as nobody
//! answers: half-rolled-out, outside the window, with the team gone home. A manual trigger
//! that nobody decides leaves a breached metric unanswered for as long.
//!
//! ## Example
//! ```deploy
//! environment production {
//!   approval = lead
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! environment production {
//!   approval = lead timeout 30m else abort
//! }
//! ```

use super::blocks::{self, Once};
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::{Strategy, TriggerKind};

pub(crate) static RULE: Rule = Rule {
    code: "R307",
    name: "gate-without-timeout",
    level: Level::Warn,
    category: Category::Rollback,
    summary: "an approval or manual trigger waits forever",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for env in ctx.names.environments() {
        for a in env.approval.iter().filter(|a| a.timeout.is_none()) {
            out.report(
                finding(
                    format!(
                        "the approval by `{}` in `{}` waits forever",
                        a.role.name, env.name.name
                    ),
                    blocks::until(a.span, &[Some(a.role.span)]),
                    "no timeout",
                )
                .with_help(format!(
                    "bound the wait: `approval = {} timeout 30m else abort`",
                    a.role.name
                )),
            );
        }
    }
    let mut once = Once::default();
    for r in blocks::releases(ctx) {
        for b in r.strategies.iter().map(|u| &u.bound) {
            let Strategy::BlueGreen { switch, .. } = b.body else {
                continue;
            };
            for a in switch.iter().filter_map(|s| s.approval.as_ref()) {
                let span = b.at(blocks::until(a.span, &[Some(a.role.span)]));
                if a.timeout.is_some() || !once.first(span, "") {
                    continue;
                }
                out.report(
                    finding(
                        format!("the switch approval by `{}` waits forever", a.role.name),
                        span,
                        "no timeout",
                    )
                    .with_help(format!(
                        "bound the wait: `switch after approval {} timeout 30m else abort`",
                        a.role.name
                    )),
                );
            }
        }
        for (b, t) in r.all_triggers() {
            let span = b.at(blocks::trigger_span(t));
            if t.kind.value != TriggerKind::Manual || t.timeout.is_some() || !once.first(span, "")
            {
                continue;
            }
            out.report(
                finding(
                    "a `manual` rollback trigger waits forever for a decision",
                    span,
                    "no timeout",
                )
                .with_note("while nobody decides, the breached metric goes unanswered")
                .with_help("say how long the decision may take and what then: add `timeout 20m else rollback`"),
            );
        }
    }
}
