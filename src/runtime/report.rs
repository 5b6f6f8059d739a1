//! The run report, `report.json`, `report.md` and `report.html` next to the journal, written
//! from the plan and the journal alone: what ran when and for how long against the plan's
//! estimate, the metrics seen at each step (with their units), the decisions and who made
//! them, the messages sent, the deviations from the plan, and the issues and lessons the team
//! added afterwards (`deployc report RUN --note`, journaled as `note`). The HTML report draws
//! the guarded metrics over time ([`html`]).

mod html;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::journal::{Entry, Event};
use super::progress::offset;
use super::redact::Redactor;
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
    /// metric → its unit (`%`, `ms`, `/s`, or empty for counts and plain numbers).
    units: BTreeMap<String, String>,
    /// Notes the team added: `issues`, then `lessons` learned.
    issues: Vec<Note>,
    lessons: Vec<Note>,
    /// What only the charts need: every sample with its time, and the moments to mark.
    #[serde(skip)]
    detail: Detail,
}

/// The run id of a simulation: its report has no state directory run to add notes to.
pub(crate) const SIMULATION: &str = "simulation";

/// A note added to the report after the run.
#[derive(Debug, Serialize, Clone)]
struct Note {
    at: String,
    by: String,
    text: String,
}

/// One track's samples: (time, value or no data).
type Track = Vec<(String, Option<f64>)>;

/// The journal's facts the HTML report draws.
#[derive(Debug, Default)]
struct Detail {
    /// T-0 (the run's, else its first entry's time).
    t0: jiff::Timestamp,
    /// The version serving before the run, when there was one.
    stable: Option<String>,
    /// metric → track → (time, value or no data), in journal order.
    samples: BTreeMap<String, BTreeMap<String, Track>>,
    /// The last baseline captured per metric.
    baselines: BTreeMap<String, f64>,
    /// (time, step, condition) of each failed `require` check.
    failed_checks: Vec<(String, String, String)>,
    /// (time, condition, breach since) of each trigger that fired.
    triggers: Vec<(String, String, String)>,
    /// When the rollback started and ended (`None`: it had not ended when the journal did).
    rollback: Option<(String, Option<String>)>,
    /// (time, step, roles, question) of each gate the run waited at.
    gates: Vec<(String, String, Vec<String>, String)>,
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

/// The unit a metric's values are in, from its kind: what the metric sources report
/// (percent as a number of percent, durations in milliseconds, rates per second).
pub(crate) fn unit(plan: &Plan, metric: &str) -> &'static str {
    match plan
        .metrics
        .iter()
        .find(|m| m.name == metric)
        .map(|m| m.kind.as_str())
    {
        Some("percent") => "%",
        Some("duration") => "ms",
        Some("rate") => "/s",
        _ => "",
    }
}

/// A value with its unit: `0.452 ms`, `31.2%`.
fn with_unit(v: f64, unit: &str) -> String {
    match unit {
        "" => format!("{v:.3}"),
        "%" | "/s" => format!("{v:.3}{unit}"),
        _ => format!("{v:.3} {unit}"),
    }
}

pub(crate) fn build(plan: &Plan, run: &str, entries: &[Entry], outcome: &str) -> Report {
    let mut detail = Detail {
        t0: entries
            .iter()
            .find_map(|e| match &e.event {
                Event::RunStarted { t0, .. } => t0.parse().ok(),
                _ => None,
            })
            .or_else(|| entries.first().and_then(|e| e.at.parse().ok()))
            .unwrap_or_default(),
        stable: entries.iter().find_map(|e| match &e.event {
            Event::RunStarted { stable, .. } => stable.clone(),
            _ => None,
        }),
        ..Detail::default()
    };
    let mut issues = Vec::new();
    let mut lessons = Vec::new();
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
                metric,
                track,
                value: None,
                ..
            } => detail
                .samples
                .entry(metric.clone())
                .or_default()
                .entry(track.clone())
                .or_default()
                .push((e.at.clone(), None)),
            Event::Sample {
                step,
                metric,
                track,
                value: Some(v),
                ..
            } => {
                detail
                    .samples
                    .entry(metric.clone())
                    .or_default()
                    .entry(track.clone())
                    .or_default()
                    .push((e.at.clone(), Some(*v)));
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
                condition,
                step,
                breach_since,
                ..
            } => {
                detail
                    .triggers
                    .push((e.at.clone(), condition.clone(), breach_since.clone()));
                deviations.push(format!("trigger `{condition}` fired during `{step}`"))
            }
            Event::Check {
                step,
                condition,
                kind,
                result,
            } if kind == "require" && result == "fail" => {
                detail
                    .failed_checks
                    .push((e.at.clone(), step.clone(), condition.clone()))
            }
            Event::Baseline {
                metric,
                value: Some(v),
            } => {
                detail.baselines.insert(metric.clone(), *v);
            }
            Event::RollbackStarted { .. } => detail.rollback = Some((e.at.clone(), None)),
            Event::GateWaiting {
                step,
                roles,
                question,
            } => detail
                .gates
                .push((e.at.clone(), step.clone(), roles.clone(), question.clone())),
            Event::Note { section, text, by } => {
                let note = Note {
                    at: e.at.clone(),
                    by: by.clone(),
                    text: text.clone(),
                };
                if section == "lessons" {
                    lessons.push(note)
                } else {
                    issues.push(note)
                }
            }
            Event::RollbackFinished { complete } => {
                if let Some((_, end)) = &mut detail.rollback {
                    *end = Some(e.at.clone());
                }
                deviations.push(if *complete {
                    "rolled back".to_string()
                } else {
                    "rollback incomplete".to_string()
                })
            }
            Event::Resumed { .. } => deviations.push(format!("resumed at {}", e.at)),
            // What the rollback left serving: the stable version's health and guarded metrics.
            Event::Action {
                what, ok, detail, ..
            } if what == "verify stable" => deviations.push(format!(
                "verify stable after the rollback: {} ({detail})",
                if *ok { "healthy" } else { "NOT healthy" }
            )),
            // A restore overwrites the database: the report names the copy of what it held.
            Event::Action {
                what, ok, detail, ..
            } if what == "snapshot before restore" => deviations.push(if *ok {
                format!("before the restore, {detail}")
            } else {
                format!("no snapshot before the restore: {detail}")
            }),
            Event::Action {
                what, ok, detail, ..
            } if what == "restore from backup" => deviations.push(format!(
                "restore from this run's backup: {} ({detail})",
                if *ok { "done" } else { "FAILED" }
            )),
            // What a failed migration left applied: the rollback could not undo it.
            Event::Action {
                what, detail, ..
            } if what == "partial migration" => deviations.push(format!("left applied: {detail}")),
            Event::Action {
                what,
                ok: false,
                detail,
                ..
            } if what == "verify migration" => {
                deviations.push(format!("a migration's verify failed: {detail}"))
            }
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
            Event::LeaseTakenOver {
                previous,
                previous_run,
                expired_at,
            } => deviations.push(format!(
                "the deploy lease was taken over at {} from {previous} (run {previous_run}), whose lease expired at {expired_at}",
                e.at
            )),
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
        // The run's end, not a note added later.
        finished_at: entries
            .iter()
            .rev()
            .find(|e| !matches!(e.event, Event::Note { .. }))
            .map(|e| e.at.clone())
            .unwrap_or_default(),
        rollback_from: plan.rollback.as_ref().map(|r| r.from.clone()),
        schedule_of: entries.iter().find_map(|e| match &e.event {
            Event::RunStarted { of, .. } => of.clone(),
            _ => None,
        }),
        steps,
        decisions,
        messages,
        deviations,
        units: plan
            .metrics
            .iter()
            .map(|m| (m.name.clone(), unit(plan, &m.name).to_string()))
            .collect(),
        issues,
        lessons,
        detail,
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
        "# {title}\n\nRun `{}`: **{}**, {} → {}.\n\nWith charts of the guarded metrics: [report.html](report.html).\n\n## Timeline\n\n| step | start | took | estimate | outcome |\n|---|---|---|---|---|\n",
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
            let unit = r.units.get(m).map(String::as_str).unwrap_or("");
            for (t, v) in tracks {
                any = true;
                out.push_str(&format!(
                    "* `{}` {m} ({t}): last {}, min {}, max {} over {} samples\n",
                    s.id,
                    with_unit(v.last, unit),
                    with_unit(v.min, unit),
                    with_unit(v.max, unit),
                    v.samples
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
    for (title, notes, section) in [
        ("Issues", &r.issues, ""),
        ("Lessons learned", &r.lessons, " --lesson"),
    ] {
        out.push_str(&format!("\n## {title}\n\n"));
        if notes.is_empty() && r.run == SIMULATION {
            out.push_str("None recorded (a simulation takes no notes).\n");
        } else if notes.is_empty() {
            out.push_str(&format!(
                "None recorded (add one with `deployc report {} --note \"…\"{section}`).\n",
                r.run
            ));
        }
        for n in notes {
            out.push_str(&format!("* {} — {}, {}\n", n.text, n.by, n.at));
        }
    }
    out
}

/// Writes `report.json`, `report.md` and `report.html` into `dir`, each whole or not at all
/// (written beside, then renamed: a reader never sees half a report, and a failure leaves the
/// previous one). Secrets are redacted from every one. Returns the path of `report.md`.
pub(crate) fn write(
    dir: &Path,
    plan: &Plan,
    run: &str,
    entries: &[Entry],
    outcome: &str,
    redactor: &Redactor,
) -> Result<PathBuf, String> {
    let r = build(plan, run, entries, outcome);
    let json = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())? + "\n";
    let files = [
        ("report.json", json),
        ("report.html", html::render(plan, &r)),
        ("report.md", markdown(&r)),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        // Named by the process: two simulations of one release may write at once.
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, redactor.apply(&text))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                format!("cannot write the report `{}`: {e}", path.display())
            })?;
    }
    Ok(dir.join("report.md"))
}
