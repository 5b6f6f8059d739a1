//! One line per event, for people (`text`) or machines (`json`, the journal line itself).
//! Times are offsets from T-0, so a simulation's output is the same on every machine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::LogFormat;
use super::journal::{Entry, Event};
use crate::lower::{Action, Plan, fmt_ms};

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
        Event::Sample { .. } | Event::MessageQueued { .. } => return None,
        Event::MessagePending { channel, event, .. } => {
            format!("  ✉ {channel}: `{event}` not delivered when the run ended")
        }
        Event::JournalRepaired { dropped_bytes } => {
            format!("⚠ the journal ended in a torn line: {dropped_bytes} bytes cut off")
        }
        Event::Interrupted { signal, action } => format!("⚠ {signal}: {action}"),
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
        Event::MigrationBatch {
            name,
            batch,
            rows,
            total_rows,
            last_key,
            ..
        } => match last_key {
            Some(k) => format!(
                "  · migration `{name}`: batch {batch} committed, {rows} rows ({total_rows} in all, up to key {k})"
            ),
            None => format!(
                "  · migration `{name}`: last batch {batch} committed, {rows} rows ({total_rows} in all)"
            ),
        },
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
        Event::HoldPaused {
            step, condition, ..
        } => format!("  ⏸ {step}: no data for `{condition}`, the hold stands still"),
        Event::HoldResumed { paused_ms, .. } => {
            format!(
                "  ▶ data again: the hold goes on (stood still {})",
                fmt_ms(*paused_ms)
            )
        }
        Event::Paused { step, due } => format!("⏸ paused: {step} is due at {due}"),
        Event::RunFinished { outcome } => format!("run {outcome}"),
        Event::OperatorCommand {
            command,
            who,
            why,
            ok,
            state,
            ..
        } => format!(
            "⚑ {command} by {who}{}: {}{state}",
            why.as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default(),
            if *ok { "" } else { "refused: " }
        ),
        Event::Note { section, text, by } => format!(
            "  ✎ {} by {by}: {text}",
            if section == "lessons" {
                "lesson learned"
            } else {
                "issue"
            }
        ),
        Event::LeaseTakenOver {
            previous,
            previous_run,
            expired_at,
        } => format!(
            "lease taken over from {previous} (run {previous_run}), whose lease expired at {expired_at}"
        ),
        Event::GateWaiting { step, roles, .. } => format!(
            "  ? {step} waits for {} (`deployc approve RUN --as ROLE` from another terminal)",
            roles.join(" or ")
        ),
    };
    Some(format!("{:>10}  {text}", offset(t0, &e.at)))
}

/// Where progress goes: `text` lines, `json` journal lines, or — on a terminal — the text
/// lines scrolling above a live view of the run. The live view is only drawn when both stdout
/// and stderr are terminals (indicatif draws on stderr; a redirected stream gets plain lines,
/// byte for byte the same as without a terminal).
pub(crate) fn printer(
    format: LogFormat,
    t0: jiff::Timestamp,
    plan: &Plan,
) -> Box<dyn FnMut(&Entry) + Send + 'static> {
    use std::io::IsTerminal;
    let live = format == LogFormat::Text
        && std::io::stdout().is_terminal()
        && std::io::stderr().is_terminal();
    if !live {
        return Box::new(move |e: &Entry| {
            let line = match format {
                LogFormat::Json => serde_json::to_string(e).ok(),
                LogFormat::Text => line(e, t0),
                LogFormat::Discard => {
                    let _ = line(e, t0);
                    None
                }
            };
            if let Some(l) = line {
                println!("{l}");
            }
        });
    }
    let view = Arc::new(Mutex::new(View::new(plan)));
    if let Ok(mut slot) = VIEW.lock() {
        *slot = Some(view.clone());
    }
    show();
    Box::new(move |e: &Entry| {
        if let Ok(mut v) = view.lock() {
            v.apply(e);
        }
        let bar = BAR.lock().ok().and_then(|b| b.clone());
        if let Some(l) = line(e, t0) {
            match &bar {
                Some(b) => b.println(l),
                None => println!("{l}"),
            }
        }
        if matches!(e.event, Event::RunFinished { .. } | Event::Paused { .. }) {
            hide();
            if let Ok(mut slot) = VIEW.lock() {
                *slot = None;
            }
        } else if let Some(b) = bar {
            b.tick();
        }
    })
}

/// The live view's state while a run on a terminal lasts.
static VIEW: Mutex<Option<Arc<Mutex<View>>>> = Mutex::new(None);
/// The live view while it is drawn.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Runs `f`, which writes to the terminal, with the live view out of the way.
pub(crate) fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let bar = BAR.lock().ok().and_then(|b| b.clone());
    match bar {
        Some(b) => b.suspend(f),
        None => f(),
    }
}

/// Clears the live view until [`show`], for a prompt that waits for an answer: a suspended
/// view would hold its lock for as long as nobody answers.
pub(crate) fn hide() {
    if let Some(b) = BAR.lock().ok().and_then(|mut b| b.take()) {
        b.finish_and_clear();
    }
}

/// Draws the live view again, if a run on a terminal is in progress.
pub(crate) fn show() {
    let Some(view) = VIEW.lock().ok().and_then(|v| v.clone()) else {
        return;
    };
    if let Ok(mut slot) = BAR.lock()
        && slot.is_none()
    {
        *slot = Some(live_bar(view));
    }
}

fn live_bar(view: Arc<Mutex<View>>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let key = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
        if let Ok(v) = view.lock() {
            let _ = w.write_str(&v.render(jiff::Timestamp::now()));
        }
    };
    // The template has no other keys, so it cannot fail; the fallback is the default style.
    let style = ProgressStyle::with_template("{view}")
        .map(|s| s.with_key("view", key))
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    // The time left counts down between events.
    bar.enable_steady_tick(std::time::Duration::from_millis(500));
    bar
}

/// What a step of the plan shows in the view.
struct StepInfo {
    phase: &'static str,
    weight: Option<String>,
    guards: Vec<(String, String)>,
    starts_at_ms: u64,
    expected_ms: u64,
}

/// The state of the live view, built from the plan and the journal entries as they come.
pub(crate) struct View {
    service: String,
    release: String,
    environment: String,
    steps: HashMap<String, StepInfo>,
    total_ms: u64,
    phase: String,
    step: Option<(String, String)>,
    step_started: Option<jiff::Timestamp>,
    weight: String,
    /// Last value per (metric, track).
    values: HashMap<(String, String), Option<f64>>,
    /// Last result per guard condition.
    results: HashMap<String, String>,
    state: String,
}

impl View {
    pub(crate) fn new(plan: &Plan) -> View {
        let mut steps = HashMap::new();
        for p in &plan.phases {
            for s in &p.steps {
                let weight = match &s.action {
                    Action::CanaryStep { weight, .. } => Some(format!("{weight}%")),
                    Action::Switch { .. } => Some("100%".into()),
                    Action::RollingBatch { batch, of, .. } => Some(format!("batch {batch}/{of}")),
                    _ => None,
                };
                steps.insert(
                    s.id.clone(),
                    StepInfo {
                        phase: p.name.title(),
                        weight,
                        guards: s
                            .guards
                            .iter()
                            .map(|g| (g.kind.clone(), g.condition.clone()))
                            .collect(),
                        starts_at_ms: s.starts_at_ms,
                        expected_ms: s.expected_ms,
                    },
                );
            }
        }
        let last = steps
            .values()
            .map(|s| s.starts_at_ms + s.expected_ms)
            .max()
            .unwrap_or(0);
        View {
            service: plan.service.clone(),
            release: plan.release.clone(),
            environment: plan.environment.clone(),
            steps,
            total_ms: plan.timeline.expected_ms.max(last),
            phase: "starting".into(),
            step: None,
            step_started: None,
            weight: "0%".into(),
            values: HashMap::new(),
            results: HashMap::new(),
            state: "running".into(),
        }
    }

    pub(crate) fn apply(&mut self, e: &Entry) {
        let at = e.at.parse::<jiff::Timestamp>().ok();
        match &e.event {
            Event::StepStarted { step, title } => {
                if let Some(info) = self.steps.get(step) {
                    self.phase = info.phase.to_string();
                    if let Some(w) = &info.weight {
                        self.weight = w.clone();
                    }
                }
                self.step = Some((step.clone(), title.clone()));
                self.step_started = at;
                self.results.clear();
            }
            Event::Sample {
                metric,
                track,
                value,
                ..
            } => {
                self.values.insert((metric.clone(), track.clone()), *value);
            }
            Event::Check {
                condition, result, ..
            } => {
                self.results.insert(condition.clone(), result.clone());
            }
            Event::TriggerFired { condition, .. } => {
                self.results.insert(condition.clone(), "fired".into());
            }
            Event::RollbackStarted { .. } => {
                self.state = "rolling back".into();
                self.weight = "0% (rollback)".into();
            }
            Event::RollbackFinished { complete } => {
                self.state = if *complete {
                    "rolled back".into()
                } else {
                    "rollback INCOMPLETE".into()
                };
            }
            Event::RunFinished { outcome } => self.state = outcome.clone(),
            _ => {}
        }
    }

    /// The view as text, at `now`. Pure, so that it can be tested on a fixed state.
    pub(crate) fn render(&self, now: jiff::Timestamp) -> String {
        let mut out = format!(
            "── {} {} → {} · {} · phase {} · weight {}",
            self.service, self.release, self.environment, self.state, self.phase, self.weight
        );
        let info = self.step.as_ref().and_then(|(id, _)| self.steps.get(id));
        let in_step = self
            .step_started
            .map(|s| u64::try_from(now.duration_since(s).as_millis()).unwrap_or(0))
            .unwrap_or(0);
        if let Some((id, title)) = &self.step {
            out.push_str(&format!(
                "\n   step {id}: {title} ({} in)",
                fmt_ms(in_step / 1000 * 1000)
            ));
        }
        for (kind, condition) in info.map(|i| i.guards.as_slice()).unwrap_or(&[]) {
            // Triggers are written `auto when COND for 5s`; results are keyed by COND.
            let (cond, label) = match super::condition::split_trigger(condition) {
                Some((c, w)) if !w.is_empty() => (c, format!("{kind} (for {w})")),
                Some((c, _)) => (c, kind.clone()),
                None => (condition.as_str(), kind.clone()),
            };
            let mark = match self.results.get(cond).map(String::as_str) {
                Some("pass") => "✓",
                Some("fail") | Some("fired") => "✗",
                Some(_) => "?",
                None => "·",
            };
            out.push_str(&format!("\n   {mark} {label} `{cond}`:"));
            let metrics = super::condition::parse(cond)
                .map(|c| c.metrics())
                .unwrap_or_default();
            for m in metrics {
                let shown = |track: &str| match self.values.get(&(m.clone(), track.to_string())) {
                    Some(Some(v)) => format!("{v:.3}"),
                    Some(None) => "no data".into(),
                    None => "–".into(),
                };
                out.push_str(&format!(
                    " {m} = {} (stable {})",
                    shown("new"),
                    shown("stable")
                ));
            }
            if let Some(r) = self.results.get(cond) {
                out.push_str(&format!(" → {r}"));
            }
        }
        // The plan's estimate of what is left: the rest of the current step and every step
        // planned after it.
        let done = info
            .map(|i| i.starts_at_ms + in_step.min(i.expected_ms))
            .unwrap_or(0);
        out.push_str(&format!(
            "\n   about {} left (plan estimate)",
            fmt_ms(self.total_ms.saturating_sub(done) / 1000 * 1000)
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::{Guard, PhaseName, PlanPhase, Step, Timeline};

    fn step(id: &str, title: &str, action: Action, guards: &[(&str, &str)], at: u64) -> Step {
        Step {
            id: id.into(),
            title: title.into(),
            action,
            after: Vec::new(),
            timeout_ms: None,
            guards: guards
                .iter()
                .map(|(kind, condition)| Guard {
                    condition: (*condition).into(),
                    kind: (*kind).into(),
                })
                .collect(),
            starts_at_ms: at,
            expected_ms: 10_000,
            starts_at: None,
            rollback: Vec::new(),
            point_of_no_return: false,
            source: None,
        }
    }

    fn plan() -> Plan {
        let mut p: Plan = serde_json::from_value(serde_json::json!({
            "format": crate::lower::PLAN_FORMAT,
            "service": "quickstart", "release": "1.2.0-bad", "environment": "local",
            "source": "quickstart.deploy", "risk": null, "strategy": "canary", "start": null,
            "production": false, "team": [], "rollback_decision": [], "channels": [],
            "metrics": [], "phases": [], "triggers": [], "comms": [],
            "point_of_no_return": null,
            "timeline": { "expected_ms": 0, "worst_case_detection_ms": 0,
                          "worst_case_rollback_ms": 0, "schedule_end_ms": 0,
                          "analysis_interval_ms": 1000 },
            "notes": []
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        p.timeline = Timeline {
            expected_ms: 60_000,
            ..p.timeline
        };
        p.phases = vec![PlanPhase {
            name: PhaseName::Deploy,
            steps: vec![
                step(
                    "deploy.canary-1",
                    "canary 10% for 10s",
                    Action::CanaryStep {
                        weight: 10.0,
                        hold_ms: 10_000,
                    },
                    &[
                        ("require", "error_rate < 1%"),
                        ("trigger", "auto when error_rate > 5% for 5s"),
                    ],
                    20_000,
                ),
                step(
                    "deploy.canary-2",
                    "canary 50% for 20s",
                    Action::CanaryStep {
                        weight: 50.0,
                        hold_ms: 20_000,
                    },
                    &[],
                    30_000,
                ),
            ],
        }];
        p
    }

    fn entry(seq: u64, at: &str, event: Event) -> Entry {
        Entry {
            seq,
            at: at.into(),
            event,
        }
    }

    #[test]
    fn live_view_of_a_canary_step() {
        let mut v = View::new(&plan());
        let t = |s: &str| format!("2026-01-05T09:00:{s}Z");
        v.apply(&entry(
            1,
            &t("20"),
            Event::StepStarted {
                step: "deploy.canary-1".into(),
                title: "canary 10% for 10s".into(),
            },
        ));
        for (track, value) in [("new", Some(30.0)), ("stable", None)] {
            v.apply(&entry(
                2,
                &t("21"),
                Event::Sample {
                    step: "deploy.canary-1".into(),
                    metric: "error_rate".into(),
                    track: track.into(),
                    value,
                    no_data: None,
                },
            ));
        }
        v.apply(&entry(
            3,
            &t("21"),
            Event::Check {
                step: "deploy.canary-1".into(),
                condition: "error_rate < 1%".into(),
                kind: "require".into(),
                result: "fail".into(),
            },
        ));
        let now = t("23.400").parse().unwrap_or_else(|e| panic!("{e}"));
        insta::assert_snapshot!(v.render(now));
        v.apply(&entry(
            4,
            &t("22"),
            Event::RollbackStarted {
                step: "deploy.canary-1".into(),
                reason: "require `error_rate < 1%` failed".into(),
            },
        ));
        insta::assert_snapshot!("rolling_back", v.render(now));
    }
}
