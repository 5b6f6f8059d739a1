//! Plan renderers: text (terminal), markdown (the runbook), dot and mermaid (the step graph).
//! JSON is the serde form of [`Plan`] itself.

use std::fmt::Write as _;

use super::format::{fmt_ms, fmt_percent};
use super::plan::*;

fn rollback_line(a: &RollbackAction) -> String {
    match a {
        RollbackAction::Abort => "abort: nothing has changed yet".into(),
        RollbackAction::Notify { event } => format!("notify `on {event}` channels"),
        RollbackAction::TrafficToStable => "return all traffic to the stable version".into(),
        RollbackAction::StopNewVersion => "stop the new version's instances".into(),
        RollbackAction::RevertMigration { name, down } => match down {
            Some(_) => format!("revert migration `{name}` (its `down`)"),
            None => format!("undo migration `{name}`: nothing to run (`down = noop`)"),
        },
        RollbackAction::RestoreFlag { flag, .. } => {
            format!("set flag `{flag}` back to its initial state")
        }
        RollbackAction::VerifyHealth => "verify health of the stable version".into(),
        RollbackAction::ManualGate { options, reason } => {
            format!("stop at a manual gate ({reason}): {}", options.join(" or "))
        }
    }
}

fn action_detail(a: &Action) -> Vec<String> {
    match a {
        Action::CheckWindow { window, freeze } => {
            let mut v = Vec::new();
            if let Some(w) = window {
                v.push(format!("window: {w}"));
            }
            if !freeze.is_empty() {
                v.push(format!("freeze: {}", freeze.join(", ")));
            }
            v
        }
        Action::CheckRequires { environment } => {
            vec![format!(
                "the release must have succeeded in `{environment}`"
            )]
        }
        Action::HealthCheck { url, expect } => vec![format!("GET {url} → {expect}")],
        Action::CaptureBaseline { mode, .. } => vec![format!("baseline: {mode}")],
        Action::Backup {
            method,
            command,
            verify,
            restore,
        } => {
            let mut v = vec![format!("method: {method}")];
            if let Some(c) = command {
                v.push(format!("command: `{c}`"));
            }
            if let Some(c) = verify {
                v.push(format!("verify: `{c}`"));
            }
            if let Some(c) = restore {
                v.push(format!("restore: `{c}`"));
            }
            v
        }
        Action::Checklist { items } => items
            .iter()
            .map(|i| match i {
                ChecklistItem::Check { condition } => format!("[ ] check `{condition}`"),
                ChecklistItem::Run { command, .. } => format!("[ ] run `{command}`"),
                ChecklistItem::Confirm { text, by } => format!("[ ] {text} (confirmed by {by})"),
            })
            .collect(),
        Action::Approval {
            role,
            who,
            on_timeout,
            question,
        } => {
            let mut v = vec![format!(
                "approver: {role}{}",
                who.as_ref().map(|w| format!(" ({w})")).unwrap_or_default()
            )];
            if let Some(q) = question {
                v.push(format!("asks: {q}"));
            }
            match on_timeout {
                Some(t) => v.push(format!("on timeout: {t}")),
                None => v.push("waits until decided".into()),
            }
            v
        }
        Action::Migrate {
            up,
            down,
            reversible,
            transactional,
            batch,
            batch_key,
            verify,
            statement_timeout_ms,
            lock_timeout_ms,
            irreversible_reason,
            ..
        } => {
            let mut v = vec![format!("up: `{}`", one_line(up))];
            match down {
                Some(d) => v.push(format!("down: `{}`", one_line(d))),
                None if *reversible => v.push("down: nothing to run (noop)".into()),
                None => {}
            }
            if let Some(r) = irreversible_reason {
                v.push(format!("irreversible: {r}"));
            }
            if !transactional {
                v.push("runs outside a transaction, statement by statement".into());
            }
            v.extend(migration_limits(
                *batch,
                batch_key.as_deref(),
                verify.as_ref(),
                *statement_timeout_ms,
                *lock_timeout_ms,
            ));
            v
        }
        Action::Revert {
            down,
            reversible,
            transactional,
            irreversible_reason,
            ..
        } => {
            let mut v = Vec::new();
            match down {
                Some(d) => v.push(format!("down: `{}`", one_line(d))),
                None if *reversible => v.push("down: nothing to run (noop)".into()),
                None => v.push("no down: the run stops here for a person to choose".into()),
            }
            if let Some(r) = irreversible_reason {
                v.push(format!("irreversible: {r}"));
            }
            if !transactional {
                v.push("runs outside a transaction, statement by statement".into());
            }
            v
        }
        Action::StartStable { version } => {
            vec![format!(
                "stable version: {}",
                version
                    .clone()
                    .unwrap_or_else(|| "the one running now".into())
            )]
        }
        Action::CanaryStep { .. } | Action::Switch { .. } | Action::Report => Vec::new(),
        Action::Preview { hold_ms, smoke } => {
            let mut v = vec![format!("preview checks for {}", fmt_ms(*hold_ms))];
            if *smoke {
                v.push("runs the smoke tests against the preview".into());
            }
            v
        }
        Action::KeepPrevious { duration_ms } => {
            vec![format!(
                "previous version kept for {}",
                fmt_ms(*duration_ms)
            )]
        }
        Action::RollingBatch {
            max_unavailable,
            health,
            ..
        } => {
            let mut v = vec![format!("at most {max_unavailable} instance(s) unavailable")];
            if let Some(h) = health {
                v.push(format!(
                    "health every {} for at most {}: healthy after {} passing check(s) in a row, out of service after {} failing",
                    fmt_ms(h.every_ms),
                    fmt_ms(h.timeout_ms),
                    h.healthy,
                    h.unhealthy
                ));
            }
            v
        }
        Action::Recreate { downtime_ms } => {
            vec![format!("expected downtime {}", fmt_ms(*downtime_ms))]
        }
        Action::Smoke { command } => vec![format!("command: `{command}`")],
        Action::Monitor { .. } => Vec::new(),
        Action::Flag { watch_ms, .. } if *watch_ms > 0 => vec![format!(
            "the triggers are watched for {} after the flag is set; a breach turns the flags back",
            fmt_ms(*watch_ms)
        )],
        Action::FlagRemoval { watch_ms, .. } | Action::Checkin { watch_ms, .. }
            if *watch_ms > 0 =>
        {
            vec![format!(
                "the triggers stay watched for {} more; a breach turns the flags back",
                fmt_ms(*watch_ms)
            )]
        }
        Action::Flag { .. } | Action::FlagRemoval { .. } | Action::Checkin { .. } => Vec::new(),
        Action::Notify { message } => vec![message.clone()],
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn when_line(m: &PlanMessage) -> String {
    match m.when.as_str() {
        "at" => match &m.at {
            Some(at) => format!("{} ({at})", m.spec),
            None => m.spec.clone(),
        },
        "every" => format!("every {}", m.spec),
        _ => format!("on {}", m.spec),
    }
}

/// The plan for a terminal.
/// How a migration runs beyond its SQL: its batches, its verify, its timeouts. Both the text
/// and the markdown plan show them: they decide whether a long backfill finishes.
fn migration_limits(
    batch: Option<u64>,
    batch_key: Option<&str>,
    verify: Option<&MigrationVerify>,
    statement_timeout_ms: u64,
    lock_timeout_ms: u64,
) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(b) = batch {
        let key = batch_key.unwrap_or(crate::sql::batch::DEFAULT_KEY);
        v.push(format!(
            "in batches of {b} rows by `{key}`, each committed; resumes after the last batch committed"
        ));
    }
    if let Some(check) = verify {
        v.push(format!(
            "verify: `{}` = {} (else the migration fails)",
            one_line(&check.query),
            check.expect
        ));
    }
    v.push(format!(
        "statement timeout {}, lock timeout {}",
        fmt_ms(statement_timeout_ms),
        fmt_ms(lock_timeout_ms)
    ));
    v
}

pub fn text(plan: &Plan) -> String {
    let mut o = String::new();
    match &plan.rollback {
        Some(r) => {
            let _ = writeln!(
                o,
                "plan: {} {} back to {} in {} (rollback)",
                plan.service, r.from, r.to, plan.environment
            );
        }
        None => {
            let _ = writeln!(
                o,
                "plan: {} {} → {} ({}{})",
                plan.service,
                plan.release,
                plan.environment,
                plan.strategy,
                plan.risk
                    .as_ref()
                    .map(|r| format!(", {r} risk"))
                    .unwrap_or_default()
            );
        }
    }
    if let Some(s) = &plan.start {
        let _ = writeln!(o, "T-0: {s}");
    }
    let _ = writeln!(
        o,
        "expected {}, breach detected within {}, rollback within {}",
        fmt_ms(plan.timeline.expected_ms),
        fmt_ms(plan.timeline.worst_case_detection_ms),
        fmt_ms(plan.timeline.worst_case_rollback_ms)
    );
    let mut last_rollback: Option<&Vec<RollbackAction>> = None;
    for phase in &plan.phases {
        let _ = writeln!(o, "\n{}", phase.name.id());
        for s in &phase.steps {
            let _ = writeln!(
                o,
                "  T+{:<8} {:<32} {}{}",
                fmt_ms(s.starts_at_ms),
                s.id,
                s.title,
                if s.point_of_no_return {
                    "  ⚠ point of no return"
                } else {
                    ""
                }
            );
            // A scheduled step's watch: how long the triggers below stay armed after it.
            if let Action::Flag { watch_ms, .. }
            | Action::FlagRemoval { watch_ms, .. }
            | Action::Checkin { watch_ms, .. } = &s.action
                && *watch_ms > 0
            {
                let _ = writeln!(
                    o,
                    "             {:<32}   watch: {} with the triggers armed",
                    "",
                    fmt_ms(*watch_ms)
                );
            }
            for g in &s.guards {
                let _ = writeln!(o, "             {:<32}   {}: {}", "", g.kind, g.condition);
            }
            if let Action::Migrate {
                batch,
                batch_key,
                verify,
                statement_timeout_ms,
                lock_timeout_ms,
                ..
            } = &s.action
            {
                for line in migration_limits(
                    *batch,
                    batch_key.as_deref(),
                    verify.as_ref(),
                    *statement_timeout_ms,
                    *lock_timeout_ms,
                ) {
                    let _ = writeln!(o, "             {:<32}   {line}", "");
                }
            }
            // The rollback is shown where it changes; it holds for the steps below it.
            if last_rollback != Some(&s.rollback) {
                let rb: Vec<String> = s.rollback.iter().map(rollback_line).collect();
                let _ = writeln!(o, "             {:<32}   rollback: {}", "", rb.join("; "));
                last_rollback = Some(&s.rollback);
            }
        }
    }
    if !plan.comms.is_empty() {
        let _ = writeln!(o, "\ncomms");
        for m in &plan.comms {
            let _ = writeln!(
                o,
                "  {:<24} → {}: {}",
                when_line(m),
                m.channels.join(", "),
                m.text
            );
        }
    }
    for n in &plan.notes {
        let _ = writeln!(o, "\nnote: {n}");
    }
    o
}

/// The runbook: what a team would otherwise write by hand.
pub fn markdown(plan: &Plan) -> String {
    let mut o = String::new();
    match &plan.rollback {
        Some(r) => {
            let _ = writeln!(
                o,
                "# Runbook: rollback of {} {} to {} in {}\n",
                plan.service, r.from, r.to, plan.environment
            );
        }
        None => {
            let _ = writeln!(
                o,
                "# Runbook: {} {} to {}\n",
                plan.service, plan.release, plan.environment
            );
        }
    }
    let _ = writeln!(o, "## Deployment information\n");
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| Service | {} |", plan.service);
    let _ = writeln!(o, "| Release | {} |", plan.release);
    let _ = writeln!(
        o,
        "| Environment | {}{} |",
        plan.environment,
        // Say so only when the name does not: `production (production)` says nothing.
        if plan.production && plan.environment != "production" {
            " (production)"
        } else {
            ""
        }
    );
    let _ = writeln!(o, "| Strategy | {} |", plan.strategy);
    if let Some(r) = &plan.risk {
        let _ = writeln!(o, "| Risk | {r} |");
    }
    let _ = writeln!(
        o,
        "| Start (T-0) | {} |",
        plan.start.clone().unwrap_or_else(|| "not scheduled".into())
    );
    let _ = writeln!(
        o,
        "| Expected duration | {} |",
        fmt_ms(plan.timeline.expected_ms)
    );
    let _ = writeln!(
        o,
        "| Worst-case detection | {} |",
        fmt_ms(plan.timeline.worst_case_detection_ms)
    );
    let _ = writeln!(
        o,
        "| Worst-case rollback | {} |",
        fmt_ms(plan.timeline.worst_case_rollback_ms)
    );
    let _ = writeln!(
        o,
        "| Point of no return | {} |",
        plan.point_of_no_return
            .as_ref()
            .map(|s| format!("`{s}`"))
            .unwrap_or_else(|| "none: every step can be rolled back automatically".into())
    );
    let _ = writeln!(o, "| Source | `{}` |\n", plan.source);

    if !plan.team.is_empty() {
        let _ = writeln!(o, "## Team\n");
        let _ = writeln!(o, "| Role | Who |\n|---|---|");
        for r in &plan.team {
            let _ = writeln!(o, "| {} | {} |", r.role, r.who);
        }
        if !plan.rollback_decision.is_empty() {
            let _ = writeln!(
                o,
                "\nRollback decisions: {}.",
                plan.rollback_decision.join(", ")
            );
        }
        let _ = writeln!(o);
    }

    let checklist: Vec<&Step> = plan
        .phases
        .iter()
        .flat_map(|p| p.steps.iter())
        .filter(|s| matches!(s.action, Action::Checklist { .. }))
        .collect();
    if !checklist.is_empty() {
        let _ = writeln!(o, "## Pre-deployment checklist\n");
        for s in checklist {
            for line in action_detail(&s.action) {
                let _ = writeln!(o, "- {line}");
            }
        }
        let _ = writeln!(o);
    }

    if !plan.triggers.is_empty() {
        let _ = writeln!(o, "## Rollback triggers\n");
        let _ = writeln!(
            o,
            "| Mode | Condition | For | Detected within |\n|---|---|---|---|"
        );
        for t in &plan.triggers {
            let _ = writeln!(
                o,
                "| {} | `{}` | {} | {} |",
                t.mode,
                t.condition,
                fmt_ms(t.for_ms),
                fmt_ms(t.detection_ms)
            );
        }
        let _ = writeln!(o);
    }

    for (i, phase) in plan.phases.iter().enumerate() {
        let _ = writeln!(o, "## {}. {}\n", i + 1, phase.name.title());
        for s in &phase.steps {
            let _ = writeln!(
                o,
                "### {} `{}`{}\n",
                s.title,
                s.id,
                if s.point_of_no_return {
                    " ⚠ point of no return"
                } else {
                    ""
                }
            );
            let mut when = format!("T+{}", fmt_ms(s.starts_at_ms));
            if let Some(at) = &s.starts_at {
                when.push_str(&format!(" ({at})"));
            }
            let _ = writeln!(o, "- When: {when}, expected {}", fmt_ms(s.expected_ms));
            if let Some(t) = s.timeout_ms {
                let _ = writeln!(o, "- Timeout: {}", fmt_ms(t));
            }
            for d in action_detail(&s.action) {
                let _ = writeln!(o, "- {d}");
            }
            for g in &s.guards {
                let label = if g.kind == "require" {
                    "Verify"
                } else {
                    "Armed"
                };
                let _ = writeln!(o, "- {label}: `{}`", g.condition);
            }
            let _ = writeln!(o, "- Rollback from here:");
            for (n, r) in s.rollback.iter().enumerate() {
                let _ = writeln!(o, "  {}. {}", n + 1, rollback_line(r));
            }
            if let Some(src) = &s.source {
                let _ = writeln!(o, "- Defined at `{}:{}`", src.file, src.line);
            }
            let _ = writeln!(o);
        }
    }

    if !plan.comms.is_empty() {
        let _ = writeln!(o, "## Communication plan\n");
        let _ = writeln!(o, "| When | Channels | Message |\n|---|---|---|");
        for m in &plan.comms {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                when_line(m),
                m.channels.join(", "),
                m.text.replace('|', "\\|")
            );
        }
        let _ = writeln!(o);
        if !plan.channels.is_empty() {
            let _ = writeln!(o, "| Channel | Kind | Target |\n|---|---|---|");
            for c in &plan.channels {
                let _ = writeln!(
                    o,
                    "| {}{} | {} | {} |",
                    c.name,
                    if c.required { " (required)" } else { "" },
                    c.kind,
                    c.target
                );
            }
            let _ = writeln!(o);
        }
    }
    if !plan.metrics.is_empty() {
        let _ = writeln!(o, "## Metrics\n");
        let _ = writeln!(o, "| Metric | Kind | Source | Query |\n|---|---|---|---|");
        for m in &plan.metrics {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                m.name,
                m.kind,
                m.source,
                m.query
                    .as_ref()
                    .map(|q| format!("`{}`", q.replace('|', "\\|")))
                    .unwrap_or_else(|| "none".into())
            );
        }
        let _ = writeln!(o);
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(o, "## Notes\n");
        for n in &plan.notes {
            let _ = writeln!(o, "- {n}");
        }
    }
    o
}

fn escape_dot(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn step_label(s: &Step) -> String {
    let extra = match &s.action {
        Action::CanaryStep { weight, .. } => format!("\n{}", fmt_percent(*weight)),
        _ => String::new(),
    };
    format!("{}{extra}\nT+{}", s.id, fmt_ms(s.starts_at_ms))
}

/// The step graph for Graphviz.
pub fn dot(plan: &Plan) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "digraph plan {{\n  label=\"{} {} → {}\";\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];",
        escape_dot(&plan.service),
        escape_dot(&plan.release),
        escape_dot(&plan.environment)
    );
    for p in &plan.phases {
        let _ = writeln!(
            o,
            "  subgraph cluster_{} {{\n    label=\"{}\";",
            p.name.id(),
            p.name.title()
        );
        for s in &p.steps {
            let style = if s.point_of_no_return {
                ", style=filled, fillcolor=\"#f8d7da\""
            } else {
                ""
            };
            let _ = writeln!(
                o,
                "    \"{}\" [label=\"{}\"{style}];",
                escape_dot(&s.id),
                escape_dot(&step_label(s))
                    .replace("\\\\n", "\\n")
                    .replace('\n', "\\n")
            );
        }
        let _ = writeln!(o, "  }}");
    }
    for p in &plan.phases {
        for s in &p.steps {
            for a in &s.after {
                let _ = writeln!(o, "  \"{}\" -> \"{}\";", escape_dot(a), escape_dot(&s.id));
            }
        }
    }
    let _ = writeln!(o, "}}");
    o
}

fn mermaid_id(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The step graph for Mermaid.
pub fn mermaid(plan: &Plan) -> String {
    let mut o = String::from("flowchart TD\n");
    for p in &plan.phases {
        let _ = writeln!(o, "  subgraph {}[\"{}\"]", p.name.id(), p.name.title());
        for s in &p.steps {
            let label = step_label(s).replace('"', "'").replace('\n', "<br/>");
            let _ = writeln!(o, "    {}[\"{label}\"]", mermaid_id(&s.id));
        }
        let _ = writeln!(o, "  end");
    }
    for p in &plan.phases {
        for s in &p.steps {
            for a in &s.after {
                let _ = writeln!(o, "  {} --> {}", mermaid_id(a), mermaid_id(&s.id));
            }
        }
    }
    if let Some(p) = &plan.point_of_no_return {
        let _ = writeln!(o, "  style {} fill:#f8d7da", mermaid_id(p));
    }
    o
}
