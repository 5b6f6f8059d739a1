//! `deployc rollback FILE --env E [--to VERSION]` and `deployc plan FILE --rollback`: taking
//! back a finished release, along the way the run history gives.
//!
//! Exit codes: those of `deployc run` — 0 the older release serves and the migrations are
//! reverted, 1 the rollback was refused (a gate) or rolled back itself (the newer release
//! serves again), 3 it could not finish (a person must act), 2 usage: nothing to roll back,
//! a `--to` that is not an earlier successful release there, an unknown environment, a file
//! that does not check. Every usage error is found before the state directory is touched.

use std::path::{Path, PathBuf};

use clap::Args;
use miette::miette;

use super::ColorChoice;
use super::plan::{CompiledFile, compile_file};
use super::run::{Format, SignalAction, dir_of};
use crate::history::STATE_DIR;
use crate::lower::{self, LowerError, LowerOptions, Plan};
use crate::resolve::Names;
use crate::runtime::store::Store;
use crate::runtime::{self, LogFormat, Mode, Request};

#[derive(Args, Debug)]
pub(super) struct RollbackArgs {
    /// The `.deploy` file
    #[arg(required_unless_present = "resume")]
    file: Option<PathBuf>,
    /// The environment whose last successful release is taken back
    #[arg(long, required_unless_present = "resume")]
    env: Option<String>,
    /// The earlier successful release to go back to (default: the one before the last)
    #[arg(long, value_name = "VERSION")]
    to: Option<String>,
    /// Approve every gate
    #[arg(long)]
    yes: bool,
    /// Approve the gates of this role (repeatable)
    #[arg(long = "approve", value_name = "ROLE")]
    approve: Vec<String>,
    /// Print every action with its resolved command; change nothing
    #[arg(long, conflicts_with = "resume")]
    dry_run: bool,
    /// Continue a rollback run from its journal
    #[arg(long, value_name = "RUN", conflicts_with_all = ["to", "dry_run"])]
    resume: Option<String>,
    /// Leave the local provider's instances running when the run ends
    #[arg(long)]
    keep_running: bool,
    /// The state directory (default `.deployc` beside the `.deploy` file)
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// A PostgreSQL state store (`postgres://…`) instead of the state directory: its history
    /// gives the way back, and the run keeps its journal there
    #[arg(long, value_name = "URL")]
    state: Option<String>,
    /// How long the deploy lease of a PostgreSQL state store lasts without renewal
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = super::run::parse_ttl)]
    lease_ttl: std::time::Duration,
    /// Progress lines for people or machines
    #[arg(long, value_enum, default_value_t = Format::Text)]
    log_format: Format,
    /// What SIGTERM and SIGINT do: roll back (exit 1, or 3), or pause where the run is
    #[arg(long, value_enum, default_value_t = SignalAction::Rollback)]
    on_signal: SignalAction,
    /// When to use colour in diagnostics
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

/// The state directory: `--state-dir`, else `.deployc` beside the file.
pub(super) fn state_dir_of(file: &Path, state_dir: Option<&Path>) -> PathBuf {
    state_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir_of(file).join(STATE_DIR))
}

/// Compiles `file` and plans the way back in `env` from the history in `state_dir`.
/// `Ok(Err(code))` when the file has errors (printed, `code` 1) or the rollback cannot be
/// planned (one line printed, `code` 2). Reads the history; writes nothing.
pub(super) fn build_rollback_plan(
    file: &Path,
    env: &str,
    to: Option<&str>,
    state_dir: &Path,
    state: Option<&str>,
    color: ColorChoice,
) -> miette::Result<Result<Plan, i32>> {
    let CompiledFile { session, compiled } = match compile_file(file, color)? {
        Ok(c) => c,
        Err(code) => return Ok(Err(code)),
    };
    let names = Names::new(&session, &compiled.program);
    let refuse = |message: String| {
        eprintln!("error: {message}");
        Ok(Err(2))
    };
    if !names.environments().any(|e| e.name.name == env) {
        let known = names.environments().map(|e| e.name.name.clone()).collect();
        return refuse(
            LowerError::UnknownEnvironment {
                environment: env.to_string(),
                known,
            }
            .to_string(),
        );
    }
    let Some(service) = names.service().map(|s| s.name.name.clone()) else {
        return refuse(LowerError::NoService.to_string());
    };
    // The history of the runs: the shared store when the runs keep their state in PostgreSQL
    // (`--state`, or the environment's `state =` with its variable set), else the directory.
    let shared = super::plan::shared_state_url(&names, env, state);
    let store = match Store::open(shared.as_deref(), state_dir) {
        Ok(s) => s,
        Err(e) => return refuse(e),
    };
    let history = match store.history() {
        Ok(h) => h,
        Err(e) => return refuse(format!("cannot read the run history: {e}")),
    };
    let path = match history.rollback_path(&service, env, to) {
        Ok(p) => p,
        Err(e) => {
            return refuse(format!(
                "cannot roll back `{service}` in `{env}`: {e} (run history in {})",
                store.shown()
            ));
        }
    };
    match lower::rollback(
        &names,
        &session.sources,
        &compiled.output.sql,
        env,
        &path,
        &LowerOptions::default(),
    ) {
        Ok(plan) => Ok(Ok(plan)),
        Err(e) => refuse(e.to_string()),
    }
}

/// Whether run `id` in `state_dir` runs a rollback plan; `None` when its plan cannot be read
/// (the runtime then says why, as for any resume).
fn is_rollback_run(store: &Store, id: &str) -> Option<bool> {
    store.plan(id).ok().map(|plan| plan.rollback.is_some())
}

pub(super) fn run(args: RollbackArgs) -> miette::Result<i32> {
    let (plan, base_dir, state_dir) = match (&args.file, &args.resume) {
        // On resume the plan comes from the run directory.
        (file, Some(_)) => {
            let base = file
                .as_deref()
                .map(dir_of)
                .unwrap_or_else(|| PathBuf::from("."));
            let state = args
                .state_dir
                .clone()
                .unwrap_or_else(|| base.join(STATE_DIR));
            let store = Store::open(args.state.as_deref(), &state).map_err(|e| miette!("{e}"))?;
            if let Some(id) = &args.resume
                && let Some(false) = is_rollback_run(&store, id)
            {
                eprintln!(
                    "error: run `{id}` is not a rollback: continue it with `deployc run --resume {id}`"
                );
                return Ok(2);
            }
            (super::run::placeholder_plan(), base, state)
        }
        (Some(file), None) => {
            let Some(env) = &args.env else {
                return Err(miette!("`--env` is required"));
            };
            let state = state_dir_of(file, args.state_dir.as_deref());
            match build_rollback_plan(
                file,
                env,
                args.to.as_deref(),
                &state,
                args.state.as_deref(),
                args.color,
            )? {
                Ok(p) => (p, dir_of(file), state),
                // A file that does not check is a usage error here, as for `deployc run`.
                Err(_) => return Ok(2),
            }
        }
        (None, None) => return Err(miette!("nothing to roll back: give a file and `--env`")),
    };
    let req = Request {
        plan,
        base_dir,
        state_dir,
        mode: if args.dry_run {
            Mode::DryRun
        } else {
            Mode::Real
        },
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
        state: args.state.clone(),
        lease_ttl: args.lease_ttl,
    };
    runtime::run(req).map_err(|e| miette!("{e}"))
}
