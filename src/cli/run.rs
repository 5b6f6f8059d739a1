//! `deployc run`, `deployc status`, `deployc history`: the command line of the runtime.
//!
//! Exit codes: 0 success (or paused until the next step is due), 1 failed and rolled back
//! cleanly (or aborted before anything changed), 3 rollback incomplete (a person is needed),
//! 2 usage or configuration errors.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use miette::miette;

use super::ColorChoice;
use crate::history::STATE_DIR;
use crate::lower::Plan;
use crate::runtime::store::{Live, Store};
use crate::runtime::{self, LogFormat, Mode, Request, journal, progress};

#[derive(Args, Debug)]
pub(super) struct RunArgs {
    /// The `.deploy` file
    #[arg(required_unless_present_any = ["plan", "resume"])]
    file: Option<PathBuf>,
    /// Run a saved plan (`deployc plan … --format json`) instead of compiling a file
    #[arg(long, conflicts_with = "file")]
    plan: Option<PathBuf>,
    /// The release to deploy (its version)
    #[arg(long, required_unless_present_any = ["plan", "resume"])]
    release: Option<String>,
    /// The environment to deploy to
    #[arg(long, required_unless_present_any = ["plan", "resume"])]
    env: Option<String>,
    /// T-0 (RFC 3339, or a civil time in the environment's window time zone)
    #[arg(long)]
    start: Option<String>,
    /// Approve every gate
    #[arg(long)]
    yes: bool,
    /// Approve the gates of this role (repeatable)
    #[arg(long = "approve", value_name = "ROLE")]
    approve: Vec<String>,
    /// Print every action with its resolved command; change nothing
    #[arg(long, conflicts_with_all = ["simulate", "resume"])]
    dry_run: bool,
    /// Run on a virtual clock with simulated provider and database, metrics from a scenario
    #[arg(long, value_name = "SCENARIO.toml", conflicts_with = "resume")]
    simulate: Option<PathBuf>,
    /// Continue a run from its journal
    #[arg(long, value_name = "RUN")]
    resume: Option<String>,
    /// Leave the local provider's instances running when the run ends
    #[arg(long)]
    keep_running: bool,
    /// The state directory (default `.deployc` beside the `.deploy` file)
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Keep the run index, journals, history, operator requests and the deploy lease in this
    /// PostgreSQL database (`postgres://…`) instead of the state directory; overrides the
    /// environment's `state =`
    #[arg(long, value_name = "URL")]
    state: Option<String>,
    /// How long the deploy lease of a shared state store outlives its last heartbeat (a
    /// runner killed outright holds it that long)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_ttl)]
    lease_ttl: std::time::Duration,
    /// Progress lines for people or machines
    #[arg(long, value_enum, default_value_t = Format::Text)]
    log_format: Format,
    /// What SIGTERM and SIGINT do: roll back (exit 1, or 3), or pause where the run is, to be
    /// continued with `--resume` (exit 143 or 130)
    #[arg(long, value_enum, default_value_t = SignalAction::Rollback)]
    on_signal: SignalAction,
    /// When to use colour in diagnostics
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum SignalAction {
    Rollback,
    Pause,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Format {
    Text,
    Json,
}

/// `--lease-ttl`: `30s`, `2m`, `500ms` (at least one second: the heartbeat renews it three
/// times per period).
pub(super) fn parse_ttl(text: &str) -> Result<std::time::Duration, String> {
    let d: jiff::SignedDuration = text
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as `30s` or `2m`"))?;
    let d = std::time::Duration::try_from(d)
        .map_err(|_| format!("`{text}` is not a positive duration"))?;
    if d < std::time::Duration::from_secs(1) {
        return Err(format!("`{text}` is shorter than one second"));
    }
    Ok(d)
}

#[derive(Args, Debug)]
pub(super) struct StatusArgs {
    /// The run, or `latest` (default: list the runs)
    run: Option<String>,
    /// The state directory
    #[arg(long, value_name = "DIR", default_value = STATE_DIR)]
    state_dir: PathBuf,
    /// Follow the run as its journal grows, with the live view `deployc run` shows, until it
    /// ends; exits as `deployc run` would have (0, 1 rolled back, 3 rollback incomplete, 2 when
    /// no process works on the run and it has not ended)
    #[arg(long, requires = "run")]
    watch: bool,
    /// A PostgreSQL state store (`postgres://…`) instead of the state directory
    #[arg(long, value_name = "URL")]
    state: Option<String>,
}

#[derive(Args, Debug)]
pub(super) struct HistoryArgs {
    /// The state directory
    #[arg(long, value_name = "DIR", default_value = STATE_DIR)]
    state_dir: PathBuf,
    /// A PostgreSQL state store (`postgres://…`) instead of the state directory
    #[arg(long, value_name = "URL")]
    state: Option<String>,
    /// Delivery figures (deployment frequency, change failure rate, time to restore, deploy
    /// duration) per environment and ISO week, instead of the list of runs
    #[arg(long)]
    stats: bool,
    /// Only this environment
    #[arg(long, value_name = "E", requires = "stats")]
    env: Option<String>,
    /// Only runs that ended at or after this date (YYYY-MM-DD, UTC) or RFC 3339 time
    #[arg(long, value_name = "DATE", requires = "stats")]
    since: Option<String>,
    /// Figures for people or machines
    #[arg(long, value_enum, default_value_t = Format::Text, requires = "stats")]
    format: Format,
    /// The figures as one HTML page with a chart per environment (runs per ISO week)
    #[arg(long, requires = "stats", conflicts_with = "format")]
    html: bool,
    /// Write the HTML page to this file instead of standard output
    #[arg(short = 'o', long, value_name = "FILE", requires = "html")]
    output: Option<PathBuf>,
}

pub(super) fn dir_of(file: &Path) -> PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub(super) fn run(args: RunArgs) -> miette::Result<i32> {
    let (plan, base_dir): (Option<Plan>, PathBuf) = if let Some(p) = &args.plan {
        let text = std::fs::read_to_string(p)
            .map_err(|e| miette!("cannot read `{}`: {e}", p.display()))?;
        let plan: Plan = serde_json::from_str(&text)
            .map_err(|e| miette!("`{}` is not a plan: {e}", p.display()))?;
        let base = dir_of(Path::new(&plan.source));
        (Some(plan), base)
    } else if let Some(file) = &args.file {
        if args.resume.is_some() {
            (None, dir_of(file))
        } else {
            let (Some(release), Some(env)) = (&args.release, &args.env) else {
                return Err(miette!("`--release` and `--env` are required"));
            };
            match super::plan::build_plan(
                file,
                release,
                env,
                args.start.as_deref(),
                args.color,
                None,
                args.state.as_deref(),
            )? {
                Ok(p) => (Some(p), dir_of(file)),
                Err(_) => return Ok(2),
            }
        }
    } else {
        (None, PathBuf::from("."))
    };
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| base_dir.join(STATE_DIR));
    let mode = if args.dry_run {
        Mode::DryRun
    } else if let Some(s) = &args.simulate {
        let text = std::fs::read_to_string(s)
            .map_err(|e| miette!("cannot read `{}`: {e}", s.display()))?;
        Mode::Simulate(
            runtime::sim::Scenario::parse(&text)
                .map_err(|e| miette!("scenario `{}`: {e}", s.display()))?,
        )
    } else {
        Mode::Real
    };
    let plan = match (plan, &args.resume) {
        (Some(p), _) => p,
        // On resume the plan comes from the run directory; this one is never used.
        (None, Some(_)) => placeholder_plan(),
        (None, None) => return Err(miette!("nothing to run: give a file or `--plan`")),
    };
    let req = Request {
        plan,
        base_dir,
        state_dir,
        state: args.state.clone(),
        lease_ttl: args.lease_ttl,
        mode,
        resume: args.resume.clone(),
        yes: args.yes,
        approve: args.approve.clone(),
        keep_running: args.keep_running,
        log_format: match args.log_format {
            Format::Text => LogFormat::Text,
            Format::Json => LogFormat::Json,
        },
        on_signal: match args.on_signal {
            SignalAction::Rollback => runtime::OnSignal::Rollback,
            SignalAction::Pause => runtime::OnSignal::Pause,
        },
    };
    // One line, however long: CI logs and operators grep for it.
    Ok(runtime::run(req).unwrap_or_else(|e| fail(&e)))
}

/// An operational error in one line (exit 2).
fn fail(e: &str) -> i32 {
    eprintln!("error: {e}");
    2
}

pub(super) fn placeholder_plan() -> Plan {
    Plan {
        format: crate::lower::PLAN_FORMAT,
        service: String::new(),
        release: String::new(),
        environment: String::new(),
        source: String::new(),
        risk: None,
        strategy: String::new(),
        start: None,
        production: false,
        team: Vec::new(),
        rollback_decision: Vec::new(),
        channels: Vec::new(),
        metrics: Vec::new(),
        phases: Vec::new(),
        triggers: Vec::new(),
        comms: Vec::new(),
        point_of_no_return: None,
        timeline: crate::lower::Timeline {
            expected_ms: 0,
            worst_case_detection_ms: 0,
            worst_case_rollback_ms: 0,
            schedule_end_ms: 0,
            analysis_interval_ms: 0,
        },
        notes: Vec::new(),
        target: Default::default(),
        rollback: None,
    }
}

pub(super) fn status(args: StatusArgs) -> miette::Result<i32> {
    let store = match Store::open(args.state.as_deref(), &args.state_dir) {
        Ok(s) => s,
        Err(e) => return Ok(fail(&e)),
    };
    match &args.run {
        None => {
            let journals: Vec<(String, Vec<journal::Entry>)> = store
                .runs()
                .map_err(|e| miette!("{e}"))?
                .into_iter()
                .map(|id| {
                    let entries = store.read_journal(&id).unwrap_or_default();
                    (id, entries)
                })
                .collect();
            for (id, entries) in &journals {
                let live = store.live(id).is_some();
                println!(
                    "{id}  {}{}",
                    state_of(entries, live),
                    link(id, entries, &journals)
                );
            }
        }
        Some(id) => {
            let id = &store.resolve_run(id).map_err(|e| miette!("{e}"))?;
            if args.watch {
                return super::report::watch(&store, id);
            }
            let entries = store.read_journal(id).map_err(|e| miette!("{e}"))?;
            let t0 = entries
                .iter()
                .find_map(|e| match &e.event {
                    journal::Event::RunStarted { t0, .. } => t0.parse().ok(),
                    _ => None,
                })
                .unwrap_or_default();
            for e in &entries {
                if let Some(l) = progress::line(e, t0) {
                    println!("{l}");
                }
            }
            let live = store.live(id);
            println!("state: {}", state_of(&entries, live.is_some()));
            if let Some(Live::Lease(holder)) = &live {
                println!("held by {holder}");
            }
            if let Some(of) = schedule_of(&entries) {
                println!("schedule of the deploy run {of}");
            }
            for other_id in store.runs().unwrap_or_default() {
                let other_entries = store.read_journal(&other_id).unwrap_or_default();
                if schedule_of(&other_entries) == Some(id.as_str()) {
                    let live = store.live(&other_id).is_some();
                    println!("schedule: {other_id}  {}", state_of(&other_entries, live));
                }
            }
            if let Some((who, since)) = runtime::control::paused_by(&entries) {
                println!("paused by {who} since {since} (`deployc resume {id}` lets it go on)");
            }
            if let Some((step, roles)) = runtime::control::waiting_gate(&entries)
                && !entries
                    .iter()
                    .any(|e| matches!(e.event, journal::Event::RunFinished { .. }))
            {
                println!("waiting at the gate of {step} for {}", roles.join(" or "));
            }
            for r in runtime::control::pending(&store, id, &entries) {
                println!(
                    "pending: {} by {} at {}{} (request {})",
                    r.command,
                    r.who,
                    r.at,
                    r.role.map(|x| format!(" as {x}")).unwrap_or_default(),
                    r.id
                );
            }
        }
    }
    Ok(0)
}

/// `1 migration`, `2 migrations`.
fn migrations(n: usize) -> String {
    if n == 1 {
        "1 migration".to_string()
    } else {
        format!("{n} migrations")
    }
}

/// The deploy run whose schedule (flag days, check-ins) a run is, from its journal.
fn schedule_of(entries: &[journal::Entry]) -> Option<&str> {
    entries.iter().find_map(|e| match &e.event {
        journal::Event::RunStarted { of, .. } => of.as_deref(),
        _ => None,
    })
}

/// How a run in the list links to the other part of its release: a schedule names its deploy
/// run, a deploy run its schedule.
fn link(id: &str, entries: &[journal::Entry], all: &[(String, Vec<journal::Entry>)]) -> String {
    if let Some(of) = schedule_of(entries) {
        return format!("  (schedule of {of})");
    }
    all.iter()
        .find(|(_, e)| schedule_of(e) == Some(id))
        .map(|(child, _)| format!("  (schedule: {child})"))
        .unwrap_or_default()
}

/// A run's state in a few words, from its journal.
fn state_of(entries: &[journal::Entry], live: bool) -> String {
    let mut current = None;
    for e in entries.iter().rev() {
        match &e.event {
            journal::Event::RunFinished { outcome } => return outcome.clone(),
            journal::Event::Paused { step, due } => return format!("paused: {step} due at {due}"),
            journal::Event::StepStarted { step, .. } if current.is_none() => {
                current = Some(step.clone())
            }
            _ => {}
        }
    }
    match current {
        // A process works on it: not interrupted, under way.
        Some(s) if live => format!("running: {s}"),
        Some(s) => format!("interrupted in {s} (resume with --resume)"),
        None => "started".into(),
    }
}

pub(super) fn history(args: HistoryArgs) -> miette::Result<i32> {
    if args.stats {
        return history_stats(&args);
    }
    let store = match Store::open(args.state.as_deref(), &args.state_dir) {
        Ok(s) => s,
        Err(e) => return Ok(fail(&e)),
    };
    let h = store.history().map_err(|e| miette!("{e}"))?;
    if h.entries.is_empty() {
        println!("no runs recorded in {}", store.shown());
    }
    for e in &h.entries {
        match &e.rollback {
            Some(r) => println!(
                "{}  {} rollback {} → {} in {}  {}  ({} reverted)  {}",
                e.finished_at,
                e.service,
                r.from,
                e.release,
                e.environment,
                e.outcome.as_str(),
                migrations(r.reverted.len()),
                e.run
            ),
            None => println!(
                "{}  {} {} → {}  {}  ({})  {}",
                e.finished_at,
                e.service,
                e.release,
                e.environment,
                e.outcome.as_str(),
                migrations(e.migrations.len()),
                e.run
            ),
        }
    }
    Ok(0)
}

/// `deployc history --stats`: reads the history line by line (an unreadable line is an E502
/// diagnostic on stderr and is left out, not a reason to print nothing), then prints the
/// figures computed by [`crate::stats::compute`].
fn history_stats(args: &HistoryArgs) -> miette::Result<i32> {
    use crate::history::{History, HistoryError};
    use crate::stats;

    // Checked before reading anything: a typo is a usage error, not an empty result.
    let since = match args.since.as_deref().map(stats::parse_since).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    let store = match Store::open(args.state.as_deref(), &args.state_dir) {
        Ok(s) => s,
        Err(e) => return Ok(fail(&e)),
    };
    let (shown, text) = store.history_text().map_err(|e| miette!("{e}"))?;
    let path = PathBuf::from(&shown);
    let (entries, mut errors) = History::parse_each(&text);
    let mut runs = Vec::new();
    for (line, entry) in &entries {
        match stats::Run::from_entry(entry) {
            Ok(r) => runs.push(r),
            Err(message) => errors.push(HistoryError {
                line: *line,
                message,
            }),
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        let mut sources = crate::source::SourceMap::new();
        let id = sources.add(shown.clone(), Some(path.clone()), text.clone());
        let diags: Vec<_> = errors.iter().map(|e| e.diagnostic(&text, id)).collect();
        super::render_to_stderr(&diags, &sources, ColorChoice::Auto)?;
        eprintln!(
            "{} unreadable {} of `{}` left out of the figures",
            errors.len(),
            if errors.len() == 1 { "line" } else { "lines" },
            path.display()
        );
    }
    let filter = stats::Filter {
        environment: args.env.clone(),
        since,
    };
    let figures = stats::compute(&runs, &filter);
    let nothing = if entries.is_empty() && errors.is_empty() {
        Some(format!("no runs recorded in `{}`", path.display()))
    } else if figures.overall.is_none() {
        Some(format!(
            "no runs in `{}` match{}{}",
            path.display(),
            args.env
                .as_deref()
                .map(|e| format!(" --env {e}"))
                .unwrap_or_default(),
            args.since
                .as_deref()
                .map(|s| format!(" --since {s}"))
                .unwrap_or_default(),
        ))
    } else {
        None
    };
    if args.html {
        let page = stats::render_html(&figures);
        return match &args.output {
            None => {
                print!("{page}");
                Ok(0)
            }
            Some(path) => {
                write_whole(path, &page).map_err(|e| miette!("{e}"))?;
                if let Some(line) = nothing {
                    eprintln!("{line}");
                }
                println!("figures: {}", path.display());
                Ok(0)
            }
        };
    }
    match args.format {
        Format::Text => match nothing {
            Some(line) => println!("{line}"),
            None => print!("{}", stats::render_text(&figures)),
        },
        Format::Json => {
            // Machines still get a document (with no environments); people get the line.
            if let Some(line) = nothing {
                eprintln!("{line}");
            }
            let json = serde_json::to_string_pretty(&figures)
                .map_err(|e| miette!("cannot write the figures: {e}"))?;
            println!("{json}");
        }
    }
    Ok(0)
}

/// Writes `text` to `path` whole or not at all: written beside it, then renamed over it.
fn write_whole(path: &Path, text: &str) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("`{}` is not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write `{}`: {e}", path.display())
        })
}
