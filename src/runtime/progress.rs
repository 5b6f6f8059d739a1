//! One line per event, for people (`text`) or machines (`json`, the journal line itself).
//! Times are offsets from T-0, so a simulation's output is the same on every machine.

use super::journal::{Entry, Event};
use crate::lower::fmt_ms;

/// The offset of `at` from `t0`: `T+1m30s`, `T-1d`.
pub(crate) fn offset(t0: jiff::Timestamp, at: &str) -> String {
    let Ok(t) = at.parse::<jiff::Timestamp>() else {
        return at.to_string();
    };
    let ms = t.duration_since(t0).as_millis();
    // Real runs show whole seconds; sub-second detail lives in the journal.
    let abs = u64::try_from(ms.unsigned_abs()).unwrap_or(u64::MAX);
    let shown = if abs >= 1000 { abs / 1000 * 1000 } else { abs };
    format!("T{}{}", if ms < 0 { "-" } else { "+" }, fmt_ms(shown))
}

/// The text line for an event, or `None` for events only the journal needs (samples).
pub(crate) fn line(e: &Entry, t0: jiff::Timestamp) -> Option<String> {
    let text = match &e.event {
        Event::RunStarted {
            run,
            service,
            release,
            environment,
            stable,
            ..
        } => format!(
            "run {run}: {service} {release} to {environment} (stable: {})",
            stable.as_deref().unwrap_or("none")
        ),
        Event::Resumed { finished_steps } => {
            format!("resumed: {finished_steps} steps already finished")
        }
        Event::StepStarted { step, title } => format!("▶ {step}: {title}"),
        Event::Action {
            what, ok, detail, ..
        } => format!("  {} {what}: {detail}", if *ok { "·" } else { "✗" }),
        Event::Sample { .. } => return None,
        Event::Baseline { metric, value } => format!(
            "  · baseline {metric} = {}",
            value
                .map(|v| format!("{v:.3}"))
                .unwrap_or_else(|| "no data".into())
        ),
        Event::Check {
            condition,
            kind,
            result,
            ..
        } => {
            if result == "pass" {
                return None;
            }
            format!("  ! {kind} `{condition}`: {result}")
        }
        Event::TriggerFired {
            condition,
            mode,
            breach_since,
            ..
        } => format!(
            "  ! {mode} trigger `{condition}` fired (held since {})",
            offset(t0, breach_since)
        ),
        Event::Decision {
            question,
            decision,
            by,
            ..
        } => format!("  ? {question} → {decision} by {by}"),
        Event::MessageSent {
            channel,
            text,
            ok,
            detail,
            ..
        } => {
            if *ok {
                format!("  ✉ {channel}: {text}")
            } else {
                format!("  ✉ {channel} failed ({detail}): {text}")
            }
        }
        Event::MigrationApplied { name, checksum, .. } => format!(
            "  · migration `{name}` recorded ({})",
            checksum.get(..15).unwrap_or(checksum)
        ),
        Event::MigrationReverted { name } => format!("  · migration `{name}` reverted"),
        Event::StepFinished { step } => format!("✓ {step}"),
        Event::StepFailed { step, reason } => format!("✗ {step}: {reason}"),
        Event::RollbackStarted { step, reason } => format!("↩ rollback from {step}: {reason}"),
        Event::RollbackFinished { complete } => {
            if *complete {
                "↩ rollback complete".into()
            } else {
                "↩ rollback INCOMPLETE: a person must act".into()
            }
        }
        Event::Paused { step, due } => format!("⏸ next step {step} due at {due}"),
        Event::RunFinished { outcome } => format!("run {outcome}"),
    };
    Some(format!("{:>10}  {text}", offset(t0, &e.at)))
}
