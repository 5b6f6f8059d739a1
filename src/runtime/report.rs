//! The run report, `report.json` and `report.md` next to the journal, written from the
//! journal alone: what ran when and for how long against the plan's estimate, the metrics
//! seen at each step, the decisions and who made them, the messages sent, and the deviations
//! from the plan.

use std::collections::BTreeMap;

use serde::Serialize;

use super::journal::{Entry, Event};
use super::progress::offset;
use crate::lower::{Plan, fmt_ms};

#[derive(Debug, Serialize)]
pub(crate) struct Report {
    run: String,
    service: String,
    release: String,
    environment: String,
    outcome: String,
    started_at: String,
    finished_at: String,
    /// The release a rollback of a finished release took back (`release` is where it went).
    #[serde(skip_serializing_if = "Option::is_none")]
    rollback_from: Option<String>,
    /// The deploy run whose schedule (flag days, check-ins) this run is.
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule_of: Option<String>,
    steps: Vec<StepReport>,
    decisions: Vec<serde_json::Value>,
    messages: Vec<serde_json::Value>,
    deviations: Vec<String>,
}

#[derive(Debug, Serialize)]
struct StepReport {
    id: String,
    title: String,
    started_at: String,
    duration_ms: Option<u64>,
    expected_ms: u64,
    /// `finished`, `failed` or `started` (interrupted).
    outcome: String,
    /// metric → track → {samples, min, max, last}.
    metrics: BTreeMap<String, BTreeMap<String, MetricSummary>>,
}

#[derive(Debug, Serialize, Clone, Copy)]
struct MetricSummary {
    samples: u64,
    min: f64,
    max: f64,
    last: f64,
}

fn ms_between(a: &str, b: &str) -> Option<u64> {
    let a: jiff::Timestamp = a.parse().ok()?;
    let b: jiff::Timestamp = b.parse().ok()?;
    u64::try_from(b.duration_since(a).as_millis()).ok()
}

pub(crate) fn build(plan: &Plan, run: &str, entries: &[Entry], outcome: &str) -> Report {
    let mut steps: Vec<StepReport> = Vec::new();
    let mut decisions = Vec::new();
    let mut messages = Vec::new();
    let mut deviations = Vec::new();
    let expected = |id: &str| {
        plan.phases
            .iter()
            .flat_map(|p| p.steps.iter())
            .find(|s| s.id == id)
            .map(|s| s.expected_ms)
            .unwrap_or(0)
    };
    for e in entries {
        match &e.event {
            Event::StepStarted { step, title } => steps.push(StepReport {
                id: step.clone(),
                title: title.clone(),
                started_at: e.at.clone(),
                duration_ms: None,
                expected_ms: expected(step),
                outcome: "started".into(),
                metrics: BTreeMap::new(),
            }),
            Event::StepFinished { step } | Event::StepFailed { step, .. } => {
                if let Some(s) = steps.iter_mut().rev().find(|s| &s.id == step) {
                    s.duration_ms = ms_between(&s.started_at, &e.at);
                    s.outcome = if matches!(e.event, Event::StepFinished { .. }) {
                        "finished".into()
                    } else {
                        "failed".into()
                    };
                }
                if let Event::StepFailed { reason, .. } = &e.event {
                    deviations.push(format!("step `{step}` failed: {reason}"));
                }
            }
            Event::Sample {
                step,
                metric,
                track,
                value: Some(v),
                ..
            } => {
                if let Some(s) = steps.iter_mut().rev().find(|s| &s.id == step) {
                    let m = s
                        .metrics
                        .entry(metric.clone())
                        .or_default()
                        .entry(track.clone())
                        .or_insert(MetricSummary {
                            samples: 0,
                            min: *v,
                            max: *v,
                            last: *v,
                        });
                    m.samples += 1;
                    m.min = m.min.min(*v);
                    m.max = m.max.max(*v);
                    m.last = *v;
                }
            }
            Event::Decision {
                step,
                question,
                decision,
                by,
            } => decisions.push(serde_json::json!({
                "at": e.at, "step": step, "question": question, "decision": decision, "by": by,
            })),
            Event::MessageSent {
                channel,
                event,
                text,
                ok,
                detail,
                ..
            } => messages.push(serde_json::json!({
                "at": e.at, "channel": channel, "event": event, "text": text, "ok": ok, "detail": detail,
            })),
            Event::TriggerFired {
                condition, step, ..
            } => deviations.push(format!("trigger `{condition}` fired during `{step}`")),
            Event::RollbackFinished { complete } => deviations.push(if *complete {
                "rolled back".to_string()
            } else {
                "rollback incomplete".to_string()
            }),
            Event::Resumed { .. } => deviations.push(format!("resumed at {}", e.at)),
            // What the rollback left serving: the stable version's health and guarded metrics.
            Event::Action {
                what, ok, detail, ..
            } if what == "verify stable" => deviations.push(format!(
                "verify stable after the rollback: {} ({detail})",
                if *ok { "healthy" } else { "NOT healthy" }
            )),
            Event::MessagePending { channel, event, .. } => messages.push(serde_json::json!({
                "at": e.at, "channel": channel, "event": event, "ok": false,
                "detail": "not delivered when the run ended",
            })),
            Event::JournalRepaired { dropped_bytes } => deviations.push(format!(
                "the journal ended in a torn line ({dropped_bytes} bytes), cut off at {}",
                e.at
            )),
            Event::Interrupted { signal, action } => {
                deviations.push(format!("{signal} at {}: {action}", e.at))
            }
            Event::OperatorCommand {
                command,
                who,
                why,
                ok: true,
                state,
                ..
            } => deviations.push(format!(
                "{command} by {who} at {}{}: {state}",
                e.at,
                why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default()
            )),
            Event::HoldPaused { step, condition } => deviations.push(format!(
                "`{step}` held still at {}: no data for `{condition}` (no_data pause)",
                e.at
            )),
            _ => {}
        }
    }
    for s in &steps {
        if let Some(d) = s.duration_ms
            && s.expected_ms > 0
            && d > s.expected_ms.saturating_mul(3) / 2 + 5_000
        {
            deviations.push(format!(
                "`{}` took {} (estimate {})",
                s.id,
                fmt_ms(d),
                fmt_ms(s.expected_ms)
            ));
        }
    }
    Report {
        run: run.to_string(),
        service: plan.service.clone(),
        release: plan.release.clone(),
        environment: plan.environment.clone(),
        outcome: outcome.to_string(),
        started_at: entries.first().map(|e| e.at.clone()).unwrap_or_default(),
        finished_at: entries.last().map(|e| e.at.clone()).unwrap_or_default(),
        rollback_from: plan.rollback.as_ref().map(|r| r.from.clone()),
        schedule_of: entries.iter().find_map(|e| match &e.event {
            Event::RunStarted { of, .. } => of.clone(),
            _ => None,
        }),
        steps,
        decisions,
        messages,
        deviations,
    }
}

pub(crate) fn markdown(r: &Report) -> String {
    let t0: jiff::Timestamp = r.started_at.parse().unwrap_or_default();
    let title = match (&r.rollback_from, &r.schedule_of) {
        (_, Some(of)) => format!(
            "Flag schedule report: {} {} in {} (schedule of `{of}`)",
            r.service, r.release, r.environment
        ),
        (Some(from), None) => format!(
            "Rollback report: {} {from} back to {} in {}",
            r.service, r.release, r.environment
        ),
        (None, None) => format!(
            "Deployment report: {} {} to {}",
            r.service, r.release, r.environment
        ),
    };
    let mut out = format!(
        "# {title}\n\nRun `{}`: **{}**, {} → {}.\n\n## Timeline\n\n| step | start | took | estimate | outcome |\n|---|---|---|---|---|\n",
        r.run, r.outcome, r.started_at, r.finished_at
    );
    for s in &r.steps {
        out.push_str(&format!(
            "| `{}` {} | {} | {} | {} | {} |\n",
            s.id,
            s.title,
            offset(t0, &s.started_at),
            s.duration_ms.map(fmt_ms).unwrap_or_else(|| "—".into()),
            fmt_ms(s.expected_ms),
            s.outcome
        ));
    }
    out.push_str("\n## Metrics per step\n\n");
    let mut any = false;
    for s in &r.steps {
        for (m, tracks) in &s.metrics {
            for (t, v) in tracks {
                any = true;
                out.push_str(&format!(
                    "* `{}` {m} ({t}): last {:.3}, min {:.3}, max {:.3} over {} samples\n",
                    s.id, v.last, v.min, v.max, v.samples
                ));
            }
        }
    }
    if !any {
        out.push_str("No metric was sampled.\n");
    }
    out.push_str("\n## Decisions\n\n");
    if r.decisions.is_empty() {
        out.push_str("None.\n");
    }
    for d in &r.decisions {
        out.push_str(&format!(
            "* {} `{}`: {} — {} by {}\n",
            offset(t0, d["at"].as_str().unwrap_or("")),
            d["step"].as_str().unwrap_or(""),
            d["question"].as_str().unwrap_or(""),
            d["decision"].as_str().unwrap_or(""),
            d["by"].as_str().unwrap_or("")
        ));
    }
    out.push_str("\n## Messages\n\n");
    if r.messages.is_empty() {
        out.push_str("None.\n");
    }
    for m in &r.messages {
        out.push_str(&format!(
            "* {} {} ({}): {}{}\n",
            offset(t0, m["at"].as_str().unwrap_or("")),
            m["channel"].as_str().unwrap_or(""),
            m["event"].as_str().unwrap_or(""),
            m["text"].as_str().unwrap_or(""),
            if m["ok"].as_bool() == Some(true) {
                ""
            } else {
                " — **failed**"
            }
        ));
    }
    out.push_str("\n## Deviations\n\n");
    if r.deviations.is_empty() {
        out.push_str("None: the run followed the plan.\n");
    }
    for d in &r.deviations {
        out.push_str(&format!("* {d}\n"));
    }
    out
}
