//! Lowering: one release × one environment of a checked program → a [`Plan`].
//!
//! Precondition: the program checked without errors (see `check`'s invariant); lowering
//! still never panics on a program that did not, it just leaves out what does not resolve.
//!
//! Steps run in phase order (pre_deploy → migrate → deploy → verify → monitor → post_deploy);
//! migrations follow the migration DAG. Each step carries the rollback that applies if things
//! go wrong there, computed cumulatively from what has been changed so far: traffic, the new
//! version's instances, executed migrations (reverted in reverse order), flags. The first
//! executed irreversible migration is the point of no return; from there on rollback is a
//! manual gate (restore from backup or fix forward).
//!
//! Durations the source does not give are estimated with the defaults below; the plan's
//! notes say when one was used.

pub(crate) mod format;
pub mod plan;
pub mod render;
mod rollback;

use crate::check::{self, MigrationGraph, placeholders, release_graph};
use crate::resolve::{Def, EnvSettings, Kind, ModuleId, Names};
use crate::source::{SourceMap, Span};
use crate::syntax::ast::{self, *};
pub use format::{fmt_condition, fmt_ms, fmt_number, fmt_offset};
pub use plan::*;
pub use rollback::rollback;

/// Analysis interval when a strategy does not say.
pub const DEFAULT_INTERVAL_MS: u64 = 60_000;
/// Time one metric query may take.
pub const QUERY_TIMEOUT_MS: u64 = 10_000;
/// Estimated time of one migration.
pub const MIGRATION_MS: u64 = 60_000;
/// Estimated time of a backup.
pub const BACKUP_MS: u64 = 300_000;
/// Estimated time to start a version's instances or move traffic.
pub const TRAFFIC_MS: u64 = 10_000;
/// Default smoke test timeout.
pub const SMOKE_MS: u64 = 300_000;
/// Default health check timeout.
pub const HEALTH_MS: u64 = 5_000;
const DAY_MS: u64 = 86_400_000;

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LowerError {
    UnknownRelease {
        release: String,
        known: Vec<String>,
    },
    UnknownEnvironment {
        environment: String,
        known: Vec<String>,
    },
    NoService,
    /// A rollback must revert a migration the program no longer has: its `down` is unknown.
    MigrationNotInProgram {
        release: String,
        name: String,
    },
}

impl std::fmt::Display for LowerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LowerError::UnknownRelease { release, known } => write!(
                f,
                "no release `{release}` in the program (releases: {})",
                known.join(", ")
            ),
            LowerError::UnknownEnvironment { environment, known } => write!(
                f,
                "no environment `{environment}` in the program (environments: {})",
                known.join(", ")
            ),
            LowerError::NoService => write!(f, "the program declares no service"),
            LowerError::MigrationNotInProgram { release, name } => write!(
                f,
                "release `{release}` applied migration `{name}`, which the program no longer has: its `down` is unknown, so the way back cannot be planned"
            ),
        }
    }
}

/// Options of one lowering.
#[derive(Debug, Clone, Default)]
pub struct LowerOptions {
    /// T-0, if known.
    pub start: Option<jiff::Timestamp>,
    /// Leave each step's `rollback` list empty and compute only the plan's timing (the
    /// worst-case rollback included). Every step's list names every migration applied
    /// before it, so the lists grow with the square of a release's migrations; the lint,
    /// which reads timings and steps but never the lists, lowers this way.
    pub without_rollback_lists: bool,
    /// The version serving before the release (`{previous_version}`), when the caller knows
    /// it better than the program's release order: a rollback goes back from a later release.
    pub previous_release: Option<String>,
}

/// Lowers one release in one environment.
pub fn lower(
    names: &Names<'_>,
    sources: &SourceMap,
    sql: &crate::source::SpanMap<crate::check::LoadedSql>,
    release: &str,
    environment: &str,
    options: &LowerOptions,
) -> Result<Plan, LowerError> {
    let releases: Vec<(ModuleId, &Release)> = names.releases().collect();
    let Some((module, rel)) = releases
        .iter()
        .find(|(_, r)| r.version.value == release)
        .copied()
    else {
        return Err(LowerError::UnknownRelease {
            release: release.to_string(),
            known: releases
                .iter()
                .map(|(_, r)| r.version.value.clone())
                .collect(),
        });
    };
    let Some(env) = names.environments().find(|e| e.name.name == environment) else {
        return Err(LowerError::UnknownEnvironment {
            environment: environment.to_string(),
            known: names.environments().map(|e| e.name.name.clone()).collect(),
        });
    };
    let service = names.service().ok_or(LowerError::NoService)?;
    let previous = options.previous_release.clone().or_else(|| {
        releases
            .iter()
            .take_while(|(_, r)| r.version.value != release)
            .last()
            .map(|(_, r)| r.version.value.clone())
    });
    let mut l = Lowering {
        names,
        sources,
        sql,
        module,
        rel,
        env,
        settings: names.settings_in(module, rel, env),
        service,
        previous,
        options,
        phases: Vec::new(),
        clock: 0,
        rollback_worst: 0,
        changed: Changed::default(),
        point_of_no_return: None,
        notes: Vec::new(),
        last_step: None,
        metrics_used: Vec::new(),
        blocks: Blocks {
            strategy: None,
            triggers: Vec::new(),
            comms: Vec::new(),
            checklist: Vec::new(),
        },
        graph: release_graph(rel),
    };
    l.blocks = l.bind_blocks();
    Ok(l.run())
}

/// What has been changed so far, to compute each step's rollback.
#[derive(Default, Clone)]
struct Changed {
    traffic: bool,
    new_version: bool,
    /// Executed reversible migrations: (name, down SQL; `None` for `down = noop`).
    migrations: Vec<(String, Option<String>)>,
    flags: Vec<String>,
    irreversible: Option<String>,
}

struct Lowering<'a, 'n> {
    names: &'n Names<'a>,
    sources: &'n SourceMap,
    sql: &'n crate::source::SpanMap<crate::check::LoadedSql>,
    module: ModuleId,
    rel: &'a Release,
    env: &'a Environment,
    /// The strategy, monitoring period, checklist and flags the release runs with here.
    settings: EnvSettings<'a>,
    service: &'a Service,
    previous: Option<String>,
    options: &'n LowerOptions,
    phases: Vec<PlanPhase>,
    clock: u64,
    /// The costliest rollback of the steps so far (see [`Lowering::rollback_now_cost`]).
    rollback_worst: u64,
    changed: Changed,
    point_of_no_return: Option<String>,
    notes: Vec<String>,
    last_step: Option<String>,
    /// Metrics the plan's conditions use, resolved where each condition is written.
    metrics_used: Vec<&'a Metric>,
    blocks: Blocks<'a>,
    graph: MigrationGraph<'a>,
}

/// A strategy, triggers, comms or checklist body with the block arguments that apply.
struct Bound<'a, T> {
    body: &'a T,
    /// Where the body's names resolve: the module of its definition.
    module: ModuleId,
    params: &'a [Param],
    /// Argument names given at the use site, one per parameter.
    args: Vec<String>,
}

// Not derived: a derive would require `T: Clone`, but only the reference is copied.
impl<T> Clone for Bound<'_, T> {
    fn clone(&self) -> Self {
        Bound {
            body: self.body,
            module: self.module,
            params: self.params,
            args: self.args.clone(),
        }
    }
}

/// Selects a block's body, parameters and name span from a definition.
type Pick<'a, T> = fn(Def<'a>) -> Option<(&'a T, &'a [Param], Span)>;

/// The blocks a release uses, bound to their definitions.
struct Blocks<'a> {
    strategy: Option<Bound<'a, Strategy>>,
    triggers: Vec<Bound<'a, Vec<Trigger>>>,
    comms: Vec<Bound<'a, Vec<CommsEntry>>>,
    checklist: Vec<Bound<'a, Vec<ChecklistEntry>>>,
}

impl<'a> Lowering<'a, '_> {
    fn source_ref(&self, span: Span) -> Option<SourceRef> {
        let f = self.sources.get(span.file)?;
        let (line, column) = f.line_col(span.start as usize);
        Some(SourceRef {
            file: f.name.clone(),
            line,
            column,
            start: span.start as usize,
            end: span.end as usize,
        })
    }

    fn abs(&self, offset_ms: i64) -> Option<String> {
        let start = self.options.start?;
        let t = start
            .checked_add(jiff::SignedDuration::from_millis(offset_ms))
            .ok()?;
        Some(t.to_string())
    }

    /// Adds a step, then the release's gates that follow it (`approval after PLACE …`).
    fn push(&mut self, phase: PhaseName, step: Step) {
        let place = gate_place_of(&step.id);
        let id = step.id.clone();
        self.push_one(phase, step);
        let Some(place) = place else {
            return;
        };
        let gates: Vec<&ReleaseGate> = self
            .rel
            .gates
            .iter()
            .filter(|g| g.place.value == place)
            .collect();
        for (i, g) in gates.iter().enumerate() {
            let on_timeout = g.timeout.as_ref().map(|t| {
                format!(
                    "{} after {}",
                    t.action.map(|x| gate(x.value)).unwrap_or("abort"),
                    fmt_ms(ms(t.timeout.value))
                )
            });
            let mut s = self.step(
                if i == 0 {
                    format!("{id}.approval")
                } else {
                    format!("{id}.approval-{}", i + 1)
                },
                format!("Approval by {}: {}", g.role.name, g.text.value),
                Action::Approval {
                    role: g.role.name.clone(),
                    who: self
                        .names
                        .roles()
                        .find(|r| r.name.name == g.role.name)
                        .map(|r| r.who.value.clone()),
                    on_timeout,
                    question: Some(g.text.value.clone()),
                },
                Some(g.span),
            );
            s.timeout_ms = g.timeout.as_ref().map(|t| ms(t.timeout.value));
            // Once traffic has moved the new version serves while the gate waits: the
            // automatic triggers stay armed.
            if self.changed.traffic {
                s.guards = self.trigger_guards();
            }
            self.push_one(phase, s);
        }
    }

    fn push_one(&mut self, phase: PhaseName, mut step: Step) {
        step.starts_at_ms = self.clock;
        step.starts_at = self.abs(i64::try_from(self.clock).unwrap_or(i64::MAX));
        if step.after.is_empty()
            && let Some(prev) = &self.last_step
        {
            step.after.push(prev.clone());
        }
        if self.options.without_rollback_lists {
            self.rollback_worst = self.rollback_worst.max(self.rollback_now_cost());
        } else {
            step.rollback = self.rollback_now();
            self.rollback_worst = self.rollback_worst.max(self.rollback_cost(&step.rollback));
        }
        self.clock = self.clock.saturating_add(step.expected_ms);
        self.last_step = Some(step.id.clone());
        match self.phases.last_mut() {
            Some(p) if p.name == phase => p.steps.push(step),
            _ => self.phases.push(PlanPhase {
                name: phase,
                steps: vec![step],
            }),
        }
    }

    fn step(&self, id: String, title: String, action: Action, span: Option<Span>) -> Step {
        Step {
            id,
            title,
            action,
            after: Vec::new(),
            timeout_ms: None,
            guards: Vec::new(),
            starts_at_ms: 0,
            expected_ms: 0,
            starts_at: None,
            rollback: Vec::new(),
            point_of_no_return: false,
            source: span.and_then(|s| self.source_ref(s)),
        }
    }

    /// The rollback procedure given what has changed so far.
    fn rollback_now(&self) -> Vec<RollbackAction> {
        let c = &self.changed;
        if let Some(name) = &c.irreversible {
            return vec![
                RollbackAction::Notify {
                    event: "rollback".into(),
                },
                RollbackAction::ManualGate {
                    options: vec!["restore from backup".into(), "fix forward".into()],
                    reason: format!("migration `{name}` cannot be undone automatically"),
                },
            ];
        }
        let mut out = Vec::new();
        if c.traffic || c.new_version || !c.migrations.is_empty() || !c.flags.is_empty() {
            out.push(RollbackAction::Notify {
                event: "rollback".into(),
            });
        }
        if c.traffic {
            out.push(RollbackAction::TrafficToStable);
        }
        if c.new_version {
            out.push(RollbackAction::StopNewVersion);
        }
        for f in c.flags.iter().rev() {
            let initially_on = self
                .flags()
                .into_iter()
                .find(|d| &d.name.name == f)
                .and_then(|d| d.initially.first())
                .is_some_and(|i| i.value);
            out.push(RollbackAction::RestoreFlag {
                flag: f.clone(),
                initially_on,
            });
        }
        for (name, down) in c.migrations.iter().rev() {
            out.push(RollbackAction::RevertMigration {
                name: name.clone(),
                down: down.clone(),
            });
        }
        if out.is_empty() {
            return vec![RollbackAction::Abort];
        }
        out.push(RollbackAction::VerifyHealth);
        out
    }

    /// `rollback_cost(&rollback_now())` without building the list: O(1) per step.
    fn rollback_now_cost(&self) -> u64 {
        let c = &self.changed;
        if c.irreversible.is_some() {
            return 0;
        }
        let any = c.traffic || c.new_version || !c.migrations.is_empty() || !c.flags.is_empty();
        if !any {
            return 0;
        }
        let traffic = u64::from(c.traffic) + u64::from(c.new_version);
        let flags = u64::try_from(c.flags.len()).unwrap_or(u64::MAX);
        let migrations = u64::try_from(c.migrations.len()).unwrap_or(u64::MAX);
        TRAFFIC_MS
            .saturating_mul(traffic.saturating_add(flags))
            .saturating_add(MIGRATION_MS.saturating_mul(migrations))
            .saturating_add(self.health_timeout())
    }

    fn rollback_cost(&self, actions: &[RollbackAction]) -> u64 {
        actions
            .iter()
            .map(|a| match a {
                RollbackAction::TrafficToStable | RollbackAction::StopNewVersion => TRAFFIC_MS,
                RollbackAction::RevertMigration { .. } => MIGRATION_MS,
                RollbackAction::RestoreFlag { .. } => TRAFFIC_MS,
                RollbackAction::VerifyHealth => self.health_timeout(),
                _ => 0,
            })
            .sum()
    }

    fn health_timeout(&self) -> u64 {
        self.service
            .health
            .first()
            .and_then(|h| h.timeout.as_ref())
            .map(|t| ms(t.value))
            .unwrap_or(HEALTH_MS)
    }

    // -----------------------------------------------------------------------------------------

    fn inline<T>(&self, body: &'a T) -> Bound<'a, T> {
        Bound {
            body,
            module: self.module,
            params: &[],
            args: Vec::new(),
        }
    }

    /// Binds a use of a named block written in `from`: the body `pick` selects from a
    /// definition of `kind`, the module it is defined in (where its names resolve), and the
    /// arguments of the use.
    fn named_in<T>(
        &self,
        from: ModuleId,
        u: &BlockUse,
        kind: Kind,
        pick: Pick<'a, T>,
    ) -> Option<Bound<'a, T>> {
        let def = self.names.lookup_kind(from, &[], &u.path, Some(kind))?;
        let (body, params, span) = pick(def)?;
        Some(Bound {
            body,
            module: self.def_module(span),
            params,
            args: self.args(u),
        })
    }

    /// Binds every use in `uses`, written in `from` (an inline body resolves there too).
    fn bind_all_in<T>(
        &self,
        from: ModuleId,
        uses: &'a [Use<T>],
        kind: Kind,
        pick: Pick<'a, T>,
    ) -> Vec<Bound<'a, T>> {
        uses.iter()
            .filter_map(|u| match u {
                Use::Inline { body, .. } => Some(Bound {
                    module: from,
                    ..self.inline(body)
                }),
                Use::Named(u) => self.named_in(from, u, kind, pick),
            })
            .collect()
    }

    fn bind_all<T>(&self, uses: &'a [Use<T>], kind: Kind, pick: Pick<'a, T>) -> Vec<Bound<'a, T>> {
        self.bind_all_in(self.module, uses, kind, pick)
    }

    /// The monitoring period (and check-ins) of this environment.
    fn monitors(&self) -> &'a [Monitor] {
        self.settings.monitor.value
    }

    /// The checklist of this environment.
    fn checklists(&self) -> &'a [Use<Vec<ChecklistEntry>>] {
        self.settings.checklist.value
    }

    /// The flag schedules of this environment.
    fn flags(&self) -> Vec<&'a Flag> {
        self.settings.flags.clone()
    }

    /// The release's strategy, triggers, comms and checklist, bound once.
    fn bind_blocks(&self) -> Blocks<'a> {
        let strategy = self.settings.strategy;
        let checklist = self.settings.checklist;
        Blocks {
            strategy: strategy.value.first().and_then(|s| match s {
                StrategyRef::Inline(s) => Some(Bound {
                    module: strategy.module,
                    ..self.inline(s)
                }),
                StrategyRef::Named(u) => {
                    self.named_in(strategy.module, u, Kind::Strategy, |d| match d {
                        Def::Strategy(d) => Some((&d.strategy, &d.params, d.name.span)),
                        _ => None,
                    })
                }
            }),
            triggers: self.bind_all(&self.rel.rollback, Kind::Rollback, |d| match d {
                Def::Rollback(d) => Some((&d.triggers, &d.params, d.name.span)),
                _ => None,
            }),
            comms: self.bind_all(&self.rel.comms, Kind::Comms, |d| match d {
                Def::Comms(d) => Some((&d.entries, &d.params, d.name.span)),
                _ => None,
            }),
            checklist: self.bind_all_in(checklist.module, checklist.value, Kind::Checklist, |d| {
                match d {
                    Def::Checklist(d) => Some((&d.entries, &d.params, d.name.span)),
                    _ => None,
                }
            }),
        }
    }

    /// The module a definition lives in (by its file).
    fn def_module(&self, span: Span) -> ModuleId {
        self.names
            .program
            .modules
            .iter()
            .copied()
            .find(|m| {
                self.names
                    .session
                    .module(*m)
                    .is_some_and(|l| l.file == span.file)
            })
            .unwrap_or(self.module)
    }

    /// The argument names of a block use, as written at the use site (they resolve there).
    fn args(&self, u: &BlockUse) -> Vec<String> {
        u.args
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|a| a.name.clone())
            .collect()
    }

    /// Substitutes block parameters by their arguments.
    fn subst<T>(&self, b: &Bound<'_, T>, name: &str) -> String {
        b.params
            .iter()
            .position(|p| p.name.name == name)
            .and_then(|i| b.args.get(i).cloned())
            .unwrap_or_else(|| name.to_string())
    }

    /// The metric a condition names, resolved where the condition is written; a block
    /// parameter resolves to the argument given at the use site.
    fn metric<T>(&self, b: &Bound<'a, T>, p: &ast::Path) -> Option<&'a Metric> {
        match self
            .names
            .lookup_kind(b.module, b.params, p, Some(Kind::Metric))?
        {
            Def::Metric(m) => Some(m),
            Def::Param(param) => {
                let arg = self.subst(b, &param.name.name);
                let path = ast::Path {
                    segments: vec![Ident {
                        name: arg,
                        span: Span::synthetic(),
                    }],
                    span: Span::synthetic(),
                };
                match self
                    .names
                    .lookup_kind(self.module, &[], &path, Some(Kind::Metric))?
                {
                    Def::Metric(m) => Some(m),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn cond<T>(&mut self, b: &Bound<'a, T>, c: &Condition) -> String {
        for cmp in c.comparisons() {
            if let Condition::Compare {
                lhs: Operand::Name(p),
                ..
            } = cmp
                && let Some(m) = self.metric(b, p)
                && !self.metrics_used.iter().any(|u| std::ptr::eq(*u, m))
            {
                self.metrics_used.push(m);
            }
        }
        fmt_condition(c, &|n| self.subst(b, n))
    }

    fn interval(&self, s: &Strategy) -> u64 {
        s.analysis()
            .and_then(|a| a.every.as_ref())
            .map(|e| ms(e.value))
            .unwrap_or(DEFAULT_INTERVAL_MS)
    }

    /// Metrics compared with `baseline` anywhere in the strategy or the triggers.
    fn baseline_metrics(&self) -> Vec<String> {
        let mut found: Vec<&'a Metric> = Vec::new();
        let mut add = |m: Option<&'a Metric>| {
            if let Some(m) = m
                && !found.iter().any(|f| std::ptr::eq(*f, m))
            {
                found.push(m);
            }
        };
        if let Some(b) = &self.blocks.strategy {
            let requires: Vec<&Condition> = match b.body {
                Strategy::Canary { steps, .. } => {
                    steps.iter().filter_map(|s| s.require.as_ref()).collect()
                }
                Strategy::BlueGreen { preview, .. } => {
                    preview.iter().filter_map(|s| s.require.as_ref()).collect()
                }
                _ => Vec::new(),
            };
            for p in requires.into_iter().flat_map(relative_paths) {
                add(self.metric(b, p));
            }
        }
        for b in &self.blocks.triggers {
            for p in b.body.iter().flat_map(|t| relative_paths(&t.condition)) {
                add(self.metric(b, p));
            }
        }
        found.into_iter().map(|m| m.name.name.clone()).collect()
    }

    // -----------------------------------------------------------------------------------------

    fn run(&mut self) -> Plan {
        let strategy = self.blocks.strategy.clone();
        let interval = strategy
            .as_ref()
            .map(|b| self.interval(b.body))
            .unwrap_or(DEFAULT_INTERVAL_MS);
        self.pre_deploy(interval);
        self.migrations_before();
        if let Some(b) = &strategy {
            self.deploy(b, interval);
        }
        self.verify();
        let monitor_ms = self
            .monitors()
            .first()
            .map(|m| ms(m.duration.value))
            .unwrap_or(0);
        let mut monitor = self.step(
            "monitor".into(),
            if monitor_ms == 0 {
                "No monitoring period: triggers disarm after verification".to_string()
            } else {
                format!(
                    "Monitor for {} with rollback triggers armed",
                    fmt_ms(monitor_ms)
                )
            },
            Action::Monitor {
                duration_ms: monitor_ms,
            },
            self.monitors().first().map(|m| m.span),
        );
        monitor.expected_ms = monitor_ms;
        monitor.guards = self.trigger_guards();
        self.push(PhaseName::Monitor, monitor);
        let expected = self.clock;
        let schedule_end = self.post_deploy(monitor_ms);
        let triggers = self.plan_triggers(interval);
        let comms = self.plan_comms();
        let detection = triggers
            .iter()
            .map(|t| t.detection_ms)
            .max()
            .unwrap_or(0)
            .max(
                // A failing `require` is seen at the next evaluation.
                if matches!(
                    strategy.as_ref().map(|b| b.body),
                    Some(Strategy::Canary { .. } | Strategy::BlueGreen { .. })
                ) {
                    interval + QUERY_TIMEOUT_MS
                } else {
                    0
                },
            );
        let rollback_worst = self.rollback_worst;
        let metrics = self.plan_metrics();
        Plan {
            format: PLAN_FORMAT,
            service: self.service.name.name.clone(),
            release: self.rel.version.value.clone(),
            environment: self.env.name.name.clone(),
            source: self
                .sources
                .get(self.rel.span.file)
                .map(|f| f.name.clone())
                .unwrap_or_default(),
            risk: self.rel.risk.first().map(|r| match r.value {
                Risk::Low => "low".to_string(),
                Risk::Medium => "medium".to_string(),
                Risk::High => "high".to_string(),
            }),
            strategy: strategy
                .as_ref()
                .map(|b| b.body.name().to_string())
                .unwrap_or_default(),
            start: self.options.start.map(|s| s.to_string()),
            production: self.env.production.is_some() || self.env.name.name == "production",
            team: self
                .names
                .roles()
                .map(|r| PlanRole {
                    role: r.name.name.clone(),
                    who: r.who.value.clone(),
                })
                .collect(),
            rollback_decision: self
                .names
                .team()
                .and_then(|t| t.rollback_decision.first())
                .map(|(l, _)| l.iter().map(|i| i.name.clone()).collect())
                .unwrap_or_default(),
            channels: self.plan_channels(),
            metrics,
            phases: std::mem::take(&mut self.phases),
            triggers,
            comms,
            point_of_no_return: self.point_of_no_return.clone(),
            timeline: Timeline {
                expected_ms: expected,
                worst_case_detection_ms: detection,
                worst_case_rollback_ms: rollback_worst,
                schedule_end_ms: schedule_end.max(expected),
                analysis_interval_ms: interval,
            },
            notes: std::mem::take(&mut self.notes),
            target: self.target(strategy.as_ref().map(|b| b.body)),
            rollback: None,
        }
    }

    /// The environment settings the runtime needs, in plan form.
    fn target(&self, strategy: Option<&Strategy>) -> Target {
        let value = |v: &ValueSource| match v {
            ValueSource::Inline(s) => s.value.clone(),
            ValueSource::Env { var, .. } => format!("env {var}"),
        };
        let provider = self.env.provider.first().map(|p| match p {
            Provider::Local {
                command,
                replicas,
                traffic,
                ..
            } => TargetProvider::Local {
                command: command.first().map(|c| c.value.clone()),
                replicas: replicas.first().map(|r| r.value).unwrap_or(1),
                traffic: traffic.first().map(|t| TargetTraffic {
                    per_second: match t.rate.value.per {
                        TimeUnit::Second => t.rate.value.amount,
                        TimeUnit::Minute => t.rate.value.amount / 60.0,
                        TimeUnit::Hour => t.rate.value.amount / 3600.0,
                    },
                    paths: t.paths.iter().map(|p| p.value.clone()).collect(),
                }),
            },
            Provider::Command { actions, .. } => TargetProvider::Command {
                actions: actions
                    .iter()
                    .map(|a| TargetCommand {
                        action: a.action.name.clone(),
                        command: a.command.value.clone(),
                        timeout_ms: a.timeout.map(|t| ms(t.value)),
                    })
                    .collect(),
            },
            Provider::Cluster { kind, settings, .. } => {
                let s = check::cluster::ClusterSettings::read(*kind, settings);
                let text = |name: &str| s.text(name).map(str::to_string);
                let workload = match kind {
                    ClusterKind::Kubernetes => text("deployment"),
                    ClusterKind::ArgoRollouts => text("rollout"),
                }
                .unwrap_or_default();
                let target = ClusterTarget {
                    namespace: text("namespace").unwrap_or_default(),
                    container: text("container").unwrap_or_else(|| workload.clone()),
                    workload,
                    image: text("image").unwrap_or_default(),
                    service: text("service"),
                    preview_service: text("preview_service"),
                    canary_service: text("canary_service"),
                    replicas: s.count("replicas").map(|r| r.value),
                    route: text("route"),
                    context: text("context"),
                    kubeconfig: s.path_or_env("kubeconfig"),
                    timeout_ms: s
                        .duration_ms("timeout")
                        .unwrap_or(check::cluster::DEFAULT_TIMEOUT_MS),
                };
                match kind {
                    ClusterKind::Kubernetes => TargetProvider::Kubernetes(target),
                    ClusterKind::ArgoRollouts => TargetProvider::ArgoRollouts(target),
                }
            }
        });
        let database = self.env.database.first().map(|d| match d {
            ast::Database::Sqlite { file, .. } => TargetDatabase::Sqlite {
                file: file.value.clone(),
            },
            ast::Database::Postgres { url, .. } => TargetDatabase::Postgres { url: value(url) },
        });
        let state = self
            .env
            .state
            .first()
            .map(|s| TargetState::Postgres { url: value(&s.url) });
        let backup = self.env.backup.first().map(|b| {
            match b {
                Backup::PgDump(_) => "pg_dump",
                Backup::Snapshot(_) => "snapshot",
                Backup::None(_) => "none",
                Backup::Run { .. } => "run",
            }
            .to_string()
        });
        let metrics_source = self.env.metrics.first().map(|m| match m {
            MetricsSource::Prometheus { url, timeout, .. } => TargetMetrics {
                kind: "prometheus".into(),
                value: Some(value(url)),
                every_ms: None,
                timeout_ms: timeout.map(|t| ms(t.value)),
            },
            MetricsSource::Probe { every, .. } => TargetMetrics {
                kind: "probe".into(),
                value: None,
                every_ms: every.map(|t| ms(t.value)),
                timeout_ms: None,
            },
            MetricsSource::Command {
                command, timeout, ..
            } => TargetMetrics {
                kind: "command".into(),
                value: Some(command.value.clone()),
                every_ms: None,
                timeout_ms: timeout.map(|t| ms(t.value)),
            },
        });
        let flags = self.env.flags.first().map(|(f, _)| match f {
            FlagDriver::Command(c) => TargetFlags {
                kind: "command".into(),
                value: c.value.clone(),
            },
            FlagDriver::File(c) => TargetFlags {
                kind: "file".into(),
                value: c.value.clone(),
            },
        });
        let no_data = strategy
            .and_then(|s| s.analysis())
            .and_then(|a| a.no_data.as_ref());
        Target {
            provider,
            database,
            state,
            backup,
            metrics_source,
            flags,
            url: self
                .env
                .url
                .first()
                .or(self.service.url.first())
                .map(|u| u.value.clone()),
            previous_release: self.previous.clone(),
            no_data: no_data.map(|n| {
                match n.action.value {
                    NoDataAction::Fail => "fail",
                    NoDataAction::Pass => "pass",
                    NoDataAction::Pause => "pause",
                }
                .to_string()
            }),
            no_data_after: no_data.and_then(|n| n.after.map(|a| a.value)),
        }
    }

    fn pre_deploy(&mut self, interval: u64) {
        let window = self.env.window.first().map(format::fmt_window);
        let freeze: Vec<String> = self.env.freeze.iter().map(format::fmt_date_range).collect();
        if window.is_some() || !freeze.is_empty() {
            let s = self.step(
                "pre.window".into(),
                "Check the deployment window and freeze periods".into(),
                Action::CheckWindow { window, freeze },
                self.env.window.first().map(|w| w.span),
            );
            self.push(PhaseName::PreDeploy, s);
        }
        for r in &self.env.requires {
            let s = self.step(
                format!("pre.requires.{}", r.name),
                format!(
                    "Confirm {} {} succeeded in {}",
                    self.service.name.name, self.rel.version.value, r.name
                ),
                Action::CheckRequires {
                    environment: r.name.clone(),
                },
                Some(r.span),
            );
            self.push(PhaseName::PreDeploy, s);
        }
        if let Some(h) = self.service.health.first() {
            let mut s = self.step(
                "pre.health".into(),
                "Check that the current version is healthy".into(),
                Action::HealthCheck {
                    url: self.render_url(&h.url.value),
                    expect: h.expect.map(|e| e.value).unwrap_or(200),
                },
                Some(h.span),
            );
            s.timeout_ms = Some(self.health_timeout());
            self.push(PhaseName::PreDeploy, s);
        }
        for b in self.blocks.checklist.clone() {
            let mut items = Vec::new();
            for e in b.body {
                items.push(match e {
                    ChecklistEntry::Check(c, _) => ChecklistItem::Check {
                        condition: self.cond(&b, c),
                    },
                    ChecklistEntry::Run(r) => ChecklistItem::Run {
                        command: r.command.value.clone(),
                        timeout_ms: r.timeout.map(|t| ms(t.value)),
                    },
                    ChecklistEntry::Confirm { text, by, .. } => ChecklistItem::Confirm {
                        text: text.value.clone(),
                        by: self.subst(&b, &by.name),
                    },
                });
            }
            let s = self.step(
                "pre.checklist".into(),
                "Pre-deployment checklist".into(),
                Action::Checklist { items },
                self.checklists().first().map(|c| c.span()),
            );
            self.push(PhaseName::PreDeploy, s);
        }
        let baseline = self.baseline_metrics();
        if !baseline.is_empty() {
            let mode = match self.env.metrics.first() {
                Some(MetricsSource::Command { .. }) => "captured",
                _ => "paired",
            };
            let mut s = self.step(
                "pre.baseline".into(),
                match mode {
                    "captured" => "Capture baseline metrics of the stable version".into(),
                    _ => "Record baseline metrics (paired with the stable version)".into(),
                },
                Action::CaptureBaseline {
                    metrics: baseline,
                    mode: mode.into(),
                },
                None,
            );
            s.expected_ms = interval;
            self.push(PhaseName::PreDeploy, s);
        }
        let needs_backup = self
            .rel
            .migrations
            .iter()
            .any(|m| m.down.is_empty() || !m.irreversible.is_empty());
        if let Some(b) = self.env.backup.first() {
            let (method, command, verify, restore) = match b {
                Backup::PgDump(_) => ("pg_dump", None, None, None),
                Backup::Snapshot(_) => ("snapshot", None, None, None),
                Backup::None(_) => ("none", None, None, None),
                Backup::Run {
                    command,
                    verify,
                    restore,
                    ..
                } => (
                    "command",
                    Some(command.value.clone()),
                    verify.as_ref().map(|v| v.value.clone()),
                    restore.as_ref().map(|v| v.value.clone()),
                ),
            };
            if method != "none" && !self.rel.migrations.is_empty() {
                let mut s = self.step(
                    "pre.backup".into(),
                    if needs_backup {
                        "Back up the database (an irreversible migration follows)".into()
                    } else {
                        "Back up the database".into()
                    },
                    Action::Backup {
                        method: method.into(),
                        command,
                        verify,
                        restore,
                    },
                    Some(b.span()),
                );
                s.expected_ms = BACKUP_MS;
                self.push(PhaseName::PreDeploy, s);
            }
        }
        for a in &self.env.approval {
            let who = self
                .names
                .roles()
                .find(|r| r.name.name == a.role.name)
                .map(|r| r.who.value.clone());
            let on_timeout = a.timeout.as_ref().map(|t| {
                format!(
                    "{} after {}",
                    t.action.map(|x| gate(x.value)).unwrap_or("abort"),
                    fmt_ms(ms(t.timeout.value))
                )
            });
            let mut s = self.step(
                "pre.approval".into(),
                format!("Go/no-go approval by {}", a.role.name),
                Action::Approval {
                    role: a.role.name.clone(),
                    who,
                    on_timeout,
                    question: None,
                },
                Some(a.span),
            );
            s.timeout_ms = a.timeout.as_ref().map(|t| ms(t.timeout.value));
            self.push(PhaseName::PreDeploy, s);
        }
    }

    fn migration_step(&mut self, m: &Migration, phase: PhaseName) {
        let text = |src: &SqlSource| -> String {
            self.sql
                .get(&src.span())
                .map(|l| l.text.clone())
                .unwrap_or_default()
        };
        let up = m.up.first().map(|(s, _)| text(s)).unwrap_or_default();
        let down = m.down.first().and_then(|(d, _)| match d {
            Down::Sql(s) => Some(text(s)),
            Down::Noop(_) => None,
        });
        let verify = m.verify.first().map(|(v, _)| plan::MigrationVerify {
            query: text(&v.query),
            expect: match &v.expect.value {
                ast::Expected::Int(n) => plan::VerifyValue::Int(*n),
                ast::Expected::Text(t) => plan::VerifyValue::Text(t.clone()),
            },
        });
        let reversible = !m.down.is_empty() && m.irreversible.is_empty();
        // A statement that cannot run in a transaction (`CONCURRENTLY`) makes the whole
        // migration run outside one; read from the syntax tree, not the text.
        // The tree the checker parsed: each SQL text is parsed once per run.
        let tree =
            m.up.first()
                .and_then(|(src, _)| self.sql.get(&src.span()))
                .and_then(|l| l.tree.as_ref());
        let transactional = match tree {
            Some(t) => crate::sql::guard(|| crate::sql::model::build(&t.tree()).transactional)
                .unwrap_or(true),
            None => crate::sql::model::of_text(&up).transactional,
        };
        let mut s = self.step(
            format!("migrate.{}", m.name.name),
            format!(
                "{} migration `{}`",
                capitalize(m.phase.value.name()),
                m.name.name
            ),
            Action::Migrate {
                name: m.name.name.clone(),
                phase: m.phase.value.name().into(),
                up,
                down: down.clone(),
                reversible,
                transactional,
                batch: m.batch.first().map(|b| b.value),
                batch_key: m.batch.first().map(|_| {
                    m.batch_key.as_ref().map_or_else(
                        || crate::sql::batch::DEFAULT_KEY.to_string(),
                        |k| k.name.clone(),
                    )
                }),
                verify,
                statement_timeout_ms: m
                    .statement_timeout
                    .first()
                    .or(self.env.statement_timeout.first())
                    .map_or(plan::DEFAULT_STATEMENT_TIMEOUT_MS, |d| ms(d.value)),
                lock_timeout_ms: m
                    .lock_timeout
                    .first()
                    .or(self.env.lock_timeout.first())
                    .map_or(plan::DEFAULT_LOCK_TIMEOUT_MS, |d| ms(d.value)),
                irreversible_reason: m.irreversible.first().map(|(w, _)| w.value.clone()),
            },
            Some(m.span),
        );
        s.expected_ms = MIGRATION_MS;
        s.after = m
            .after
            .iter()
            .map(|a| format!("migrate.{}", a.name))
            .collect();
        if let Some(prev) = &self.last_step
            && !s.after.contains(prev)
        {
            s.after.push(prev.clone());
        }
        // The step's own rollback includes reverting itself if it fails midway.
        if reversible {
            self.changed.migrations.push((m.name.name.clone(), down));
        } else {
            self.changed.irreversible = Some(m.name.name.clone());
            if self.point_of_no_return.is_none() {
                self.point_of_no_return = Some(s.id.clone());
                s.point_of_no_return = true;
            }
            if m.irreversible.is_empty() {
                self.notes.push(format!(
                    "migration `{}` has no `down` and is treated as irreversible",
                    m.name.name
                ));
            }
        }
        self.push(phase, s);
    }

    fn migrations_before(&mut self) {
        for m in self.graph.before_deploy.clone() {
            self.migration_step(m, PhaseName::Migrate);
        }
    }

    fn deploy(&mut self, b: &Bound<'a, Strategy>, interval: u64) {
        let version = &self.rel.version.value;
        if b.body.is_progressive() {
            let mut s = self.step(
                "deploy.stable".into(),
                match &self.previous {
                    Some(p) => format!("Ensure the stable version {p} serves all traffic"),
                    None => "Ensure the stable version serves all traffic".into(),
                },
                Action::StartStable {
                    version: self.previous.clone(),
                },
                None,
            );
            s.expected_ms = TRAFFIC_MS;
            self.push(PhaseName::Deploy, s);
        }
        let triggers = self.trigger_guards();
        match b.body {
            Strategy::Canary { steps, .. } => {
                self.changed.new_version = true;
                // Under `no_data pause` a hold may stand still for as long as it lasts, so the
                // step's timeout leaves room for that.
                let pauses = b
                    .body
                    .analysis()
                    .and_then(|a| a.no_data.as_ref())
                    .is_some_and(|n| n.action.value == NoDataAction::Pause);
                for (i, st) in steps.iter().enumerate() {
                    let hold = st.hold.map(|h| ms(h.value)).unwrap_or(0);
                    let mut s = self.step(
                        format!("deploy.canary-{}", i + 1),
                        format!(
                            "Shift {} of traffic to {version}{}",
                            format::fmt_percent(st.weight.value),
                            if hold > 0 {
                                format!(" and hold {}", fmt_ms(hold))
                            } else {
                                String::new()
                            }
                        ),
                        Action::CanaryStep {
                            weight: st.weight.value,
                            hold_ms: hold,
                        },
                        Some(st.span),
                    );
                    self.changed.traffic = true;
                    if let Some(c) = &st.require {
                        s.guards.push(Guard {
                            condition: self.cond(b, c),
                            kind: "require".into(),
                        });
                    }
                    s.guards.extend(triggers.clone());
                    s.expected_ms = TRAFFIC_MS + hold;
                    let pause = if pauses { hold } else { 0 };
                    s.timeout_ms = Some(TRAFFIC_MS + hold + pause + interval + QUERY_TIMEOUT_MS);
                    self.push(PhaseName::Deploy, s);
                }
            }
            Strategy::BlueGreen {
                preview,
                switch,
                keep_previous,
                ..
            } => {
                self.changed.new_version = true;
                let p = preview.first();
                let hold = p.and_then(|p| p.hold).map(|h| ms(h.value)).unwrap_or(0);
                let mut s = self.step(
                    "deploy.preview".into(),
                    format!("Start {version} as preview (no user traffic) and check it"),
                    Action::Preview {
                        hold_ms: hold,
                        smoke: p.is_some_and(|p| p.smoke),
                    },
                    p.map(|p| p.span),
                );
                if let Some(c) = p.and_then(|p| p.require.as_ref()) {
                    s.guards.push(Guard {
                        condition: self.cond(b, c),
                        kind: "require".into(),
                    });
                }
                s.expected_ms = TRAFFIC_MS + hold;
                self.push(PhaseName::Deploy, s);
                let sw = switch.first();
                if let Some(a) = sw.and_then(|s| s.approval.as_ref()) {
                    let mut g = self.step(
                        "deploy.switch-approval".into(),
                        format!("Approval by {} to switch traffic", a.role.name),
                        Action::Approval {
                            role: a.role.name.clone(),
                            who: self
                                .names
                                .roles()
                                .find(|r| r.name.name == a.role.name)
                                .map(|r| r.who.value.clone()),
                            on_timeout: a.timeout.as_ref().map(|t| {
                                format!(
                                    "{} after {}",
                                    t.action.map(|x| gate(x.value)).unwrap_or("abort"),
                                    fmt_ms(ms(t.timeout.value))
                                )
                            }),
                            question: None,
                        },
                        Some(a.span),
                    );
                    g.timeout_ms = a.timeout.as_ref().map(|t| ms(t.timeout.value));
                    self.push(PhaseName::Deploy, g);
                }
                let mut s = self.step(
                    "deploy.switch".into(),
                    format!("Switch all traffic to {version}"),
                    Action::Switch {
                        approval: sw
                            .and_then(|s| s.approval.as_ref())
                            .map(|a| a.role.name.clone()),
                    },
                    sw.map(|s| s.span),
                );
                self.changed.traffic = true;
                s.expected_ms = TRAFFIC_MS;
                s.guards = triggers.clone();
                self.push(PhaseName::Deploy, s);
                if let Some(k) = keep_previous.first() {
                    let mut s = self.step(
                        "deploy.keep-previous".into(),
                        format!(
                            "Keep the previous version ready for {}",
                            fmt_ms(ms(k.value))
                        ),
                        Action::KeepPrevious {
                            duration_ms: ms(k.value),
                        },
                        Some(k.span),
                    );
                    s.guards = triggers.clone();
                    self.push(PhaseName::Deploy, s);
                }
            }
            Strategy::Rolling {
                batch,
                max_unavailable,
                health,
                ..
            } => {
                self.changed.new_version = true;
                self.changed.traffic = true;
                let instances = self.replicas();
                let per_batch = check::gates::rolling_batch_size(batch, instances);
                let unavailable = match max_unavailable.first().map(|b| b.value) {
                    Some(CountOrPercent::Count(n)) => n,
                    Some(CountOrPercent::Percent(p)) => {
                        ((instances as f64) * p / 100.0).floor() as u64
                    }
                    None => 1,
                };
                let batches = check::gates::rolling_batches(batch, instances);
                let h = health.first();
                let per_batch_ms = h
                    .map(|h| {
                        let n = h.healthy.map(|x| x.value).unwrap_or(1);
                        ms(h.every.value).saturating_mul(n)
                    })
                    .unwrap_or(TRAFFIC_MS);
                let timeout = h.map(|h| ms(h.timeout.value));
                let batch_health = h.map(|h| BatchHealth {
                    every_ms: ms(h.every.value),
                    timeout_ms: ms(h.timeout.value),
                    healthy: h.healthy.map(|x| x.value).unwrap_or(1),
                    unhealthy: h.unhealthy.map(|x| x.value).unwrap_or(1),
                });
                for i in 0..batches {
                    let from = i * per_batch;
                    let count = per_batch.min(instances - from);
                    let mut s = self.step(
                        format!("deploy.batch-{}", i + 1),
                        if count == 1 {
                            format!("Update instance {} of {instances} to {version}", from + 1)
                        } else {
                            format!(
                                "Update instances {}–{} of {instances} to {version}",
                                from + 1,
                                from + count
                            )
                        },
                        Action::RollingBatch {
                            batch: i + 1,
                            of: batches,
                            instances: count,
                            max_unavailable: unavailable,
                            health: batch_health,
                        },
                        batch.first().map(|b| b.span),
                    );
                    s.expected_ms = TRAFFIC_MS + per_batch_ms;
                    // Replacing the batch, waiting up to the health timeout, then one
                    // analysis interval of hold with its metric queries.
                    s.timeout_ms = timeout.map(|t| t + TRAFFIC_MS + interval + QUERY_TIMEOUT_MS);
                    s.guards = triggers.clone();
                    self.push(PhaseName::Deploy, s);
                }
            }
            Strategy::Recreate { downtime, .. } => {
                self.changed.new_version = true;
                self.changed.traffic = true;
                let d = downtime.first().map(|d| ms(d.value)).unwrap_or(TRAFFIC_MS);
                let mut s = self.step(
                    "deploy.recreate".into(),
                    format!(
                        "Stop the old version and start {version} (downtime {})",
                        fmt_ms(d)
                    ),
                    Action::Recreate { downtime_ms: d },
                    Some(b.body.span()),
                );
                s.expected_ms = d;
                self.push(PhaseName::Deploy, s);
            }
            Strategy::FlagsOnly { .. } => {}
        }
    }

    fn replicas(&self) -> u64 {
        check::gates::environment_instances(self.env)
    }

    fn verify(&mut self) {
        for sm in &self.service.smoke {
            let mut s = self.step(
                "verify.smoke".into(),
                "Run the smoke tests against the new version".into(),
                Action::Smoke {
                    command: sm.command.value.clone(),
                },
                Some(sm.span),
            );
            let t = sm.timeout.map(|t| ms(t.value)).unwrap_or(SMOKE_MS);
            s.timeout_ms = Some(t);
            s.expected_ms = t.min(60_000);
            s.guards = self.trigger_guards();
            self.push(PhaseName::Verify, s);
        }
    }

    /// The post-deploy steps of the deploy run, then the schedule: flag days and check-ins, a
    /// run of its own. The rollback triggers are armed from the first flag change until
    /// `monitor_ms` after the last one: each scheduled step in between watches them until the
    /// next step is due, so no hour of the schedule goes unwatched.
    fn post_deploy(&mut self, monitor_ms: u64) -> u64 {
        for m in self.graph.after_deploy.clone() {
            self.migration_step(m, PhaseName::PostDeploy);
        }
        let mut end = self.clock;
        let saved = self.clock;
        let report = self.step(
            "post.report".into(),
            "Write the deployment report".into(),
            Action::Report,
            None,
        );
        self.push(PhaseName::PostDeploy, report);
        // Flag schedules and check-ins run on later days: they are not part of the expected
        // duration of the deployment, and are listed in time order. They form a run of their
        // own, so that the deploy run ends (with `on done`, its report and its history) after
        // its monitor period instead of on the last flag day.
        let base = saved;
        enum Later<'x> {
            Day(&'x Flag, &'x FlagDay),
            Remove(&'x Flag, u64),
            Checkin(&'x Spanned<Millis>),
        }
        let mut later: Vec<(u64, Later<'a>)> = Vec::new();
        for f in self.flags() {
            for d in &f.days {
                let at = base.saturating_add(d.day.value.saturating_sub(1).saturating_mul(DAY_MS));
                later.push((at, Later::Day(f, d)));
            }
            if let Some(r) = f.remove_by.first() {
                let at = base.saturating_add(r.value.saturating_sub(1).saturating_mul(DAY_MS));
                later.push((at, Later::Remove(f, r.value)));
            }
        }
        if let Some(m) = self.monitors().first() {
            for c in &m.checkins {
                later.push((base.saturating_add(ms(c.value)), Later::Checkin(c)));
            }
        }
        later.sort_by_key(|(at, _)| *at);
        // The armed stretch: from the first flag change to the end of the last one's monitor
        // period. A step in it watches until the next step is due (or the stretch ends).
        let flag_days = later.iter().filter(|(_, w)| matches!(w, Later::Day(..)));
        let armed = flag_days
            .clone()
            .map(|(at, _)| *at)
            .min()
            .zip(flag_days.map(|(at, _)| *at).max())
            .map(|(first, last)| (first, last.saturating_add(monitor_ms)));
        let dues: Vec<u64> = later.iter().map(|(at, _)| *at).collect();
        // The flags this schedule has set so far: what its rollback turns back.
        let mut set: Vec<String> = Vec::new();
        for (i, (at, what)) in later.into_iter().enumerate() {
            self.clock = at;
            let watch_ms = match armed {
                Some((first, until)) if at >= first && at < until => {
                    let next = dues.get(i + 1).copied().unwrap_or(until);
                    next.min(until).saturating_sub(at)
                }
                // Before the first flag change nothing of the schedule's is out; after the
                // stretch the release is as the last flag day left it, watched long enough.
                _ => 0,
            };
            let mut s = match what {
                Later::Day(f, d) => {
                    if !set.contains(&f.name.name) {
                        set.push(f.name.name.clone());
                    }
                    self.step(
                        format!("post.flag.{}.day-{}", f.name.name, d.day.value),
                        format!(
                            "Day {}: set flag `{}` to {}{}",
                            d.day.value,
                            f.name.name,
                            format::fmt_percent(d.percent.value),
                            d.segment
                                .as_ref()
                                .map(|s| format!(" of {}", s.name))
                                .unwrap_or_default()
                        ),
                        Action::Flag {
                            flag: f.name.name.clone(),
                            day: d.day.value,
                            percent: d.percent.value,
                            segment: d.segment.as_ref().map(|s| s.name.clone()),
                            watch_ms,
                        },
                        Some(d.span),
                    )
                }
                Later::Remove(f, day) => self.step(
                    format!("post.flag.{}.remove", f.name.name),
                    format!(
                        "Day {day}: flag `{}` must be removed from the code",
                        f.name.name
                    ),
                    Action::FlagRemoval {
                        flag: f.name.name.clone(),
                        day,
                        watch_ms,
                    },
                    Some(f.span),
                ),
                Later::Checkin(c) => self.step(
                    format!("post.checkin.{}", fmt_offset(c.value, "+")),
                    format!("Check-in {} after monitoring", fmt_offset(c.value, "+")),
                    Action::Checkin {
                        offset_ms: ms(c.value),
                        watch_ms,
                    },
                    Some(c.span),
                ),
            };
            // Watched like a flag day's hold: the step holds with the triggers armed.
            if watch_ms > 0 {
                s.expected_ms = watch_ms;
                s.guards = self.trigger_guards();
            }
            end = end.max(at.saturating_add(watch_ms));
            self.push(PhaseName::Schedule, s);
            let rollback = self.schedule_rollback(&set);
            self.rollback_worst = self.rollback_worst.max(self.rollback_cost(&rollback));
            if let Some(last) = self.phases.last_mut().and_then(|p| p.steps.last_mut())
                && !self.options.without_rollback_lists
            {
                last.rollback = rollback;
            }
        }
        self.clock = saved;
        end
    }

    /// The rollback of a schedule step: the flags set so far go back to their initial state,
    /// newest first. Nothing else: the release itself finished in the deploy run, whose
    /// traffic, instances and migrations are not the schedule's to undo.
    fn schedule_rollback(&self, set: &[String]) -> Vec<RollbackAction> {
        if set.is_empty() {
            // Nothing this run changed: it stops and tells.
            return vec![RollbackAction::Abort];
        }
        let mut out = vec![RollbackAction::Notify {
            event: "rollback".into(),
        }];
        for f in set.iter().rev() {
            let initially_on = self
                .flags()
                .into_iter()
                .find(|d| &d.name.name == f)
                .and_then(|d| d.initially.first())
                .is_some_and(|i| i.value);
            out.push(RollbackAction::RestoreFlag {
                flag: f.clone(),
                initially_on,
            });
        }
        out
    }

    fn trigger_guards(&mut self) -> Vec<Guard> {
        let mut out = Vec::new();
        for b in self.blocks.triggers.clone() {
            for t in b.body {
                let cond = self.cond(&b, &t.condition);
                let cond = match t.hold {
                    Some(h) => format!("{cond} for {}", fmt_ms(ms(h.value))),
                    None => cond,
                };
                out.push(Guard {
                    condition: format!(
                        "{} when {cond}",
                        match t.kind.value {
                            TriggerKind::Auto => "auto",
                            TriggerKind::Manual => "manual",
                        }
                    ),
                    kind: "trigger".into(),
                });
            }
        }
        out
    }

    fn plan_triggers(&mut self, interval: u64) -> Vec<PlanTrigger> {
        let mut out = Vec::new();
        for b in self.blocks.triggers.clone() {
            for t in b.body {
                let for_ms = t.hold.map(|h| ms(h.value)).unwrap_or(0);
                out.push(PlanTrigger {
                    mode: match t.kind.value {
                        TriggerKind::Auto => "auto".into(),
                        TriggerKind::Manual => "manual".into(),
                    },
                    condition: self.cond(&b, &t.condition),
                    for_ms,
                    timeout_ms: t.timeout.as_ref().map(|x| ms(x.timeout.value)),
                    on_timeout: t
                        .timeout
                        .as_ref()
                        .and_then(|x| x.action)
                        .map(|a| gate(a.value).to_string()),
                    detection_ms: for_ms + interval + QUERY_TIMEOUT_MS,
                    source: self.source_ref(t.span),
                });
            }
        }
        out
    }

    fn message_text<T>(&self, b: &Bound<'_, T>, m: &MessageRef) -> (Option<String>, String) {
        let (template, raw) = match m {
            MessageRef::Text(t) => (None, t.value.clone()),
            MessageRef::Named(p) => match self.names.lookup(b.module, b.params, p) {
                Some(Def::Message(d)) => (Some(p.to_string_dotted()), d.text.value.clone()),
                _ => (Some(p.to_string_dotted()), String::new()),
            },
        };
        let start = self.options.start.map(|s| s.to_string());
        let text = placeholders::render(&raw, &|name| match name {
            "service" => Some(self.service.name.name.clone()),
            "version" => Some(self.rel.version.value.clone()),
            "previous_version" => self.previous.clone(),
            "environment" => Some(self.env.name.name.clone()),
            "start" => start.clone(),
            _ => None,
        });
        (template, text)
    }

    fn plan_comms(&mut self) -> Vec<PlanMessage> {
        let mut out = Vec::new();
        for b in self.blocks.comms.clone() {
            for e in b.body {
                let channels = e.channels.iter().map(|c| self.subst(&b, &c.name)).collect();
                let (template, text) = self.message_text(&b, &e.message);
                let (when, spec, offset) = match &e.when {
                    CommsWhen::At(o) => ("at", fmt_offset(o.value, "T"), Some(o.value)),
                    CommsWhen::Every(d) => ("every", fmt_ms(ms(d.value)), None),
                    CommsWhen::On(ev) => ("on", ev.name.clone(), None),
                };
                out.push(PlanMessage {
                    when: when.into(),
                    spec,
                    offset_ms: offset,
                    at: offset.and_then(|o| self.abs(o)),
                    channels,
                    template,
                    text,
                });
            }
        }
        // Scheduled messages in time order, then periodic, then event messages.
        out.sort_by_key(|m| match m.when.as_str() {
            "at" => (0, m.offset_ms.unwrap_or(0)),
            "every" => (1, 0),
            _ => (2, 0),
        });
        out
    }

    fn plan_channels(&self) -> Vec<PlanChannel> {
        let mut used: Vec<String> = Vec::new();
        for b in self.blocks.comms.clone() {
            for e in b.body {
                for c in &e.channels {
                    let n = self.subst(&b, &c.name);
                    if !used.contains(&n) {
                        used.push(n);
                    }
                }
            }
        }
        let mut out = Vec::new();
        for name in used {
            let path = ast::Path {
                segments: vec![Ident {
                    name: name.clone(),
                    span: Span::synthetic(),
                }],
                span: Span::synthetic(),
            };
            let Some(Def::Channel(c)) = self.names.lookup_kind(
                self.module,
                &[],
                &path,
                Some(crate::resolve::Kind::Channel),
            ) else {
                continue;
            };
            let vs = |v: &ValueSource| match v {
                ValueSource::Inline(s) => redact(&s.value),
                ValueSource::Env { var, .. } => format!("env {var}"),
            };
            let (kind, target) = match &c.kind {
                ChannelKind::Slack { room, webhook } => {
                    ("slack", format!("{} via {}", room.value, vs(webhook)))
                }
                ChannelKind::Email { to, .. } => (
                    "email",
                    to.iter()
                        .map(|t| t.value.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                ChannelKind::Webhook { url } => ("webhook", vs(url)),
                ChannelKind::Stdout => ("stdout", "standard output".to_string()),
                ChannelKind::File { path } => ("file", path.value.clone()),
            };
            let smtp = match &c.kind {
                ChannelKind::Email { smtp, .. } => smtp.as_ref().map(vs),
                _ => None,
            };
            out.push(PlanChannel {
                name,
                kind: kind.into(),
                target,
                required: c.required,
                smtp,
            });
        }
        out
    }

    fn plan_metrics(&mut self) -> Vec<PlanMetric> {
        let source = self.env.metrics.first().map(|m| m.kind());
        let mut out = Vec::new();
        for m in self.metrics_used.clone() {
            let name = m.name.name.clone();
            let Some(source) = source else {
                self.notes.push(format!(
                    "environment `{}` has no metrics source: `{name}` cannot be measured",
                    self.env.name.name
                ));
                continue;
            };
            let query = m
                .queries
                .iter()
                .find(|q| q.source.value == source)
                .map(|q| q.query.value.clone());
            if query.is_none() {
                self.notes.push(format!(
                    "metric `{name}` has no {} query: conditions on it cannot be evaluated in `{}`",
                    source.name(),
                    self.env.name.name
                ));
            }
            out.push(PlanMetric {
                name,
                kind: m.kind.value.name().into(),
                source: source.name().into(),
                query,
                per: m
                    .per
                    .map(|p| p.value.name().to_string())
                    .or_else(|| (m.kind.value == MetricKind::Rate).then(|| "second".to_string())),
            });
        }
        out
    }

    fn render_url(&self, url: &str) -> String {
        let base = self
            .env
            .url
            .first()
            .or(self.service.url.first())
            .map(|u| u.value.clone());
        placeholders::render(url, &|n| match n {
            "url" => base.clone(),
            "service" => Some(self.service.name.name.clone()),
            "environment" => Some(self.env.name.name.clone()),
            "version" => Some(self.rel.version.value.clone()),
            "previous_version" => self.previous.clone(),
            _ => None,
        })
    }
}

/// The metrics compared with `baseline` in a condition.
fn relative_paths(c: &Condition) -> Vec<&ast::Path> {
    c.comparisons()
        .into_iter()
        .filter_map(|x| match x {
            Condition::Compare {
                lhs: Operand::Name(p),
                rhs: Operand::TimesBaseline(_) | Operand::PercentOfBaseline(_) | Operand::Baseline(_),
                ..
            } => Some(p),
            _ => None,
        })
        .collect()
}

fn ms(v: Millis) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn gate(a: GateAction) -> &'static str {
    match a {
        GateAction::Abort => "abort",
        GateAction::Continue => "continue",
        GateAction::Rollback => "rollback",
    }
}

/// The place a gate names that a step id stands for: `deploy.canary-2` is `step 2`.
fn gate_place_of(id: &str) -> Option<GatePlace> {
    let number = |prefix: &str| id.strip_prefix(prefix).and_then(|n| n.parse::<u64>().ok());
    Some(match id {
        "deploy.preview" => GatePlace::Preview,
        "deploy.switch" => GatePlace::Switch,
        "deploy.keep-previous" => GatePlace::KeepPrevious,
        "deploy.recreate" => GatePlace::Recreate,
        "verify.smoke" => GatePlace::Smoke,
        _ => {
            if let Some(n) = number("deploy.canary-") {
                GatePlace::Step(n)
            } else {
                GatePlace::Batch(number("deploy.batch-")?)
            }
        }
    })
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Hides credentials in URLs written inline (`https://user:secret@host` → `https://user:***@host`).
fn redact(s: &str) -> String {
    if let Some((scheme, rest)) = s.split_once("://")
        && let Some((cred, host)) = rest.split_once('@')
        && let Some((user, _)) = cred.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    s.to_string()
}
