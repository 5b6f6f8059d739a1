//! The plan of a rollback of a finished release: from the release serving in an environment
//! back to an earlier one, along the way the run history gives ([`RollbackPath`]).
//!
//! It is a plan like any other, so the runtime runs it with the same executor, journal,
//! report, comms and exit codes. Its steps, in order:
//!
//! 1. when the way back crosses an irreversible migration, the restore-or-fix-forward gate,
//!    before anything changes: the older release may not run on a schema it cannot get back;
//! 2. the older release put back in place of the newer one (the provider's deploy, all
//!    traffic, health), its health check and smoke test, then one analysis interval watched
//!    with the older release's triggers armed — until here, a failure puts the newer release
//!    back;
//! 3. the migrations applied since, reverted newest first: only once the older release serves
//!    alone, since the newer one may use what they added. From the first revert on there is
//!    no way forward again but a person: a failed revert stops the run at a manual gate.
//!
//! The older release's own plan gives everything that is not a step (provider, database,
//! channels, team, metrics), its `on` messages (the `at` and `every` ones belong to a
//! scheduled deployment, not to a rollback started now), its health check, smoke test and
//! triggers. Each reverted migration's SQL comes from the plan of the release that applied it:
//! the history records names and checksums, the program holds the SQL.

use std::collections::HashMap;

use super::{
    Action, HEALTH_MS, LowerError, LowerOptions, MIGRATION_MS, PhaseName, Plan, PlanPhase,
    PlanRollback, RollbackAction, Step, TRAFFIC_MS, Timeline, fmt_ms, lower,
};
use crate::history::{RollbackPath, checksum};
use crate::resolve::Names;
use crate::source::SourceMap;

/// The plan that takes `path.from` back to `path.to` in `environment`.
pub fn rollback(
    names: &Names<'_>,
    sources: &SourceMap,
    sql: &crate::source::SpanMap<crate::check::LoadedSql>,
    environment: &str,
    path: &RollbackPath,
    options: &LowerOptions,
) -> Result<Plan, LowerError> {
    let options = LowerOptions {
        previous_release: Some(path.from.clone()),
        ..options.clone()
    };
    let target = lower(names, sources, sql, &path.to, environment, &options)?;
    // Each release whose migrations are reverted is lowered once, for its migrations' SQL.
    let lean = LowerOptions {
        start: None,
        without_rollback_lists: true,
        previous_release: None,
    };
    let mut releases: HashMap<&str, Plan> = HashMap::new();
    let mut reverts = Vec::new();
    let mut notes = Vec::new();
    for r in &path.reverts {
        let plan = match releases.get(r.release.as_str()) {
            Some(p) => p,
            None => {
                let p = lower(names, sources, sql, &r.release, environment, &lean)?;
                releases.entry(r.release.as_str()).or_insert(p)
            }
        };
        let found = plan
            .phases
            .iter()
            .flat_map(|p| p.steps.iter())
            .find_map(|s| match &s.action {
                Action::Migrate {
                    name,
                    phase,
                    up,
                    down,
                    reversible,
                    transactional,
                    irreversible_reason,
                    statement_timeout_ms,
                    lock_timeout_ms,
                    ..
                } if *name == r.migration.name => Some((
                    Action::Revert {
                        name: name.clone(),
                        release: r.release.clone(),
                        phase: phase.clone(),
                        up: up.clone(),
                        down: down.clone(),
                        reversible: *reversible,
                        transactional: *transactional,
                        statement_timeout_ms: *statement_timeout_ms,
                        lock_timeout_ms: *lock_timeout_ms,
                        irreversible_reason: irreversible_reason.clone(),
                    },
                    s.source.clone(),
                )),
                _ => None,
            });
        let Some((action, source)) = found else {
            return Err(LowerError::MigrationNotInProgram {
                release: r.release.clone(),
                name: r.migration.name.clone(),
            });
        };
        if let Action::Revert { up, .. } = &action
            && checksum(up) != r.migration.checksum
        {
            notes.push(format!(
                "migration `{}` of {} changed since run {} applied it: the database refuses to revert it until the program has its `up` as it ran",
                r.migration.name, r.release, r.run
            ));
        }
        reverts.push((action, source));
    }
    Ok(build(target, path, reverts, notes))
}

/// Puts the steps together; `target` is the older release's own plan.
fn build(
    target: Plan,
    path: &RollbackPath,
    reverts: Vec<(Action, Option<super::SourceRef>)>,
    mut notes: Vec<String>,
) -> Plan {
    let interval = target.timeline.analysis_interval_ms;
    let (from, to) = (path.from.as_str(), path.to.as_str());
    let forward_steps: Vec<&Step> = target.phases.iter().flat_map(|p| &p.steps).collect();
    let find = |f: &dyn Fn(&Action) -> bool| forward_steps.iter().find(|s| f(&s.action)).copied();
    let health = find(&|a| matches!(a, Action::HealthCheck { .. }));
    let smoke = find(&|a| matches!(a, Action::Smoke { .. }));
    let monitor_guards = find(&|a| matches!(a, Action::Monitor { .. }))
        .map(|s| s.guards.clone())
        .unwrap_or_default();

    let mut b = Builder::default();
    let mut point_of_no_return = None;
    let irreversible = reverts.iter().find(|(a, _)| {
        matches!(
            a,
            Action::Revert {
                reversible: false,
                ..
            }
        )
    });
    if let Some((
        action @ Action::Revert {
            name,
            release,
            irreversible_reason,
            ..
        },
        source,
    )) = irreversible
    {
        let reason = format!(
            "migration `{name}` of {release} cannot be undone automatically{}",
            irreversible_reason
                .as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default()
        );
        let mut gate = b.step(
            "pre.point_of_no_return",
            format!(
                "Stop: the way back to {to} crosses `{name}` of {release}, which cannot be reverted"
            ),
            action.clone(),
            0,
            vec![RollbackAction::ManualGate {
                options: vec!["restore from backup".into(), "fix forward".into()],
                reason,
            }],
        );
        gate.point_of_no_return = true;
        gate.source = source.clone();
        point_of_no_return = Some(gate.id.clone());
        b.push(PhaseName::PreDeploy, gate);
        notes.push(format!(
            "the way back from {from} to {to} crosses the irreversible migration `{name}` of {release}: the run stops at its gate before anything changes"
        ));
    }

    // Until the newer release is stopped, a failure puts it back.
    let back_to_newer = vec![
        RollbackAction::Notify {
            event: "rollback".into(),
        },
        RollbackAction::TrafficToStable,
        RollbackAction::StopNewVersion,
        RollbackAction::VerifyHealth,
    ];
    let switch = b.step(
        "deploy.rollback",
        format!("Put {to} back in place of {from}: start it, send it all traffic"),
        Action::Recreate { downtime_ms: 0 },
        TRAFFIC_MS,
        back_to_newer.clone(),
    );
    b.push(PhaseName::Deploy, switch);
    if let Some(h) = health {
        let mut s = b.step(
            "verify.health",
            format!("Check that {to} is healthy"),
            h.action.clone(),
            HEALTH_MS,
            back_to_newer.clone(),
        );
        s.timeout_ms = h.timeout_ms;
        s.source = h.source.clone();
        b.push(PhaseName::Verify, s);
    }
    if let Some(sm) = smoke {
        let mut s = b.step(
            "verify.smoke",
            sm.title.clone(),
            sm.action.clone(),
            sm.expected_ms,
            back_to_newer.clone(),
        );
        s.timeout_ms = sm.timeout_ms;
        s.source = sm.source.clone();
        b.push(PhaseName::Verify, s);
    }
    let mut watch = b.step(
        "monitor",
        format!(
            "Watch {to} for {} with its triggers armed, then stop {from}",
            fmt_ms(interval)
        ),
        Action::Monitor {
            duration_ms: interval,
        },
        interval,
        back_to_newer,
    );
    watch.guards = monitor_guards;
    b.push(PhaseName::Monitor, watch);

    let stopped = vec![RollbackAction::ManualGate {
        options: vec![
            "run `deployc rollback` again once the cause is fixed".into(),
            "fix forward".into(),
        ],
        reason: format!(
            "the way back to {to} stopped at a migration: {to} serves alone, the migrations after the failed one are still applied"
        ),
    }];
    let mut reverted_any = false;
    for (action, source) in reverts.into_iter().filter(|(a, _)| {
        matches!(
            a,
            Action::Revert {
                reversible: true,
                ..
            }
        )
    }) {
        let Action::Revert { name, release, .. } = &action else {
            continue;
        };
        let mut s = b.step(
            &format!("migrate.revert.{name}"),
            format!("Revert migration `{name}` of {release}"),
            action.clone(),
            MIGRATION_MS,
            stopped.clone(),
        );
        s.source = source;
        reverted_any = true;
        b.push(PhaseName::Migrate, s);
    }
    if reverted_any && target.target.database.is_none() {
        notes.push(format!(
            "the environment has no database: reverting the migrations of {from} will fail"
        ));
    }
    // Writing the report changes nothing: what holds after the last change holds here.
    let after_last = b.last_rollback();
    let report = b.step(
        "post.report",
        "Write the rollback report".into(),
        Action::Report,
        0,
        after_last,
    );
    b.push(PhaseName::PostDeploy, report);

    let expected = b.clock;
    notes.insert(
        0,
        format!(
            "rollback of {from} in {} to {to}, the way the run history gives",
            target.environment
        ),
    );
    let worst_rollback = TRAFFIC_MS * 2 + HEALTH_MS;
    let mut target_info = target.target;
    target_info.previous_release = Some(from.to_string());
    Plan {
        strategy: "rollback".into(),
        phases: b.phases,
        // `at` and `every` messages belong to a scheduled deployment.
        comms: target
            .comms
            .into_iter()
            .filter(|m| m.when == "on")
            .collect(),
        point_of_no_return,
        timeline: Timeline {
            expected_ms: expected,
            worst_case_detection_ms: if target.triggers.is_empty() {
                0
            } else {
                target
                    .timeline
                    .worst_case_detection_ms
                    .min(interval.max(1) * 2)
            },
            worst_case_rollback_ms: worst_rollback,
            schedule_end_ms: expected,
            analysis_interval_ms: interval,
        },
        notes,
        target: target_info,
        rollback: Some(PlanRollback {
            from: from.to_string(),
            to: to.to_string(),
        }),
        ..target
    }
}

/// Lays out steps one after the other on the plan's clock.
#[derive(Default)]
struct Builder {
    phases: Vec<PlanPhase>,
    clock: u64,
    last: Option<String>,
}

impl Builder {
    fn step(
        &self,
        id: &str,
        title: String,
        action: Action,
        expected_ms: u64,
        rollback: Vec<RollbackAction>,
    ) -> Step {
        Step {
            id: id.to_string(),
            title,
            action,
            after: self.last.iter().cloned().collect(),
            timeout_ms: None,
            guards: Vec::new(),
            starts_at_ms: self.clock,
            expected_ms,
            starts_at: None,
            rollback,
            point_of_no_return: false,
            source: None,
        }
    }

    /// The rollback of the step laid out last.
    fn last_rollback(&self) -> Vec<RollbackAction> {
        self.phases
            .last()
            .and_then(|p| p.steps.last())
            .map(|s| s.rollback.clone())
            .unwrap_or_default()
    }

    fn push(&mut self, phase: PhaseName, step: Step) {
        self.clock = self.clock.saturating_add(step.expected_ms);
        self.last = Some(step.id.clone());
        match self.phases.last_mut() {
            Some(p) if p.name == phase => p.steps.push(step),
            _ => self.phases.push(PlanPhase {
                name: phase,
                steps: vec![step],
            }),
        }
    }
}
