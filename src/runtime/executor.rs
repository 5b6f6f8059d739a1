//! The executor: walks the plan's steps in order (each step's `after` is finished first,
//! because the plan lists steps in a topological order and the executor checks it), runs each
//! step's action through the world, holds with analysis, and rolls back when a step fails, a
//! `require` guard fails or an automatic trigger fires.
//!
//! It is strictly sequential: one step at a time, one evaluation at a time. That makes the
//! journal a total order, makes resume simple (the first unfinished step is the one to do),
//! and lets a virtual clock run a seven-day plan in milliseconds: sleeping is the only way
//! time passes.

mod migrate;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::history::{History, checksum};
use crate::lower::{
    Action, BatchHealth, ChecklistItem, PhaseName, Plan, RollbackAction, Step, fmt_ms,
};

use super::condition::{self, Condition, Values};
use super::control::{Inbox, Request, Steering};
use super::journal::{Entry, Event, Journal};
use super::outbox::{DELIVERY_LIMIT_MS, Delivered, FLUSH_LIMIT_MS, Outbox};
use super::rolling;
use super::shell;
use super::window;
use super::world::{
    Channel, Clock, Database, Decision, Flags, GateRequest, Gates, Message, MetricSource,
    Migration, Provider, Shell, Track,
};

/// Everything the executor acts on.
pub(crate) struct World {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) provider: Box<dyn Provider>,
    pub(crate) database: Option<Box<dyn Database>>,
    pub(crate) metrics: Option<Box<dyn MetricSource>>,
    pub(crate) channels: Vec<Arc<dyn Channel>>,
    pub(crate) shell: Box<dyn Shell>,
    pub(crate) gates: Box<dyn Gates>,
    pub(crate) flags: Option<Box<dyn Flags>>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    Succeeded,
    /// Failed and rolled back completely.
    RolledBack,
    /// Stopped before anything changed.
    Aborted,
    /// The rollback could not restore everything; a person must act.
    RollbackIncomplete,
    /// Exited to be resumed when the next step is due.
    Paused {
        step: String,
        due: String,
    },
    /// A signal stopped the run, which is left as it was to be resumed (`--on-signal pause`).
    Interrupted {
        signal: String,
    },
}

/// What a run does when it receives SIGTERM or SIGINT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnSignal {
    /// Fail the current step and roll back (the default).
    Rollback,
    /// Stop where it is, leave everything as it is, and exit to be resumed.
    Pause,
}

impl End {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            End::Succeeded => "succeeded",
            End::RolledBack => "rolled_back",
            End::Aborted => "aborted",
            End::RollbackIncomplete => "rollback_incomplete",
            End::Paused { .. } => "paused",
            End::Interrupted { .. } => "interrupted",
        }
    }
}

/// Why a step failed.
#[derive(Debug, Clone)]
struct Failure {
    reason: String,
}

fn fail<T>(reason: impl Into<String>) -> Result<T, Failure> {
    Err(Failure {
        reason: reason.into(),
    })
}

/// Which part of a release's plan a run executes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    /// Everything up to the end of monitoring and the report.
    Deploy,
    /// The schedule (flag days, check-ins), started by the deploy run `of` once it succeeded.
    /// Nothing is deployed: the release serves; the deploy run's baseline (`baseline`, each
    /// metric's value) is what relative triggers compare with.
    Schedule {
        of: String,
        baseline: Vec<(String, f64)>,
    },
}

/// Options of one run that are not in the plan.
pub(crate) struct Settings {
    pub(crate) part: Part,
    pub(crate) run: String,
    /// The version serving before this release.
    pub(crate) stable: Option<String>,
    pub(crate) history: History,
    /// Analysis is described, not performed (dry run).
    pub(crate) describe_only: bool,
    /// The longest a real run waits in-process for a scheduled step before pausing.
    pub(crate) max_wait_ms: u64,
    /// T-0 of a new run: the planned start (`--start`) when it is still ahead, else the
    /// clock's now. A resumed run reads its T-0 from the journal instead.
    pub(crate) t0: Option<jiff::Timestamp>,
    /// The deploy lease was taken over from a holder whose lease expired: journaled once the
    /// run has started (or resumed).
    pub(crate) takeover: Option<super::store::postgres::Held>,
}

/// An armed trigger, parsed.
struct Trigger {
    text: String,
    mode: String,
    condition: Condition,
    for_ms: u64,
    on_timeout: Option<String>,
    timeout_ms: Option<u64>,
}

pub(crate) struct Executor<'p> {
    plan: &'p Plan,
    world: World,
    journal: Journal,
    settings: Settings,
    on_event: Box<dyn FnMut(&Entry) + Send + 'p>,
    // State, rebuilt from the journal on resume.
    t0: jiff::Timestamp,
    finished: HashSet<String>,
    applied: Vec<Migration>,
    new_deployed: bool,
    baseline: HashMap<String, f64>,
    breach: HashMap<String, jiff::Timestamp>,
    no_data: HashMap<String, u64>,
    sent_scheduled: HashSet<String>,
    last_every: HashMap<String, jiff::Timestamp>,
    current: Option<String>,
    /// The traffic on the new version, as messages show it (`{weight}`).
    weight: String,
    /// The latest value read of each metric, sent with every message (see `Message`).
    latest: BTreeMap<String, f64>,
    /// Messages being delivered in the background.
    outbox: Outbox,
    /// Messages whose delivery is journaled (`message_sent` with a key): never sent again.
    done_keys: HashSet<String>,
    /// Messages queued by this process (or re-queued on resume): not queued twice.
    queued_keys: HashSet<String>,
    /// How many times each (step, event, channel) was sent, for the message keys.
    occurrences: HashMap<String, u64>,
    /// A required channel's background delivery failed: the current step fails at its next
    /// check.
    required_failure: Option<String>,
    /// The name of the signal received (SIGTERM, SIGINT), once one is.
    stop: Option<tokio::sync::watch::Receiver<Option<String>>>,
    on_signal: OnSignal,
    /// Migrations that failed part-way outside a transaction: what stays applied. The
    /// rollback cannot undo it, so it is never complete.
    partially_applied: Vec<String>,
    /// Operator commands of a live run (`deployc pause RUN`…); none on a virtual clock.
    inbox: Option<Inbox>,
    steer: Steering,
    /// How long operators held the run paused, in all: a step's timeout is extended by it,
    /// since a paused hold is not a stuck one.
    operator_paused_ms: Arc<std::sync::atomic::AtomicU64>,
    /// Why the rollback under way runs (`{reason}` in its messages).
    reason: Option<String>,
}

impl<'p> Executor<'p> {
    pub(crate) fn new(
        plan: &'p Plan,
        world: World,
        journal: Journal,
        settings: Settings,
        on_event: Box<dyn FnMut(&Entry) + Send + 'p>,
    ) -> Executor<'p> {
        let t0 = settings.t0.unwrap_or_else(|| world.clock.now());
        Executor {
            plan,
            world,
            journal,
            settings,
            on_event,
            t0,
            finished: HashSet::new(),
            applied: Vec::new(),
            new_deployed: false,
            baseline: HashMap::new(),
            breach: HashMap::new(),
            no_data: HashMap::new(),
            sent_scheduled: HashSet::new(),
            last_every: HashMap::new(),
            current: None,
            weight: "0%".into(),
            latest: BTreeMap::new(),
            outbox: Outbox::default(),
            done_keys: HashSet::new(),
            queued_keys: HashSet::new(),
            occurrences: HashMap::new(),
            required_failure: None,
            stop: None,
            on_signal: OnSignal::Rollback,
            partially_applied: Vec::new(),
            inbox: None,
            steer: Steering::default(),
            operator_paused_ms: Arc::default(),
            reason: None,
        }
    }

    /// Takes operator commands from `inbox` (a live run's `commands.jsonl`).
    pub(crate) fn operate(&mut self, inbox: Inbox) {
        self.inbox = Some(inbox);
    }

    /// Reads the operators' new requests and acts on them. `in_hold` says whether a hold is
    /// under way (promote ends it); `gate` is the gate the run waits at (its step and role),
    /// whose decision an `approve` or `reject` of that role makes.
    fn take_commands(
        &mut self,
        in_hold: bool,
        gate: Option<(&str, &str)>,
    ) -> Result<Option<Decision>, Failure> {
        let Some(inbox) = self.inbox.as_mut() else {
            return Ok(None);
        };
        let requests = inbox.poll();
        let mut decision = None;
        for r in requests {
            let (ok, state) = self.steer_by(&r, in_hold, gate, &mut decision);
            self.log(Event::OperatorCommand {
                id: r.id.clone(),
                command: r.command.clone(),
                who: r.who.clone(),
                why: r.why.clone(),
                step: self.current.clone(),
                ok,
                state,
            })?;
        }
        Ok(decision)
    }

    /// What one request does; returns whether it was done and the run's state after it.
    fn steer_by(
        &mut self,
        r: &Request,
        in_hold: bool,
        gate: Option<(&str, &str)>,
        decision: &mut Option<Decision>,
    ) -> (bool, String) {
        let step = self.current.clone().unwrap_or_else(|| "the run".into());
        let why = r
            .why
            .as_deref()
            .map(|w| format!(": {w}"))
            .unwrap_or_default();
        match r.command.as_str() {
            "abort" => {
                self.steer.abort = Some(format!("aborted by {}{why}", r.who));
                (true, format!("aborting at {step}: rolling back"))
            }
            "pause" => match &self.steer.paused_by {
                Some(by) => (false, format!("already paused by {by}")),
                None => {
                    self.steer.paused_by = Some(r.who.clone());
                    (
                        true,
                        format!("paused at {step}: holds stand still, triggers stay armed"),
                    )
                }
            },
            "resume" => match self.steer.paused_by.take() {
                Some(_) => (true, format!("resumed at {step}")),
                None => (false, "not paused".into()),
            },
            "promote" if !in_hold => (false, format!("{step} is not holding: nothing to promote")),
            "promote" => {
                self.steer.promote = Some(r.full);
                if r.full {
                    self.steer.skip_to_full = Some(r.who.clone());
                    (true, format!("promoted: {step} ends, on to full traffic"))
                } else {
                    (true, format!("promoted: the hold of {step} ends"))
                }
            }
            "approve" | "reject" => match (gate, &r.role) {
                (Some((gate_step, role)), Some(asked)) if asked == role => {
                    let by = format!("{} (deployc {} --as {role})", r.who, r.command);
                    let approve = r.command == "approve";
                    *decision = Some(if approve {
                        Decision::Approved { by }
                    } else {
                        Decision::Rejected { by }
                    });
                    let verb = if approve { "approved" } else { "rejected" };
                    (true, format!("{verb} the {role} gate at {gate_step}"))
                }
                (Some((gate_step, role)), _) => (
                    false,
                    format!("the gate at {gate_step} waits for {role}, not this role"),
                ),
                (None, _) => (false, "not waiting at a gate".into()),
            },
            other => (false, format!("unknown command `{other}`")),
        }
    }

    /// Stops the run gracefully when `stop` names a signal: what then happens is `action`.
    pub(crate) fn on_signal(
        &mut self,
        stop: tokio::sync::watch::Receiver<Option<String>>,
        action: OnSignal,
    ) {
        self.stop = Some(stop);
        self.on_signal = action;
    }

    /// What a stop does: `--on-signal` for a signal; a lost deploy lease always stops where
    /// the run is, since another run now owns the environment and a rollback would undo its
    /// work.
    fn stop_action(&self, signal: &str) -> OnSignal {
        if signal == super::store::LEASE_LOST {
            OnSignal::Pause
        } else {
            self.on_signal
        }
    }

    /// The signal received, if one was.
    fn signalled(&self) -> Option<String> {
        self.stop.as_ref().and_then(|rx| rx.borrow().clone())
    }

    /// Sleeps, but wakes up early when a signal arrives.
    async fn sleep(&self, ms: u64) {
        match self.stop.clone() {
            Some(mut rx) if !self.world.clock.is_virtual() => {
                tokio::select! {
                    () = self.world.clock.sleep(ms) => {}
                    _ = rx.wait_for(Option::is_some) => {}
                }
            }
            _ => self.world.clock.sleep(ms).await,
        }
    }

    /// The schedule run this deploy run starts once it succeeded, if its plan has a schedule:
    /// its part (this run, and the baseline it captured) and its T-0. The schedule's times
    /// are offsets from the deploy's T-0 as planned; its T-0 is set so that they count from
    /// this run's actual end (day 1 is the day the deploy run ended, however long its gates
    /// and holds took).
    pub(crate) fn schedule(&self) -> Option<(Part, jiff::Timestamp)> {
        let has_schedule = self
            .plan
            .phases
            .iter()
            .any(|p| p.name == PhaseName::Schedule && !p.steps.is_empty());
        if !has_schedule {
            return None;
        }
        let planned_end = self
            .steps()
            .map(|s| s.starts_at_ms.saturating_add(s.expected_ms))
            .max()
            .unwrap_or(0);
        let now = self.world.clock.now();
        let t0 = now
            .checked_sub(jiff::SignedDuration::from_millis(
                i64::try_from(planned_end).unwrap_or(i64::MAX),
            ))
            .unwrap_or(now);
        let mut baseline: Vec<(String, f64)> =
            self.baseline.iter().map(|(m, v)| (m.clone(), *v)).collect();
        baseline.sort_by(|a, b| a.0.cmp(&b.0));
        Some((
            Part::Schedule {
                of: self.settings.run.clone(),
                baseline,
            },
            t0,
        ))
    }

    pub(crate) fn run_id(&self) -> &str {
        &self.settings.run
    }

    pub(crate) fn journal(&self) -> &Journal {
        &self.journal
    }

    pub(crate) fn world(&self) -> &World {
        &self.world
    }

    pub(crate) fn t0(&self) -> jiff::Timestamp {
        self.t0
    }

    /// Journals an event, after the results of the background deliveries that finished
    /// since the last one.
    fn emit(&mut self, event: Event) -> Result<(), String> {
        self.collect_deliveries()?;
        self.append(event)
    }

    fn append(&mut self, event: Event) -> Result<(), String> {
        let now = self.world.clock.now();
        let entry = self.journal.append(now, event)?;
        (self.on_event)(entry);
        Ok(())
    }

    /// Journals the deliveries that finished; a failed required channel is noted for the
    /// current step's next check.
    fn collect_deliveries(&mut self) -> Result<(), String> {
        while let Some(d) = self.outbox.try_next() {
            let failed = d.result.is_err() && d.required;
            let channel = d.channel.clone();
            let detail = self.record_delivery(d)?;
            if failed && self.required_failure.is_none() {
                self.required_failure =
                    Some(format!("required channel `{channel}` failed: {detail}"));
            }
        }
        Ok(())
    }

    /// Journals one delivery's result; returns its detail.
    fn record_delivery(&mut self, d: Delivered) -> Result<String, String> {
        let ok = d.result.is_ok();
        let detail = match d.result {
            Ok(x) | Err(x) => x,
        };
        self.done_keys.insert(d.key.clone());
        self.append(Event::MessageSent {
            key: Some(d.key),
            channel: d.channel,
            event: d.event,
            text: d.text,
            ok,
            detail: detail.clone(),
        })?;
        Ok(detail)
    }

    /// Fails the step when a required channel's background delivery failed.
    fn check_required(&mut self) -> Result<(), Failure> {
        self.collect_deliveries()
            .map_err(|e| Failure { reason: e })?;
        match self.required_failure.take() {
            Some(reason) => fail(reason),
            None => Ok(()),
        }
    }

    /// Waits for the messages on required channels still being delivered (each delivery is
    /// bounded by `DELIVERY_LIMIT_MS`), at the end of the steps: a run does not succeed
    /// until the people it must tell were told.
    async fn await_required(&mut self) -> Result<(), Failure> {
        while self.outbox.has_required() {
            match self.outbox.next_within(DELIVERY_LIMIT_MS + 1_000).await {
                Some(d) => {
                    let failed = d.result.is_err() && d.required;
                    let channel = d.channel.clone();
                    let detail = self.record_delivery(d).map_err(|e| Failure { reason: e })?;
                    if failed && self.required_failure.is_none() {
                        self.required_failure =
                            Some(format!("required channel `{channel}` failed: {detail}"));
                    }
                }
                None => break,
            }
        }
        self.check_required()
    }

    /// At the end of a run: waits a bounded time for the messages still being delivered, and
    /// journals those that were not (`message_pending`).
    async fn flush_messages(&mut self) -> Result<(), String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(FLUSH_LIMIT_MS);
        while !self.outbox.is_empty() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let ms = u64::try_from(left.as_millis()).unwrap_or(0);
            if ms == 0 {
                break;
            }
            match self.outbox.next_within(ms).await {
                Some(d) => {
                    self.record_delivery(d)?;
                }
                None => break,
            }
        }
        for (key, p) in self.outbox.abandon() {
            self.append(Event::MessagePending {
                key,
                channel: p.channel,
                event: p.event,
            })?;
        }
        Ok(())
    }

    /// Whether a step has started in this run (journaled): before that, nothing has changed.
    fn steps_begun(&self) -> bool {
        self.journal
            .entries()
            .iter()
            .any(|e| matches!(e.event, Event::StepStarted { .. }))
    }

    /// On resume: the messages whose intent was journaled and whose delivery was not go out
    /// now (in the background); the ones delivered are never sent again.
    fn requeue_undelivered(&mut self) {
        let intents: Vec<(String, String, String, String, Option<String>)> = self
            .journal
            .entries()
            .iter()
            .filter_map(|e| match &e.event {
                Event::MessageQueued {
                    key,
                    channel,
                    event,
                    text,
                    step,
                } if !self.done_keys.contains(key) => Some((
                    key.clone(),
                    channel.clone(),
                    event.clone(),
                    text.clone(),
                    step.clone(),
                )),
                _ => None,
            })
            .collect();
        for (key, name, event, text, step) in intents {
            if !self.queued_keys.insert(key.clone()) {
                continue;
            }
            let required = self
                .plan
                .channels
                .iter()
                .any(|c| c.name == name && c.required);
            if let Some(ch) = self.world.channels.iter().find(|c| c.name() == name) {
                let message = Message {
                    event,
                    text,
                    run: self.settings.run.clone(),
                    step,
                    metrics: self.latest.clone(),
                };
                self.outbox.queue(key, ch.clone(), required, message);
            }
        }
    }

    /// Journals an event; a journal that cannot be written stops the run at once, before the
    /// side effect it would have recorded.
    fn log(&mut self, event: Event) -> Result<(), Failure> {
        self.emit(event).map_err(|e| Failure { reason: e })
    }

    /// The steps of this run's part of the plan.
    fn steps(&self) -> impl Iterator<Item = &'p Step> + 'p {
        let schedule = self.is_schedule();
        self.plan
            .phases
            .iter()
            .filter(move |p| (p.name == PhaseName::Schedule) == schedule)
            .flat_map(|p| p.steps.iter())
    }

    fn is_schedule(&self) -> bool {
        matches!(self.settings.part, Part::Schedule { .. })
    }

    /// Rebuilds the state from the journal's entries (resume). Returns the outcome if the run
    /// already ended.
    fn replay(&mut self) -> Option<End> {
        let entries: Vec<Entry> = self.journal.entries().to_vec();
        let mut ended = None;
        for e in &entries {
            match &e.event {
                Event::RunStarted { t0, stable, .. } => {
                    if let Ok(t) = t0.parse() {
                        self.t0 = t;
                    }
                    self.settings.stable = stable.clone();
                }
                Event::StepFinished { step } => {
                    self.finished.insert(step.clone());
                }
                Event::MigrationApplied { name, .. } => {
                    if let Some(m) = self.migration(name) {
                        self.applied.push(m);
                    }
                }
                Event::MigrationReverted { name } => self.applied.retain(|m| &m.name != name),
                Event::Baseline {
                    metric,
                    value: Some(v),
                } => {
                    self.baseline.insert(metric.clone(), *v);
                }
                Event::MessageSent { event, key, .. } => {
                    if event.starts_with("at ") {
                        self.sent_scheduled.insert(event.clone());
                    }
                    if let Some(k) = key {
                        self.done_keys.insert(k.clone());
                    }
                }
                Event::MessageQueued { event, .. } if event.starts_with("at ") => {
                    self.sent_scheduled.insert(event.clone());
                }
                Event::RunFinished { outcome } => {
                    ended = Some(match outcome.as_str() {
                        "succeeded" => End::Succeeded,
                        "rolled_back" => End::RolledBack,
                        "aborted" => End::Aborted,
                        _ => End::RollbackIncomplete,
                    });
                }
                _ => {}
            }
        }
        ended
    }

    fn migration(&self, name: &str) -> Option<Migration> {
        self.steps().find_map(|s| match &s.action {
            Action::Migrate {
                name: n,
                phase,
                up,
                down,
                transactional,
                batch,
                batch_key,
                verify,
                statement_timeout_ms,
                lock_timeout_ms,
                ..
            } if n == name => Some(Migration {
                name: n.clone(),
                release: self.plan.release.clone(),
                phase: phase.clone(),
                up: up.clone(),
                down: down.clone(),
                transactional: *transactional,
                statement_timeout_ms: *statement_timeout_ms,
                lock_timeout_ms: *lock_timeout_ms,
                batch: batch.map(|size| {
                    let key = batch_key
                        .clone()
                        .unwrap_or_else(|| crate::sql::batch::DEFAULT_KEY.to_string());
                    (size, key)
                }),
                verify: verify.clone(),
            }),
            _ => None,
        })
    }

    /// Runs the plan (or the rest of it, after a resume), then waits a bounded time for the
    /// messages still being delivered.
    pub(crate) async fn run(&mut self) -> Result<End, String> {
        let end = self.run_plan().await;
        let end = match end {
            Err(e) if self.journal.broken().is_some() => self.without_journal(e).await,
            end => end,
        };
        let flushed = self.flush_messages().await;
        let end = end?;
        if self.journal.broken().is_none() {
            flushed?;
        }
        Ok(end)
    }

    /// The journal cannot be written (a full disk, an I/O error): the run cannot go on, since
    /// every side effect must be journaled first. Once a step has started, what this run
    /// changed is rolled back with the journal kept in memory only (shown, and in the
    /// report), and the run ends as needing a person (exit 3): the journal on disk does not
    /// tell the whole story. Before any step, nothing changed: the error stands (exit 2).
    async fn without_journal(&mut self, error: String) -> Result<End, String> {
        self.journal.degrade();
        let started = self.steps_begun();
        let step = self
            .current
            .clone()
            .and_then(|id| self.steps().find(|s| s.id == id));
        let (true, Some(step)) = (started, step) else {
            return Err(error);
        };
        let _ = self.append(Event::Action {
            step: Some(step.id.clone()),
            what: "journal".into(),
            ok: false,
            detail: format!("{error}: rolling back without a journal on disk"),
        });
        let rolled_back = self
            .rollback(step, &format!("the journal cannot be written: {error}"))
            .await;
        let _ = self.append(Event::RunFinished {
            outcome: End::RollbackIncomplete.name().to_string(),
        });
        match rolled_back {
            Ok(_) => Ok(End::RollbackIncomplete),
            Err(e) => Err(e),
        }
    }

    async fn run_plan(&mut self) -> Result<End, String> {
        let resumed = !self.journal.entries().is_empty();
        if resumed {
            if let Some(end) = self.replay() {
                return Ok(end);
            }
            let n = self.finished.len();
            self.emit(Event::Resumed { finished_steps: n })?;
            if let Some(dropped_bytes) = self.journal.take_repaired() {
                self.emit(Event::JournalRepaired { dropped_bytes })?;
            }
            self.requeue_undelivered();
        } else {
            let of = match &self.settings.part {
                Part::Deploy => None,
                Part::Schedule { of, .. } => Some(of.clone()),
            };
            self.emit(Event::RunStarted {
                run: self.settings.run.clone(),
                service: self.plan.service.clone(),
                release: self.plan.release.clone(),
                environment: self.plan.environment.clone(),
                t0: self.t0.to_string(),
                stable: self.settings.stable.clone(),
                of,
            })?;
            // The schedule's relative triggers compare with the deploy run's baseline,
            // journaled here so that a resumed schedule has it too.
            if let Part::Schedule { baseline, .. } = &self.settings.part {
                for (metric, value) in baseline.clone() {
                    self.baseline.insert(metric.clone(), value);
                    self.emit(Event::Baseline {
                        metric,
                        value: Some(value),
                    })?;
                }
            }
        }
        if let Some(held) = self.settings.takeover.take() {
            self.emit(Event::LeaseTakenOver {
                previous: held.holder,
                previous_run: held.run,
                expired_at: held.expires,
            })?;
        }
        if self.is_schedule() {
            // Nothing to count down to or to start: the release serves since the deploy run.
        } else if !self.begun() {
            match self.countdown().await {
                Ok(Some(end)) => return Ok(end),
                Ok(None) => {}
                Err(f) => {
                    if let Some(signal) = self.signalled() {
                        return self.interrupted_before_steps(signal).await;
                    }
                    return self.abort_before_steps(f).await;
                }
            }
            // The stable version serves first, so that the pre-deploy checks and the baseline
            // see the application as it is before the release.
            let v = self.settings.stable.clone();
            let r = self.world.provider.start_stable(v.as_deref()).await;
            self.action(None, "stable", r).map_err(|f| f.reason)?;
            if let Err(f) = self.send_on("start", None, &[]).await {
                return self.abort_before_steps(f).await;
            }
        } else if resumed {
            self.restore().await?;
        }
        // A rollback interrupted by a crash is finished before anything else.
        let pending_rollback = self
            .journal
            .entries()
            .iter()
            .rev()
            .find_map(|e| match &e.event {
                Event::RollbackStarted { step, reason } => Some((step.clone(), reason.clone())),
                Event::RollbackFinished { .. } => Some((String::new(), String::new())),
                _ => None,
            });
        if let Some((step, reason)) = pending_rollback
            && !step.is_empty()
            && let Some(s) = self.steps().find(|s| s.id == step)
        {
            let end = self.rollback(s, &reason).await?;
            return self.finish(end).await;
        }
        if let Err(f) = self.scheduled_messages().await {
            return self.abort_before_steps(f).await;
        }
        let steps: Vec<&'p Step> = self.steps().collect();
        for step in steps {
            if self.finished.contains(&step.id) {
                continue;
            }
            // A schedule's first step follows the deploy run's last one, finished in that run.
            if let Some(missing) = step
                .after
                .iter()
                .find(|a| !self.finished.contains(*a) && self.steps().any(|s| &s.id == *a))
            {
                return Err(format!(
                    "plan order: step `{}` runs after `{missing}`, which has not run",
                    step.id
                ));
            }
            if let Some(end) = self.wait_until_due(step).await? {
                return Ok(end);
            }
            self.current = Some(step.id.clone());
            if let Some(by) = self.steer.skip_to_full.clone()
                && self.skipped_to_full(step)
            {
                self.log(Event::StepStarted {
                    step: step.id.clone(),
                    title: step.title.clone(),
                })
                .map_err(|f| f.reason)?;
                self.action(
                    Some(&step.id),
                    "skip",
                    Ok(format!("promoted to full traffic by {by}")),
                )
                .map_err(|f| f.reason)?;
                self.emit(Event::StepFinished {
                    step: step.id.clone(),
                })?;
                self.finished.insert(step.id.clone());
                continue;
            }
            let result = self.step(step).await;
            match result {
                Ok(()) => {
                    self.emit(Event::StepFinished {
                        step: step.id.clone(),
                    })?;
                    self.finished.insert(step.id.clone());
                    if matches!(step.action, Action::Monitor { .. }) && self.new_deployed {
                        let r = self.world.provider.promote().await;
                        self.action(Some(&step.id), "promote", r)
                            .map_err(|f| f.reason)?;
                    }
                }
                Err(f) => {
                    if let Some(signal) = self.signalled() {
                        let action = match self.stop_action(&signal) {
                            OnSignal::Rollback => "rollback",
                            OnSignal::Pause => "pause",
                        };
                        self.emit(Event::Interrupted {
                            signal: signal.clone(),
                            action: action.into(),
                        })?;
                        if self.stop_action(&signal) == OnSignal::Pause {
                            // The step did not finish: `--resume` runs it again.
                            return Ok(End::Interrupted { signal });
                        }
                    }
                    self.emit(Event::StepFailed {
                        step: step.id.clone(),
                        reason: f.reason.clone(),
                    })?;
                    let end = self.rollback(step, &f.reason).await?;
                    return self.finish(end).await;
                }
            }
        }
        // The run succeeds only once its messages on required channels are delivered: one
        // that failed fails the last step, whose rollback runs.
        if let Err(f) = self.await_required().await
            && let Some(last) = self.steps().last()
        {
            self.emit(Event::StepFailed {
                step: last.id.clone(),
                reason: f.reason.clone(),
            })?;
            let end = self.rollback(last, &f.reason).await?;
            return self.finish(end).await;
        }
        // `on done` is the deploy run's: the release is done when it serves, not on its
        // last flag day.
        if !self.is_schedule() {
            self.send_on("done", None, &[])
                .await
                .map_err(|f| f.reason)?;
        }
        self.finish(End::Succeeded).await
    }

    /// Whether `promote --full` skips `step`: a canary step before the last one (the last is
    /// full traffic, and runs).
    fn skipped_to_full(&self, step: &Step) -> bool {
        let last = self
            .steps()
            .filter(|s| matches!(s.action, Action::CanaryStep { .. }))
            .last()
            .map(|s| s.id.clone());
        matches!(step.action, Action::CanaryStep { .. }) && last.as_deref() != Some(&step.id)
    }

    /// A signal before T-0: nothing changed. `--on-signal pause` leaves the countdown to
    /// `--resume`; otherwise the run ends there (exit 1, as for a gate that stops it).
    async fn interrupted_before_steps(&mut self, signal: String) -> Result<End, String> {
        let action = match self.stop_action(&signal) {
            OnSignal::Rollback => "stop: nothing changed",
            OnSignal::Pause => "pause",
        };
        self.emit(Event::Interrupted {
            signal: signal.clone(),
            action: action.into(),
        })?;
        match self.stop_action(&signal) {
            OnSignal::Pause => Ok(End::Interrupted { signal }),
            OnSignal::Rollback => self.finish(End::Aborted).await,
        }
    }

    /// A required channel failed before the first step: nothing changed, so the run stops
    /// there (exit 1) rather than deploying without the people it must tell.
    async fn abort_before_steps(&mut self, f: Failure) -> Result<End, String> {
        self.emit(Event::Action {
            step: None,
            what: "notify".into(),
            ok: false,
            detail: format!("{}: nothing changed, the run stops", f.reason),
        })?;
        self.finish(End::Aborted).await
    }

    async fn finish(&mut self, end: End) -> Result<End, String> {
        self.flush_messages().await?;
        self.emit(Event::RunFinished {
            outcome: end.name().to_string(),
        })?;
        Ok(end)
    }

    /// After a resume, re-establishes what lived in the crashed process: the instances and the
    /// traffic split (the local provider's), by replaying the finished deploy steps' provider
    /// operations without their holds. Steps are not re-run and nothing is re-journaled as a
    /// step.
    async fn restore(&mut self) -> Result<(), String> {
        let steps: Vec<&'p Step> = self
            .steps()
            .filter(|s| self.finished.contains(&s.id))
            .collect();
        for s in steps {
            let r = match &s.action {
                Action::StartStable { .. } => {
                    let v = self.settings.stable.clone();
                    Some(self.world.provider.start_stable(v.as_deref()).await)
                }
                Action::CanaryStep { weight, .. } => {
                    self.ensure_deployed(&s.id).await.map_err(|f| f.reason)?;
                    Some(self.world.provider.weight(*weight).await)
                }
                Action::Preview { .. } => {
                    self.ensure_deployed(&s.id).await.map_err(|f| f.reason)?;
                    None
                }
                Action::Switch { .. } => Some(self.world.provider.weight(100.0).await),
                // A recreate (and a rollback plan's switch back) left the new version serving
                // everything: it is started again and given all traffic, so that the rest of
                // the run (its promote, or its rollback) acts on it.
                Action::Recreate { .. } => {
                    self.ensure_deployed(&s.id).await.map_err(|f| f.reason)?;
                    Some(self.world.provider.weight(100.0).await)
                }
                Action::RollingBatch { batch, of, .. } => {
                    self.new_deployed = true;
                    Some(self.world.provider.batch(*batch, *of).await)
                }
                _ => None,
            };
            if let Some(r) = r {
                self.action(Some(&s.id), "restore", r)
                    .map_err(|f| f.reason)?;
            }
        }
        Ok(())
    }

    /// Whether the run got past T-0: the stable version was started (journaled as the run's
    /// first action). A run paused before T-0, or whose stable version failed to start, has
    /// not begun.
    fn begun(&self) -> bool {
        self.journal.entries().iter().any(|e| {
            matches!(&e.event, Event::Action { step: None, what, ok: true, .. } if what == "stable")
        })
    }

    /// The time before T-0: each `at` message goes out at its time (one whose time has passed
    /// goes out at once), then the run waits for T-0. A real run that would wait longer than
    /// `max_wait_ms` for the next of these journals `paused` and ends; `--resume` continues
    /// the countdown where it stopped, without sending a message twice.
    async fn countdown(&mut self) -> Result<Option<End>, Failure> {
        loop {
            self.scheduled_messages().await?;
            let now = self.world.clock.now();
            if now >= self.t0 {
                return Ok(None);
            }
            let next_message = self
                .plan
                .comms
                .iter()
                .filter(|m| m.when == "at")
                .filter(|m| !self.sent_scheduled.contains(&format!("at {}", m.spec)))
                .filter_map(|m| {
                    let t = self
                        .t0
                        .checked_add(jiff::SignedDuration::from_millis(m.offset_ms.unwrap_or(0)))
                        .ok()?;
                    (t > now && t < self.t0).then(|| (t, format!("message `at {}`", m.spec)))
                })
                .min_by_key(|(t, _)| *t);
            let (due, what) = next_message.unwrap_or_else(|| {
                let first = self.steps().next().map(|s| s.id.clone());
                (self.t0, first.unwrap_or_else(|| "T-0".into()))
            });
            let wait = u64::try_from(due.duration_since(now).as_millis()).unwrap_or(u64::MAX);
            if !self.world.clock.is_virtual() && wait > self.settings.max_wait_ms {
                self.log(Event::Paused {
                    step: what.clone(),
                    due: due.to_string(),
                })?;
                return Ok(Some(End::Paused {
                    step: what,
                    due: due.to_string(),
                }));
            }
            self.sleep(wait).await;
            if let Some(signal) = self.signalled() {
                return fail(format!("stopped by {signal} before T-0"));
            }
        }
    }

    /// Waits for a scheduled step (flag days, check-ins). A real run pauses instead of
    /// waiting longer than `max_wait_ms`.
    async fn wait_until_due(&mut self, step: &Step) -> Result<Option<End>, String> {
        if !matches!(
            step.action,
            Action::Flag { .. } | Action::FlagRemoval { .. } | Action::Checkin { .. }
        ) {
            return Ok(None);
        }
        let due = self
            .t0
            .checked_add(jiff::SignedDuration::from_millis(
                i64::try_from(step.starts_at_ms).unwrap_or(i64::MAX),
            ))
            .unwrap_or(self.t0);
        let now = self.world.clock.now();
        if due <= now {
            return Ok(None);
        }
        let wait = u64::try_from(due.duration_since(now).as_millis()).unwrap_or(u64::MAX);
        if !self.world.clock.is_virtual() && wait > self.settings.max_wait_ms {
            self.emit(Event::Paused {
                step: step.id.clone(),
                due: due.to_string(),
            })?;
            return Ok(Some(End::Paused {
                step: step.id.clone(),
                due: due.to_string(),
            }));
        }
        // Woken early by a signal, the step starts and stops at once (see `step`).
        self.sleep(wait).await;
        Ok(None)
    }

    /// Records a world operation's result; a failed operation fails the step.
    fn action(
        &mut self,
        step: Option<&str>,
        what: &str,
        r: Result<String, String>,
    ) -> Result<String, Failure> {
        let ok = r.is_ok();
        let detail = match &r {
            Ok(d) | Err(d) => d.clone(),
        };
        self.log(Event::Action {
            step: step.map(str::to_string),
            what: what.to_string(),
            ok,
            detail: detail.clone(),
        })?;
        r.map_err(|e| Failure {
            reason: format!("{what}: {e}"),
        })
    }

    async fn step(&mut self, step: &'p Step) -> Result<(), Failure> {
        self.log(Event::StepStarted {
            step: step.id.clone(),
            title: step.title.clone(),
        })?;
        // A signal between steps stops the run before this one changes anything.
        if let Some(signal) = self.signalled() {
            return fail(format!("stopped by {signal}"));
        }
        match step.timeout_ms {
            // A virtual clock never blocks, so only a real run needs the wall-clock timeout.
            Some(t) if !self.world.clock.is_virtual() => {
                // The time operators hold the run paused does not count against the step: the
                // deadline moves by it.
                let paused = self.operator_paused_ms.clone();
                let paused_before = paused.load(std::sync::atomic::Ordering::Relaxed);
                let start = tokio::time::Instant::now();
                let work = self.execute(step);
                tokio::pin!(work);
                loop {
                    let extra = paused
                        .load(std::sync::atomic::Ordering::Relaxed)
                        .saturating_sub(paused_before);
                    let deadline =
                        start + std::time::Duration::from_millis(t.saturating_add(extra));
                    tokio::select! {
                        r = &mut work => {
                            r?;
                            break;
                        }
                        () = tokio::time::sleep_until(deadline) => {
                            let now_extra = paused
                                .load(std::sync::atomic::Ordering::Relaxed)
                                .saturating_sub(paused_before);
                            if now_extra == extra {
                                return fail(format!("timed out after {}", fmt_ms(t)));
                            }
                        }
                    }
                }
            }
            _ => self.execute(step).await?,
        }
        // Never waits: a delivery still under way is checked at the next evaluation.
        self.check_required()
    }

    async fn ensure_deployed(&mut self, step: &str) -> Result<(), Failure> {
        if !self.new_deployed {
            let r = self.world.provider.deploy(&self.plan.release).await;
            self.action(Some(step), "deploy", r)?;
            self.new_deployed = true;
        }
        Ok(())
    }

    async fn execute(&mut self, step: &'p Step) -> Result<(), Failure> {
        let id = step.id.as_str();
        match &step.action {
            Action::CheckWindow { window, freeze } => {
                let now = self.world.clock.now();
                let r = window::check(window.as_deref(), freeze, now);
                self.action(Some(id), "check window", r)?;
            }
            Action::CheckRequires { environment } => {
                let ok = self.settings.history.succeeded(
                    &self.plan.service,
                    &self.plan.release,
                    environment,
                );
                let r = if ok {
                    Ok(format!("{} succeeded in {environment}", self.plan.release))
                } else {
                    Err(format!(
                        "no successful run of {} in {environment} in the history",
                        self.plan.release
                    ))
                };
                self.action(Some(id), "check requires", r)?;
            }
            Action::HealthCheck { .. } => {
                let r = self.world.provider.health().await;
                self.action(Some(id), "health", r)?;
            }
            Action::CaptureBaseline { metrics, mode } => {
                let interval = self.interval();
                if !self.settings.describe_only {
                    // One interval of data, so the baseline is a measurement and not a guess.
                    self.world.clock.sleep(interval).await;
                }
                for m in metrics {
                    let value = if self.settings.describe_only {
                        None
                    } else {
                        self.query(m, Track::Stable).await
                    };
                    if let Some(v) = value {
                        self.baseline.insert(m.clone(), v);
                    }
                    self.log(Event::Baseline {
                        metric: m.clone(),
                        value,
                    })?;
                }
                let note = format!("{mode} baseline of {}", metrics.join(", "));
                self.action(Some(id), "baseline", Ok(note))?;
            }
            Action::Backup {
                method,
                command,
                verify,
                ..
            } => match (method.as_str(), command) {
                ("none", _) => {
                    self.action(Some(id), "backup", Ok("no backup (`backup = none`)".into()))?;
                }
                (_, Some(cmd)) => {
                    let file = self.command_backup_file("backup");
                    let c = self.backup_command(cmd, &file);
                    let r = self.world.shell.run(&c, 3_600_000).await;
                    self.action(Some(id), "backup", r)?;
                    if let Some(verify) = verify {
                        let c = self.backup_command(verify, &file);
                        let r = self.world.shell.run(&c, 600_000).await;
                        self.action(Some(id), "verify backup", r)?;
                    }
                }
                _ => {
                    let r = match &self.world.database {
                        Some(db) => db.backup().await,
                        None => Err("no database to back up".into()),
                    };
                    self.action(Some(id), "backup", r)?;
                }
            },
            Action::Checklist { items } => {
                for item in items {
                    match item {
                        ChecklistItem::Check { condition } => {
                            let c = condition::parse(condition).map_err(|e| Failure {
                                reason: e.to_string(),
                            })?;
                            let result = self.evaluate(id, &c).await;
                            self.log(Event::Check {
                                step: id.to_string(),
                                condition: condition.clone(),
                                kind: "check".into(),
                                result: result_name(result).into(),
                            })?;
                            // Nothing has changed yet and nothing waits for data here: a
                            // check that cannot be read is not a check that passed.
                            match result {
                                Some(true) => {}
                                Some(false) => {
                                    return fail(format!("checklist: `{condition}` does not hold"));
                                }
                                // A dry run reads nothing: it describes the check.
                                None if self.settings.describe_only => {}
                                None => {
                                    return fail(format!("checklist: no data for `{condition}`"));
                                }
                            }
                        }
                        ChecklistItem::Run {
                            command,
                            timeout_ms,
                        } => {
                            let command = self.render_command(command)?;
                            let r = self
                                .world
                                .shell
                                .run(&command, timeout_ms.unwrap_or(300_000))
                                .await;
                            self.action(Some(id), "checklist command", r)?;
                        }
                        ChecklistItem::Confirm { text, by } => {
                            self.gate(id, by, None, text, None, None).await?;
                        }
                    }
                }
            }
            Action::Approval {
                role,
                who,
                on_timeout,
                question,
            } => {
                // A gate after a deploy step says what it asks; the go/no-go asks the release.
                let question = question.clone().unwrap_or_else(|| {
                    format!(
                        "approve {} {} in {}?",
                        self.plan.service, self.plan.release, self.plan.environment
                    )
                });
                self.gate(
                    id,
                    role,
                    who.clone(),
                    &question,
                    step.timeout_ms,
                    on_timeout.as_deref(),
                )
                .await?;
            }
            Action::Migrate { name, .. } => self.migrate(id, name).await?,
            Action::Revert {
                name,
                release,
                phase,
                up,
                down,
                reversible,
                transactional,
                statement_timeout_ms,
                lock_timeout_ms,
                irreversible_reason,
            } => {
                if !reversible {
                    return fail(format!(
                        "migration `{name}` of {release} cannot be reverted{}: restore from backup or fix forward",
                        irreversible_reason
                            .as_deref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ));
                }
                let Some(down) = down else {
                    // `down = noop`: the release's own rollback would not run anything either.
                    self.action(
                        Some(id),
                        "revert migration",
                        Ok(format!("`{name}` has nothing to revert")),
                    )?;
                    return Ok(());
                };
                let Some(db) = &self.world.database else {
                    return fail("the environment has no database");
                };
                let m = Migration {
                    name: name.clone(),
                    release: release.clone(),
                    phase: phase.clone(),
                    up: up.clone(),
                    down: Some(down.clone()),
                    transactional: *transactional,
                    statement_timeout_ms: *statement_timeout_ms,
                    lock_timeout_ms: *lock_timeout_ms,
                    // A revert runs its `down` once, whole: batches and verify belong to `up`.
                    batch: None,
                    verify: None,
                };
                // The ledger makes this exactly once: a migration already reverted (a run
                // resumed after a crash, or a second rollback after one that stopped) is
                // not reverted again.
                let r = db.revert(&m).await;
                self.action(Some(id), "revert migration", r)?;
                self.log(Event::MigrationReverted { name: name.clone() })?;
            }
            Action::StartStable { .. } => {
                let v = self.settings.stable.clone();
                let r = self.world.provider.start_stable(v.as_deref()).await;
                self.action(Some(id), "stable", r)?;
            }
            Action::CanaryStep { weight, hold_ms } => {
                self.ensure_deployed(id).await?;
                let r = self.world.provider.weight(*weight).await;
                self.action(Some(id), "weight", r)?;
                self.recheck_health(id, true).await?;
                let w = format!("{}%", crate::lower::fmt_number(*weight));
                self.weight = w.clone();
                self.send_on("step", Some(id), &[("weight", w)]).await?;
                self.hold(step, *hold_ms).await?;
            }
            Action::Preview { hold_ms, smoke } => {
                self.ensure_deployed(id).await?;
                if *smoke && let Some(cmd) = self.smoke_command() {
                    let cmd = cmd?;
                    let r = self.world.shell.run(&cmd, 300_000).await;
                    self.action(Some(id), "preview smoke", r)?;
                }
                self.hold(step, *hold_ms).await?;
            }
            Action::Switch { .. } => {
                self.ensure_deployed(id).await?;
                let r = self.world.provider.weight(100.0).await;
                self.action(Some(id), "switch", r)?;
                self.recheck_health(id, true).await?;
                self.weight = "100%".into();
                self.send_on("step", Some(id), &[("weight", "100%".into())])
                    .await?;
                self.hold(step, 0).await?;
            }
            Action::KeepPrevious { duration_ms } => {
                self.hold(step, *duration_ms).await?;
            }
            Action::RollingBatch {
                batch,
                of,
                max_unavailable,
                health,
                ..
            } => {
                self.new_deployed = true;
                let r = self.world.provider.batch(*batch, *of).await;
                self.action(Some(id), "batch", r)?;
                match health {
                    Some(h) => self.batch_health(id, *h, *max_unavailable).await?,
                    None => self.recheck_health(id, true).await?,
                }
                let w = format!("batch {batch} of {of}");
                self.send_on("step", Some(id), &[("weight", w)]).await?;
                let hold = self.interval();
                self.hold(step, hold).await?;
            }
            Action::Recreate { .. } => {
                self.ensure_deployed(id).await?;
                let r = self.world.provider.weight(100.0).await;
                self.action(Some(id), "recreate", r)?;
                self.recheck_health(id, true).await?;
            }
            Action::Smoke { .. } => {
                if let Some(cmd) = self.smoke_command() {
                    let cmd = cmd?;
                    let r = self
                        .world
                        .shell
                        .run(&cmd, step.timeout_ms.unwrap_or(300_000))
                        .await;
                    self.action(Some(id), "smoke", r)?;
                }
            }
            Action::Monitor { duration_ms } => {
                self.hold(step, *duration_ms).await?;
            }
            Action::Flag {
                flag,
                percent,
                segment,
                watch_ms,
                ..
            } => {
                let r = match &self.world.flags {
                    Some(f) => f.set(flag, *percent, segment.as_deref()).await,
                    None => Ok(format!(
                        "no flag driver: set `{flag}` to {}% by hand",
                        crate::lower::fmt_number(*percent)
                    )),
                };
                self.action(Some(id), "flag", r)?;
                // The flag day is watched with the release's triggers armed: a breach turns
                // the flag back (the step's rollback).
                self.watch(step, *watch_ms).await?;
            }
            Action::FlagRemoval { flag, watch_ms, .. } => {
                self.action(
                    Some(id),
                    "flag removal",
                    Ok(format!(
                        "`{flag}` is fully rolled out: remove it from the code"
                    )),
                )?;
                self.watch(step, *watch_ms).await?;
            }
            Action::Report => {
                self.action(Some(id), "report", Ok("written when the run ends".into()))?;
            }
            Action::Checkin {
                offset_ms,
                watch_ms,
            } => {
                let text = format!(
                    "check-in {} after T-0: {} {} on {}",
                    fmt_ms(*offset_ms),
                    self.plan.service,
                    self.plan.release,
                    self.plan.environment
                );
                self.action(Some(id), "check-in", Ok(text))?;
                self.watch(step, *watch_ms).await?;
            }
            Action::Notify { message } => {
                let names: Vec<String> =
                    self.plan.channels.iter().map(|c| c.name.clone()).collect();
                self.send(&names, "notify", message, Some(id), None).await?;
            }
        }
        Ok(())
    }

    /// The service's health, probed through the provider after every change of what serves
    /// traffic (`journal_ok`: the result is journaled as `health`) and at every evaluation of
    /// a hold (only a failure is journaled): a version that stops answering fails its step,
    /// and the rollback runs, whatever the metrics say.
    async fn recheck_health(&mut self, step: &str, journal_ok: bool) -> Result<(), Failure> {
        if self.settings.describe_only {
            return Ok(());
        }
        let r = self.world.provider.health().await;
        if r.is_ok() && !journal_ok {
            return Ok(());
        }
        self.action(Some(step), "health", r)?;
        Ok(())
    }

    /// A rolling batch's health (see [`rolling`]): probed every `every_ms` until every
    /// instance is healthy; more instances out of service than `max_unavailable` allows, or
    /// the `timeout` passing first, fails the batch and the rollback runs. Each instance that
    /// goes out of service while the batch may still tolerate it is journaled as a failed
    /// `health check` that does not fail the step.
    async fn batch_health(
        &mut self,
        step: &str,
        h: BatchHealth,
        max_unavailable: u64,
    ) -> Result<(), Failure> {
        if self.settings.describe_only {
            return Ok(());
        }
        let mut watch = rolling::BatchWatch::new(h, max_unavailable);
        let started = self.world.clock.now();
        loop {
            let checks = self.world.provider.instance_health().await;
            match watch.observe(&checks) {
                rolling::Verdict::Healthy(d) => {
                    self.action(Some(step), "health", Ok(d))?;
                    return Ok(());
                }
                rolling::Verdict::Failed(d) => {
                    return self.action(Some(step), "health", Err(d)).map(drop);
                }
                rolling::Verdict::Waiting(out) => {
                    for detail in out {
                        self.log(Event::Action {
                            step: Some(step.to_string()),
                            what: "health check".into(),
                            ok: false,
                            detail,
                        })?;
                    }
                }
            }
            let now = self.world.clock.now();
            let elapsed = u64::try_from(now.duration_since(started).as_millis()).unwrap_or(0);
            if elapsed >= h.timeout_ms {
                return self
                    .action(Some(step), "health", Err(watch.timed_out()))
                    .map(drop);
            }
            if let Some(signal) = self.signalled() {
                return fail(format!("stopped by {signal}"));
            }
            self.sleep(h.every_ms.min(h.timeout_ms - elapsed).max(1))
                .await;
        }
    }

    fn smoke_command(&self) -> Option<Result<String, Failure>> {
        let template = self.steps().find_map(|s| match &s.action {
            Action::Smoke { command } => Some(command.clone()),
            _ => None,
        })?;
        Some(self.render_command(&template))
    }

    /// A smoke or checklist command with its placeholders (the release's and `{url}`)
    /// shell-quoted. A command that needs `{url}` when the service has none fails here: run
    /// with a literal `{url}`, a smoke test would test nothing, or the wrong thing.
    fn render_command(&self, template: &str) -> Result<String, Failure> {
        let url = self.url();
        // A dry run describes the command as it stands.
        if url.is_none() && template.contains("{url}") && !self.settings.describe_only {
            return fail(format!(
                "`{template}` needs `{{url}}`, and neither the provider, the environment nor the service gives one (set `url`)"
            ));
        }
        let v = |n: &str| match n {
            "url" => url.clone(),
            "version" => Some(self.plan.release.clone()),
            "service" => Some(self.plan.service.clone()),
            "environment" => Some(self.plan.environment.clone()),
            "previous_version" => self.settings.stable.clone(),
            _ => None,
        };
        Ok(shell::render(template, &v))
    }

    fn interval(&self) -> u64 {
        self.plan.timeline.analysis_interval_ms.max(100)
    }

    /// Reads a metric over the analysis interval.
    async fn query(&mut self, metric: &str, track: Track) -> Option<f64> {
        let window = self.interval();
        self.query_over(metric, track, window).await
    }

    /// Reads a metric over `window_ms` (`{window}` in queries): a trigger's `for` window, else
    /// the analysis interval.
    async fn query_over(&mut self, metric: &str, track: Track, window_ms: u64) -> Option<f64> {
        let m = self.world.metrics.as_ref()?;
        let q = self
            .plan
            .metrics
            .iter()
            .find(|p| p.name == metric)
            .and_then(|p| p.query.clone());
        let r = m.reading(metric, q.as_deref(), track, window_ms).await;
        let (v, no_data) = match r {
            Ok(v) => (Some(v), None),
            Err(why) => (None, why),
        };
        if let Some(v) = v {
            let key = match track {
                Track::New => metric.to_string(),
                Track::Stable => format!("stable.{metric}"),
            };
            self.latest.insert(key, v);
        }
        let step = self.current.clone().unwrap_or_default();
        let _ = self.log(Event::Sample {
            step,
            metric: metric.to_string(),
            track: track.name().to_string(),
            value: v,
            no_data,
        });
        v
    }

    /// Evaluates a condition on the new version; baselines come from the stable version at
    /// the same moment (paired) or from the captured baseline.
    async fn evaluate(&mut self, _step: &str, c: &Condition) -> Option<bool> {
        let window = self.interval();
        self.evaluate_over(c, window).await
    }

    /// [`Self::evaluate`] with the metrics read over `window_ms`.
    async fn evaluate_over(&mut self, c: &Condition, window_ms: u64) -> Option<bool> {
        let mut values = Sampled::default();
        for m in c.metrics() {
            let v = self
                .query_over(
                    &m,
                    // In a schedule the release serves everyone: it is the one watched.
                    if self.new_deployed || self.is_schedule() {
                        Track::New
                    } else {
                        Track::Stable
                    },
                    window_ms,
                )
                .await;
            if let Some(v) = v {
                values.values.insert(m.clone(), v);
            }
            if c.uses_baseline() {
                // A schedule has no earlier version serving beside the release to pair with:
                // it compares with the deploy run's captured baseline.
                let b = match self.baseline.get(&m) {
                    Some(b) if !self.paired() || self.is_schedule() => Some(*b),
                    _ => self.query_over(&m, Track::Stable, window_ms).await,
                };
                if let Some(b) = b {
                    values.baselines.insert(m.clone(), b);
                }
            }
        }
        c.eval(&values)
    }

    fn paired(&self) -> bool {
        self.steps()
            .any(|s| matches!(&s.action, Action::CaptureBaseline { mode, .. } if mode == "paired"))
    }

    /// The watch after a scheduled step: the triggers stay armed until the step's due time
    /// plus `watch_ms` — the next step's due time, or the end of the last flag day's monitor
    /// period. Measured from the due time, not from now, so that a late start (the flag
    /// command's own time, a resumed run) does not push the watch past the next step.
    async fn watch(&mut self, step: &'p Step, watch_ms: u64) -> Result<(), Failure> {
        if watch_ms == 0 {
            return Ok(());
        }
        let end = self
            .t0
            .checked_add(jiff::SignedDuration::from_millis(
                i64::try_from(step.starts_at_ms.saturating_add(watch_ms)).unwrap_or(i64::MAX),
            ))
            .unwrap_or(self.t0);
        let now = self.world.clock.now();
        let left = if end <= now {
            0
        } else {
            u64::try_from(end.duration_since(now).as_millis()).unwrap_or(u64::MAX)
        };
        self.hold(step, left.min(watch_ms)).await
    }

    /// Holds a step for `hold_ms`, evaluating its guards every analysis interval.
    async fn hold(&mut self, step: &'p Step, hold_ms: u64) -> Result<(), Failure> {
        let interval = self.interval();
        if self.settings.describe_only {
            if hold_ms > 0 {
                let guards: Vec<&str> = step.guards.iter().map(|g| g.condition.as_str()).collect();
                self.action(
                    Some(&step.id),
                    "hold",
                    Ok(format!(
                        "{} with analysis every {}: {}",
                        fmt_ms(hold_ms),
                        fmt_ms(interval),
                        if guards.is_empty() {
                            "no guards".to_string()
                        } else {
                            guards.join("; ")
                        }
                    )),
                )?;
                self.world.clock.sleep(hold_ms).await;
            }
            return Ok(());
        }
        let requires: Vec<(String, Condition)> = step
            .guards
            .iter()
            .filter(|g| g.kind == "require")
            .filter_map(|g| {
                condition::parse(&g.condition)
                    .ok()
                    .map(|c| (g.condition.clone(), c))
            })
            .collect();
        let triggers: Vec<Trigger> = step
            .guards
            .iter()
            .filter(|g| g.kind == "trigger")
            .filter_map(|g| self.trigger(&g.condition))
            .collect();
        let policy = self.plan.target.no_data.as_deref().unwrap_or("fail");
        let after = self.plan.target.no_data_after.unwrap_or(3);
        let mut elapsed = 0;
        // `no_data pause`: while a required condition has had no data `after` times in a row,
        // the hold stands still; it may stand still at most as long as the hold itself (the
        // plan's step timeout allows for that), then the step fails.
        let mut paused_ms: u64 = 0;
        let mut paused_on: Option<String> = None;
        while elapsed < hold_ms {
            let wait = interval.min(hold_ms - elapsed);
            self.sleep(wait).await;
            // A signal ends the hold at once: its step fails (and is rolled back) or the run
            // pauses, according to `--on-signal`.
            if let Some(signal) = self.signalled() {
                return fail(format!("stopped by {signal}"));
            }
            // Operators act at each interval: an abort rolls back now; a pause stops the
            // hold's clock (the evaluations below go on, so triggers stay armed); a promote
            // ends the hold after this evaluation.
            self.take_commands(true, None)?;
            if let Some(reason) = self.steer.abort.take() {
                return fail(reason);
            }
            let counted = if self.steer.paused_by.is_some() {
                self.operator_paused_ms
                    .fetch_add(wait, std::sync::atomic::Ordering::Relaxed);
                0
            } else {
                wait
            };
            elapsed += counted;
            if self.steer.promote.take().is_some() {
                elapsed = hold_ms;
            }
            self.periodic_messages().await?;
            self.check_required()?;
            self.recheck_health(&step.id, false).await?;
            let mut starved: Option<&str> = None;
            for (text, c) in &requires {
                let r = self.evaluate(&step.id, c).await;
                self.log(Event::Check {
                    step: step.id.clone(),
                    condition: text.clone(),
                    kind: "require".into(),
                    result: result_name(r).into(),
                })?;
                match r {
                    Some(true) => {
                        self.no_data.remove(text);
                    }
                    Some(false) => return fail(format!("require `{text}` failed")),
                    None => {
                        let n = self.no_data.entry(text.clone()).or_insert(0);
                        *n += 1;
                        let n = *n;
                        if n < after {
                            continue;
                        }
                        match policy {
                            "pass" => {}
                            "pause" => starved = starved.or(Some(text.as_str())),
                            _ => {
                                return fail(format!(
                                    "no data for `{text}` at {n} evaluations in a row (no_data fail after {after})"
                                ));
                            }
                        }
                    }
                }
            }
            match (starved, &paused_on) {
                (Some(text), _) => {
                    elapsed = elapsed.saturating_sub(counted);
                    paused_ms += counted;
                    if paused_on.is_none() {
                        self.log(Event::HoldPaused {
                            step: step.id.clone(),
                            condition: text.to_string(),
                        })?;
                        paused_on = Some(text.to_string());
                    }
                    if paused_ms >= hold_ms {
                        return fail(format!(
                            "no data for `{text}`: the hold stood still for {}, as long as the hold itself (no_data pause after {after})",
                            fmt_ms(paused_ms)
                        ));
                    }
                }
                (None, Some(_)) => {
                    self.log(Event::HoldResumed {
                        step: step.id.clone(),
                        paused_ms,
                    })?;
                    paused_on = None;
                }
                (None, None) => {}
            }
            for t in &triggers {
                let window = t.for_ms.max(interval);
                let r = self.evaluate_over(&t.condition, window).await;
                let now = self.world.clock.now();
                if r != Some(true) {
                    self.breach.remove(&t.text);
                    continue;
                }
                let since = *self.breach.entry(t.text.clone()).or_insert(now);
                let held = u64::try_from(now.duration_since(since).as_millis()).unwrap_or(0);
                if held < t.for_ms {
                    continue;
                }
                self.breach.remove(&t.text);
                self.log(Event::TriggerFired {
                    step: step.id.clone(),
                    condition: t.text.clone(),
                    mode: t.mode.clone(),
                    breach_since: since.to_string(),
                })?;
                if t.mode == "auto" {
                    return fail(format!("trigger `{}` fired", t.text));
                }
                // A manual trigger asks the people who decide rollbacks, with what they decide
                // on: the condition (its threshold) and the readings that broke it.
                let roles = self.plan.rollback_decision.clone();
                let role = roles.first().cloned().unwrap_or_else(|| "lead".into());
                let evidence = format!(
                    "`{}` held for {} ({})",
                    t.text,
                    fmt_ms(t.for_ms),
                    self.evidence(&t.condition)
                );
                self.send_on(
                    "rollback_decision",
                    Some(&step.id),
                    &[("reason", evidence.clone())],
                )
                .await?;
                let question = format!("{evidence}: roll back?");
                let d = self
                    .decide(&step.id, &role, None, &question, t.timeout_ms)
                    .await?;
                match d {
                    Decision::Approved { .. } => {
                        return fail(format!("manual trigger `{}`: rollback decided", t.text));
                    }
                    Decision::TimedOut
                        if t.on_timeout
                            .as_deref()
                            .is_some_and(|a| a.starts_with("rollback")) =>
                    {
                        return fail(format!(
                            "manual trigger `{}`: no answer, rolling back",
                            t.text
                        ));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The latest readings of a condition's metrics, each with what it is compared with: the
    /// stable version read at the same time (`stable 90.1`) and the captured baseline.
    fn evidence(&self, c: &Condition) -> String {
        let shown: Vec<String> = c
            .metrics()
            .iter()
            .map(|m| {
                let value = self
                    .latest
                    .get(m)
                    .map(|v| fmt_value(*v))
                    .unwrap_or_else(|| "no data".into());
                let mut around = Vec::new();
                if let Some(v) = self.latest.get(&format!("stable.{m}")) {
                    around.push(format!("stable {}", fmt_value(*v)));
                }
                if let Some(b) = self.baseline.get(m) {
                    around.push(format!("baseline {}", fmt_value(*b)));
                }
                if around.is_empty() {
                    format!("{m} {value}")
                } else {
                    format!("{m} {value}, {}", around.join(", "))
                }
            })
            .collect();
        shown.join("; ")
    }

    fn trigger(&self, guard: &str) -> Option<Trigger> {
        let (cond, window) = condition::split_trigger(guard)?;
        let plan = self.plan.triggers.iter().find(|t| t.condition == cond);
        Some(Trigger {
            text: cond.to_string(),
            mode: plan
                .map(|t| t.mode.clone())
                .unwrap_or_else(|| guard.split(' ').next().unwrap_or("auto").to_string()),
            condition: condition::parse(cond).ok()?,
            for_ms: plan
                .map(|t| t.for_ms)
                .or_else(|| condition::duration_ms(window))
                .unwrap_or(0),
            on_timeout: plan.and_then(|t| t.on_timeout.clone()),
            timeout_ms: plan.and_then(|t| t.timeout_ms),
        })
    }

    async fn decide(
        &mut self,
        step: &str,
        role: &str,
        who: Option<String>,
        question: &str,
        timeout_ms: Option<u64>,
    ) -> Result<Decision, Failure> {
        let req = GateRequest {
            step: step.to_string(),
            role: role.to_string(),
            who,
            question: question.to_string(),
            timeout_ms,
        };
        // A gate that waits (a live run, a gate with time to answer) can also be answered by
        // an operator from another terminal.
        if self.inbox.is_some() && !self.world.clock.is_virtual() && timeout_ms != Some(0) {
            return self.decide_live(req).await;
        }
        // A gate may wait on a person at the terminal: a signal answers it (rejected), so
        // that Ctrl-C at a prompt stops the run as it does anywhere else.
        let d = match self.stop.clone() {
            Some(mut rx) if !self.world.clock.is_virtual() => {
                tokio::select! {
                    d = self.world.gates.decide(&req) => d,
                    s = rx.wait_for(Option::is_some) => Decision::Rejected {
                        by: s.ok().and_then(|s| s.clone()).unwrap_or_else(|| "a signal".into()),
                    },
                }
            }
            _ => self.world.gates.decide(&req).await,
        };
        self.log_decision(&req, &d)?;
        Ok(d)
    }

    fn log_decision(&mut self, req: &GateRequest, d: &Decision) -> Result<(), Failure> {
        let (decision, by) = match d {
            Decision::Approved { by } => ("approved", by.clone()),
            Decision::Rejected { by } => ("rejected", by.clone()),
            Decision::TimedOut => ("timed_out", "nobody".to_string()),
        };
        self.log(Event::Decision {
            step: req.step.clone(),
            question: format!("{} ({})", req.question, req.role),
            decision: decision.into(),
            by,
        })
    }

    /// A gate of a live run: answered by the gates of the command line (the terminal,
    /// `--approve`, its timeout), a signal, or an operator's `approve`/`reject` of its role
    /// (`abort` rolls back). The operators' requests are read every analysis interval (at
    /// most every second) while it waits.
    async fn decide_live(&mut self, req: GateRequest) -> Result<Decision, Failure> {
        self.log(Event::GateWaiting {
            step: req.step.clone(),
            roles: vec![req.role.clone()],
            question: req.question.clone(),
        })?;
        let poll = std::time::Duration::from_millis(self.interval().min(1_000));
        // The automatic triggers of a gate after traffic moved are evaluated once per
        // analysis interval while it waits, as in a hold.
        let every = std::time::Duration::from_millis(self.interval());
        let mut evaluated = tokio::time::Instant::now();
        // The gates are taken out of the world while their answer is awaited, so that the
        // operators' requests can be journaled meanwhile; they are put back whatever happens.
        let gates = std::mem::replace(&mut self.world.gates, Box::new(Unanswered));
        let mut stop = self.stop.clone();
        let answer: Result<Decision, Failure> = {
            let asked = gates.decide(&req);
            tokio::pin!(asked);
            loop {
                let signalled = async {
                    match stop.as_mut() {
                        Some(rx) => rx
                            .wait_for(Option::is_some)
                            .await
                            .ok()
                            .and_then(|s| s.clone()),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    d = &mut asked => break Ok(d),
                    s = signalled => break Ok(Decision::Rejected {
                        by: s.unwrap_or_else(|| "a signal".into()),
                    }),
                    () = tokio::time::sleep(poll) => {
                        match self.take_commands(false, Some((&req.step, &req.role))) {
                            Err(f) => break Err(f),
                            Ok(Some(d)) => break Ok(d),
                            Ok(None) => {}
                        }
                        if let Some(reason) = self.steer.abort.take() {
                            break Err(Failure { reason });
                        }
                        if evaluated.elapsed() >= every {
                            evaluated = tokio::time::Instant::now();
                            match self.gate_triggers(&req.step).await {
                                Err(f) => break Err(f),
                                Ok(Some(reason)) => break Err(Failure { reason }),
                                Ok(None) => {}
                            }
                        }
                    }
                }
            }
        };
        self.world.gates = gates;
        let d = answer?;
        self.log_decision(&req, &d)?;
        Ok(d)
    }

    /// One evaluation of the automatic triggers armed at a waiting gate (its step's `trigger`
    /// guards: a gate after traffic moved): a trigger whose condition held for its `for`
    /// window fails the gate and the rollback runs. Manual triggers are not asked meanwhile: the
    /// people who would decide are the ones the gate waits for.
    async fn gate_triggers(&mut self, step_id: &str) -> Result<Option<String>, Failure> {
        let triggers: Vec<Trigger> = self
            .steps()
            .find(|s| s.id == step_id)
            .map(|s| {
                s.guards
                    .iter()
                    .filter(|g| g.kind == "trigger")
                    .filter_map(|g| self.trigger(&g.condition))
                    .filter(|t| t.mode == "auto")
                    .collect()
            })
            .unwrap_or_default();
        let interval = self.interval();
        for t in &triggers {
            let window = t.for_ms.max(interval);
            let r = self.evaluate_over(&t.condition, window).await;
            let now = self.world.clock.now();
            if r != Some(true) {
                self.breach.remove(&t.text);
                continue;
            }
            let since = *self.breach.entry(t.text.clone()).or_insert(now);
            let held = u64::try_from(now.duration_since(since).as_millis()).unwrap_or(0);
            if held < t.for_ms {
                continue;
            }
            self.breach.remove(&t.text);
            self.log(Event::TriggerFired {
                step: step_id.to_string(),
                condition: t.text.clone(),
                mode: t.mode.clone(),
                breach_since: since.to_string(),
            })?;
            return Ok(Some(format!("trigger `{}` fired", t.text)));
        }
        Ok(None)
    }

    /// An approval gate: approved continues, rejected fails, a timeout runs the `else` action.
    async fn gate(
        &mut self,
        step: &str,
        role: &str,
        who: Option<String>,
        question: &str,
        timeout_ms: Option<u64>,
        on_timeout: Option<&str>,
    ) -> Result<(), Failure> {
        // Each gate says what it asks (`{reason}`): a checklist's confirmations and an
        // approval waiting at once are told apart.
        self.send_on(
            "approval_needed",
            Some(step),
            &[("role", role.to_string()), ("reason", question.to_string())],
        )
        .await?;
        match self.decide(step, role, who, question, timeout_ms).await? {
            Decision::Approved { .. } => Ok(()),
            Decision::Rejected { by } => fail(format!("{role} gate rejected by {by}")),
            Decision::TimedOut => match on_timeout.unwrap_or("abort") {
                a if a.starts_with("continue") => Ok(()),
                a => fail(format!("{role} gate timed out ({a})")),
            },
        }
    }

    /// Sends the `on EVENT` messages.
    async fn send_on(
        &mut self,
        event: &str,
        step: Option<&str>,
        values: &[(&str, String)],
    ) -> Result<(), Failure> {
        let msgs: Vec<(Vec<String>, String)> = self
            .plan
            .comms
            .iter()
            .filter(|m| m.when == "on" && m.spec == event)
            .map(|m| (m.channels.clone(), m.text.clone()))
            .collect();
        for (channels, text) in msgs {
            let text = self.fill(&text, values);
            self.send(&channels, &format!("on {event}"), &text, step, None)
                .await?;
        }
        Ok(())
    }

    /// Fills a message: every placeholder the language lists for messages. The release
    /// placeholders are usually filled when the plan is made; the rest are known only now:
    /// the step and its phase, the traffic on the new version, the reason of the rollback
    /// under way, the service's URL, who made the latest decision, and the latest reading of
    /// each metric (the new version's; `no data` before one is read).
    fn fill(&self, text: &str, values: &[(&str, String)]) -> String {
        let current = self.current.clone();
        let phase = self
            .plan
            .phases
            .iter()
            .find(|p| p.steps.iter().any(|s| Some(&s.id) == current.as_ref()))
            .map(|p| p.name.title().to_string());
        let decided_by = self
            .journal
            .entries()
            .iter()
            .rev()
            .find_map(|e| match &e.event {
                Event::Decision { by, .. } => Some(by.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "nobody yet".into());
        let v = |n: &str| {
            values
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .or_else(|| match n {
                    "step" => current.clone().or_else(|| Some("-".into())),
                    "phase" => phase.clone().or_else(|| Some("-".into())),
                    "weight" => Some(self.weight.clone()),
                    "start" => Some(self.t0.to_string()),
                    "run" => Some(self.settings.run.clone()),
                    "reason" => Some(self.reason.clone().unwrap_or_else(|| "-".into())),
                    "url" => Some(self.url().unwrap_or_else(|| "-".into())),
                    "decided_by" => Some(decided_by.clone()),
                    "service" => Some(self.plan.service.clone()),
                    "version" => Some(self.plan.release.clone()),
                    "environment" => Some(self.plan.environment.clone()),
                    "previous_version" => self.settings.stable.clone(),
                    _ => self.metric_text(n),
                })
        };
        shell::render_plain(text, &v)
    }

    /// The service's URL: the provider's (the local proxy), else the environment's or the
    /// service's `url`, else the origin of the service's `health` URL — where the health
    /// check reaches the service, it is reachable.
    fn url(&self) -> Option<String> {
        self.world
            .provider
            .url()
            .or_else(|| self.plan.target.url.clone())
            .or_else(|| {
                self.steps().find_map(|s| match &s.action {
                    Action::HealthCheck { url, .. } => origin(url),
                    _ => None,
                })
            })
    }

    /// `{METRIC}` in a message: the latest reading of the new version (of the stable one
    /// before the new version serves), `no data` for a metric of the plan not read yet.
    fn metric_text(&self, name: &str) -> Option<String> {
        let known = self.plan.metrics.iter().any(|m| m.name == name);
        let v = self
            .latest
            .get(name)
            .or_else(|| self.latest.get(&format!("stable.{name}")));
        match v {
            Some(v) => Some(fmt_value(*v)),
            None if known => Some("no data".into()),
            None => None,
        }
    }

    /// Sends a message on each of `channels`: its intent is journaled, then it is handed to
    /// the channel's background worker, so that nothing here waits on a channel. Before the
    /// first step (nothing changed yet) a required channel is sent to in line, so that its
    /// failure stops the run there; on a virtual clock every send is in line. A message whose
    /// delivery is journaled (a resumed run) is not sent again. `nth` numbers the occurrence
    /// (the `every` messages' period); otherwise occurrences are counted.
    async fn send(
        &mut self,
        channels: &[String],
        event: &str,
        text: &str,
        step: Option<&str>,
        nth: Option<u64>,
    ) -> Result<(), Failure> {
        let message = Message {
            event: event.to_string(),
            text: text.to_string(),
            run: self.settings.run.clone(),
            step: step.map(str::to_string),
            metrics: self.latest.clone(),
        };
        let in_line_required = !self.steps_begun();
        for name in channels {
            let required = self
                .plan
                .channels
                .iter()
                .any(|c| &c.name == name && c.required);
            let base = format!("{}|{event}|{name}", step.unwrap_or("-"));
            let n = match nth {
                Some(n) => n,
                None => {
                    let c = self.occurrences.entry(base.clone()).or_insert(0);
                    *c += 1;
                    *c
                }
            };
            let key = format!("{base}|{n}");
            if self.done_keys.contains(&key) || !self.queued_keys.insert(key.clone()) {
                continue;
            }
            let channel = self
                .world
                .channels
                .iter()
                .find(|c| c.name() == name)
                .cloned();
            self.log(Event::MessageQueued {
                key: key.clone(),
                channel: name.clone(),
                event: event.to_string(),
                text: text.to_string(),
                step: step.map(str::to_string),
            })?;
            let delivered = |result| Delivered {
                key: key.clone(),
                channel: name.clone(),
                event: event.to_string(),
                text: text.to_string(),
                required,
                result,
            };
            let result = match channel {
                None => Err(format!("channel `{name}` is not available in this run")),
                Some(c) if self.world.clock.is_virtual() || (required && in_line_required) => {
                    c.send(&message).await
                }
                Some(c) => {
                    self.outbox.queue(key.clone(), c, required, message.clone());
                    continue;
                }
            };
            let ok = result.is_ok();
            let detail = self
                .record_delivery(delivered(result))
                .map_err(|e| Failure { reason: e })?;
            // A failing channel is recorded and never stops a deploy, unless it is required.
            if !ok && required {
                return fail(format!("required channel `{name}` failed: {detail}"));
            }
        }
        Ok(())
    }

    /// `at` messages whose time has come and that have not been sent yet.
    async fn scheduled_messages(&mut self) -> Result<(), Failure> {
        // `at` and `every` messages are the deploy run's; the schedule runs for days.
        if self.is_schedule() {
            return Ok(());
        }
        let now = self.world.clock.now();
        let due: Vec<(String, Vec<String>, String)> = self
            .plan
            .comms
            .iter()
            .filter(|m| m.when == "at")
            .filter(|m| {
                let off = m.offset_ms.unwrap_or(0);
                self.t0
                    .checked_add(jiff::SignedDuration::from_millis(off))
                    .is_ok_and(|t| t <= now)
            })
            .map(|m| (format!("at {}", m.spec), m.channels.clone(), m.text.clone()))
            .collect();
        for (event, channels, text) in due {
            if self.sent_scheduled.insert(event.clone()) {
                let text = self.fill(&text, &[]);
                self.send(&channels, &event, &text, None, None).await?;
            }
        }
        Ok(())
    }

    /// `every` messages and `at` messages that fall during the run.
    async fn periodic_messages(&mut self) -> Result<(), Failure> {
        // Progress messages are the deploy run's; a schedule's days pass without them.
        if self.is_schedule() {
            return Ok(());
        }
        self.scheduled_messages().await?;
        let now = self.world.clock.now();
        let every: Vec<(String, u64, Vec<String>, String)> = self
            .plan
            .comms
            .iter()
            .filter(|m| m.when == "every")
            .filter_map(|m| {
                condition::duration_ms(&m.spec)
                    .map(|d| (m.spec.clone(), d, m.channels.clone(), m.text.clone()))
            })
            .collect();
        for (spec, d, channels, text) in every {
            let last = *self.last_every.entry(spec.clone()).or_insert(self.t0);
            let elapsed = u64::try_from(now.duration_since(last).as_millis()).unwrap_or(0);
            if d > 0 && elapsed >= d {
                self.last_every.insert(spec.clone(), now);
                let text = self.fill(&text, &[]);
                let step = self.current.clone();
                // The period since T-0 names the message, so that a resumed run neither
                // repeats nor skips one.
                let since_t0 = u64::try_from(now.duration_since(self.t0).as_millis()).unwrap_or(0);
                let slot = since_t0 / d;
                self.send(
                    &channels,
                    &format!("every {spec}"),
                    &text,
                    step.as_deref(),
                    Some(slot),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// The rollback of `step`. The plan's actions run in stages, whatever order the plan
    /// lists them in: the notice, then everything that puts traffic back on the stable version
    /// (traffic, the new version stopped, flags), then the stable version's health, and only
    /// then the migrations (this run's, newest first) or the manual gate past the point of no
    /// return. A migration reverted while traffic still reaches the new version (or while the
    /// stable version is not healthy) drops what live code may be using, so the first failed
    /// action stops the rollback: nothing after it runs, a person must act (exit 3), and the
    /// `on failed` and `on rollback_decision` channels are told. A rollback that got traffic
    /// back is verified: the stable version's health and guarded metrics against the
    /// baseline, journaled (`verify stable`) and in the report.
    async fn rollback(&mut self, step: &'p Step, reason: &str) -> Result<End, String> {
        self.emit(Event::RollbackStarted {
            step: step.id.clone(),
            reason: reason.to_string(),
        })?;
        self.reason = Some(reason.to_string());
        let only_abort = step
            .rollback
            .iter()
            .all(|a| matches!(a, RollbackAction::Abort));
        let stage = |a: &RollbackAction| match a {
            RollbackAction::Abort | RollbackAction::Notify { .. } => 0,
            RollbackAction::TrafficToStable
            | RollbackAction::StopNewVersion
            | RollbackAction::RestoreFlag { .. } => 1,
            RollbackAction::VerifyHealth => 2,
            RollbackAction::RevertMigration { .. } | RollbackAction::ManualGate { .. } => 3,
        };
        let verify = RollbackAction::VerifyHealth;
        let mut actions: Vec<&RollbackAction> = step.rollback.iter().collect();
        // A stable sort: within a stage the plan's order stands (migrations newest first).
        actions.sort_by_key(|a| stage(a));
        let reverts = actions.iter().any(|a| stage(a) == 3);
        let verifies = actions
            .iter()
            .any(|a| matches!(a, RollbackAction::VerifyHealth));
        if reverts && !verifies {
            // Migrations are reverted only once the stable version is known to be healthy.
            let at = actions
                .iter()
                .position(|a| stage(a) == 3)
                .unwrap_or(actions.len());
            actions.insert(at, &verify);
        }
        let mut failed: Option<String> = None;
        let mut notice_failed: Option<String> = None;
        let mut paged = false;
        for a in actions {
            let id = Some(step.id.as_str());
            let r = match a {
                RollbackAction::Abort => continue,
                RollbackAction::Notify { event } => {
                    // A notice that cannot be delivered must not keep traffic on the new
                    // version: the rollback goes on, but it is not complete.
                    if let Err(f) = self
                        .send_on(event, id, &[("reason", reason.to_string())])
                        .await
                    {
                        notice_failed.get_or_insert_with(|| f.reason.clone());
                        self.emit(Event::Action {
                            step: None,
                            what: "notify".into(),
                            ok: false,
                            detail: f.reason,
                        })?;
                    }
                    continue;
                }
                RollbackAction::TrafficToStable => {
                    if !self.new_deployed {
                        continue;
                    }
                    (
                        "traffic to stable",
                        self.world.provider.rollback_to_stable(reason).await,
                    )
                }
                RollbackAction::StopNewVersion => {
                    if !self.new_deployed {
                        continue;
                    }
                    ("stop new version", self.world.provider.stop_new().await)
                }
                RollbackAction::RevertMigration { name, down } => {
                    let Some(m) = self.applied.iter().rev().find(|m| &m.name == name).cloned()
                    else {
                        continue;
                    };
                    let reversible = self.steps().any(|s| {
                        matches!(&s.action, Action::Migrate { name: n, reversible: true, .. } if n == name)
                    });
                    let r = match (down, &self.world.database) {
                        // A reversible migration without `down` (a backfill into a column the
                        // next revert drops) has nothing to undo.
                        (None, _) if reversible => Ok(format!("`{name}` has nothing to revert")),
                        (None, _) => Err(format!("`{name}` has no down migration")),
                        (_, None) => Err("no database".into()),
                        (Some(_), Some(db)) => db.revert(&m).await,
                    };
                    if r.is_ok() {
                        self.applied.retain(|x| &x.name != name);
                        self.emit(Event::MigrationReverted { name: name.clone() })?;
                    }
                    ("revert migration", r)
                }
                RollbackAction::RestoreFlag { flag, initially_on } => {
                    let percent = if *initially_on { 100.0 } else { 0.0 };
                    match &self.world.flags {
                        Some(f) => ("restore flag", f.set(flag, percent, None).await),
                        None => (
                            "restore flag",
                            Ok(format!(
                                "no flag driver: turn `{flag}` {} by hand",
                                if *initially_on { "on" } else { "off" }
                            )),
                        ),
                    }
                }
                RollbackAction::VerifyHealth => {
                    ("verify health", self.world.provider.health().await)
                }
                RollbackAction::ManualGate {
                    options,
                    reason: why,
                } => {
                    let roles = self.plan.rollback_decision.clone();
                    let role = roles.first().cloned().unwrap_or_else(|| "lead".into());
                    let question = format!("{why}; choose: {}", options.join(" or "));
                    paged = true;
                    let _ = self
                        .send_on("rollback_decision", id, &[("reason", question.clone())])
                        .await;
                    // The gate's approval is the restore: approving (`--approve ROLE`, `--yes`,
                    // `y` at the prompt) restores this run's backup; anything else leaves the
                    // database as it is for a fix forward.
                    let can_restore = self.backed_up() && self.restorable();
                    let ask = if can_restore {
                        format!("{question}; approve to restore from this run's backup")
                    } else {
                        question.clone()
                    };
                    let d = self
                        .decide(&step.id, &role, None, &ask, Some(0))
                        .await
                        .map_err(|f| f.reason)?;
                    match &d {
                        Decision::Approved { by } if can_restore => {
                            let by = by.clone();
                            let r = self.restore_from_backup(&step.id, &by).await?;
                            if r.is_ok() {
                                for m in std::mem::take(&mut self.applied).iter().rev() {
                                    self.emit(Event::MigrationReverted {
                                        name: m.name.clone(),
                                    })?;
                                }
                            }
                            ("restore from backup", r)
                        }
                        _ => {
                            let detail = format!("a person must act: {question} ({d:?})");
                            ("manual gate", Err(detail))
                        }
                    }
                }
            };
            let (what, r) = r;
            let ok = r.is_ok();
            let detail = match r {
                Ok(d) | Err(d) => d,
            };
            self.emit(Event::Action {
                step: Some(step.id.clone()),
                what: what.into(),
                ok,
                detail: detail.clone(),
            })?;
            if !ok {
                failed = Some(format!("{what}: {detail}"));
                break;
            }
        }
        if failed.is_none() && !only_abort && !self.settings.describe_only {
            failed = self.verify_stable(step).await?;
        }
        if let Some(n) = notice_failed {
            failed.get_or_insert(n);
        }
        for what in self.partially_applied.clone() {
            failed.get_or_insert_with(|| format!("{what}: the rollback cannot undo them"));
            self.emit(Event::Action {
                step: Some(step.id.clone()),
                what: "partial migration".into(),
                ok: false,
                detail: format!("{what}: the rollback cannot undo them, a person must"),
            })?;
        }
        let complete = failed.is_none();
        self.emit(Event::RollbackFinished { complete })?;
        if let Some(why) = failed {
            // Nobody would know otherwise: the run exits 3 and a person must act.
            let text = format!("the rollback did not finish: {why} (after: {reason})");
            let id = Some(step.id.as_str());
            if let Err(f) = self
                .send_on("failed", id, &[("reason", text.clone())])
                .await
            {
                self.emit(Event::Action {
                    step: None,
                    what: "notify".into(),
                    ok: false,
                    detail: f.reason,
                })?;
            }
            if !paged
                && let Err(f) = self
                    .send_on("rollback_decision", id, &[("reason", text)])
                    .await
            {
                self.emit(Event::Action {
                    step: None,
                    what: "notify".into(),
                    ok: false,
                    detail: f.reason,
                })?;
            }
        }
        Ok(if !complete {
            End::RollbackIncomplete
        } else if only_abort {
            End::Aborted
        } else {
            End::RolledBack
        })
    }

    /// After a rollback put traffic back: the stable version's health, then each guarded
    /// metric of the stable version, read now and held against the plan's `require` guards (a
    /// relative threshold against the captured baseline). The result is journaled (`verify
    /// stable`) and shown in the report. An unhealthy stable version is returned as a failure:
    /// the version serving everyone does not answer, and a person must act. A guard that does
    /// not hold is recorded but does not fail the rollback, which did finish: the window read
    /// may still hold the new version's requests, and the stable version was serving before.
    /// Missing data is recorded too: the rollback cannot wait for it.
    async fn verify_stable(&mut self, step: &'p Step) -> Result<Option<String>, String> {
        if !self.new_deployed {
            return Ok(None);
        }
        let health = self.world.provider.health().await;
        let mut problems = Vec::new();
        let mut notes = Vec::new();
        match &health {
            // The health check's own detail is journaled by `verify health`.
            Ok(_) => notes.push("the stable version is healthy".to_string()),
            Err(e) => problems.push(format!("the stable version is not healthy: {e}")),
        }
        let mut seen = HashSet::new();
        let guards: Vec<String> = self
            .steps()
            .flat_map(|s| s.guards.iter())
            .filter(|g| g.kind == "require")
            .map(|g| g.condition.clone())
            .filter(|c| seen.insert(c.clone()))
            .collect();
        for text in guards {
            let Ok(c) = condition::parse(&text) else {
                continue;
            };
            let mut values = Sampled::default();
            for m in c.metrics() {
                if let Some(v) = self.query(&m, Track::Stable).await {
                    values.values.insert(m.clone(), v);
                }
                if let Some(b) = self.baseline.get(&m) {
                    values.baselines.insert(m.clone(), *b);
                }
            }
            // In the condition's order, so the journal reads the same every time.
            let shown: Vec<String> = c
                .metrics()
                .iter()
                .filter_map(|m| values.values.get(m).map(|v| (m, v)))
                .map(|(m, v)| match values.baselines.get(m) {
                    Some(b) => format!("{m} {} (baseline {})", fmt_value(*v), fmt_value(*b)),
                    None => format!("{m} {}", fmt_value(*v)),
                })
                .collect();
            let shown = shown.join(", ");
            match c.eval(&values) {
                Some(true) => notes.push(format!("`{text}` holds ({shown})")),
                Some(false) => problems.push(format!("`{text}` does not hold ({shown})")),
                None => notes.push(format!("`{text}`: no data")),
            }
        }
        let ok = problems.is_empty();
        let mut all = problems;
        all.extend(notes);
        self.emit(Event::Action {
            step: Some(step.id.clone()),
            what: "verify stable".into(),
            ok,
            detail: all.join("; "),
        })?;
        Ok(health
            .err()
            .map(|e| format!("verify stable: the stable version is not healthy: {e}")))
    }

    /// Whether this run took a database backup (the journal has a successful `backup`).
    fn backed_up(&self) -> bool {
        self.journal.entries().iter().any(|e| {
            matches!(&e.event, Event::Action { what, ok: true, detail, .. }
                if what == "backup" && !detail.starts_with("no backup"))
        })
    }

    /// The migrations this run reverted as steps of a rollback plan, in order, for the
    /// history (a run's own rollback reverts what it applied; that is not recorded here).
    pub(crate) fn reverted_records(&self) -> Vec<crate::history::MigrationRecord> {
        self.journal
            .entries()
            .iter()
            .filter_map(|e| match &e.event {
                Event::MigrationReverted { name } => self.steps().find_map(|s| match &s.action {
                    Action::Revert {
                        name: n, phase, up, ..
                    } if n == name => Some(crate::history::MigrationRecord {
                        name: n.clone(),
                        phase: phase.clone(),
                        checksum: checksum(up),
                    }),
                    _ => None,
                }),
                _ => None,
            })
            .collect()
    }

    /// The migrations this run applied, in order, for the history.
    pub(crate) fn applied_records(&self) -> Vec<crate::history::MigrationRecord> {
        self.journal
            .entries()
            .iter()
            .filter_map(|e| match &e.event {
                Event::MigrationApplied {
                    name,
                    phase,
                    checksum,
                    ..
                } => Some(crate::history::MigrationRecord {
                    name: name.clone(),
                    phase: phase.clone(),
                    checksum: checksum.clone(),
                }),
                _ => None,
            })
            .collect()
    }
}

/// Stands in for the run's gates while a live gate awaits them (see `decide_live`).
struct Unanswered;

impl Gates for Unanswered {
    fn decide<'a>(&'a self, _: &'a GateRequest) -> super::world::BoxFuture<'a, Decision> {
        Box::pin(async { Decision::TimedOut })
    }
}

/// `https://host:8443/health` → `https://host:8443`.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}"))
}

/// A reading as messages and the journal show it: at most two decimals, no trailing zeros.
fn fmt_value(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn result_name(r: Option<bool>) -> &'static str {
    match r {
        Some(true) => "pass",
        Some(false) => "fail",
        None => "no_data",
    }
}

#[derive(Default)]
struct Sampled {
    values: HashMap<String, f64>,
    baselines: HashMap<String, f64>,
}

impl Values for Sampled {
    fn value(&self, metric: &str) -> Option<f64> {
        self.values.get(metric).copied()
    }
    fn baseline(&self, metric: &str) -> Option<f64> {
        self.baselines.get(metric).copied()
    }
}
