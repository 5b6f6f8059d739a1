//! The runtime: `deployc run` executes a checked plan.
//!
//! [`executor`] walks the plan; everything it changes or observes goes through the traits in
//! [`world`], so that three worlds share one executor: the real one (the local or command
//! provider, SQLite or PostgreSQL, the proxy's measurements or Prometheus or a command, every
//! channel kind, flag drivers, approvals from the command line), a simulation on a virtual clock driven by a scenario file, and a dry run that only
//! describes. Every event is journaled (and fsynced) before the next side effect, which is
//! what `--resume`, `deployc status` and the report are built from.
//!
//! This is the only async code in the crate: a current-thread tokio runtime, because the
//! executor is sequential and the local proxy's work is small.

pub(crate) mod argo;
mod basic;
#[doc(hidden)]
pub mod bench;
pub mod channels;
pub(crate) mod condition;
pub(crate) mod control;
pub mod db;
mod edges;
pub(crate) mod executor;
#[doc(hidden)]
pub mod fuzz;
pub(crate) mod journal;
mod kube;
mod local;
pub mod metrics;
mod outbox;
pub(crate) mod progress;
pub(crate) mod redact;
pub(crate) mod report;
mod rolling;
pub(crate) mod shell;
pub(crate) mod sim;
pub mod store;
mod window;
pub(crate) mod world;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::history::{HISTORY_FORMAT, History, HistoryEntry, Outcome, RollbackRecord};
use crate::lower::{Action, Plan, TargetProvider};

pub(crate) use executor::OnSignal;
use executor::{End, Executor, Part, Settings, World};
use journal::{Entry, Journal};
use redact::Redactor;
use sim::{Scenario, Sim};
use store::Store;

/// How the plan is run.
pub(crate) enum Mode {
    Real,
    DryRun,
    Simulate(Scenario),
}

/// Output of progress lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    Json,
    /// Nothing printed; the text lines are still made (the fuzz targets exercise them).
    Discard,
}

/// Everything `deployc run` was asked.
pub(crate) struct Request {
    pub(crate) plan: Plan,
    /// Where relative paths of the program are resolved (the `.deploy` file's directory).
    pub(crate) base_dir: PathBuf,
    pub(crate) state_dir: PathBuf,
    /// `--state URL`: a PostgreSQL state store instead of the state directory (the
    /// environment's `state =` when not given).
    pub(crate) state: Option<String>,
    /// How long the deploy lease of a shared store lives without a heartbeat.
    pub(crate) lease_ttl: std::time::Duration,
    pub(crate) mode: Mode,
    pub(crate) resume: Option<String>,
    pub(crate) yes: bool,
    pub(crate) approve: Vec<String>,
    pub(crate) keep_running: bool,
    pub(crate) log_format: LogFormat,
    /// What SIGTERM and SIGINT do to a real run.
    pub(crate) on_signal: OnSignal,
}

/// Exit codes (documented in `docs/runtime.md`).
pub(crate) fn exit_code(end: &End) -> i32 {
    match end {
        End::Succeeded | End::Paused { .. } => 0,
        End::RolledBack | End::Aborted => 1,
        End::RollbackIncomplete => 3,
        // The shell's convention for a process stopped by a signal: 128 + its number.
        End::Interrupted { signal } => match signal.as_str() {
            "SIGINT" => 130,
            // Another run holds the environment now, as when a run is refused.
            store::LEASE_LOST => 2,
            _ => 143,
        },
    }
}

/// The lock of a state directory, held while a real run works in it (released when the
/// process ends, however it ends: the kernel drops an `flock` with its last descriptor).
pub(crate) struct StateLock {
    file: std::fs::File,
}

impl StateLock {
    /// Names the run this process works on under its pid, so that an operator's command
    /// (`deployc pause RUN`) can tell a live run from one whose process is gone.
    fn name_run(&mut self, run: &str) -> Result<(), String> {
        use std::io::{Seek, Write};
        let pid = std::process::id();
        // The pid and the run come first (operator commands read them); who and since when
        // follow, for the message that refuses a second run.
        let who = control::operator();
        let since = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
        self.file
            .set_len(0)
            .and_then(|()| self.file.rewind())
            .and_then(|()| writeln!(self.file, "{pid}\n{run}\n{who} pid {pid}\n{since}"))
            .and_then(|()| self.file.sync_data())
            .map_err(|e| format!("cannot write the lock: {e}"))
    }
}

/// The lock file of one service in one environment in a state directory:
/// `run.SERVICE.ENVIRONMENT.lock`.
pub(crate) fn lock_file(service: &str, environment: &str) -> String {
    format!(
        "run.{}.{}.lock",
        path_component(service),
        path_component(environment)
    )
}

/// Whether a file of a state directory is a run's lock (`run.lock` is the name older
/// versions used for the whole directory).
pub(crate) fn is_lock_file(name: &str) -> bool {
    name.starts_with("run.") && name.ends_with(".lock")
}

/// Takes the lock of a service in an environment, or says which process holds it. Two runs
/// of one environment would interleave their changes to it. Runs of different environments
/// may share a state directory, as they share a PostgreSQL store (whose lease is per service
/// and environment too): a flag schedule watched for days in staging must not keep
/// production from deploying.
fn lock_state_dir(state_dir: &Path, service: &str, environment: &str) -> Result<StateLock, String> {
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let path = state_dir.join(lock_file(service, environment));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("cannot open the lock `{}`: {e}", path.display()))?;
    // SAFETY: `flock` on a descriptor this function owns; no memory is involved.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(format!("cannot lock `{}`: {err}", path.display()));
        }
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        // The pid, the run it works on, who (`user@host pid N`) and since when.
        let mut lines = holder.lines().map(str::trim);
        let pid = lines.next().unwrap_or_default();
        let run = lines.next().unwrap_or_default();
        let by = lines.next().unwrap_or_default();
        let since = lines.next().unwrap_or_default();
        let who = if pid.is_empty() {
            "another process".to_string()
        } else if by.is_empty() || since.is_empty() {
            format!("another `deployc run` (pid {pid})")
        } else {
            format!("another `deployc run` ({by}, run `{run}`, since {since})")
        };
        return Err(format!(
            "{who} is running `{service}` in `{environment}` from the state directory `{}` (it holds `{}`): wait for it to end",
            state_dir.display(),
            path.display()
        ));
    }
    let pid = std::process::id();
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{pid}"))
        .and_then(|()| file.sync_data())
        .map_err(|e| format!("cannot write the lock `{}`: {e}", path.display()))?;
    Ok(StateLock { file })
}

/// Turns SIGTERM and SIGINT into a value the executor watches: the run stops gracefully
/// instead of dying with nothing journaled. Must be called inside the runtime.
fn watch_signals(
    lease_lost: Option<Arc<std::sync::atomic::AtomicBool>>,
) -> Result<tokio::sync::watch::Receiver<Option<String>>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;
    let (tx, rx) = tokio::sync::watch::channel(None);
    tokio::spawn(async move {
        // A lost deploy lease stops the run as a signal does (the heartbeat's thread sets it).
        let lost = async move {
            match lease_lost {
                Some(flag) => {
                    while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        };
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            () = lost => store::LEASE_LOST,
        };
        let _ = tx.send(Some(name.to_string()));
        // Later signals are taken (and ignored) by the handlers while they live: the
        // rollback under way finishes. SIGKILL still ends the process; `--resume` then
        // finishes the rollback.
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
    });
    Ok(rx)
}

/// Creates a directory (and its parents) private to the user.
pub(crate) fn private_dir(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !path.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| format!("cannot create `{}`: {e}", path.display()))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("cannot make `{}` private: {e}", path.display()))
}

/// The URL of the state store a new run of `plan` uses: `--state`, else the environment's
/// `state = postgres env VAR` (read now; a variable that is not set is a configuration
/// error), else none (the state directory).
pub(crate) fn state_url(cli: Option<&str>, plan: Option<&Plan>) -> Result<Option<String>, String> {
    if let Some(url) = cli {
        return Ok(Some(url.to_string()));
    }
    let Some(crate::lower::TargetState::Postgres { url }) =
        plan.and_then(|p| p.target.state.as_ref())
    else {
        return Ok(None);
    };
    match url.strip_prefix("env ") {
        Some(var) => std::env::var(var.trim()).map(Some).map_err(|_| {
            format!(
                "the environment keeps its state in PostgreSQL (`state = postgres env {}`), but `{}` is not set",
                var.trim(),
                var.trim()
            )
        }),
        None => Ok(Some(url.clone())),
    }
}

/// The version serving before this release: the last success in this environment according
/// to the history, else the release before it in the file.
fn stable_version(plan: &Plan, history: &History) -> Option<String> {
    if let Some(e) = history.last_success(&plan.service, &plan.environment)
        && e.release != plan.release
    {
        return Some(e.release.clone());
    }
    plan.target.previous_release.clone().or_else(|| {
        plan.phases
            .iter()
            .flat_map(|p| p.steps.iter())
            .find_map(|s| match &s.action {
                Action::StartStable { version } => version.clone(),
                _ => None,
            })
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn printer<'a>(format: LogFormat, t0: jiff::Timestamp) -> Box<dyn FnMut(&Entry) + Send + 'a> {
    Box::new(move |e: &Entry| {
        let line = match format {
            LogFormat::Json => serde_json::to_string(e).ok(),
            LogFormat::Text => progress::line(e, t0),
            LogFormat::Discard => {
                let _ = progress::line(e, t0);
                None
            }
        };
        if let Some(l) = line {
            println!("{l}");
        }
    })
}

/// T-0 of a new real run: the plan's start (`--start`) while it is ahead, else `now` — a start
/// already past means the run begins at once.
fn planned_t0(plan: &Plan, now: jiff::Timestamp) -> jiff::Timestamp {
    plan.start
        .as_deref()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .filter(|t| *t > now)
        .unwrap_or(now)
}

/// Runs a request; returns the exit code. `Err` is an operational error (exit 2).
pub(crate) fn run(req: Request) -> Result<i32, String> {
    match &req.mode {
        Mode::Real => run_real(req),
        Mode::DryRun => run_virtual(req, Scenario::default(), true),
        Mode::Simulate(s) => {
            let s = s.clone();
            run_virtual(req, s, false)
        }
    }
}

fn run_virtual(req: Request, scenario: Scenario, dry: bool) -> Result<i32, String> {
    let plan = req.plan;
    let t0 = scenario.t0(&plan)?;
    // The virtual clock starts at the earliest `at` message before T-0, so that the timeline
    // shows the countdown as a run started ahead of `--start` would live it.
    let earliest = plan
        .comms
        .iter()
        .filter(|m| m.when == "at")
        .filter_map(|m| m.offset_ms)
        .min()
        .unwrap_or(0)
        .min(0);
    let clock_start = t0
        .checked_add(jiff::SignedDuration::from_millis(earliest))
        .unwrap_or(t0);
    let clock = Arc::new(sim::VirtualClock::new(clock_start));
    let mut history = History::default();
    for (env, versions) in &scenario.history {
        for v in versions {
            history.entries.push(HistoryEntry {
                format: HISTORY_FORMAT,
                run: "scenario".into(),
                service: plan.service.clone(),
                release: v.clone(),
                environment: env.clone(),
                outcome: Outcome::Succeeded,
                started_at: String::new(),
                finished_at: String::new(),
                migrations: Vec::new(),
                rollback: None,
            });
        }
    }
    if dry {
        // A dry run assumes the preconditions hold; it shows the actions, not the checks.
        for s in plan.phases.iter().flat_map(|p| p.steps.iter()) {
            if let Action::CheckRequires { environment } = &s.action {
                history.entries.push(HistoryEntry {
                    format: HISTORY_FORMAT,
                    run: "dry-run".into(),
                    service: plan.service.clone(),
                    release: plan.release.clone(),
                    environment: environment.clone(),
                    outcome: Outcome::Succeeded,
                    started_at: String::new(),
                    finished_at: String::new(),
                    migrations: Vec::new(),
                    rollback: None,
                });
            }
        }
    }
    let stable = stable_version(&plan, &History::default());
    let shared = Arc::new(Sim {
        scenario,
        plan: plan.clone(),
        clock: clock.clone(),
        t0,
        stable: stable.clone(),
    });
    let world = || World {
        clock: clock.clone(),
        provider: Box::new(sim::SimProvider(shared.clone())),
        database: plan.target.database.as_ref().map(|_| {
            Box::new(sim::SimDatabase {
                sim: shared.clone(),
                ledger: Mutex::new(Vec::new()),
            }) as Box<dyn world::Database>
        }),
        metrics: Some(Box::new(sim::SimMetrics(shared.clone()))),
        channels: plan
            .channels
            .iter()
            .map(|c| {
                Arc::new(sim::SimChannel {
                    name: c.name.clone(),
                    target: format!("{} {}", c.kind, c.target),
                    sim: shared.clone(),
                }) as Arc<dyn world::Channel>
            })
            .collect(),
        shell: Box::new(sim::SimShell(shared.clone())),
        gates: Box::new(sim::SimGates(shared.clone())),
        flags: Some(Box::new(sim::SimFlags(shared.clone()))),
    };
    let run_id = if dry { "dry-run" } else { report::SIMULATION }.to_string();
    let settings = Settings {
        part: Part::Deploy,
        run: run_id.clone(),
        stable,
        history,
        describe_only: dry,
        max_wait_ms: u64::MAX,
        t0: Some(t0),
        takeover: None,
    };
    let journal = Journal::memory(Redactor::default());
    let mut ex = Executor::new(
        &plan,
        world(),
        journal,
        settings,
        printer(req.log_format, t0),
    );
    let rt = runtime()?;
    let end = rt.block_on(ex.run())?;
    if req.log_format == LogFormat::Text && !dry {
        summary(&ex, &plan);
    }
    // A simulation has a report like a real run, in a directory of its own per release and
    // environment (the next simulation of the same pair replaces it): it is how a plan's
    // rollback is reviewed before it is run. Its schedule's report is beside it.
    let write_report = |ex: &Executor<'_>, run_id: &str, end: &End, suffix: &str| {
        if dry {
            return;
        }
        let dir = req
            .state_dir
            .join("simulations")
            .join(path_component(&format!(
                "{}-{}{suffix}",
                plan.release, plan.environment
            )));
        let written = private_dir(&req.state_dir)
            .and_then(|()| private_dir(&req.state_dir.join("simulations")))
            .and_then(|()| private_dir(&dir))
            .and_then(|()| {
                report::write(
                    &dir,
                    &plan,
                    run_id,
                    ex.journal().entries(),
                    end.name(),
                    &Redactor::default(),
                )
            });
        match written {
            Ok(path) if req.log_format == LogFormat::Text => {
                println!("report: {}", path.display())
            }
            Ok(_) => {}
            Err(e) => eprintln!("{e}"),
        }
    };
    write_report(&ex, &run_id, &end, "");
    // As a real run does, a deploy run that succeeded starts its schedule; the virtual clock
    // runs its days in milliseconds.
    let Some((part, schedule_t0)) = ex.schedule().filter(|_| end == End::Succeeded) else {
        return Ok(exit_code(&end));
    };
    let id = format!("{}-schedule", ex.run_id());
    drop(ex);
    let settings = Settings {
        part,
        run: id.clone(),
        stable: Some(plan.release.clone()),
        history: History::default(),
        describe_only: dry,
        max_wait_ms: u64::MAX,
        t0: Some(schedule_t0),
        takeover: None,
    };
    let journal = Journal::memory(Redactor::default());
    let mut ex = Executor::new(
        &plan,
        world(),
        journal,
        settings,
        printer(req.log_format, schedule_t0),
    );
    let end = rt.block_on(ex.run())?;
    if req.log_format == LogFormat::Text && !dry {
        summary(&ex, &plan);
    }
    write_report(&ex, &id, &end, "-schedule");
    Ok(exit_code(&end))
}

/// The simulation's closing lines: detection and rollback times.
fn summary(ex: &Executor<'_>, plan: &Plan) {
    let t0 = ex.t0();
    let mut fired = None;
    let mut rb = None;
    let mut rb_end = None;
    for e in ex.journal().entries() {
        match &e.event {
            journal::Event::TriggerFired { breach_since, .. } if fired.is_none() => {
                fired = Some((breach_since.clone(), e.at.clone()));
            }
            journal::Event::RollbackStarted { .. } => rb = Some(e.at.clone()),
            journal::Event::RollbackFinished { .. } => rb_end = Some(e.at.clone()),
            _ => {}
        }
    }
    let between = |a: &str, b: &str| -> String {
        match (a.parse::<jiff::Timestamp>(), b.parse::<jiff::Timestamp>()) {
            (Ok(a), Ok(b)) => {
                crate::lower::fmt_ms(u64::try_from(b.duration_since(a).as_millis()).unwrap_or(0))
            }
            _ => "?".into(),
        }
    };
    if let (Some((since, at)), Some(rb)) = (&fired, &rb) {
        println!(
            "detection: {} from the breach starting to the rollback starting (plan worst case {})",
            between(since, rb),
            crate::lower::fmt_ms(plan.timeline.worst_case_detection_ms)
        );
        let _ = at;
        if let Some(end) = &rb_end {
            println!("rollback: {}", between(rb, end));
        }
    }
    if let Some(last) = ex.journal().entries().last() {
        println!("simulated: {} of plan time", progress::offset(t0, &last.at));
    }
}

/// `name` as one safe path component: letters, digits, `.`, `_`, `+` and `-` kept, anything
/// else (a `/`, a control character) replaced by `_`, and a leading `.` too, so that no
/// release or environment name read from a plan file (`--plan`) names `..` or a hidden or
/// absolute path. The names of a checked program are kept as they are.
pub(crate) fn path_component(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod path_tests {
    use super::path_component;

    #[test]
    fn path_components_stay_in_their_directory() {
        let id = "20261207T010000Z-1.2.0-bad-local";
        assert_eq!(path_component(id), id);
        assert_eq!(path_component("1.0.0+build.5-prod"), "1.0.0+build.5-prod");
        assert_eq!(path_component("../../etc"), "_.._.._etc");
        assert_eq!(path_component(".."), "_..");
        assert_eq!(path_component("a/b\nc"), "a_b_c");
        assert_eq!(path_component(""), "_");
    }
}

fn new_run_id(plan: &Plan, runs: &Path, store: &Store) -> Result<String, String> {
    let now = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    // A rollback's run says so in its id: `deployc status` lists runs by id. The id is a
    // directory name: a plan read from a file (`--plan`) must not place it elsewhere.
    let base = path_component(&match &plan.rollback {
        Some(r) => format!("{now}-rollback-{}-{}", r.to, plan.environment),
        None => format!("{now}-{}-{}", plan.release, plan.environment),
    });
    let mut id = base.clone();
    let mut n = 2;
    while runs.join(&id).exists() || store.has_run(&id)? {
        id = format!("{base}-{n}");
        n += 1;
    }
    Ok(id)
}

fn run_real(req: Request) -> Result<i32, String> {
    // The store first: one that cannot be reached is said before anything is written.
    let url = state_url(
        req.state.as_deref(),
        req.resume.is_none().then_some(&req.plan),
    )?;
    let store = Store::open(url.as_deref(), &req.state_dir)?;
    private_dir(&req.state_dir)?;
    let runs = req.state_dir.join("runs");
    let (plan, run_id) = match &req.resume {
        Some(id) => (store.plan(id)?, id.clone()),
        None => {
            let id = new_run_id(&req.plan, &runs, &store)?;
            (req.plan.clone(), id)
        }
    };
    let rt = runtime()?;
    let mut run = RealRun {
        id: run_id,
        fresh: req.resume.is_none(),
        start: None,
    };
    // A deploy run that succeeded starts its schedule (flag days, check-ins) as a run of its
    // own, here and now: its first steps may be due at once.
    let end = loop {
        let (end, schedule) = run_real_one(&req, &plan, &store, &runs, &rt, &run)?;
        match schedule {
            Some(next) if end == End::Succeeded => run = next,
            _ => break end,
        }
    };
    // A prompt interrupted by a signal leaves its read of the terminal blocked on a thread
    // of the runtime: the runtime is not waited for beyond a moment.
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    Ok(exit_code(&end))
}

/// One run of `run_real`: a new one, a resumed one, or the schedule a deploy run starts.
struct RealRun {
    id: String,
    /// A new run (its plan is written); otherwise its journal is resumed.
    fresh: bool,
    /// A new schedule run: its part (the deploy run, its baseline) and its T-0.
    start: Option<(Part, jiff::Timestamp)>,
}

/// Runs (or resumes) one run; returns its end and, for a deploy run that succeeded and whose
/// plan has a schedule, the schedule run to start.
fn run_real_one(
    req: &Request,
    plan: &Plan,
    store: &Store,
    runs: &Path,
    rt: &tokio::runtime::Runtime,
    run: &RealRun,
) -> Result<(End, Option<RealRun>), String> {
    let run_id = run.id.clone();
    // One deploy at a time: nothing of this run is written before it holds the lease (a
    // schedule takes it in its own name, so that operators can steer it too).
    let (lease, takeover) = store.lease(plan, &run_id, req.lease_ttl)?;
    private_dir(runs)?;
    let run_dir = runs.join(&run_id);
    private_dir(&run_dir)?;
    let plan_text = serde_json::to_string_pretty(plan).map_err(|e| e.to_string())?;
    let mut redactor = Redactor::from_plan_text(&plan_text);
    if let Some(url) = &req.state {
        redactor.add("--state", url);
    }
    let history = store.history()?;
    let stable = stable_version(plan, &history);
    let journal = if store.is_shared() || !run.fresh {
        None
    } else {
        // A new run's plan is on disk before its journal, as `--resume` expects.
        store.create_run(&run_id, plan, &plan_text)?;
        Some(store.open_journal(&run_id, redactor.clone())?)
    };
    let world = match real_world(plan, req, rt, &run_dir, &stable) {
        Ok(w) => w,
        Err(e) => {
            // Nothing ran: a new run leaves no trace but the error (a resumed one keeps its
            // journal), and the shared store has not heard of it.
            if run.fresh {
                drop(journal);
                let _ = std::fs::remove_dir_all(&run_dir);
            }
            return Err(e);
        }
    };
    let journal = match journal {
        Some(j) => j,
        None => {
            if run.fresh {
                store.create_run(&run_id, plan, &plan_text)?;
            }
            store.open_journal(&run_id, redactor.clone())?
        }
    };
    let journaled = journal.entries().iter().find_map(|e| match &e.event {
        journal::Event::RunStarted { t0, of, .. } => Some((t0.parse().ok(), of.clone())),
        _ => None,
    });
    let (part, t0) = match (&run.start, journaled) {
        (Some((part, t0)), _) => (part.clone(), *t0),
        (None, Some((t0, of))) => (
            match of {
                // A resumed schedule rebuilds its baseline from its journal.
                Some(of) => Part::Schedule {
                    of,
                    baseline: Vec::new(),
                },
                None => Part::Deploy,
            },
            t0.unwrap_or_else(|| planned_t0(plan, jiff::Timestamp::now())),
        ),
        (None, None) => (Part::Deploy, planned_t0(plan, jiff::Timestamp::now())),
    };
    let is_schedule = matches!(part, Part::Schedule { .. });
    let settings = Settings {
        part,
        run: run_id.clone(),
        stable,
        history,
        describe_only: false,
        max_wait_ms: 60_000,
        t0: Some(t0),
        takeover,
    };
    let print = progress::printer(req.log_format, t0, plan);
    let mut ex = Executor::new(plan, world, journal, settings, print);
    ex.operate(store.inbox(&run_id)?);
    let result = rt.block_on(async {
        match watch_signals(lease.lost()) {
            Ok(rx) => ex.on_signal(rx, req.on_signal),
            Err(e) => return (Err(e), Ok(String::new())),
        }
        let end = ex.run().await;
        let keep =
            req.keep_running || matches!(end, Ok(End::Paused { .. } | End::Interrupted { .. }));
        let stopped = ex.world().provider.shutdown(keep).await;
        (end, stopped)
    });
    let (end, stopped) = result;
    // A run that ended without its last event must not leave the live view drawn.
    progress::hide();
    let (Ok(s) | Err(s)) = &stopped;
    println!("{:>10}  instances: {}", "", redactor.apply(s));
    let end = end?;
    let run_dir_shown = run_dir.display().to_string();
    // The store's URL is a secret: the command names the flag, not its value.
    let shared = if store.is_shared() {
        " --state URL"
    } else {
        ""
    };
    match &end {
        End::Paused { step, due } => {
            println!(
                "next step due at {due} ({step}); continue with: deployc run --resume {run_id} --state-dir {}{shared}",
                req.state_dir.display()
            );
        }
        End::Interrupted { signal } if signal == store::LEASE_LOST => {
            println!(
                "stopped where it was: its deploy lease was lost, and the run holding it now owns `{}` in `{}`",
                plan.service, plan.environment
            );
        }
        End::Interrupted { signal } => {
            println!(
                "stopped by {signal} and paused; continue with: deployc run --resume {run_id} --state-dir {}{shared}",
                req.state_dir.display()
            );
        }
        _ => {
            let entries = ex.journal().entries();
            let outcome = match end {
                End::Succeeded => Outcome::Succeeded,
                End::RolledBack => Outcome::RolledBack,
                End::Aborted => Outcome::Aborted,
                _ => Outcome::RollbackIncomplete,
            };
            let entry = HistoryEntry {
                format: HISTORY_FORMAT,
                run: run_id.clone(),
                service: plan.service.clone(),
                release: plan.release.clone(),
                environment: plan.environment.clone(),
                outcome,
                started_at: entries.first().map(|e| e.at.clone()).unwrap_or_default(),
                finished_at: entries.last().map(|e| e.at.clone()).unwrap_or_default(),
                migrations: ex.applied_records(),
                rollback: plan.rollback.as_ref().map(|r| RollbackRecord {
                    from: r.from.clone(),
                    reverted: ex.reverted_records(),
                }),
            };
            // The history records releases: a schedule's outcome (a flag turned back) is in
            // its own journal and report, and leaves the release recorded as it was.
            let recorded = if is_schedule {
                Ok(())
            } else {
                store.append_history(&entry)
            };
            // The run's outcome is its exit code: a history or report that cannot be
            // written is said, and changes nothing about what happened.
            let written = recorded.and_then(|()| {
                report::write(&run_dir, plan, &run_id, entries, end.name(), &redactor)
            });
            match written {
                Ok(_) => println!("report: {run_dir_shown}/report.md"),
                Err(e) => println!("{:>10}  {}", "", redactor.apply(&e)),
            }
        }
    }
    let next = match (&end, ex.schedule()) {
        (End::Succeeded, Some(start)) if !is_schedule => {
            let id = format!("{run_id}-schedule");
            // A deploy run resumed after it ended has started its schedule already: that
            // run is continued with `--resume`, never started over.
            if store.has_run(&id)? {
                println!(
                    "schedule run {id} exists; continue it with: deployc run --resume {id} --state-dir {}{shared}",
                    req.state_dir.display()
                );
                return Ok((end, None));
            }
            println!("schedule run {id} starts (flag days and check-ins)");
            Some(RealRun {
                id,
                fresh: true,
                start: Some(start),
            })
        }
        _ => None,
    };
    // The schedule takes the lease again in its own name.
    drop(ex);
    drop(lease);
    Ok((end, next))
}

/// Which part of the report a note goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoteSection {
    Issues,
    Lessons,
}

/// `deployc report RUN [--note TEXT]`: journals a note for the run's report (its section,
/// its text, who wrote it), then, when the run has ended, writes its reports again from the
/// journal. Returns the report written, if the run has ended. A live run is refused: its
/// process is the journal's only writer, and it writes the report itself.
pub(crate) fn report_run(
    store: &store::Store,
    state_dir: &Path,
    run: &str,
    note: Option<(NoteSection, &str, &str)>,
) -> Result<Option<PathBuf>, String> {
    if store.live(run).is_some() {
        return Err(format!(
            "run `{run}` is live: its report is written when it ends (`deployc status {run} --watch` follows it)"
        ));
    }
    let plan = store.plan(run)?;
    let plan_text = serde_json::to_string(&plan).map_err(|e| e.to_string())?;
    // The same secrets as the run's: a note that quotes one is redacted like the journal.
    let redactor = Redactor::from_plan_text(&plan_text);
    // The reports are written where the run's own were: its directory in the state
    // directory of this machine (made when the run was kept in a shared store elsewhere).
    let run_dir = state_dir.join("runs").join(run);
    private_dir(state_dir)
        .and_then(|()| private_dir(&state_dir.join("runs")))
        .and_then(|()| private_dir(&run_dir))?;
    let entries = match note {
        None => store.read_journal(run)?,
        Some((section, text, by)) => {
            let text = text.trim();
            if text.is_empty() {
                return Err("the note is empty: `--note` needs the text to add".into());
            }
            let mut journal = store.open_journal(run, redactor.clone())?;
            let now = jiff::Timestamp::now();
            if let Some(dropped_bytes) = journal.take_repaired() {
                journal.append(now, journal::Event::JournalRepaired { dropped_bytes })?;
            }
            journal.append(
                now,
                journal::Event::Note {
                    section: match section {
                        NoteSection::Issues => "issues",
                        NoteSection::Lessons => "lessons",
                    }
                    .into(),
                    text: text.to_string(),
                    by: by.to_string(),
                },
            )?;
            journal.entries().to_vec()
        }
    };
    let outcome = entries.iter().rev().find_map(|e| match &e.event {
        journal::Event::RunFinished { outcome } => Some(outcome.clone()),
        _ => None,
    });
    match outcome {
        Some(outcome) => {
            report::write(&run_dir, &plan, run, &entries, &outcome, &redactor).map(Some)
        }
        None => Ok(None),
    }
}

/// The real world of a run: its provider, database, metric source, channels and flags, set
/// up before anything changes — a missing secret or an unreachable database is a
/// configuration error (exit 2), not a failed deploy.
fn real_world(
    plan: &Plan,
    req: &Request,
    rt: &tokio::runtime::Runtime,
    run_dir: &Path,
    stable: &Option<String>,
) -> Result<World, String> {
    let base = req.base_dir.clone();
    let health_url = plan
        .phases
        .iter()
        .flat_map(|p| p.steps.iter())
        .find_map(|s| match &s.action {
            Action::HealthCheck { url, .. } => Some(url.clone()),
            _ => None,
        });
    // The integrations are set up before anything changes: a missing secret or an unreachable
    // database is a configuration error (exit 2), not a failed deploy.
    let database: Option<Box<dyn world::Database>> = match &plan.target.database {
        Some(target) => Some(Box::new(
            rt.block_on(edges::Database::open(target, &base, run_dir))?,
        )),
        None => None,
    };
    let mut metrics: Option<Box<dyn world::MetricSource>> = match &plan.target.metrics_source {
        Some(m) => edges::Metrics::new(m, plan, stable.clone(), &base)?
            .map(|m| Box::new(m) as Box<dyn world::MetricSource>),
        None => None,
    };
    let sender = channels::Sender::new()?;
    let mut channels: Vec<Arc<dyn world::Channel>> = Vec::new();
    for c in &plan.channels {
        match c.kind.as_str() {
            "stdout" => channels.push(Arc::new(basic::StdoutChannel {
                name: c.name.clone(),
            })),
            "file" => channels.push(Arc::new(basic::FileChannel {
                name: c.name.clone(),
                path: base.join(&c.target),
            })),
            _ => {
                if let Some(ch) = edges::channel(c, plan, &sender, &base)? {
                    channels.push(Arc::new(ch));
                }
            }
        }
    }
    let flags = plan
        .target
        .flags
        .as_ref()
        .and_then(|f| edges::Flags::new(f, plan, stable.clone(), &base))
        .map(|f| Box::new(f) as Box<dyn world::Flags>);
    let _guard = rt.enter();
    let provider: Box<dyn world::Provider> = match &plan.target.provider {
        Some(TargetProvider::Local {
            command,
            replicas,
            traffic,
        }) => {
            let Some(command) = command else {
                return Err("the local provider needs a `command`".into());
            };
            let p = local::LocalProvider::new(
                plan.release.clone(),
                command.clone(),
                *replicas,
                traffic.as_ref().map(|t| (t.per_second, t.paths.clone())),
                health_url.as_deref(),
                base.clone(),
                run_dir.to_path_buf(),
            )
            .with_names(shell::ReleaseNames::of(plan, stable.clone()));
            if plan
                .target
                .metrics_source
                .as_ref()
                .is_some_and(|m| m.kind == "probe")
            {
                metrics = Some(Box::new(p.probe()));
            }
            Box::new(p)
        }
        Some(TargetProvider::Command { actions }) => Box::new(basic::CommandProvider {
            actions: actions.clone(),
            shell: shell::RealShell { dir: base.clone() },
            release: plan.release.clone(),
            stable: stable.clone(),
            names: shell::ReleaseNames::of(plan, stable.clone()),
            replicas: 3,
            url: plan.target.url.clone(),
            health: plan
                .phases
                .iter()
                .flat_map(|p| p.steps.iter())
                .find_map(|s| match &s.action {
                    Action::HealthCheck { url, expect } => Some((url.clone(), *expect)),
                    _ => None,
                }),
        }),
        Some(TargetProvider::Kubernetes(target)) => {
            Box::new(rt.block_on(kube::KubeProvider::connect(plan, target, &base))?)
        }
        Some(TargetProvider::ArgoRollouts(cluster)) => {
            Box::new(rt.block_on(argo::ArgoProvider::new(
                plan,
                cluster,
                &base,
                &|var| std::env::var(var).ok(),
                Default::default(),
            ))?)
        }
        None => Box::new(basic::NoProvider),
    };
    if metrics.is_none()
        && let Some(m) = plan
            .target
            .metrics_source
            .as_ref()
            .filter(|m| m.kind == "probe")
        && let Some(url) = &health_url
    {
        metrics = Some(Box::new(edges::ActiveProbe::start(
            url.clone(),
            m.every_ms,
        )?));
    }
    Ok(World {
        clock: Arc::new(basic::RealClock),
        provider,
        database,
        metrics,
        channels,
        shell: Box::new(shell::RealShell { dir: base.clone() }),
        gates: Box::new(basic::CliGates {
            yes: req.yes,
            approve: req.approve.clone(),
        }),
        flags,
    })
}
