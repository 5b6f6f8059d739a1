//! `report.html`: the run report for people, one self-contained page (no script, nothing
//! fetched, a print stylesheet) with a chart per guarded metric — the new and the stable
//! version over time, the thresholds, the steps' traffic weights as bands, the breach and the
//! rollback marked — and the timeline as bars against the plan's estimates.
//!
//! Which metrics are guarded, and their thresholds, come from the plan's conditions, parsed
//! back as the runtime evaluates them: a threshold relative to a baseline is drawn at the
//! baseline the run captured (and left out when it captured none).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::super::condition::{self, Condition, Op, Operand};
use super::{Report, unit, with_unit};
use crate::chart::{self, Band, GanttRow, LineChart, Marker, Reference, Series, colour, escape};
use crate::lower::{Action, Plan, fmt_ms};

/// Seconds from T-0 to `at` (`None` when `at` is not a time).
fn secs(t0: jiff::Timestamp, at: &str) -> Option<f64> {
    let t: jiff::Timestamp = at.parse().ok()?;
    Some(t.duration_since(t0).as_millis() as f64 / 1000.0)
}

fn op_text(op: Op) -> &'static str {
    match op {
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Eq => "==",
        Op::Ne => "!=",
    }
}

/// The op seen from the metric's side (`5% < error_rate` is `error_rate > 5%`).
fn flipped(op: Op) -> Op {
    match op {
        Op::Lt => Op::Gt,
        Op::Le => Op::Ge,
        Op::Gt => Op::Lt,
        Op::Ge => Op::Le,
        other => other,
    }
}

/// A guarded metric: the conditions that read it, with their thresholds.
#[derive(Default)]
struct Guarded {
    /// (label, value) of each threshold, without repeats.
    thresholds: Vec<(String, f64)>,
    /// The conditions (as written) that read the metric.
    conditions: Vec<String>,
}

/// The comparisons of `c` against a constant or a baseline: (metric, op, threshold operand).
fn comparisons<'a>(c: &'a Condition, out: &mut Vec<(&'a str, Op, &'a Operand)>) {
    match c {
        Condition::Compare { lhs, op, rhs } => match (lhs, rhs) {
            // Two metrics against each other: no fixed line to draw.
            (Operand::Metric(_), Operand::Metric(_)) => {}
            (Operand::Metric(m), other) => out.push((m.as_str(), *op, other)),
            (other, Operand::Metric(m)) => out.push((m.as_str(), flipped(*op), other)),
            _ => {}
        },
        Condition::And(parts) | Condition::Or(parts) => {
            for p in parts {
                comparisons(p, out);
            }
        }
    }
}

/// Every guarded metric of the plan in the order the plan first names it: the `require`
/// guards of the steps and the rollback triggers.
fn guarded(plan: &Plan, r: &Report) -> Vec<(String, Guarded)> {
    let mut texts: Vec<(String, &str)> = Vec::new();
    for s in plan.phases.iter().flat_map(|p| p.steps.iter()) {
        for g in &s.guards {
            let (cond, kind) = match condition::split_trigger(&g.condition) {
                Some((c, _)) => (c, "rollback"),
                None => (g.condition.as_str(), "require"),
            };
            texts.push((cond.to_string(), kind));
        }
    }
    for t in &plan.triggers {
        let cond = condition::split_trigger(&t.condition)
            .map(|(c, _)| c)
            .unwrap_or(&t.condition);
        texts.push((cond.to_string(), "rollback"));
    }
    let mut out: Vec<(String, Guarded)> = Vec::new();
    for (text, kind) in &texts {
        let Ok(c) = condition::parse(text) else {
            continue;
        };
        for m in c.metrics() {
            if !out.iter().any(|(name, _)| *name == m) {
                out.push((m.clone(), Guarded::default()));
            }
            if let Some((_, g)) = out.iter_mut().find(|(name, _)| *name == m)
                && !g.conditions.contains(text)
            {
                g.conditions.push(text.clone());
            }
        }
        let mut found = Vec::new();
        comparisons(&c, &mut found);
        for (metric, op, operand) in found {
            let u = unit(plan, metric);
            let baseline = r.detail.baselines.get(metric).copied();
            let (value, shown) = match operand {
                Operand::Value(v) => (Some(*v), chart::number(*v) + u),
                Operand::Baseline => (baseline, "baseline".to_string()),
                Operand::TimesBaseline(k) => (
                    baseline.map(|b| b * k),
                    format!("{}x baseline", chart::number(*k)),
                ),
                Operand::PercentOfBaseline(p) => (
                    baseline.map(|b| b * p / 100.0),
                    format!("{}% of baseline", chart::number(*p)),
                ),
                Operand::Metric(_) => (None, String::new()),
            };
            let Some(value) = value.filter(|v| v.is_finite()) else {
                continue;
            };
            let label = format!("{kind} {} {shown}", op_text(op));
            if let Some((_, g)) = out.iter_mut().find(|(name, _)| name == metric)
                && !g.thresholds.iter().any(|(l, _)| *l == label)
            {
                g.thresholds.push((label, value));
            }
        }
    }
    out
}

/// The traffic weight a step sets, as its band shows it.
fn weight_label(action: &Action) -> Option<String> {
    match action {
        Action::CanaryStep { weight, .. } => Some(format!("{}%", chart::number(*weight))),
        Action::Switch { .. } => Some("100%".into()),
        Action::RollingBatch { batch, of, .. } => Some(format!("batch {batch}/{of}")),
        Action::Preview { .. } => Some("preview".into()),
        Action::Monitor { .. } => Some("monitor".into()),
        _ => None,
    }
}

/// The chart of one guarded metric.
fn metric_chart(plan: &Plan, r: &Report, metric: &str, g: &Guarded) -> LineChart {
    let t0 = r.detail.t0;
    let u = unit(plan, metric);
    let series = ["new", "stable"]
        .iter()
        .filter_map(|track| {
            let points = r.detail.samples.get(metric)?.get(*track)?;
            let version = if *track == "new" {
                Some(plan.release.as_str())
            } else {
                r.detail.stable.as_deref()
            };
            Some(Series {
                label: match version {
                    Some(v) => format!("{track} ({v})"),
                    None => track.to_string(),
                },
                colour: if *track == "new" {
                    colour::NEW
                } else {
                    colour::STABLE
                },
                points: points
                    .iter()
                    .filter_map(|(at, v)| Some((secs(t0, at)?, *v)))
                    .collect(),
            })
        })
        .collect();
    // The samples' span: bands and marks far outside it (a countdown, a later flag step)
    // would squeeze the data into a corner.
    let times: Vec<f64> = r
        .detail
        .samples
        .get(metric)
        .into_iter()
        .flat_map(|tracks| tracks.values().flatten())
        .filter_map(|(at, _)| secs(t0, at))
        .collect();
    let first_sample = times.iter().copied().fold(f64::INFINITY, f64::min);
    // The rollback is shown whole, even after the last sample.
    let rollback_end = r.detail.rollback.as_ref().and_then(|(start, end)| {
        end.as_deref()
            .and_then(|e| secs(t0, e))
            .or_else(|| secs(t0, start))
    });
    let last = times
        .iter()
        .copied()
        .chain(rollback_end)
        .fold(f64::NEG_INFINITY, f64::max);
    // The traffic steps as (label, from, to): a step that never ended lasts until the
    // rollback started, else the last sample.
    let weighted: Vec<(String, f64, f64)> = r
        .steps
        .iter()
        .filter_map(|s| {
            let label = plan
                .phases
                .iter()
                .flat_map(|p| p.steps.iter())
                .find(|p| p.id == s.id)
                .and_then(|p| weight_label(&p.action))?;
            let from = secs(t0, &s.started_at)?;
            let to = match s.duration_ms {
                Some(d) => from + d as f64 / 1000.0,
                None => r
                    .detail
                    .rollback
                    .as_ref()
                    .and_then(|(at, _)| secs(t0, at))
                    .unwrap_or(last),
            };
            Some((label, from, to))
        })
        .collect();
    // The chart begins with the traffic step of the first sample, so that a canary that
    // failed at its first evaluation still shows the step it failed in.
    let first = weighted
        .iter()
        .filter(|(_, from, to)| *from <= first_sample && *to >= first_sample)
        .map(|(_, from, _)| *from)
        .fold(first_sample, f64::min);
    let within = |a: f64| a >= first - 1.0 && a <= last + 1.0;
    let mut bands = Vec::new();
    for (label, from, to) in weighted {
        let (from, to) = (from.max(first), to.min(last));
        if to > from {
            bands.push(Band {
                from,
                to,
                label,
                rollback: false,
            });
        }
    }
    let mut markers = Vec::new();
    let reads = |cond: &str| {
        condition::parse(cond)
            .map(|c| c.metrics().iter().any(|m| m == metric))
            .unwrap_or(false)
    };
    if let Some((at, _, cond)) = r.detail.failed_checks.iter().find(|(_, _, c)| reads(c))
        && let Some(x) = secs(t0, at)
    {
        markers.push(Marker {
            at: x,
            label: format!("breach: `{cond}` failed"),
        });
    }
    for (at, cond, since) in &r.detail.triggers {
        if !reads(cond) {
            continue;
        }
        if let Some(x) = secs(t0, since).filter(|x| within(*x)) {
            markers.push(Marker {
                at: x,
                label: "breach began".into(),
            });
        }
        if let Some(x) = secs(t0, at) {
            markers.push(Marker {
                at: x,
                label: format!("trigger `{cond}` fired"),
            });
        }
    }
    if let Some((start, end)) = &r.detail.rollback
        && let Some(from) = secs(t0, start)
    {
        let to = end.as_deref().and_then(|e| secs(t0, e)).unwrap_or(from);
        bands.push(Band {
            from,
            to: to.max(from),
            label: "rollback".into(),
            rollback: true,
        });
        markers.push(Marker {
            at: from,
            label: "rollback".into(),
        });
    }
    LineChart {
        title: format!("{metric}: new and stable over time"),
        y_label: if u.is_empty() {
            metric.to_string()
        } else {
            format!("{metric} ({u})")
        },
        series,
        references: g
            .thresholds
            .iter()
            .map(|(label, value)| Reference {
                label: label.clone(),
                value: *value,
            })
            .collect(),
        bands,
        markers,
    }
}

/// A time as an offset from T-0 and, for the reader's calendar, the UTC time itself.
fn when(t0: jiff::Timestamp, at: &str) -> String {
    format!(
        "{} <span class=\"empty\">({})</span>",
        escape(&super::offset(t0, at)),
        escape(at)
    )
}

fn summary_line(r: &Report, metric: &str, u: &str) -> String {
    let mut parts = Vec::new();
    for track in ["new", "stable"] {
        let values: Vec<f64> = r
            .detail
            .samples
            .get(metric)
            .and_then(|t| t.get(track))
            .map(|v| v.iter().filter_map(|(_, x)| *x).collect())
            .unwrap_or_default();
        let gaps = r
            .detail
            .samples
            .get(metric)
            .and_then(|t| t.get(track))
            .map(|v| v.iter().filter(|(_, x)| x.is_none()).count())
            .unwrap_or(0);
        let Some(last) = values.last() else {
            continue;
        };
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        parts.push(format!(
            "{track}: last {}, min {}, max {} over {} samples{}",
            with_unit(*last, u),
            with_unit(min, u),
            with_unit(max, u),
            values.len(),
            if gaps > 0 {
                format!(" ({gaps} without data)")
            } else {
                String::new()
            }
        ));
    }
    parts.join("; ")
}

/// The page.
pub(super) fn render(plan: &Plan, r: &Report) -> String {
    let t0 = r.detail.t0;
    let mut b = String::new();
    let _ = write!(
        b,
        "<header>\n<h1>Deployment report: {} {} to {}</h1>\n<p>Run <code>{}</code>: <span class=\"outcome outcome-{}\">{}</span>, {} → {} (T-0 {}). Strategy: {}.</p>\n<p>Also as <a href=\"report.md\">report.md</a> and <a href=\"report.json\">report.json</a>, written from the run's journal.</p>\n</header>\n",
        escape(&r.service),
        escape(&r.release),
        escape(&r.environment),
        escape(&r.run),
        escape(&r.outcome),
        escape(&r.outcome.replace('_', " ")),
        escape(&r.started_at),
        escape(&r.finished_at),
        escape(&t0.to_string()),
        escape(&plan.strategy),
    );

    b.push_str("<section>\n<h2>Guarded metrics</h2>\n");
    let metrics = guarded(plan, r);
    if metrics.is_empty() {
        b.push_str("<p class=\"empty\">The plan guards no metric.</p>\n");
    }
    for (metric, g) in &metrics {
        let u = unit(plan, metric);
        let chart = metric_chart(plan, r, metric, g);
        let _ = writeln!(b, "<h3>{}</h3>", escape(metric));
        if chart.has_data() {
            let _ = write!(
                b,
                "<figure>\n{}\n<figcaption>{}. Guarded by {}.</figcaption>\n</figure>\n",
                chart.svg(),
                escape(&summary_line(r, metric, u)),
                g.conditions
                    .iter()
                    .map(|c| format!("<code>{}</code>", escape(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        } else {
            let _ = writeln!(
                b,
                "<p class=\"empty\">No sample of {} had a value during the run.</p>",
                escape(metric)
            );
        }
    }
    b.push_str("</section>\n");

    b.push_str("<section>\n<h2>Timeline</h2>\n");
    let rows: Vec<GanttRow> = r
        .steps
        .iter()
        .map(|s| {
            let planned = plan
                .phases
                .iter()
                .flat_map(|p| p.steps.iter())
                .find(|p| p.id == s.id)
                .map(|p| {
                    (
                        p.starts_at_ms as f64 / 1000.0,
                        p.expected_ms as f64 / 1000.0,
                    )
                })
                .unwrap_or((0.0, 0.0));
            GanttRow {
                label: s.id.clone(),
                planned,
                actual: secs(t0, &s.started_at)
                    .map(|a| (a, s.duration_ms.map(|d| d as f64 / 1000.0))),
                failed: s.outcome != "finished",
            }
        })
        .collect();
    if rows.is_empty() {
        b.push_str("<p class=\"empty\">No step started.</p>\n");
    } else {
        let _ = write!(
            b,
            "<figure>\n{}\n<figcaption>Each step as run (lower bar) against the plan's estimate (upper bar), from T-0.</figcaption>\n</figure>\n",
            chart::gantt("The steps as run against the plan's estimates", &rows)
        );
        b.push_str("<table>\n<thead><tr><th scope=\"col\">step</th><th scope=\"col\">start</th><th scope=\"col\">took</th><th scope=\"col\">estimate</th><th scope=\"col\">outcome</th></tr></thead>\n<tbody>\n");
        for s in &r.steps {
            let _ = writeln!(
                b,
                "<tr><td><code>{}</code> {}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td{}>{}</td></tr>",
                escape(&s.id),
                escape(&s.title),
                escape(&super::offset(t0, &s.started_at)),
                escape(&s.duration_ms.map(fmt_ms).unwrap_or_else(|| "—".into())),
                escape(&fmt_ms(s.expected_ms)),
                if s.outcome == "finished" {
                    ""
                } else {
                    " class=\"failed\""
                },
                escape(&s.outcome)
            );
        }
        b.push_str("</tbody>\n</table>\n");
    }
    b.push_str("</section>\n");

    b.push_str("<section>\n<h2>Gates and decisions</h2>\n");
    if r.decisions.is_empty() && r.detail.gates.is_empty() {
        b.push_str("<p class=\"empty\">No gate or decision.</p>\n");
    } else {
        b.push_str("<table>\n<thead><tr><th scope=\"col\">when</th><th scope=\"col\">step</th><th scope=\"col\">question</th><th scope=\"col\">decision</th><th scope=\"col\">by</th></tr></thead>\n<tbody>\n");
        let mut rows: BTreeMap<(String, usize), String> = BTreeMap::new();
        for (i, (at, step, roles, question)) in r.detail.gates.iter().enumerate() {
            rows.insert(
                (at.clone(), i),
                format!(
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>waited</td><td>{}</td></tr>",
                    when(t0, at),
                    escape(step),
                    escape(question),
                    escape(&roles.join(" or "))
                ),
            );
        }
        for (i, d) in r.decisions.iter().enumerate() {
            let at = d["at"].as_str().unwrap_or("");
            rows.insert(
                (at.to_string(), r.detail.gates.len() + i),
                format!(
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    when(t0, at),
                    escape(d["step"].as_str().unwrap_or("")),
                    escape(d["question"].as_str().unwrap_or("")),
                    escape(d["decision"].as_str().unwrap_or("")),
                    escape(d["by"].as_str().unwrap_or(""))
                ),
            );
        }
        for row in rows.values() {
            b.push_str(row);
            b.push('\n');
        }
        b.push_str("</tbody>\n</table>\n");
    }
    b.push_str("</section>\n");

    b.push_str("<section>\n<h2>Messages sent</h2>\n");
    if r.messages.is_empty() {
        b.push_str("<p class=\"empty\">No message.</p>\n");
    } else {
        b.push_str("<table>\n<thead><tr><th scope=\"col\">when</th><th scope=\"col\">channel</th><th scope=\"col\">event</th><th scope=\"col\">text</th><th scope=\"col\">delivered</th></tr></thead>\n<tbody>\n");
        for m in &r.messages {
            let ok = m["ok"].as_bool() == Some(true);
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td></tr>",
                when(t0, m["at"].as_str().unwrap_or("")),
                escape(m["channel"].as_str().unwrap_or("")),
                escape(m["event"].as_str().unwrap_or("")),
                escape(m["text"].as_str().unwrap_or("")),
                if ok { "" } else { " class=\"failed\"" },
                if ok {
                    "yes".to_string()
                } else {
                    format!("no: {}", escape(m["detail"].as_str().unwrap_or("")))
                }
            );
        }
        b.push_str("</tbody>\n</table>\n");
    }
    b.push_str("</section>\n");

    b.push_str("<section>\n<h2>Deviations</h2>\n");
    if r.deviations.is_empty() {
        b.push_str("<p>None: the run followed the plan.</p>\n");
    } else {
        b.push_str("<ul>\n");
        for d in &r.deviations {
            let _ = writeln!(b, "<li>{}</li>", escape(d));
        }
        b.push_str("</ul>\n");
    }
    b.push_str("</section>\n");

    for (title, notes, flag) in [
        ("Issues", &r.issues, ""),
        ("Lessons learned", &r.lessons, " --lesson"),
    ] {
        let _ = writeln!(b, "<section>\n<h2>{title}</h2>");
        if notes.is_empty() && r.run == super::SIMULATION {
            b.push_str("<p class=\"empty\">None recorded: a simulation takes no notes.</p>\n");
        } else if notes.is_empty() {
            let _ = writeln!(
                b,
                "<p class=\"empty\">None recorded. Add one with <code>deployc report {} --note \"…\"{flag}</code>.</p>",
                escape(&r.run)
            );
        } else {
            b.push_str("<ul>\n");
            for n in notes {
                let _ = writeln!(
                    b,
                    "<li>{} <span class=\"empty\">— {}, {}</span></li>",
                    escape(&n.text),
                    escape(&n.by),
                    escape(&n.at)
                );
            }
            b.push_str("</ul>\n");
        }
        b.push_str("</section>\n");
    }
    chart::page(
        &format!(
            "Deployment report: {} {} to {}",
            r.service, r.release, r.environment
        ),
        &b,
    )
}

#[cfg(test)]
mod tests {
    use super::super::build;
    use super::*;
    use crate::runtime::journal::{Entry, Event};

    fn plan() -> Plan {
        serde_json::from_value(serde_json::json!({
            "format": crate::lower::PLAN_FORMAT,
            "service": "quickstart", "release": "1.1.0", "environment": "local",
            "source": "quickstart.deploy", "risk": null, "strategy": "canary", "start": null,
            "production": false, "team": [], "rollback_decision": [], "channels": [],
            "metrics": [
                { "name": "error_rate", "kind": "percent", "source": "probe", "query": null, "per": null },
                { "name": "latency_p95", "kind": "duration", "source": "probe", "query": null, "per": null }
            ],
            "phases": [{ "name": "deploy", "steps": [{
                "id": "deploy.canary-1", "title": "canary", "after": [], "timeout_ms": null,
                "action": { "type": "canary_step", "weight": 10.0, "hold_ms": 10000 },
                "guards": [
                    { "condition": "error_rate < 1% and 200ms > latency_p95", "kind": "require" },
                    { "condition": "auto when latency_p95 > 2x baseline for 5s", "kind": "trigger" }
                ],
                "starts_at_ms": 0, "expected_ms": 10000, "starts_at": null, "rollback": [],
                "point_of_no_return": false, "source": null
            }]}],
            "triggers": [], "comms": [], "point_of_no_return": null,
            "timeline": { "expected_ms": 10000, "worst_case_detection_ms": 0,
                          "worst_case_rollback_ms": 0, "schedule_end_ms": 0,
                          "analysis_interval_ms": 1000 },
            "notes": []
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn entry(seq: u64, at: &str, event: Event) -> Entry {
        Entry {
            seq,
            at: format!("2026-01-05T09:00:{at}Z"),
            event,
        }
    }

    #[test]
    fn thresholds_come_from_the_conditions_seen_from_the_metric_and_the_baseline() {
        let plan = plan();
        let without = build(&plan, "r", &[], "succeeded");
        let found = guarded(&plan, &without);
        let names: Vec<&str> = found.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(names, ["error_rate", "latency_p95"]);
        // `200ms > latency_p95` is `latency_p95 < 200ms`; without a captured baseline the
        // relative threshold has no line.
        let labels = |g: &Guarded| g.thresholds.clone();
        assert_eq!(labels(&found[0].1), [("require < 1%".to_string(), 1.0)]);
        assert_eq!(
            labels(&found[1].1),
            [("require < 200ms".to_string(), 200.0)]
        );
        let entries = [entry(
            1,
            "01",
            Event::Baseline {
                metric: "latency_p95".into(),
                value: Some(4.5),
            },
        )];
        let with = build(&plan, "r", &entries, "succeeded");
        let found = guarded(&plan, &with);
        assert_eq!(
            labels(&found[1].1),
            [
                ("require < 200ms".to_string(), 200.0),
                ("rollback > 2x baseline".to_string(), 9.0)
            ]
        );
    }

    #[test]
    fn the_page_escapes_what_the_journal_says_and_draws_what_it_sampled() {
        let plan = plan();
        let sample = |seq, at: &str, track: &str, value| {
            entry(
                seq,
                at,
                Event::Sample {
                    step: "deploy.canary-1".into(),
                    metric: "error_rate".into(),
                    track: track.into(),
                    value,
                    no_data: None,
                },
            )
        };
        let entries = [
            entry(
                1,
                "00",
                Event::StepStarted {
                    step: "deploy.canary-1".into(),
                    title: "canary <10%>".into(),
                },
            ),
            sample(2, "01", "new", Some(0.5)),
            sample(3, "02", "new", None),
            sample(4, "03", "new", Some(0.7)),
            entry(
                5,
                "04",
                Event::Note {
                    section: "issues".into(),
                    text: "<script>alert(1)</script>".into(),
                    by: "sam".into(),
                },
            ),
        ];
        let r = build(&plan, "r", &entries, "succeeded");
        let page = render(&plan, &r);
        assert!(!page.contains("<script"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("canary &lt;10%&gt;"));
        // Two readings around a gap: two dots, no line across the gap.
        let chart = page
            .split_once("error_rate: new and stable over time")
            .and_then(|(_, rest)| rest.split_once("</svg>"))
            .map(|(svg, _)| svg)
            .unwrap_or_default();
        assert_eq!(chart.matches("<circle").count(), 2);
        assert_eq!(chart.matches("<polyline").count(), 0);
        assert!(
            page.contains(
                "new: last 0.700%, min 0.500%, max 0.700% over 2 samples (1 without data)"
            )
        );
        // The note does not end the run: its end is the last event before the notes.
        assert_eq!(r.finished_at, "2026-01-05T09:00:03Z");
    }
}
