//! Steering a live run from a second process: `deployc abort|pause|resume|promote|approve|
//! reject RUN`. Real processes: the demo app behind the local provider, SQLite, a file
//! channel; the timings are read from the journal's timestamps, with generous bounds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/process.rs"]
mod process;
use process::{deployc, text};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

fn scratch(name: &str) -> PathBuf {
    process::scratch_in("runtime-operate", name)
}

/// A canary of two steps (`HOLD` each, analysed every 500 ms) with one migration, an
/// optional go/no-go gate, and the `on rollback` message written to `events.log`.
const PROGRAM: &str = r#"import std.http

service app {
  health = http "http://localhost:{port}/health" expect 200 timeout 1s
}

environment local {
  APPROVAL
  provider = local { command = "deployc demo-app --port {port} --version {version}", replicas = 1, traffic = 20/s "/" }
  database = sqlite "app.db"
  backup   = snapshot
  metrics  = probe every 500ms
}

team {
  lead = "lead@example.com"
  qa   = "qa@example.com"
  rollback_decision = lead
}

channel log = file "events.log"

release "0.9.0" {
  strategy = canary {
    analysis every 500ms
    step 10% for 1s
    step 100%
  }
}

release "1.0.0" {
  strategy = canary {
    analysis every 500ms
    step 10% for HOLD
    step 50% for HOLD
    step 100%
  }
  migrations {
    expand a {
      up   = sql "CREATE TABLE a (id INTEGER PRIMARY KEY)"
      down = sql "DROP TABLE a"
    }
  }
  rollback { auto when error_rate > 5% for 1s }
  comms {
    on rollback notify log "rolling back: {reason}"
  }
}
"#;

fn program(dir: &Path, hold: &str, gate: bool) {
    let approval = if gate {
        "approval = lead timeout 1m else abort"
    } else {
        ""
    };
    std::fs::write(
        dir.join("app.deploy"),
        PROGRAM.replace("HOLD", hold).replace("APPROVAL", approval),
    )
    .unwrap();
    std::fs::write(
        dir.join("deployc.toml"),
        "[rules]\nC501 = \"allow\"\nC502 = \"allow\"\nC505 = \"allow\"\nR301 = \"allow\"\nR305 = \"allow\"\nS403 = \"allow\"\nS405 = \"allow\"\nT801 = \"allow\"\nM201 = \"allow\"\nM202 = \"allow\"\nM203 = \"allow\"\nM204 = \"allow\"\nM205 = \"allow\"\n",
    )
    .unwrap();
}

/// Starts `deployc run app.deploy --release 1.0.0 --env local --log-format json` in `dir`.
fn spawn(dir: &Path) -> Child {
    deployc()
        .current_dir(dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", "local"])
        .args(["--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads the child's journal lines until `stop` says so; returns the run id. The rest of its
/// output is drained in the background, so that it never blocks on a full pipe.
fn read_until(child: &mut Child, stop: impl Fn(&serde_json::Value) -> bool) -> String {
    let stdout = child.stdout.take().unwrap();
    let mut run_id = String::new();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let Ok(e) = serde_json::from_str::<serde_json::Value>(&line.unwrap()) else {
            continue;
        };
        if e["type"] == "run_started" {
            run_id = e["run"].as_str().unwrap().to_string();
        }
        if stop(&e) {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    run_id
}

/// `deployc COMMAND RUN ARGS --state-dir .deployc` from a second process.
fn operate(dir: &Path, command: &str, run: &str, args: &[&str]) -> Output {
    deployc()
        .current_dir(dir)
        .args([command, run])
        .args(args)
        .args(["--state-dir", ".deployc"])
        .output()
        .unwrap()
}

fn journal(dir: &Path, run: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(".deployc/runs").join(run).join("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn at(e: &serde_json::Value) -> jiff::Timestamp {
    e["at"].as_str().unwrap().parse().unwrap()
}

fn find(
    events: &[serde_json::Value],
    f: impl Fn(&serde_json::Value) -> bool,
) -> &serde_json::Value {
    events
        .iter()
        .find(|e| f(e))
        .unwrap_or_else(|| panic!("not in the journal: {events:#?}"))
}

fn ms(a: jiff::Timestamp, b: jiff::Timestamp) -> i64 {
    i64::try_from(b.duration_since(a).as_millis()).unwrap()
}

fn is_step(e: &serde_json::Value, kind: &str, step: &str) -> bool {
    e["type"] == kind && e["step"] == step
}

#[test]
fn abort_during_a_canary_step_rolls_back_within_one_interval() {
    let dir = scratch("abort");
    program(&dir, "30s", false);
    let mut child = spawn(&dir);
    let run = read_until(&mut child, |e| {
        e["type"] == "action" && e["what"] == "weight"
    });
    let out = operate(&dir, "abort", &run, &["--reason", "dashboards look wrong"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(text(&out).lines().count(), 1, "{}", text(&out));
    let status = child.wait().unwrap();
    let events = journal(&dir, &run);
    assert_eq!(status.code(), Some(1), "{events:#?}");
    let taken = find(&events, |e| {
        e["type"] == "operator_command" && e["command"] == "abort"
    });
    assert_eq!(taken["why"], "dashboards look wrong");
    let started = find(&events, |e| e["type"] == "rollback_started");
    let reason = started["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("aborted by ") && reason.ends_with(": dashboards look wrong"),
        "{reason}"
    );
    // Taken at the next evaluation (every 500 ms), and the rollback starts at once.
    let sent: jiff::Timestamp =
        std::fs::read_to_string(dir.join(".deployc/runs").join(&run).join("commands.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .next()
            .map(|r| r["at"].as_str().unwrap().parse().unwrap())
            .unwrap();
    assert!(ms(sent, at(started)) < 1_500, "{events:#?}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "migration_reverted" && e["name"] == "a"),
        "{events:#?}"
    );
    assert_eq!(events.last().unwrap()["outcome"], "rolled_back");
    // The channels say who aborted.
    let log = std::fs::read_to_string(dir.join("events.log")).unwrap();
    assert!(log.contains("rolling back: aborted by "), "{log}");
    let report =
        std::fs::read_to_string(dir.join(".deployc/runs").join(&run).join("report.md")).unwrap();
    assert!(report.contains("abort by "), "{report}");
}

#[test]
fn pause_stops_the_hold_clock_and_resume_lets_it_go_on() {
    let dir = scratch("pause");
    program(&dir, "3s", false);
    let mut child = spawn(&dir);
    let run = read_until(&mut child, |e| {
        e["type"] == "action" && e["what"] == "weight"
    });
    let out = operate(&dir, "pause", &run, &["--reason", "a look at the logs"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let status = deployc()
        .current_dir(&dir)
        .args(["status", &run, "--state-dir", ".deployc"])
        .output()
        .unwrap();
    assert!(text(&status).contains("paused by "), "{}", text(&status));
    std::thread::sleep(std::time::Duration::from_secs(4));
    let out = operate(&dir, "resume", &run, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let code = child.wait().unwrap().code();
    let events = journal(&dir, &run);
    assert_eq!(code, Some(0), "{events:#?}");
    let paused = find(&events, |e| {
        e["type"] == "operator_command" && e["command"] == "pause"
    });
    let resumed = find(&events, |e| {
        e["type"] == "operator_command" && e["command"] == "resume"
    });
    let step = paused["step"].as_str().unwrap().to_string();
    assert_eq!(step, "deploy.canary-1");
    let start = find(&events, |e| is_step(e, "step_started", &step));
    let end = find(&events, |e| is_step(e, "step_finished", &step));
    let stood = ms(at(paused), at(resumed));
    assert!(stood > 3_000, "{events:#?}");
    // The hold (3 s) ends later by the time it stood still, to an interval (500 ms).
    assert!(
        ms(at(start), at(end)) >= 3_000 + stood - 700,
        "step {} ms, paused {stood} ms: {events:#?}",
        ms(at(start), at(end))
    );
}

#[test]
fn promote_ends_the_hold_early_and_full_skips_to_full_traffic() {
    let dir = scratch("promote");
    program(&dir, "30s", false);
    let mut child = spawn(&dir);
    let run = read_until(&mut child, |e| {
        e["type"] == "action" && e["what"] == "weight"
    });
    let out = operate(&dir, "promote", &run, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("promoted"), "{}", text(&out));
    // Now in the second step's hold: on to full traffic.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let out = operate(&dir, "promote", &run, &["--full"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let code = child.wait().unwrap().code();
    let events = journal(&dir, &run);
    assert_eq!(code, Some(0), "{events:#?}");
    let start = find(&events, |e| is_step(e, "step_started", "deploy.canary-1"));
    let end = find(&events, |e| is_step(e, "step_finished", "deploy.canary-1"));
    assert!(ms(at(start), at(end)) < 10_000, "{events:#?}");
    let start = find(&events, |e| is_step(e, "step_started", "deploy.canary-2"));
    let end = find(&events, |e| is_step(e, "step_finished", "deploy.canary-2"));
    assert!(ms(at(start), at(end)) < 10_000, "{events:#?}");
    find(&events, |e| {
        e["type"] == "action" && e["what"] == "weight" && e["step"] == "deploy.canary-3"
    });
    assert_eq!(events.last().unwrap()["outcome"], "succeeded");
}

#[test]
fn promote_full_skips_the_canary_steps_before_the_last() {
    let dir = scratch("promote-full");
    program(&dir, "30s", false);
    let mut child = spawn(&dir);
    let run = read_until(&mut child, |e| {
        e["type"] == "action" && e["what"] == "weight"
    });
    let out = operate(&dir, "promote", &run, &["--full"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let code = child.wait().unwrap().code();
    let events = journal(&dir, &run);
    assert_eq!(code, Some(0), "{events:#?}");
    find(&events, |e| {
        e["type"] == "action" && e["what"] == "skip" && e["step"] == "deploy.canary-2"
    });
    assert!(
        !events.iter().any(|e| e["type"] == "action"
            && e["what"] == "weight"
            && e["step"] == "deploy.canary-2"),
        "{events:#?}"
    );
}

#[test]
fn a_waiting_gate_is_approved_from_a_second_process_and_a_wrong_role_is_refused() {
    let dir = scratch("approve");
    program(&dir, "1s", true);
    let mut child = spawn(&dir);
    let run = read_until(&mut child, |e| e["type"] == "gate_waiting");
    let commands = dir.join(".deployc/runs").join(&run).join("commands.jsonl");
    let out = operate(&dir, "approve", &run, &["--as", "qa"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(text(&out).lines().count(), 1, "{}", text(&out));
    assert!(!commands.exists(), "nothing written for a refused role");
    let out = operate(&dir, "approve", &run, &["--as", "lead", "--reason", "go"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let code = child.wait().unwrap().code();
    let events = journal(&dir, &run);
    assert_eq!(code, Some(0), "{events:#?}");
    let d = find(&events, |e| e["type"] == "decision");
    assert_eq!(d["decision"], "approved");
    assert!(
        d["by"].as_str().unwrap().contains("--as lead"),
        "{events:#?}"
    );
}

#[test]
fn a_waiting_gate_is_rejected_from_a_second_process() {
    let dir = scratch("reject");
    program(&dir, "1s", true);
    let mut child = spawn(&dir);
    let run = read_until(&mut child, |e| e["type"] == "gate_waiting");
    let out = operate(&dir, "reject", &run, &["--as", "lead"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let code = child.wait().unwrap().code();
    let events = journal(&dir, &run);
    assert_eq!(code, Some(1), "{events:#?}");
    let d = find(&events, |e| e["type"] == "decision");
    assert_eq!(d["decision"], "rejected");
    assert!(
        !events.iter().any(|e| e["type"] == "migration_applied"),
        "{events:#?}"
    );
}

#[test]
fn a_command_for_an_ended_or_unknown_run_is_one_line_and_exit_2() {
    let dir = scratch("not-live");
    program(&dir, "500ms", false);
    let out = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", "local"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (command, args) in [
        ("abort", vec![]),
        ("pause", vec![]),
        ("resume", vec![]),
        ("promote", vec!["--full"]),
        ("approve", vec!["--as", "lead"]),
        ("reject", vec!["--as", "lead"]),
    ] {
        for run in ["latest", "20200101T000000Z-9.9.9-local"] {
            let out = operate(&dir, command, run, &args);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{command} {run}: {}",
                text(&out)
            );
            assert_eq!(text(&out).lines().count(), 1, "{command}: {}", text(&out));
        }
    }
    let run = std::fs::read_dir(dir.join(".deployc/runs"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    assert!(!run.join("commands.jsonl").exists(), "nothing written");
}

#[test]
fn a_command_for_a_run_whose_process_is_gone_is_one_line_and_exit_2() {
    let dir = scratch("gone");
    program(&dir, "2s", false);
    let mut child = spawn(&dir);
    let run = read_until(&mut child, |e| {
        e["type"] == "action" && e["what"] == "weight"
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let out = operate(&dir, "pause", &run, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(text(&out).lines().count(), 1, "{}", text(&out));
    assert!(text(&out).contains("not live"), "{}", text(&out));
    let commands = dir.join(".deployc/runs").join(&run).join("commands.jsonl");
    assert!(!commands.exists(), "nothing written");
    // The killed runner's instances are stopped by the resumed run, which finishes it.
    let out = deployc()
        .current_dir(&dir)
        .args(["run", "--resume", &run, "--state-dir", ".deployc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_paused_hold_keeps_its_triggers_armed() {
    let dir = scratch("paused-trigger");
    program(&dir, "30s", true);
    // The demo app fails 30% of the requests of a version whose name contains `bad`.
    let text_of = std::fs::read_to_string(dir.join("app.deploy")).unwrap();
    std::fs::write(
        dir.join("app.deploy"),
        text_of.replace("release \"1.0.0\"", "release \"1.0.0-bad\""),
    )
    .unwrap();
    let mut child = deployc()
        .current_dir(&dir)
        .args([
            "run",
            "app.deploy",
            "--release",
            "1.0.0-bad",
            "--env",
            "local",
        ])
        .args(["--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = read_until(&mut child, |e| e["type"] == "gate_waiting");
    // Paused at the gate: the canary's hold stands still from its start.
    let out = operate(&dir, "pause", &run, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = operate(&dir, "approve", &run, &["--as", "lead"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let code = child.wait().unwrap().code();
    let events = journal(&dir, &run);
    assert_eq!(code, Some(1), "{events:#?}");
    let fired = find(&events, |e| e["type"] == "trigger_fired");
    assert_eq!(fired["step"], "deploy.canary-1", "{events:#?}");
    assert!(
        !events
            .iter()
            .any(|e| e["type"] == "operator_command" && e["command"] == "resume"),
        "{events:#?}"
    );
}
