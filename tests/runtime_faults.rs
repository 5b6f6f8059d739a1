//! `deployc run` under faults: processes killed or signalled mid-run, a torn journal, a
//! journal that cannot be written, two runners at once, a migration that fails half-way
//! outside a transaction. Real processes, real SQLite, a real loopback webhook.
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
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    process::scratch_in("runtime-faults", name)
}

fn hook() -> &'static loopback::Server {
    static HOOK: OnceLock<loopback::Server> = OnceLock::new();
    HOOK.get_or_init(|| loopback::Server::start(|_| (200, String::new())))
}

/// Lint findings about a safe rollout are beside the point here.
fn allow_rules(dir: &Path) {
    process::allow_rules(
        dir,
        &[
            "C501", "C502", "C505", "R301", "R305", "S403", "T801", "M201", "M202", "M203", "M204",
            "M205",
        ],
    );
}

fn run_dir(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir.join(".deployc/runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .unwrap()
}

fn journal(dir: &Path) -> Vec<serde_json::Value> {
    process::journal_of(&run_dir(dir))
}

/// Starts `deployc run app.deploy ARGS --log-format json` in `dir`.
fn spawn(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Child {
    let mut c = deployc();
    c.current_dir(dir)
        .args(["run", "app.deploy"])
        .args(args)
        .args(["--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

/// Reads the child's journal lines until `stop` says so; returns the run id.
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
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    run_id
}

fn resume(dir: &Path, run_id: &str, env: &[(&str, String)]) -> std::process::Output {
    let mut c = deployc();
    c.current_dir(dir)
        .args(["run", "--resume", run_id, "--state-dir", ".deployc"]);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// A program whose provider commands do nothing, with one migration and a canary hold.
const COMMAND_PROGRAM: &str = r#"import std.http

service app {}

environment ci {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  database = sqlite "app.db"
  metrics  = command "echo 0.5"
}

channel hook = webhook env HOOK_URL

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for HOLD require error_rate < 1%
    step 100%
  }
  migrations {
    expand a {
      up   = sql "CREATE TABLE a (id INTEGER PRIMARY KEY)"
      down = sql "DROP TABLE a"
    }
  }
  comms {
    on step notify hook "{version} at {weight}"
  }
}
"#;

fn command_program(dir: &Path, hold: &str) -> Vec<(&'static str, String)> {
    std::fs::write(
        dir.join("app.deploy"),
        COMMAND_PROGRAM.replace("HOLD", hold),
    )
    .unwrap();
    allow_rules(dir);
    vec![(
        "HOOK_URL",
        hook().url(&format!(
            "/hook/{}",
            dir.file_name().unwrap().to_string_lossy()
        )),
    )]
}

fn step_messages(dir: &Path) -> Vec<serde_json::Value> {
    hook()
        .hits(&format!(
            "/hook/{}",
            dir.file_name().unwrap().to_string_lossy()
        ))
        .iter()
        .map(|h| h.json())
        .collect()
}

#[test]
fn a_resumed_run_does_not_resend_the_message_of_the_step_it_reruns() {
    let dir = scratch("resend");
    let env = command_program(&dir, "3s");
    let mut child = spawn(&dir, &["--release", "1.0.0", "--env", "ci"], &env);
    // Killed in the canary's hold, after its message was delivered.
    let run_id = read_until(&mut child, |e| {
        e["type"] == "message_sent" && e["channel"] == "hook" && e["ok"] == true
    });
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(step_messages(&dir).len(), 1);
    let out = resume(&dir, &run_id, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sent: Vec<String> = step_messages(&dir)
        .iter()
        .map(|m| format!("{} {}", m["step"], m["text"]))
        .collect();
    // One message per canary step: the first was not sent again by the step's re-run.
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_ne!(sent[0], sent[1], "{sent:?}");
}

#[test]
fn a_torn_last_journal_line_is_cut_off_on_resume() {
    let dir = scratch("torn");
    let env = command_program(&dir, "1s");
    let mut child = spawn(&dir, &["--release", "1.0.0", "--env", "ci"], &env);
    let run_id = read_until(&mut child, |e| e["type"] == "step_finished");
    child.kill().unwrap();
    let _ = child.wait();
    // The process died while writing a line: half of it is on disk, without its newline.
    let path = run_dir(&dir).join("journal.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut f, br#"{"seq":999,"at":"2026-12-06T20:0"#).unwrap();
    drop(f);
    let out = resume(&dir, &run_id, &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Every line of the journal parses, and the cut is journaled.
    let events = journal(&dir);
    assert!(
        events.iter().any(|e| e["type"] == "journal_repaired"),
        "{events:#?}"
    );
    assert!(events.iter().any(|e| e["type"] == "run_finished"));
    let status = deployc()
        .current_dir(&dir)
        .args(["status", &run_id, "--state-dir", ".deployc"])
        .output()
        .unwrap();
    assert!(
        text(&status).contains("state: succeeded"),
        "{}",
        text(&status)
    );
}

#[test]
fn a_second_runner_in_the_same_state_directory_is_refused() {
    let dir = scratch("lock");
    let env = command_program(&dir, "4s");
    let mut first = spawn(&dir, &["--release", "1.0.0", "--env", "ci"], &env);
    let _ = read_until(&mut first, |e| e["type"] == "step_started");
    let second = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", "ci"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let out = text(&second);
    let _ = first.wait();
    assert_eq!(second.status.code(), Some(2), "{out}");
    assert!(out.contains(&format!("pid {}", first.id())), "{out}");
    // Only the first run left a run directory.
    let runs = std::fs::read_dir(dir.join(".deployc/runs"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    assert_eq!(runs, 1, "{out}");
}

#[test]
fn a_run_of_another_environment_goes_on_beside_a_live_one() {
    // The lock is per service and environment: `qa` is deployed while `ci` holds its own.
    let dir = scratch("lock-envs");
    let env = command_program(&dir, "4s");
    let program = std::fs::read_to_string(dir.join("app.deploy")).unwrap();
    let qa = program.replace("environment ci {", "environment qa {\n  provider = command {\n    deploy = \"true\"\n    weight = \"true\"\n  }\n  database = sqlite \"qa.db\"\n  metrics  = command \"echo 0.5\"\n}\n\nenvironment ci {");
    std::fs::write(dir.join("app.deploy"), qa).unwrap();
    let mut first = spawn(&dir, &["--release", "1.0.0", "--env", "ci"], &env);
    let _ = read_until(&mut first, |e| e["type"] == "step_started");
    // A run of `qa` starts its canary while `ci`'s is live.
    let mut other = spawn(&dir, &["--release", "1.0.0", "--env", "qa"], &env);
    let _ = read_until(&mut other, |e| e["type"] == "step_started");
    let still_live = first.try_wait().unwrap().is_none();
    let same = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", "ci"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let first_status = first.wait().unwrap();
    let other_status = other.wait().unwrap();
    assert!(still_live);
    assert_eq!(same.status.code(), Some(2), "{}", text(&same));
    assert!(
        text(&same).contains("`app` in `ci` is being deployed by"),
        "{}",
        text(&same)
    );
    assert_eq!(first_status.code(), Some(0));
    assert_eq!(other_status.code(), Some(0));
}

/// The pids of the processes carrying `DEPLOYC_RUN_DIR=run_dir` (the run's instances).
fn marked(run_dir: &Path) -> Vec<i32> {
    let marker = format!("DEPLOYC_RUN_DIR={}", run_dir.display());
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        let alive = std::fs::read_to_string(e.path().join("stat")).is_ok_and(|s| {
            let state = s.rsplit_once(')').map(|r| r.1.trim_start().chars().next());
            !matches!(state, Some(Some('Z' | 'X')))
        });
        if alive && env.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

const SLOW_START_PROGRAM: &str = r#"import std.http

service app {
  health = http "http://localhost:{port}/health" expect 200 timeout 1s
}

environment local {
  provider = local { command = "./slow-start.sh {port} {version}", replicas = 1 }
}

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 200ms
    step 100%
  }
}
"#;

#[test]
fn an_instance_killed_while_starting_is_stopped_on_resume() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("slow-start");
    std::fs::write(dir.join("app.deploy"), SLOW_START_PROGRAM).unwrap();
    allow_rules(&dir);
    let script = dir.join("slow-start.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nsleep 3\nexec deployc demo-app --port \"$1\" --version \"$2\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = spawn(&dir, &["--release", "1.0.0", "--env", "local"], &[]);
    let run_id = read_until(&mut child, |e| e["type"] == "step_started");
    // Killed while the instance starts (it answers its health check after 3 s).
    let run = run_dir(&dir);
    let deadline = Instant::now() + Duration::from_secs(20);
    while marked(&run).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let orphans = marked(&run);
    assert!(!orphans.is_empty(), "an instance is starting");
    child.kill().unwrap();
    let _ = child.wait();
    let out = resume(&dir, &run_id, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Give a stopped process a moment to be reaped by init.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !marked(&run).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        marked(&run).is_empty(),
        "instances of the run still run: {:?}\n{}",
        marked(&run),
        text(&out)
    );
}

const SIGNAL_PROGRAM: &str = r#"import std.http

service app {
  health = http "http://localhost:{port}/health" expect 200 timeout 1s
}

environment local {
  provider = local { command = "deployc demo-app --port {port} --version {version}", replicas = 1, traffic = 20/s "/" }
  database = sqlite "app.db"
  backup   = snapshot
  metrics  = probe every 500ms
}

release "0.9.0" {
  strategy = canary {
    analysis every 500ms
    step 50% for 30s
    step 100%
  }
}

release "1.0.0" {
  strategy = canary {
    analysis every 500ms
    step 50% for 30s
    step 100%
  }
  migrations {
    expand a {
      up   = sql "CREATE TABLE a (id INTEGER PRIMARY KEY)"
      down = sql "DROP TABLE a"
    }
  }
}
"#;

fn table_exists(db: &Path, table: &str) -> bool {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        > 0
}

#[test]
fn sigterm_rolls_the_run_back_and_journals_it() {
    let dir = scratch("sigterm");
    std::fs::write(dir.join("app.deploy"), SIGNAL_PROGRAM).unwrap();
    allow_rules(&dir);
    let mut child = spawn(&dir, &["--release", "1.0.0", "--env", "local"], &[]);
    let _ = read_until(&mut child, |e| {
        e["type"] == "action" && e["what"] == "weight"
    });
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let events = journal(&dir);
    assert_eq!(status.code(), Some(1), "{events:#?}");
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"interrupted"), "{types:?}");
    assert!(types.contains(&"rollback_started"), "{types:?}");
    assert_eq!(types.last(), Some(&"run_finished"), "{types:?}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "migration_reverted" && e["name"] == "a"),
        "{events:#?}"
    );
    assert!(!table_exists(&dir.join("app.db"), "a"));
    assert!(marked(&run_dir(&dir)).is_empty(), "instances stopped");
}

const PARTIAL_PROGRAM: &str = r#"
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
    step 50% for 200ms
    step 100%
  }
  migrations {
    expand a {
      up   = sql "CREATE TABLE a (id INTEGER PRIMARY KEY); INSERT INTO a VALUES (1); INSERT INTO a VALUES (1); VACUUM"
      down = sql "DROP TABLE a"
    }
  }
}
"#;

#[test]
fn a_migration_failing_half_way_outside_a_transaction_is_not_a_complete_rollback() {
    let dir = scratch("partial");
    std::fs::write(dir.join("app.deploy"), PARTIAL_PROGRAM).unwrap();
    allow_rules(&dir);
    let o = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", "ci"])
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(table_exists(&dir.join("app.db"), "a"), "{out}");
    assert!(
        out.contains("statements 1 to 2 of migration `a` stay applied"),
        "{out}"
    );
    assert!(!out.contains("rollback complete"), "{out}");
}

#[test]
fn a_journal_that_cannot_be_written_rolls_back_and_exits_3() {
    let dir = scratch("journal-full");
    let env = command_program(&dir, "30s");
    // Files may grow to 24 KiB: the plan and the database fit, the journal of a 30 s hold
    // sampled every 200 ms does not. Writes past the limit fail with EFBIG (the signal that
    // would kill the process is ignored, as a full disk would fail the write).
    let deployc_bin = env!("CARGO_BIN_EXE_deployc");
    let o = std::process::Command::new("sh")
        .current_dir(&dir)
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 48; exec '{deployc_bin}' run app.deploy --release 1.0.0 --env ci"
        ))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    journal_failure_rolled_back(&o, &dir);
}

/// A run whose journal could not be written: exit 3, said so, and the migration rolled back.
fn journal_failure_rolled_back(o: &std::process::Output, dir: &Path) {
    let out = text(o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(out.contains("cannot write the journal"), "{out}");
    assert!(!table_exists(&dir.join("app.db"), "a"), "{out}");
}

/// The same failure on a real full file system: the state directory is a small tmpfs that the
/// plan fits in and the journal of a 30 s hold does not. Mounting needs privileges; where the
/// mount is refused the test says so and stops (the `ulimit` test above covers the behaviour).
#[test]
fn a_full_file_system_under_the_journal_rolls_back_and_exits_3() {
    let dir = scratch("journal-tmpfs");
    let env = command_program(&dir, "30s");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=32k,mode=0700", "tmpfs"])
        .arg(&state)
        .output();
    match mounted {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "skipped: mounting a tmpfs was refused here ({})",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            eprintln!("skipped: no `mount` here ({e})");
            return;
        }
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(state.clone());
    let o = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", "ci"])
        .arg("--state-dir")
        .arg(&state)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    journal_failure_rolled_back(&o, &dir);
}

#[test]
fn sigint_with_on_signal_pause_stops_to_be_resumed() {
    let dir = scratch("sigint-pause");
    std::fs::write(
        dir.join("app.deploy"),
        SIGNAL_PROGRAM.replace("for 30s", "for 3s"),
    )
    .unwrap();
    allow_rules(&dir);
    let mut child = spawn(
        &dir,
        &[
            "--release",
            "1.0.0",
            "--env",
            "local",
            "--on-signal",
            "pause",
        ],
        &[],
    );
    let run_id = read_until(&mut child, |e| {
        e["type"] == "action" && e["what"] == "weight"
    });
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let events = journal(&dir);
    assert_eq!(status.code(), Some(130), "{events:#?}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "interrupted" && e["action"] == "pause"),
        "{events:#?}"
    );
    assert!(!events.iter().any(|e| e["type"] == "run_finished"));
    assert!(
        table_exists(&dir.join("app.db"), "a"),
        "nothing rolled back"
    );
    let out = resume(&dir, &run_id, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(marked(&run_dir(&dir)).is_empty(), "instances stopped");
}

const PROM_PROGRAM: &str = r#"import std.http

service app {}

environment ci {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  metrics  = prometheus env PROM_URL timeout 1s
}

release "1.0.0" {
  strategy = canary {
    analysis every 200ms, no_data pass after 1
    step 50% for 1s require error_rate < 1%
    step 100%
  }
}
"#;

#[test]
fn a_prometheus_url_is_redacted_however_it_is_normalised() {
    let dir = scratch("prom-redact");
    std::fs::write(dir.join("app.deploy"), PROM_PROGRAM).unwrap();
    allow_rules(&dir);
    // Nothing listens there: every query fails, and the errors quote the URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://promuser:pw-secret-31@LOCALHOST:{port}/");
    let o = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", "ci"])
        .env("PROM_URL", &url)
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let journal = std::fs::read_to_string(run_dir(&dir).join("journal.jsonl")).unwrap();
    assert!(journal.contains("[redacted PROM_URL]"), "{journal}");
    let report = std::fs::read_to_string(run_dir(&dir).join("report.json")).unwrap();
    for (what, t) in [("output", &out), ("journal", &journal), ("report", &report)] {
        let lower = t.to_ascii_lowercase();
        assert!(!lower.contains(&format!("localhost:{port}")), "{what}: {t}");
        assert!(!lower.contains("pw-secret-31"), "{what}: {t}");
    }
}

#[test]
fn sigterm_before_t0_stops_the_countdown_with_nothing_changed() {
    let dir = scratch("sigterm-countdown");
    let env = command_program(&dir, "1s");
    let start = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(40))
        .unwrap()
        .to_string();
    let mut child = spawn(
        &dir,
        &["--release", "1.0.0", "--env", "ci", "--start", &start],
        &env,
    );
    let _ = read_until(&mut child, |e| e["type"] == "run_started");
    let started = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it did not wait for T-0"
    );
    let events = journal(&dir);
    assert_eq!(status.code(), Some(1), "{events:#?}");
    assert!(
        events.iter().any(|e| e["type"] == "interrupted"),
        "{events:#?}"
    );
    assert!(
        !events.iter().any(|e| e["type"] == "step_started"),
        "{events:#?}"
    );
    assert_eq!(events.last().unwrap()["outcome"], "aborted", "{events:#?}");
}

#[test]
fn a_failing_required_channel_stops_the_run_before_any_change() {
    let refusing = loopback::Server::start(|_| (400, "no".into()));
    let dir = scratch("required-before");
    let program = COMMAND_PROGRAM
        .replace("HOLD", "1s")
        .replace(
            "channel hook = webhook env HOOK_URL",
            "channel hook = webhook env HOOK_URL required",
        )
        .replace(
            "on step notify hook",
            "on start notify hook \"starting\"\n    on step notify hook",
        );
    std::fs::write(dir.join("app.deploy"), program).unwrap();
    allow_rules(&dir);
    let o = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", "ci"])
        .env("HOOK_URL", refusing.url("/start"))
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let events = journal(&dir);
    assert!(
        !events.iter().any(|e| e["type"] == "step_started"),
        "{events:#?}"
    );
    assert_eq!(events.last().unwrap()["outcome"], "aborted", "{events:#?}");
    assert!(!table_exists(&dir.join("app.db"), "a"), "{out}");
    assert_eq!(refusing.hits("/start").len(), 1);
}
