//! ## What it does
//! Flags a rollback trigger whose `for` window is longer than the whole time it is armed:
//! from the first traffic change to the end of monitoring, at the longest the plan allows.
//!
//! ## Why is this bad?
//! A trigger fires only after its condition has held for the whole `for` window. If the
//! rollout and the monitoring period end first, the trigger is disarmed before it can ever
//! fire: it looks like protection in review and does nothing during the deployment.
//!
//! The rule reports a trigger only where the armed time is bounded by the plan in every
//! environment the release is planned for: a rolling update on a provider whose number of
//! instances is not known, or a gate without a timeout, can last arbitrarily long.
//!
//! ## Example
//! ```deploy
//! release "2.0.0" {
//!   strategy = canary { step 10% for 5m, step 100% }
//!   rollback { auto when latency_p95 > 2x baseline for 30m }
//!   monitor 10m
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! release "2.0.0" {
//!   strategy = canary { step 10% for 5m, step 100% }
//!   rollback { auto when latency_p95 > 2x baseline for 5m }
//!   monitor 30m
//! }
//! ```

use super::blocks;
use crate::lint::{Category, Context, Findings, Level, LintPlan, Rule, finding};
use crate::lower::{Action, fmt_ms};
use crate::syntax::ast::Provider;

pub(crate) static RULE: Rule = Rule {
    code: "R303",
    name: "trigger-never-fires",
    level: Level::Deny,
    category: Category::Rollback,
    summary: "a trigger's `for` window is longer than the time it is armed",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for r in blocks::releases(ctx) {
        // The longest armed time over the release's environments; `None` when unbounded.
        let mut longest: Option<(u64, &str)> = None;
        let mut planned = false;
        let mut bounded = true;
        for p in r.plans(ctx) {
            planned = true;
            match armed_at_most(ctx, p) {
                Some(ms) => {
                    if longest.is_none_or(|(l, _)| ms > l) {
                        longest = Some((ms, p.environment.as_str()));
                    }
                }
                None => bounded = false,
            }
        }
        let (true, true, Some((armed, env))) = (planned, bounded, longest) else {
            continue;
        };
        for (b, t) in r.all_triggers() {
            let Some(hold) = t.hold else { continue };
            let hold_ms = u64::try_from(hold.value).unwrap_or(0);
            if hold_ms <= armed {
                continue;
            }
            let condition = ctx.session.sources.text(t.condition.span());
            let d = finding(
                format!(
                    "trigger `{condition}` can never fire in release `{}`",
                    r.release.version.value
                ),
                b.at(hold.span),
                format!("the condition must hold for `{}`", fmt_ms(hold_ms)),
            )
            .with_note(format!(
                "the trigger is armed for at most `{}` (rollout and monitoring, in `{env}`), then disarmed",
                fmt_ms(armed)
            ));
            let help = if b.in_std {
                "monitor longer (`monitor 30m`) so the trigger's window fits, or use triggers with shorter windows"
                    .to_string()
            } else {
                format!(
                    "shorten the `for` window below `{}`, or monitor longer (`monitor …`)",
                    fmt_ms(armed)
                )
            };
            out.report(d.with_help(help));
        }
    }
}

/// The longest time the plan's triggers can stay armed, if the plan bounds it.
fn armed_at_most(ctx: &Context<'_>, p: &LintPlan) -> Option<u64> {
    let known_instances = blocks::environment_of(ctx, p)
        .is_some_and(|e| e.provider.iter().any(|p| matches!(p, Provider::Local { .. })));
    let mut armed = false;
    let mut total: u64 = 0;
    for s in p.plan.phases.iter().flat_map(|ph| ph.steps.iter()) {
        armed = armed || s.guards.iter().any(|g| g.kind == "trigger");
        if !armed {
            continue;
        }
        let step = match &s.action {
            Action::RollingBatch { .. } if !known_instances => return None,
            Action::Approval { .. } => s.timeout_ms?,
            _ => s.expected_ms.max(s.timeout_ms.unwrap_or(0)),
        };
        total = total.saturating_add(step);
        if s.id == "monitor" {
            return Some(total);
        }
    }
    None
}
