//! Running the `deployc` binary from the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn deployc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_deployc"))
}

/// A fresh directory `group/name` for one test.
pub fn scratch_in(group: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    #[allow(clippy::unwrap_used)]
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Standard output then standard error, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Writes `deployc.toml` in `dir` turning the rules `codes` off: findings beside the point of
/// a test (a rollout's comms, say) would otherwise stop `deployc run` before it starts.
pub fn allow_rules(dir: &Path, codes: &[&str]) {
    let mut toml = String::from("[rules]\n");
    for code in codes {
        toml.push_str(&format!("{code} = \"allow\"\n"));
    }
    #[allow(clippy::unwrap_used)]
    std::fs::write(dir.join("deployc.toml"), toml).unwrap();
}

/// The events of the journal of the run whose directory is `run`, in order.
#[allow(clippy::unwrap_used, clippy::panic)]
pub fn journal_of(run: &Path) -> Vec<serde_json::Value> {
    let path = run.join("journal.jsonl");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Whether the environment variable `var` is `1`: CI sets `DEPLOYC_REQUIRE_…` so that a
/// test needing a server fails where it would otherwise skip.
pub fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// The directory of the one run in `dir`'s state directory (`.deployc/runs/RUN`).
#[allow(clippy::unwrap_used, clippy::panic)]
pub fn only_run(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir.join(".deployc/runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("no run in {}", dir.display()))
}
