//! `deployc abort|pause|resume|promote|approve|reject RUN`: steering a live run from another
//! terminal (see `runtime::control` for the transport).
//!
//! Exit codes: 0 the run did it; 1 the run refused it (not paused, not holding); 2 the run is
//! not live or unknown, the role does not decide the waiting gate, or no answer in time.

use std::path::PathBuf;

use clap::Args;

use crate::history::STATE_DIR;
use crate::runtime::control::{self, Request};
use crate::runtime::store::Store;

/// The run and the state directory, shared by every operator command.
#[derive(Args, Debug)]
pub(super) struct Target {
    /// The run (its id, or `latest`)
    run: String,
    /// The state directory
    #[arg(long, value_name = "DIR", default_value = STATE_DIR)]
    state_dir: PathBuf,
    /// The run's PostgreSQL state store (`postgres://…`), to steer it from any machine
    #[arg(long, value_name = "URL")]
    state: Option<String>,
}

#[derive(Args, Debug)]
pub(super) struct AbortArgs {
    #[command(flatten)]
    target: Target,
    /// Why (journaled, and sent with the `on rollback` message)
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

#[derive(Args, Debug)]
pub(super) struct SteerArgs {
    #[command(flatten)]
    target: Target,
    /// Why (journaled)
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

#[derive(Args, Debug)]
pub(super) struct PromoteArgs {
    #[command(flatten)]
    target: Target,
    /// Skip the remaining canary steps to full traffic (the last canary step)
    #[arg(long)]
    full: bool,
    /// Why (journaled)
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

#[derive(Args, Debug)]
pub(super) struct DecideArgs {
    #[command(flatten)]
    target: Target,
    /// The role you decide for: it must be the one the gate waits for
    #[arg(long = "as", value_name = "ROLE")]
    role: String,
    /// Why (journaled)
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

fn send(
    target: &Target,
    command: &str,
    full: bool,
    role: Option<String>,
    why: Option<String>,
) -> i32 {
    let request = Request {
        id: String::new(),
        at: jiff::Timestamp::now().to_string(),
        command: command.to_string(),
        full,
        role,
        who: control::operator(),
        why,
    };
    let store = match Store::open(target.state.as_deref(), &target.state_dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    match control::send(&store, &target.run, request) {
        Ok((run, a)) if a.ok => {
            println!("{run}: {}", a.state);
            0
        }
        Ok((run, a)) => {
            eprintln!("{run}: refused: {}", a.state);
            1
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

pub(super) fn abort(a: AbortArgs) -> miette::Result<i32> {
    Ok(send(&a.target, "abort", false, None, a.reason))
}

pub(super) fn pause(a: SteerArgs) -> miette::Result<i32> {
    Ok(send(&a.target, "pause", false, None, a.reason))
}

pub(super) fn resume(a: SteerArgs) -> miette::Result<i32> {
    Ok(send(&a.target, "resume", false, None, a.reason))
}

pub(super) fn promote(a: PromoteArgs) -> miette::Result<i32> {
    Ok(send(&a.target, "promote", a.full, None, a.reason))
}

pub(super) fn approve(a: DecideArgs) -> miette::Result<i32> {
    Ok(send(&a.target, "approve", false, Some(a.role), a.reason))
}

pub(super) fn reject(a: DecideArgs) -> miette::Result<i32> {
    Ok(send(&a.target, "reject", false, Some(a.role), a.reason))
}
