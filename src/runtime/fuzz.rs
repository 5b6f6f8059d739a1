//! Entry points for the fuzz targets in `fuzz/`, which can only reach the public API: the
//! readers of the files a user, a script or a crash hands to the runtime — a plan (`deployc run
//! --plan`), a scenario (`--simulate`), a journal (`--resume`, `deployc status`) — together
//! with what the runtime does right after reading them. Not part of the supported API.

use std::path::{Path, PathBuf};

use super::journal;
use super::sim::Scenario;
use super::{LogFormat, Mode, OnSignal, Request};
use crate::lower::Plan;

/// Reads `plan_json` as `deployc run --plan` does and renders it in every plan format; when
/// it is a plan and `scenario` a scenario, simulates the run silently on the virtual clock (as
/// `deployc run --plan P --simulate S`). Returns the exit code of the simulation, or the error
/// the command would print.
pub fn plan_and_scenario(plan_json: &[u8], scenario: &str) -> Result<i32, String> {
    let plan: Plan = serde_json::from_slice(plan_json).map_err(|e| e.to_string())?;
    for text in [
        crate::lower::render::text(&plan),
        crate::lower::render::markdown(&plan),
        crate::lower::render::dot(&plan),
        crate::lower::render::mermaid(&plan),
    ] {
        std::hint::black_box(text);
    }
    let scenario = Scenario::parse(scenario)?;
    super::run(Request {
        plan,
        base_dir: PathBuf::from("."),
        // A simulation writes its reports; they go where nothing else is.
        state_dir: std::env::temp_dir().join(format!("deployc-fuzz-{}", std::process::id())),
        mode: Mode::Simulate(scenario),
        resume: None,
        yes: true,
        approve: Vec::new(),
        keep_running: false,
        log_format: LogFormat::Discard,
        on_signal: OnSignal::Rollback,
        state: None,
        lease_ttl: std::time::Duration::from_secs(30),
    })
}

/// Reads `bytes` as a journal file is read on `--resume` (torn last line cut off, a bad line
/// in the middle an error) and as `deployc status` reads it, and makes every entry's progress
/// line. Returns how many entries the resume reader kept.
pub fn journal(bytes: &[u8]) -> Result<usize, String> {
    let path = Path::new("journal.jsonl");
    let (entries, good) = journal::parse_prefix(bytes, path)?;
    if good > bytes.len() {
        return Err(format!("kept {good} bytes of {}", bytes.len()));
    }
    if let Some(Ok(t0)) = entries.first().map(|e| e.at.parse::<jiff::Timestamp>()) {
        for e in &entries {
            std::hint::black_box(super::progress::line(e, t0));
        }
    }
    Ok(entries.len())
}
