//! Flag days run on their own clock: a deploy run ends after its monitor period (its `on
//! done`, report and history then) and starts the release's schedule as a run of its own,
//! whose flag days are watched with the release's triggers armed. Real processes on a real
//! state directory, and the two-week example on a virtual clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/process.rs"]
mod process;
use process::{deployc, text};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

/// Staging and production from one file; production requires a staging success. The flag
/// goes to 25% on day 1 (due as the deploy run ends) and 50% on day 2 (a day later).
const PROGRAM: &str = r#"
service app {}

environment staging {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  flags = command "printf '%s|%s|staging\n' {flag} {percent} >> flags.log"
}

environment production {
  requires = staging
  provider = command {
    deploy = "true"
    weight = "true"
  }
  flags = command "printf '%s|%s|production\n' {flag} {percent} >> flags.log"
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

channel done_file = file "done.log"

release "1.0.0" {
  strategy = canary { analysis every 1s, step 50% for 1s, step 100% }
  flag new_checkout {
    initially off
    day 1 25% of beta
    day 2 50%
  }
  comms {
    on done notify done_file "{service} {version} is live on {environment}"
  }
  monitor 1s
}
"#;

fn run(dir: &Path, args: &[&str]) -> Output {
    deployc()
        .current_dir(dir)
        .args(["run", "app.deploy", "--release", "1.0.0"])
        .args(args)
        .output()
        .unwrap()
}

/// The program's findings about a missing trigger and roles are switched off the way a user
/// would: this tests the runtime, not a safe rollout.
fn allow_rules(dir: &Path) {
    process::allow_rules(
        dir,
        &["C501", "C502", "C505", "R301", "R305", "S403", "T801"],
    );
}

/// Run ids and times change from run to run: they are replaced by placeholders.
fn stable_text(s: &str) -> String {
    s.split_whitespace()
        .map(|w| {
            let stamp = w.len() >= 16
                && w.as_bytes().get(8) == Some(&b'T')
                && w.bytes().take(8).all(|b| b.is_ascii_digit());
            if stamp {
                format!("[TIME]{}", w.get(16..).unwrap_or_default())
            } else if w.starts_with("20") && w.contains('T') && w.ends_with('Z') {
                "[DUE]".to_string()
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Starts `deployc run` in the background, its output in `NAME.out`.
fn spawn(dir: &Path, name: &str, args: &[&str]) -> Child {
    let out = std::fs::File::create(dir.join(format!("{name}.out"))).unwrap();
    deployc()
        .current_dir(dir)
        .args(["run", "app.deploy", "--release", "1.0.0"])
        .args(args)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap()
}

/// Waits (at most a minute) until `file` in `dir` holds `what`.
fn wait_for(dir: &Path, file: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(dir.join(file)).is_ok_and(|t| t.contains(what)) {
        assert!(Instant::now() < deadline, "`{file}` never held `{what}`");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (at most a minute) for a child to end; its exit code.
fn wait_end(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops a run as an operator's SIGTERM does (with `--on-signal pause`: to be resumed).
fn terminate(child: &mut Child) -> Option<i32> {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_end(child)
}

#[test]
fn staging_is_recorded_before_its_flag_days_and_production_may_follow() {
    let dir = process::scratch_in("runtime-schedule", "staging-then-production");
    std::fs::write(dir.join("app.deploy"), PROGRAM).unwrap();
    allow_rules(&dir);

    // Staging's schedule watches its triggers from day 1 until day 2 is due, a day away:
    // the process stays, and its history is written already.
    let mut staging = spawn(
        &dir,
        "staging",
        &["--env", "staging", "--on-signal", "pause"],
    );
    wait_for(&dir, "flags.log", "new_checkout|25|staging");
    let out = std::fs::read_to_string(dir.join("staging.out")).unwrap();
    // The deploy run ended before the flag days: `on done`, its report and its history.
    let done = out.find("run succeeded").expect(&out);
    let schedule = out.find("schedule run ").expect(&out);
    assert!(done < schedule, "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.join("done.log"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    let history = std::fs::read_to_string(dir.join(".deployc/history")).unwrap();
    let recorded: Vec<serde_json::Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recorded.len(), 1, "{history}");
    assert_eq!(recorded[0]["environment"], "staging");
    assert_eq!(recorded[0]["outcome"], "succeeded");

    // Production's `requires = staging` holds while staging's schedule watches day 1: its
    // own lock, its own schedule.
    let mut production = spawn(
        &dir,
        "production",
        &["--env", "production", "--yes", "--on-signal", "pause"],
    );
    wait_for(&dir, "flags.log", "new_checkout|25|production");
    let out = std::fs::read_to_string(dir.join("production.out")).unwrap();
    assert!(out.contains("✓ pre.requires"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.join("flags.log")).unwrap(),
        "new_checkout|25|staging\nnew_checkout|25|production\n"
    );
    assert_eq!(terminate(&mut production), Some(143));

    // Stopped, staging's schedule is resumed later; day 2 was never set.
    assert_eq!(terminate(&mut staging), Some(143));
    let out = std::fs::read_to_string(dir.join("staging.out")).unwrap();
    assert!(out.contains("-schedule --state-dir"), "{out}");
    assert!(
        !std::fs::read_to_string(dir.join("flags.log"))
            .unwrap()
            .contains("|50|"),
    );

    // The runs, each with its own journal, plan and report, linked both ways.
    let runs: Vec<_> = std::fs::read_dir(dir.join(".deployc/runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(runs.len(), 4, "{runs:?}");
    for r in &runs {
        assert!(r.join("journal.jsonl").exists() && r.join("plan.json").exists());
    }
    assert!(runs.iter().any(|r| r.join("report.md").exists()));
    let status = deployc()
        .current_dir(&dir)
        .args(["status", "--state-dir", ".deployc"])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    insta::assert_snapshot!(
        "status_lists_the_deploy_run_and_its_schedule",
        String::from_utf8_lossy(&status.stdout)
            .lines()
            .map(stable_text)
            .collect::<Vec<_>>()
            .join("\n")
    );

    // A run's own status names the other part.
    let deploy_id = runs
        .iter()
        .filter_map(|r| r.file_name()?.to_str().map(str::to_string))
        .find(|n| n.ends_with("-staging"))
        .unwrap();
    let one = deployc()
        .current_dir(&dir)
        .args(["status", &deploy_id, "--state-dir", ".deployc"])
        .output()
        .unwrap();
    let one = String::from_utf8_lossy(&one.stdout).into_owned();
    assert!(one.contains("state: succeeded"), "{one}");
    assert!(
        one.contains(&format!("schedule: {deploy_id}-schedule  ")),
        "{one}"
    );

    // The deploy run resumed after it ended does not start its schedule over.
    let again = deployc()
        .current_dir(&dir)
        .args(["run", "--resume", &deploy_id])
        .output()
        .unwrap();
    let again = text(&again);
    assert!(
        again.contains(&format!("schedule run {deploy_id}-schedule exists")),
        "{again}"
    );
    assert_eq!(
        std::fs::read_dir(dir.join(".deployc/runs"))
            .unwrap()
            .count(),
        4
    );
}

/// The flag's day 1 is watched for the monitor period (1s) and then on until day 2: a
/// breach seconds later, between the two flag days, still turns the flag back.
const WATCHED: &str = r#"
service app {}

environment staging {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  metrics = command "cat failures.txt"
  flags   = command "printf '%s|%s\n' {flag} {percent} >> flags.log"
}

metric failures: number = command "unused"

release "1.0.0" {
  strategy = canary { analysis every 1s, step 50% for 1s, step 100% }
  flag new_checkout {
    initially off
    day 1 25%
    day 2 50%
  }
  rollback {
    auto when failures > 5
  }
  monitor 1s
}
"#;

#[test]
fn a_breach_between_flag_days_turns_the_flags_back() {
    let dir = process::scratch_in("runtime-schedule", "between-flag-days");
    std::fs::write(dir.join("app.deploy"), WATCHED).unwrap();
    std::fs::write(dir.join("failures.txt"), "0\n").unwrap();
    allow_rules(&dir);
    let mut staging = spawn(&dir, "staging", &["--env", "staging"]);
    wait_for(&dir, "flags.log", "new_checkout|25");
    // Well past day 1's monitor period, a day before day 2.
    std::thread::sleep(Duration::from_secs(3));
    std::fs::write(dir.join("failures.txt"), "9\n").unwrap();
    let code = wait_end(&mut staging);
    let out = std::fs::read_to_string(dir.join("staging.out")).unwrap();
    // The schedule rolled back (the release itself stays a success).
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.join("flags.log")).unwrap(),
        "new_checkout|25\nnew_checkout|0\n"
    );
    let schedule = schedule_dir(&dir, &out);
    let journal: Vec<serde_json::Value> = std::fs::read_to_string(schedule.join("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let set = journal
        .iter()
        .find(|e| e["type"] == "action" && e["what"] == "flag")
        .expect(&out);
    let fired = journal
        .iter()
        .find(|e| e["type"] == "trigger_fired")
        .expect(&out);
    assert_eq!(fired["step"], "post.flag.new_checkout.day-1", "{fired}");
    assert_eq!(fired["condition"], "failures > 5", "{fired}");
    // Seen after the monitor period that used to end the watch.
    let at = |e: &serde_json::Value| {
        e["at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    assert!(
        at(fired).duration_since(at(set)).as_millis() > 2_000,
        "{set} {fired}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schedule.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["outcome"], "rolled_back", "{report}");
    let history = std::fs::read_to_string(dir.join(".deployc/history")).unwrap();
    assert_eq!(history.lines().count(), 1, "{history}");
    assert!(history.contains("\"succeeded\""), "{history}");
}

#[test]
fn a_schedule_due_at_once_ends_with_its_own_report() {
    let dir = process::scratch_in("runtime-schedule", "one-day");
    std::fs::write(
        dir.join("app.deploy"),
        PROGRAM.replace("    day 2 50%\n", ""),
    )
    .unwrap();
    allow_rules(&dir);
    let staging = run(&dir, &["--env", "staging"]);
    let out = text(&staging);
    assert_eq!(staging.status.code(), Some(0), "{out}");
    let schedule = schedule_dir(&dir, &out);
    let report = std::fs::read_to_string(schedule.join("report.md")).unwrap();
    assert!(
        report.starts_with("# Flag schedule report: app 1.0.0 in staging (schedule of `"),
        "{report}"
    );
    assert!(report.contains("post.flag.new_checkout.day-1"), "{report}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schedule.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["outcome"], "succeeded");
    // One history line: the release, not its schedule.
    let history = std::fs::read_to_string(dir.join(".deployc/history")).unwrap();
    assert_eq!(history.lines().count(), 1, "{history}");
}

#[test]
fn a_breach_on_a_flag_day_turns_the_flag_back() {
    let out = deployc()
        .args([
            "run",
            "examples/checkout.deploy",
            "--release",
            "2.1.0",
            "--env",
            "production",
            "--simulate",
            "tests/runtime/checkout-flag-day-breach.toml",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // The schedule rolled back: its exit code.
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let (deploy, schedule) = stdout.split_once("run simulation-schedule").expect(&stdout);
    // The deploy run succeeded (with its `on done` message) before the first flag day.
    assert!(deploy.contains("run succeeded"), "{deploy}");
    assert!(deploy.contains("is live on production"), "{deploy}");
    assert!(!deploy.contains("post.flag."), "{deploy}");
    insta::assert_snapshot!(
        "breach_on_a_flag_day",
        format!("run simulation-schedule{schedule}")
    );
}

/// The run directory of the schedule run in `dir`'s state directory (`out` says why not).
fn schedule_dir(dir: &Path, out: &str) -> PathBuf {
    std::fs::read_dir(dir.join(".deployc/runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-schedule"))
        .expect(out)
}
