//! ## What it does
//! Flags a `contract` migration that runs before the application deploy of its release has
//! finished: before its deploy steps, or while `blue_green`'s `keep_previous` still keeps
//! the previous version ready to take traffic back.
//!
//! ## Why is this bad?
//! A contract removes the old shape of the schema, which only the previous version uses.
//! The language already orders contracts after the deploy (an `after` that would put one
//! earlier is a cycle, E4xx), so what remains is the time the deploy keeps the previous
//! version alive: with `keep_previous 2h`, switching back to it stays one step away for two
//! hours, and a contract that ran meanwhile makes that switch an outage.
//!
//! ## Example
//! ```deploy
//! release "2.2.0" {
//!   strategy = blue_green { …, keep_previous 2h }
//!   migrations { contract drop_legacy_email of add_email_address { … } }
//!   monitor 30m
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! release "2.2.0" {
//!   strategy = blue_green { …, keep_previous 30m }
//!   migrations { contract drop_legacy_email of add_email_address { … } }
//!   monitor 30m
//! }
//! ```

use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::lower::plan::{Action, PhaseName};
use crate::syntax::ast::{Phase, Strategy};

pub(crate) static RULE: Rule = Rule {
    code: "M205",
    name: "contract-before-deploy",
    level: Level::Deny,
    category: Category::Migrations,
    summary: "a contract migration runs before the application deploy of its release has finished",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    // Contracts always run after the deploy steps (the migration order makes sure); what
    // remains is `keep_previous`, so only releases with a contract and a `blue_green`
    // strategy that keeps the previous version are lowered.
    let pairs: Vec<(String, String)> = ctx
        .names
        .releases()
        .filter(|(_, r)| r.migrations.iter().any(|m| m.phase.value == Phase::Contract))
        .filter(|(module, r)| {
            ctx.strategies(*module, r).into_iter().any(|s| {
                matches!(s, Strategy::BlueGreen { keep_previous, .. } if !keep_previous.is_empty())
            })
        })
        .flat_map(|(_, r)| {
            ctx.names
                .environments()
                .map(|e| (r.version.value.clone(), e.name.name.clone()))
        })
        .collect();
    for lp in pairs.iter().filter_map(|(r, e)| ctx.plan(r, e)) {
        let steps: Vec<_> = lp
            .plan
            .phases
            .iter()
            .flat_map(|p| p.steps.iter().map(move |s| (p.name, s)))
            .collect();
        let last_deploy = steps.iter().rposition(|(p, _)| *p == PhaseName::Deploy);
        let kept = steps.iter().find_map(|(_, s)| match s.action {
            Action::KeepPrevious { duration_ms } => {
                Some((s, s.starts_at_ms.saturating_add(duration_ms)))
            }
            _ => None,
        });
        for (i, (_, step)) in steps.iter().enumerate() {
            let Action::Migrate { name, phase, .. } = &step.action else {
                continue;
            };
            if phase != "contract" {
                continue;
            }
            let Some(span) = ctx
                .names
                .releases()
                .filter(|(_, r)| r.version.value == lp.release)
                .flat_map(|(_, r)| r.migrations.iter())
                .find(|m| m.name.name == *name)
                .map(|m| m.name.span)
                .or_else(|| ctx.step_span(step))
            else {
                continue;
            };
            if last_deploy.is_some_and(|d| i < d) {
                out.report(
                    finding(
                        format!("contract `{name}` runs before the deploy of `{}`", lp.release),
                        span,
                        "runs while the previous version serves traffic",
                    )
                    .with_help("order the contract after the deploy"),
                );
            } else if let Some((keep, until)) = kept
                && step.starts_at_ms < until
            {
                let mut d = finding(
                    format!(
                        "contract `{name}` runs while the previous version is kept ready in `{}`",
                        lp.environment
                    ),
                    span,
                    "switching back to the previous version would break after this",
                );
                if let Some(k) = ctx.step_span(keep) {
                    d = d.with_label(Label::secondary(k, "the previous version is kept until this ends"));
                }
                out.report(d.with_help(
                    "shorten `keep_previous` to end before the contract, or move the contract to the next release",
                ));
            }
        }
    }
}
