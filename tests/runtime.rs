//! End-to-end tests of `deployc run`: real processes (the demo app), real HTTP through the
//! local proxy on loopback, real SQLite migrations; plus the simulation and the dry run as
//! snapshots.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod loopback;
#[path = "common/process.rs"]
mod process;
use process::{deployc, text};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;

/// The webhook channel's endpoint: its URL is the secret the tests check for redaction.
fn hook() -> &'static loopback::Server {
    static HOOK: OnceLock<loopback::Server> = OnceLock::new();
    HOOK.get_or_init(|| loopback::Server::start(|_| (200, String::new())))
}

fn scratch(name: &str) -> PathBuf {
    process::scratch_in("runtime", name)
}

/// A quickstart-like program with short holds, for the real-process tests.
fn local_program(strategy: &str, extra_release: &str) -> String {
    format!(
        r#"import std.http
import std.comms

service app {{
  health = http "http://localhost:{{port}}/health" expect 200 timeout 1s
  smoke  = run "deployc demo-app --get {{url}}/ && echo $DEPLOYC_TEST_SECRET" timeout 10s
}}

environment local {{
  provider = local {{ command = "deployc demo-app --port {{port}} --version {{version}}", replicas = 2, traffic = 40/s "/" }}
  database = sqlite "app.db"
  backup   = snapshot
  metrics  = probe every 500ms
}}

team {{
  lead = "lead@example.com"
  rollback_decision = lead
}}

channel terminal = stdout
channel hook = webhook env DEPLOYC_TEST_SECRET

release "1.0.0" {{
  strategy = {strategy}
  migrations {{
    expand create_items {{
      up   = sql "CREATE TABLE items (id INTEGER PRIMARY KEY)"
      down = sql "DROP TABLE items"
    }}
  }}
  rollback {{
    auto when error_rate > 5% for 1s
  }}
  comms {{
    on step     notify terminal, hook  "{{version}}: {{weight}}"
    on rollback notify terminal  "rolling back: {{reason}}"
  }}
  monitor 1s
}}
{extra_release}
"#
    )
}

const CANARY: &str = "canary {
    analysis every 500ms, no_data fail after 4
    step 20%  for 2s require error_rate < 1%
    step 100%
  }";

fn bad_release(strategy: &str) -> String {
    format!(
        r#"
release "1.1.0-bad" {{
  strategy = {strategy}
  migrations {{
    expand create_tags {{
      up   = sql "CREATE TABLE tags (id INTEGER PRIMARY KEY)"
      down = sql "DROP TABLE tags"
    }}
  }}
  rollback {{
    auto when error_rate > 5% for 1s
  }}
  comms {{
    on rollback notify terminal  "rolling back: {{reason}}"
  }}
  monitor 2s
}}
"#
    )
}

fn run(dir: &Path, args: &[&str]) -> Output {
    deployc()
        .current_dir(dir)
        .args(["run", "app.deploy"])
        .args(args)
        .env(
            "DEPLOYC_TEST_SECRET",
            hook().url(&format!("/canary-secret-4242/{}", dir_name(dir))),
        )
        .output()
        .unwrap()
}

fn dir_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// Every file under the state directory, concatenated.
fn state_text(dir: &Path) -> String {
    let mut out = String::new();
    let runs = dir.join(".deployc/runs");
    for run in std::fs::read_dir(runs).unwrap().flatten() {
        for f in std::fs::read_dir(run.path()).unwrap().flatten() {
            if let Ok(t) = std::fs::read_to_string(f.path()) {
                out.push_str(&t);
            }
        }
    }
    out.push_str(&std::fs::read_to_string(dir.join(".deployc/history")).unwrap_or_default());
    out
}

#[test]
fn canary_succeeds_then_bad_version_is_rolled_back_in_its_first_step() {
    let dir = scratch("canary");
    std::fs::write(
        dir.join("app.deploy"),
        local_program(CANARY, &bad_release(CANARY)),
    )
    .unwrap();

    let ok = run(&dir, &["--release", "1.0.0", "--env", "local"]);
    let out = text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    assert!(out.contains("✓ deploy.canary-1"), "{out}");
    assert!(out.contains("proxy sends 20% of requests"), "{out}");
    assert!(out.contains("run succeeded"), "{out}");

    let bad = run(&dir, &["--release", "1.1.0-bad", "--env", "local"]);
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(out.contains("(stable: 1.0.0)"), "{out}");
    assert!(out.contains("✗ deploy.canary-1"), "{out}");
    assert!(!out.contains("deploy.canary-2"), "{out}");
    assert!(out.contains("reverted `create_tags`"), "{out}");
    assert!(out.contains("rollback complete"), "{out}");

    // The history records both runs with the migrations' checksums.
    let history = std::fs::read_to_string(dir.join(".deployc/history")).unwrap();
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains("\"outcome\":\"succeeded\""));
    assert!(lines[0].contains("sha256:"));
    assert!(lines[1].contains("\"outcome\":\"rolled_back\""));

    // The webhook got the step messages of the successful run, as JSON events.
    let hits = hook().hits("/canary-secret-4242/canary");
    assert!(
        hits.iter()
            .any(|h| h.json()["event"] == "step" && h.json()["release"] == "1.0.0"),
        "{hits:?}"
    );
    // Once the canary has been measured, events carry its latest readings.
    let last = hits.last().unwrap().json();
    assert!(last["metrics"]["error_rate"].is_number(), "{last}");

    // The secret (a channel's webhook, echoed by the smoke test) never reaches the disk.
    let state = state_text(&dir);
    assert!(state.contains("report"), "reports are written");
    assert!(!state.contains("canary-secret-4242"));
    assert!(!out.contains("canary-secret-4242"));

    // The state directory is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join(".deployc"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn blue_green_switches_and_switches_back() {
    let bg = "blue_green {
    analysis every 500ms, no_data fail after 4
    preview for 1s require error_rate < 1%
    switch
    keep_previous 2s
  }";
    let dir = scratch("blue-green");
    std::fs::write(dir.join("app.deploy"), local_program(bg, &bad_release(bg))).unwrap();
    let ok = run(&dir, &["--release", "1.0.0", "--env", "local", "--yes"]);
    let out = text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    assert!(out.contains("proxy sends 100% of requests"), "{out}");

    let bad = run(&dir, &["--release", "1.1.0-bad", "--env", "local", "--yes"]);
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(out.contains("trigger `error_rate > 5%` fired"), "{out}");
    assert!(
        out.contains("proxy sends all requests to the stable version"),
        "{out}"
    );
}

#[test]
fn rolling_batches_replace_instances() {
    let rolling = "rolling { batch 1, analysis every 500ms }";
    let dir = scratch("rolling");
    std::fs::write(dir.join("app.deploy"), local_program(rolling, "")).unwrap();
    let ok = run(&dir, &["--release", "1.0.0", "--env", "local"]);
    let out = text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    assert!(out.contains("batch 1/2"), "{out}");
    assert!(out.contains("batch 2/2"), "{out}");
    assert!(out.contains("2 of 2 instances new"), "{out}");
}

/// A program whose provider commands do nothing, with three migrations and holds, for
/// killing the runner between steps.
const RESUMABLE: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  database = sqlite "app.db"
}

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 400ms
    step 100%
  }
  migrations {
    expand a {
      up   = sql "CREATE TABLE a (id INTEGER PRIMARY KEY)"
      down = sql "DROP TABLE a"
    }
    expand b {
      up   = sql "CREATE TABLE b (id INTEGER PRIMARY KEY)"
      down = sql "DROP TABLE b"
    }
    expand c {
      up   = sql "CREATE TABLE c (id INTEGER PRIMARY KEY)"
      down = sql "DROP TABLE c"
    }
  }
}
"#;

/// The resumable plan is about crashes, not about a safe rollout: its lint findings (no
/// rollback trigger, nobody told) are switched off the way a user would, in `deployc.toml`.
fn write_resumable(dir: &Path) {
    std::fs::write(dir.join("app.deploy"), RESUMABLE).unwrap();
    std::fs::write(
        dir.join("deployc.toml"),
        "[rules]\nC501 = \"allow\"\nC502 = \"allow\"\nR301 = \"allow\"\nR305 = \"allow\"\nS403 = \"allow\"\n",
    )
    .unwrap();
}

fn journal_events(dir: &Path) -> Vec<serde_json::Value> {
    process::journal_of(&process::only_run(dir))
}

#[test]
fn killed_at_every_step_boundary_resumes_without_repeating() {
    let probe = scratch("resume-probe");
    write_resumable(&probe);
    let full = run(&probe, &["--release", "1.0.0", "--env", "ci"]);
    assert_eq!(full.status.code(), Some(0), "{}", text(&full));
    let steps = journal_events(&probe)
        .iter()
        .filter(|e| e["type"] == "step_finished")
        .count();
    assert!(steps >= 6, "{steps} steps");

    for kill_after in 1..steps {
        let dir = scratch(&format!("resume-{kill_after}"));
        write_resumable(&dir);
        let mut child = deployc()
            .current_dir(&dir)
            .args(["run", "app.deploy", "--release", "1.0.0", "--env", "ci"])
            .args(["--log-format", "json"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut seen = 0;
        let mut run_id = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let Ok(e) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if e["type"] == "run_started" {
                run_id = e["run"].as_str().unwrap().to_string();
            }
            if e["type"] == "step_finished" {
                seen += 1;
                if seen == kill_after {
                    child.kill().unwrap(); // SIGKILL
                    break;
                }
            }
        }
        let _ = child.wait();
        let resumed = deployc()
            .current_dir(&dir)
            .args(["run", "--resume", &run_id, "--state-dir", ".deployc"])
            .output()
            .unwrap();
        assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
        let events = journal_events(&dir);
        let mut finished: Vec<String> = events
            .iter()
            .filter(|e| e["type"] == "step_finished")
            .map(|e| e["step"].as_str().unwrap().to_string())
            .collect();
        let n = finished.len();
        finished.sort();
        finished.dedup();
        assert_eq!(
            n,
            finished.len(),
            "a step finished twice (killed after {kill_after})"
        );
        assert_eq!(
            n, steps,
            "every step finished once (killed after {kill_after})"
        );
        let applied = events
            .iter()
            .filter(|e| e["type"] == "migration_applied")
            .count();
        assert_eq!(
            applied, 3,
            "each migration applied once (killed after {kill_after})"
        );
        let ran_sql = events
            .iter()
            .filter(|e| e["type"] == "action" && e["what"] == "migrate")
            .filter(|e| e["detail"].as_str().unwrap().starts_with("applied"))
            .count();
        assert_eq!(
            ran_sql, 3,
            "migration SQL ran once each (killed after {kill_after})"
        );
    }
}

#[test]
fn simulate_checkout_canary_failure() {
    let start = std::time::Instant::now();
    let out = deployc()
        .args([
            "run",
            "examples/checkout.deploy",
            "--release",
            "2.1.0",
            "--env",
            "production",
        ])
        .args(["--simulate", "tests/runtime/checkout-canary-fails.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
    let ok = deployc()
        .args([
            "run",
            "examples/checkout.deploy",
            "--release",
            "2.1.0",
            "--env",
            "production",
        ])
        .args(["--simulate", "tests/runtime/checkout-success.toml"])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(stdout.contains("post.flag.oauth_authentication.day-7"));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

/// The accounts example's migrations on a virtual clock: a backfill whose verify fails rolls
/// back; a failed irreversible contract stops at the manual gate, whose approval saves the
/// database as it is before restoring the backup.
#[test]
fn simulate_a_failed_verify_and_a_restore() {
    for (scenario, release) in [
        ("accounts-verify-fails", "3.1.0"),
        ("accounts-restore", "3.2.0"),
    ] {
        let out = deployc()
            .args(["run", "examples/accounts-history.deploy"])
            .args(["--release", release, "--env", "production"])
            .args(["--simulate", &format!("tests/runtime/{scenario}.toml")])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        insta::with_settings!({ snapshot_suffix => scenario, omit_expression => true }, {
            insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
        });
    }
}

#[test]
fn dry_run_of_the_quickstart() {
    let out = deployc()
        .args([
            "run",
            "examples/quickstart.deploy",
            "--release",
            "1.1.0",
            "--env",
            "local",
        ])
        .arg("--dry-run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

/// A release with a countdown: messages before T-0, sent by a real run at their time.
const COUNTDOWN_PROGRAM: &str = r#"
service app {
}

environment staging {
  provider = command {
    deploy   = "true"
    rollback = "true"
  }
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

channel log = file "messages.log"

release "1.0.0" {
  strategy = recreate
  comms {
    at T-1d  notify log  "a day ahead: {service} {version}"
    at T-1h  notify log  "an hour ahead"
    at T-2s  notify log  "two seconds ahead"
    at T-0   notify log  "starting"
    on rollback notify log  "rolling back: {reason}"
  }
}
"#;

/// The lines of the file channel: (`at`, `text`).
fn logged(dir: &Path) -> Vec<(jiff::Timestamp, String)> {
    std::fs::read_to_string(dir.join("messages.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["at"].as_str().unwrap().parse().unwrap(),
                v["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Runs release 1.0.0 to `staging` with `--start` that far ahead (whole seconds); returns
/// the start given and the output.
fn run_starting_in(dir: &Path, ahead: jiff::SignedDuration) -> (jiff::Timestamp, Output) {
    let start = (jiff::Timestamp::now() + ahead)
        .round(jiff::Unit::Second)
        .unwrap();
    let args = ["--release", "1.0.0", "--env", "staging", "--start"];
    let out = run(dir, &[&args[..], &[start.to_string().as_str()]].concat());
    (start, out)
}

#[test]
fn messages_before_t0_are_sent_at_their_time_and_the_run_waits_for_its_start() {
    let dir = scratch("countdown");
    // Only the messages due within seconds: the run waits in-process for them.
    let program = COUNTDOWN_PROGRAM
        .replace(
            "    at T-1d  notify log  \"a day ahead: {service} {version}\"\n",
            "",
        )
        .replace("    at T-1h  notify log  \"an hour ahead\"\n", "");
    std::fs::write(dir.join("app.deploy"), program).unwrap();
    let (start, out) = run_starting_in(&dir, jiff::SignedDuration::from_secs(4));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lines = logged(&dir);
    let texts: Vec<&str> = lines.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, ["two seconds ahead", "starting"], "{}", text(&out));
    let two_ahead = start - jiff::SignedDuration::from_secs(2);
    assert!(
        lines[0].0 >= two_ahead,
        "sent early: {lines:?}, start {start}"
    );
    assert!(lines[0].0 < start, "sent late: {lines:?}, start {start}");
    assert!(lines[1].0 >= start, "T-0 message before T-0: {lines:?}");
    // The journal's T-0 is the planned start, and no step started before it.
    let events = journal_events(&dir);
    assert_eq!(events[0]["t0"].as_str(), Some(start.to_string().as_str()));
    for e in events.iter().filter(|e| e["type"] == "step_started") {
        let at: jiff::Timestamp = e["at"].as_str().unwrap().parse().unwrap();
        assert!(at >= start, "{e}");
    }
}

#[test]
fn a_far_start_pauses_the_countdown_and_resume_sends_nothing_twice() {
    let dir = scratch("countdown-pause");
    std::fs::write(dir.join("app.deploy"), COUNTDOWN_PROGRAM).unwrap();
    let (start, out) = run_starting_in(&dir, jiff::SignedDuration::from_hours(2));
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(0), "{printed}");
    // T-1d has passed: sent at once. T-1h is more than a minute away: the run pauses.
    let hour_ahead = start - jiff::SignedDuration::from_hours(1);
    assert!(
        printed.contains(&format!(
            "next step due at {hour_ahead} (message `at T-1h`)"
        )),
        "{printed}"
    );
    let texts = |d: &Path| -> Vec<String> { logged(d).into_iter().map(|(_, t)| t).collect() };
    assert_eq!(texts(&dir), ["a day ahead: app 1.0.0"]);

    // Resumed before the message is due, it pauses again and sends nothing twice.
    let run_id = printed
        .split("--resume ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    let again = run(&dir, &["--resume", &run_id]);
    let printed = text(&again);
    assert_eq!(again.status.code(), Some(0), "{printed}");
    assert!(printed.contains("next step due at"), "{printed}");
    assert_eq!(texts(&dir), ["a day ahead: app 1.0.0"]);
    let events = journal_events(&dir);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "paused").count(),
        2,
        "{kinds:?}"
    );
    assert!(!kinds.contains(&"step_started"), "{kinds:?}");
    assert!(
        !events.iter().any(|e| e["what"] == "stable"),
        "nothing starts before T-0: {kinds:?}"
    );
}

#[test]
fn no_data_pause_holds_the_step_still_until_the_data_is_back() {
    let sim = |scenario: &str| {
        deployc()
            .args(["run", "tests/runtime/no-data-pause.deploy"])
            .args(["--release", "1.1.0", "--env", "staging"])
            .args(["--simulate", scenario])
            .output()
            .unwrap()
    };
    let back = sim("tests/runtime/no-data-gap-returns.toml");
    assert_eq!(back.status.code(), Some(0), "{}", text(&back));
    insta::assert_snapshot!(
        "no_data_pause_gap_returns",
        String::from_utf8_lossy(&back.stdout)
    );
    let gone = sim("tests/runtime/no-data-gap-stays.toml");
    assert_eq!(gone.status.code(), Some(1), "{}", text(&gone));
    insta::assert_snapshot!(
        "no_data_pause_gap_stays",
        String::from_utf8_lossy(&gone.stdout)
    );
}

#[test]
fn a_manual_trigger_asks_the_decision_makers_on_rollback_decision() {
    let out = deployc()
        .args(["run", "tests/runtime/manual-decision.deploy"])
        .args(["--release", "1.1.0", "--env", "staging"])
        .args(["--simulate", "tests/runtime/manual-decision.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let asked = stdout
        .find("✉ terminal: decide: `error_rate > 1%` held for 3m (error_rate 2)")
        .unwrap_or_else(|| panic!("no decision request:\n{stdout}"));
    let decided = stdout.find("roll back? (lead)").unwrap();
    assert!(
        asked < decided,
        "the request comes before the decision:\n{stdout}"
    );
}

/// The pids listed in a run's `instances` file.
fn listed_instances(run_dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(run_dir.join("instances"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let state = s.rsplit_once(')').unwrap().1.split_whitespace().next();
        !matches!(state, Some("Z" | "X"))
    })
}

#[test]
fn a_resumed_run_stops_the_instances_its_killed_runner_left_behind() {
    let dir = scratch("leftovers");
    std::fs::write(dir.join("app.deploy"), local_program(CANARY, "")).unwrap();
    let mut child = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", "local"])
        .args(["--log-format", "json"])
        .env(
            "DEPLOYC_TEST_SECRET",
            hook().url("/canary-secret-4242/leftovers"),
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut run_id = String::new();
    for line in BufReader::new(stdout).lines() {
        let e: serde_json::Value = match serde_json::from_str(&line.unwrap()) {
            Ok(e) => e,
            Err(_) => continue,
        };
        if e["type"] == "run_started" {
            run_id = e["run"].as_str().unwrap().to_string();
        }
        // Both versions run once the canary's traffic is set.
        if e["type"] == "action" && e["what"] == "weight" {
            child.kill().unwrap(); // SIGKILL: the instances are orphaned
            break;
        }
    }
    let _ = child.wait();
    let run_dir = dir.join(".deployc/runs").join(&run_id);
    let left = listed_instances(&run_dir);
    // 1.0.0 is the first release: no stable version, two instances of the new one.
    assert_eq!(left.len(), 2, "the new version's two instances are listed");
    assert!(left.iter().all(|p| running(*p)), "orphans still run");

    let resumed = deployc()
        .current_dir(&dir)
        .args(["run", "--resume", &run_id, "--state-dir", ".deployc"])
        .env(
            "DEPLOYC_TEST_SECRET",
            hook().url("/canary-secret-4242/leftovers"),
        )
        .output()
        .unwrap();
    let out = text(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{out}");
    assert!(
        out.contains("stopped 2 instance(s) left by an earlier process of this run"),
        "{out}"
    );
    for pid in left {
        assert!(!running(pid), "pid {pid} still runs\n{out}");
    }
    assert!(
        listed_instances(&run_dir).is_empty(),
        "nothing left at the end"
    );
}

const HANGING_HOOK_PROGRAM: &str = r#"import std.http

service app {
  health = http "http://localhost:{port}/health" expect 200 timeout 1s
}

environment local {
  provider = local { command = "deployc demo-app --port {port} --version {version}", replicas = 1, traffic = 40/s "/" }
  metrics  = probe every 500ms
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

channel terminal = stdout
channel hook = webhook env HANGING_HOOK

release "1.0.0" {
  strategy = canary {
    analysis every 1s, no_data fail after 4
    step 50%  for 10s require error_rate < 1%
    step 100%
  }
  rollback {
    auto when error_rate > 5% for 1s
  }
  comms {
    on step     notify terminal, hook "{version}: {weight}"
    on rollback notify terminal, hook "rolling back: {reason}"
  }
}

release "1.1.0-bad" {
  strategy = canary {
    analysis every 1s, no_data fail after 4
    step 50%  for 10s require error_rate < 1%
    step 100%
  }
  rollback {
    auto when error_rate > 5% for 1s
  }
  comms {
    on step     notify terminal, hook "{version}: {weight}"
    on rollback notify terminal, hook "rolling back: {reason}"
  }
}
"#;

fn at(e: &serde_json::Value) -> jiff::Timestamp {
    e["at"].as_str().unwrap().parse().unwrap()
}

#[test]
fn a_hanging_webhook_does_not_delay_the_rollback() {
    rollback_not_delayed_by_a_hanging_hook("hanging-hook", HANGING_HOOK_PROGRAM);
}

/// Even a required channel: its messages after the first step are delivered in the
/// background too, and the failing canary is rolled back without waiting for them.
#[test]
fn a_hanging_required_webhook_does_not_delay_the_rollback() {
    rollback_not_delayed_by_a_hanging_hook(
        "hanging-required-hook",
        &HANGING_HOOK_PROGRAM.replace(
            "webhook env HANGING_HOOK",
            "webhook env HANGING_HOOK required",
        ),
    );
}

fn rollback_not_delayed_by_a_hanging_hook(name: &str, program: &str) {
    let hang = loopback::Hang::start();
    let dir = scratch(name);
    std::fs::write(dir.join("app.deploy"), program).unwrap();
    let started = std::time::Instant::now();
    let bad = deployc()
        .current_dir(&dir)
        .args([
            "run",
            "app.deploy",
            "--release",
            "1.1.0-bad",
            "--env",
            "local",
        ])
        .env("HANGING_HOOK", hang.url("/hook"))
        .output()
        .unwrap();
    let took = started.elapsed();
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(hang.accepted() > 0, "the webhook was called");
    let events = journal_events(&dir);
    let find = |pred: &dyn Fn(&serde_json::Value) -> bool| {
        events
            .iter()
            .find(|e| pred(e))
            .unwrap_or_else(|| panic!("{events:#?}"))
    };
    let weight = at(find(&|e| e["type"] == "action" && e["what"] == "weight"));
    let rollback = at(find(&|e| e["type"] == "rollback_started"));
    let back = at(find(&|e| {
        e["type"] == "action" && e["what"] == "traffic to stable" && e["ok"] == true
    }));
    let interval = jiff::SignedDuration::from_secs(1);
    // Slack for a loaded machine, well below the channel's 10 s per attempt: a control loop
    // that waited on the webhook would take at least that long at each send.
    let slack = jiff::SignedDuration::from_secs(5);
    assert!(
        back.duration_since(rollback) <= interval + slack,
        "traffic went back {:?} after the rollback started\n{out}",
        back.duration_since(rollback)
    );
    // The canary's first evaluations fail it (30% errors on half the traffic).
    assert!(
        back.duration_since(weight) <= interval * 2 + slack,
        "traffic went back {:?} after the canary got its weight\n{out}",
        back.duration_since(weight)
    );
    // The messages that never arrived are journaled, and the run ends in bounded time.
    assert!(
        events.iter().any(|e| e["channel"] == "hook"
            && (e["type"] == "message_pending"
                || (e["type"] == "message_sent" && e["ok"] == false))),
        "{events:#?}"
    );
    assert!(took < std::time::Duration::from_secs(60), "{took:?}\n{out}");
}
