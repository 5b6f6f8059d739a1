//! `deployc run` end to end on how a rollout proceeds: rolling batches judged by their
//! health thresholds and `max_unavailable`, approval gates between deploy steps, and the
//! messages people get. Real processes (the demo application behind the local provider's
//! proxy, the `command` provider's shell commands), real HTTP health endpoints on loopback,
//! `file` channels read back.
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

use std::path::{Path, PathBuf};
use std::process::Output;

fn scratch(name: &str) -> PathBuf {
    process::scratch_in("runtime-flow", name)
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

fn run(dir: &Path, program: &str, release: &str, args: &[&str]) -> Output {
    std::fs::write(dir.join("app.deploy"), program).unwrap();
    allow_rules(dir);
    deployc()
        .current_dir(dir)
        .args(["run", "app.deploy", "--release", release, "--env", "ci"])
        .args(args)
        .output()
        .unwrap()
}

fn journal(dir: &Path) -> Vec<serde_json::Value> {
    process::journal_of(&process::only_run(dir))
}

fn step_failed(events: &[serde_json::Value]) -> &serde_json::Value {
    events
        .iter()
        .find(|e| e["type"] == "step_failed")
        .unwrap_or_else(|| panic!("no step failed: {events:#?}"))
}

// ---------------------------------------------------------------------------------------
// Rolling: `healthy`, `unhealthy`, `timeout` and `max_unavailable`

/// Three batches through the `command` provider; the service's health endpoint is served
/// here. Each `scale` up writes how many of the next health requests fail.
const ROLLING_COMMAND: &str = r#"
service app {
  health = http "HEALTH_URL" expect 200 timeout 2s
}

environment ci {
  provider = command {
    deploy   = "true"
    scale    = "test {replicas} = 0 || echo FAILS > fail-next"
    rollback = "rm -f fail-next"
  }
}

release "1.0.0" {
  strategy = rolling {
    analysis every 100ms
    batch 1, max_unavailable 0
    health every 100ms timeout TIMEOUT healthy 2 unhealthy 3
  }
}
"#;

/// A health endpoint whose answers the commands steer: while `fail-next` holds a number
/// above zero, a request answers 503 and counts it down; `alternate` makes every other
/// request after a `scale` fail, forever.
fn steered_health(dir: &Path) -> loopback::Server {
    let file = dir.join("fail-next");
    let turn = std::sync::atomic::AtomicU64::new(0);
    loopback::Server::start(move |_| {
        let left: i64 = std::fs::read_to_string(&file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        if left < 0 {
            // `alternate`: fail, pass, fail, pass…
            let n = turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return if n.is_multiple_of(2) {
                (503, "down".into())
            } else {
                (200, "ok".into())
            };
        }
        if left > 0 {
            std::fs::write(&file, (left - 1).to_string()).unwrap();
            return (503, "down".into());
        }
        (200, "ok".into())
    })
}

fn rolling_command(server: &loopback::Server, fails: &str, timeout: &str) -> String {
    ROLLING_COMMAND
        .replace("HEALTH_URL", &server.url("/health"))
        .replace("FAILS", fails)
        .replace("TIMEOUT", timeout)
}

#[test]
fn a_batch_rides_out_fewer_failures_than_unhealthy_and_waits_for_healthy_passes() {
    let dir = scratch("rolling-flaky");
    let server = steered_health(&dir);
    // Two failures after each batch: fewer than `unhealthy 3`.
    let o = run(&dir, &rolling_command(&server, "2", "5s"), "1.0.0", &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let events = journal(&dir);
    let health: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| {
            e["what"] == "health" && e["step"].as_str().unwrap().starts_with("deploy.batch-")
        })
        .collect();
    assert_eq!(health.len(), 3, "{events:#?}");
    for h in health {
        assert_eq!(h["ok"], true);
        assert_eq!(
            h["detail"],
            "healthy after 2 passing check(s) in a row: the service"
        );
    }
    // Each batch asked until two passes came in a row after its two failures.
    let asked = server.hits("/health").len();
    assert!(asked >= 3 * 4, "{asked} health requests");
}

#[test]
fn a_batch_fails_when_the_service_fails_unhealthy_checks_in_a_row() {
    let dir = scratch("rolling-unhealthy");
    let server = steered_health(&dir);
    let o = run(&dir, &rolling_command(&server, "3", "5s"), "1.0.0", &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let events = journal(&dir);
    let failed = step_failed(&events);
    assert_eq!(failed["step"], "deploy.batch-1", "{events:#?}");
    let reason = failed["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "health: the service is out of service (3 failing checks in a row): the service: "
        ),
        "{reason}"
    );
    assert!(reason.ends_with("answered 503, expected 200"), "{reason}");
}

#[test]
fn a_batch_that_never_passes_healthy_checks_in_a_row_fails_at_its_timeout() {
    let dir = scratch("rolling-timeout");
    let server = steered_health(&dir);
    let o = run(&dir, &rolling_command(&server, "-1", "1s"), "1.0.0", &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let events = journal(&dir);
    let failed = step_failed(&events);
    assert_eq!(failed["step"], "deploy.batch-1", "{events:#?}");
    let reason = failed["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "health: not healthy within 1s (2 passing checks in a row needed): the service ("
        ),
        "{reason}"
    );
}

/// Four instances of the demo application behind the local provider's proxy, replaced two
/// at a time. The instance script makes version 3.0.0 fail its health checks after the
/// first one (the start-up check the provider waits for).
const ROLLING_LOCAL: &str = r#"
service app {
  health = http "http://127.0.0.1:{port}/health"
}

environment ci {
  provider = local { command = "./instance.sh {port} {version}", replicas = 4 }
}

release "1.0.0" {
  strategy = recreate
}

release "2.0.0" {
  strategy = rolling {
    analysis every 100ms
    batch 2, max_unavailable 1
    health every 100ms timeout 5s healthy 2 unhealthy 2
  }
}

release "3.0.0" {
  strategy = rolling {
    analysis every 100ms
    batch 2, max_unavailable 1
    health every 100ms timeout 5s healthy 2 unhealthy 2
  }
}
"#;

const INSTANCE: &str = "#!/bin/sh\nif [ \"$2\" = 3.0.0 ]; then export DEMO_HEALTHY_CHECKS=1; fi\nexec deployc demo-app --port \"$1\" --version \"$2\"\n";

fn local_dir(name: &str) -> PathBuf {
    let dir = scratch(name);
    let script = dir.join("instance.sh");
    std::fs::write(&script, INSTANCE).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn local_batches_wait_until_every_instance_passed_its_checks() {
    let dir = local_dir("rolling-local-ok");
    let o = run(&dir, ROLLING_LOCAL, "2.0.0", &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let events = journal(&dir);
    let health: Vec<&str> = events
        .iter()
        .filter(|e| {
            e["what"] == "health" && e["step"].as_str().unwrap().starts_with("deploy.batch-")
        })
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(health.len(), 2, "{events:#?}");
    // After the first batch: two old and two new instances, each checked on its own.
    let first = health[0];
    assert!(
        first.starts_with("healthy after 2 passing check(s) in a row: "),
        "{first}"
    );
    assert_eq!(first.matches("1.0.0@").count(), 2, "{first}");
    assert_eq!(first.matches("2.0.0@").count(), 2, "{first}");
    assert_eq!(health[1].matches("2.0.0@").count(), 4, "{}", health[1]);
}

#[test]
fn more_local_instances_out_of_service_than_max_unavailable_fail_the_batch() {
    let dir = local_dir("rolling-local-unavailable");
    let o = run(&dir, ROLLING_LOCAL, "3.0.0", &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let events = journal(&dir);
    let failed = step_failed(&events);
    assert_eq!(failed["step"], "deploy.batch-1", "{events:#?}");
    let reason = failed["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "health: 2 instance(s) out of service (2 failing checks in a row), more than max_unavailable 1: 3.0.0@"
        ),
        "{reason}"
    );
    assert_eq!(reason.matches("answered 503").count(), 2, "{reason}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "rollback_finished" && e["complete"] == true),
        "{events:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// Pause points: `approval after PLACE by ROLE "TEXT" …`

/// A gate after the first canary step and one after the smoke test, each with its text. The
/// provider's commands and the smoke test leave a trace of what ran.
const GATES: &str = r#"
service app {
  smoke = run "echo smoke >> trace.txt"
}

environment ci {
  provider = command {
    deploy   = "true"
    weight   = "echo weight {weight} >> trace.txt"
    rollback = "echo rollback >> trace.txt"
  }
}

team {
  lead = "lead@example.com"
  qa   = "qa@example.com"
}

channel log = file "log.jsonl"

release "1.0.0" {
  strategy = canary {
    analysis every 100ms
    step 20% for 200ms
    step 100%
  }
  approval after step 1 by lead "the 20% dashboards look normal" timeout 1m else rollback
  approval after smoke by qa "QA signed off 1.0.0" timeout 30s else rollback
  comms {
    on approval_needed notify log "{step}: {reason}"
  }
}
"#;

fn trace(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("trace.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn texts(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("log.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["text"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn gates_after_a_canary_step_and_the_smoke_test_ask_in_order_with_their_own_text() {
    let dir = scratch("gates-approved");
    let o = run(
        &dir,
        GATES,
        "1.0.0",
        &["--approve", "lead", "--approve", "qa"],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let events = journal(&dir);
    let order: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "step_finished")
        .map(|e| e["step"].as_str().unwrap())
        .filter(|s| s.starts_with("deploy.canary") || s.starts_with("verify."))
        .collect();
    assert_eq!(
        order,
        [
            "deploy.canary-1",
            "deploy.canary-1.approval",
            "deploy.canary-2",
            "verify.smoke",
            "verify.smoke.approval"
        ],
        "{events:#?}"
    );
    // The 100% step waited for the lead: the trace shows the weights around the gate.
    assert_eq!(trace(&dir), ["weight 20", "weight 100", "smoke"], "{out}");
    assert_eq!(
        texts(&dir),
        [
            "deploy.canary-1.approval: the 20% dashboards look normal",
            "verify.smoke.approval: QA signed off 1.0.0"
        ],
        "{out}"
    );
    let questions: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "decision")
        .map(|e| e["question"].as_str().unwrap())
        .collect();
    assert_eq!(
        questions,
        [
            "the 20% dashboards look normal (lead)",
            "QA signed off 1.0.0 (qa)"
        ]
    );
}

#[test]
fn a_gate_after_the_smoke_test_rejected_from_a_second_process_rolls_back() {
    use std::io::{BufRead, BufReader};
    let dir = scratch("gates-rejected");
    std::fs::write(dir.join("app.deploy"), GATES).unwrap();
    allow_rules(&dir);
    let mut child = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", "ci"])
        .args(["--approve", "lead", "--log-format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut run_id = String::new();
    for line in lines.by_ref() {
        let Ok(e) = serde_json::from_str::<serde_json::Value>(&line.unwrap()) else {
            continue;
        };
        if e["type"] == "run_started" {
            run_id = e["run"].as_str().unwrap().to_string();
        }
        if e["type"] == "gate_waiting" && e["step"] == "verify.smoke.approval" {
            assert_eq!(e["question"], "QA signed off 1.0.0");
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let o = deployc()
        .current_dir(&dir)
        .args(["reject", &run_id, "--as", "qa", "--state-dir", ".deployc"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let code = child.wait().unwrap().code();
    let events = journal(&dir);
    assert_eq!(code, Some(1), "{events:#?}");
    let failed = step_failed(&events);
    assert_eq!(failed["step"], "verify.smoke.approval");
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .starts_with("qa gate rejected by "),
        "{failed}"
    );
    // Rejected after the smoke test: traffic goes back to the stable version.
    assert_eq!(
        trace(&dir),
        ["weight 20", "weight 100", "smoke", "rollback"]
    );
}

// ---------------------------------------------------------------------------------------
// The plan shows both

const PLANNED: &str = r#"
service app {
  health = http "http://127.0.0.1:{port}/health"
  smoke  = run "deployc demo-app --get {url}/"
}

environment ci {
  provider = local { command = "deployc demo-app --port {port} --version {version}", replicas = 4 }
}

team {
  lead = "lead@example.com"
  qa   = "qa@example.com"
}

release "1.0.0" {
  strategy = rolling {
    batch 2, max_unavailable 1
    health every 5s timeout 1m healthy 2 unhealthy 3
  }
  approval after batch 1 by lead "the first two instances look right" timeout 15m else rollback
  approval after smoke by qa "QA signed off 1.0.0"
}
"#;

fn plan(dir: &Path, format: &str) -> String {
    let o = deployc()
        .current_dir(dir)
        .args(["plan", "app.deploy", "--release", "1.0.0", "--env", "ci"])
        .args(["--start", "2026-12-01T09:00:00Z", "--format", format])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn the_plan_shows_the_batch_health_check_and_the_pause_points() {
    let dir = scratch("plan");
    std::fs::write(dir.join("app.deploy"), PLANNED).unwrap();
    allow_rules(&dir);
    insta::assert_snapshot!("plan_text_gates_and_batch_health", plan(&dir, "text"));
    insta::assert_snapshot!(
        "plan_markdown_gates_and_batch_health",
        plan(&dir, "markdown")
    );
    let json: serde_json::Value = serde_json::from_str(&plan(&dir, "json")).unwrap();
    let steps: Vec<&serde_json::Value> = json["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["steps"].as_array().unwrap())
        .collect();
    let batch = steps.iter().find(|s| s["id"] == "deploy.batch-1").unwrap();
    assert_eq!(
        batch["action"]["health"],
        serde_json::json!({"every_ms": 5000, "timeout_ms": 60000, "healthy": 2, "unhealthy": 3})
    );
    let gate = steps
        .iter()
        .find(|s| s["id"] == "deploy.batch-1.approval")
        .unwrap();
    assert_eq!(
        gate["action"]["question"],
        "the first two instances look right"
    );
    assert_eq!(gate["action"]["on_timeout"], "rollback after 15m");
    assert_eq!(gate["timeout_ms"], 900_000);
}

// ---------------------------------------------------------------------------------------
// Placeholders: every one the language lists is filled where it is valid

/// Every context writes every placeholder it may use into `seen.txt`; the message writes
/// every message placeholder.
const EVERY_PLACEHOLDER: &str = r#"
service app {
  smoke = run "echo smoke {service} {version} {previous_version} {environment} {url} >> seen.txt"
}

environment ci {
  provider = command {
    deploy  = "echo deploy {service} {version} {previous_version} {environment} {url} >> seen.txt"
    weight  = "echo weight {service} {version} {previous_version} {environment} {weight} {url} >> seen.txt"
    promote = "echo promote {service} {version} {previous_version} {environment} {url} >> seen.txt"
    health  = "echo health {service} {version} {previous_version} {environment} {url} >> seen.txt"
  }
  database = sqlite "app.db"
  backup   = run "echo backup {service} {version} {previous_version} {environment} {file} >> seen.txt" verify "echo verify {service} {version} {previous_version} {environment} {file} >> seen.txt" restore "echo restore {service} {version} {environment} {file} >> seen.txt"
  metrics  = command "echo metric {service} {version} {previous_version} {environment} {metric} {query} {track} {window} >> seen.txt; echo 0.5"
  url      = "http://app.example"
}

metric error_rate: percent { command = "errors" }

team {
  lead = "lead@example.com"
}

channel log = file "log.jsonl"

release "0.9.0" {
  strategy = recreate
}

release "1.0.0" {
  checklist {
    run "echo checklist {service} {version} {previous_version} {environment} {url} >> seen.txt"
  }
  strategy = canary {
    analysis every 100ms
    step 50% for 300ms require error_rate < 1%
    step 100%
  }
  migrations {
    expand a {
      up = sql "CREATE TABLE a (id INTEGER PRIMARY KEY)"
      irreversible "a test table"
    }
  }
  comms {
    on done notify log "{service} {version} {previous_version} {environment} {phase} {step} {weight} {reason} {start} {url} {run} {decided_by} {error_rate}"
  }
}
"#;

#[test]
fn every_placeholder_is_filled_in_every_context() {
    let dir = scratch("placeholders");
    let o = run(&dir, EVERY_PLACEHOLDER, "1.0.0", &["--yes"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let seen = std::fs::read_to_string(dir.join("seen.txt")).unwrap();
    let mut contexts: Vec<&str> = Vec::new();
    for line in seen.lines() {
        assert!(
            !line.contains('{'),
            "a placeholder was not filled: {line}\n{seen}"
        );
        let (context, rest) = line.split_once(' ').unwrap();
        assert!(
            rest.starts_with("app 1.0.0 0.9.0 ci "),
            "the release placeholders in `{context}`: {line}"
        );
        if !contexts.contains(&context) {
            contexts.push(context);
        }
    }
    contexts.sort_unstable();
    assert_eq!(
        contexts,
        [
            "backup",
            "checklist",
            "deploy",
            "health",
            "metric",
            "promote",
            "smoke",
            "verify",
            "weight"
        ],
        "{seen}"
    );
    assert!(
        seen.contains("weight app 1.0.0 0.9.0 ci 50 http://app.example"),
        "{seen}"
    );
    let message = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    let message: serde_json::Value = serde_json::from_str(message.lines().next().unwrap()).unwrap();
    let text = message["text"].as_str().unwrap();
    assert!(!text.contains('{'), "{text}");
    assert!(text.starts_with("app 1.0.0 0.9.0 ci "), "{text}");
    assert!(
        text.ends_with(" 0.5"),
        "the metric's latest reading: {text}"
    );
}

// ---------------------------------------------------------------------------------------
// A manual trigger's decision makers get the evidence

const MANUAL: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy   = "true"
    weight   = "true"
    rollback = "true"
  }
  metrics = command "echo 3"
}

metric error_rate: percent { command = "errors" }

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

channel pager = file "pager.jsonl"

release "1.0.0" {
  strategy = canary {
    analysis every 100ms
    step 50% for 5s
    step 100%
  }
  rollback {
    manual when error_rate > 1% for 300ms timeout 1s else rollback
  }
  comms {
    on rollback_decision notify pager "decide on {service} {version}: {reason}"
  }
}
"#;

#[test]
fn the_decision_makers_of_a_manual_trigger_get_the_condition_and_the_readings() {
    let dir = scratch("manual-evidence");
    let o = run(&dir, MANUAL, "1.0.0", &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let paged = std::fs::read_to_string(dir.join("pager.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(paged.lines().next().unwrap()).unwrap();
    assert_eq!(
        first["text"], "decide on app 1.0.0: `error_rate > 1%` held for 300ms (error_rate 3)",
        "{paged}"
    );
    let events = journal(&dir);
    let decision = events
        .iter()
        .find(|e| e["type"] == "decision")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(
        decision["question"],
        "`error_rate > 1%` held for 300ms (error_rate 3): roll back? (lead)"
    );
}

/// After the 20% step the canary's error rate is 5% (the metric command reads the weight the
/// `weight` command wrote); the lead does not answer.
const GATE_WATCHED: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy   = "true"
    weight   = "echo {weight} > weight.txt"
    rollback = "echo 0 > weight.txt"
  }
  metrics = command "test \"$(cat weight.txt 2>/dev/null)\" = 20 && echo 5 || echo 0"
}

metric error_rate: percent { command = "errors" }

team {
  lead = "lead@example.com"
}

release "1.0.0" {
  strategy = canary {
    analysis every 100ms
    step 20%
    step 100%
  }
  approval after step 1 by lead "the 20% dashboards look normal" timeout 1m else rollback
  rollback {
    auto when error_rate > 1% for 300ms
  }
}
"#;

#[test]
fn an_automatic_trigger_stays_armed_while_a_gate_after_traffic_moved_waits() {
    let dir = scratch("gate-watched");
    let started = std::time::Instant::now();
    let o = run(&dir, GATE_WATCHED, "1.0.0", &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    // Not the gate's minute: the trigger fired while it waited.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{out}"
    );
    let events = journal(&dir);
    let fired = events
        .iter()
        .find(|e| e["type"] == "trigger_fired")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(fired["step"], "deploy.canary-1.approval");
    let failed = step_failed(&events);
    assert_eq!(failed["step"], "deploy.canary-1.approval");
    assert_eq!(failed["reason"], "trigger `error_rate > 1%` fired");
}

// ---------------------------------------------------------------------------------------
// Per-environment settings: one file, a short canary in staging and the long one in
// production

const PER_ENVIRONMENT: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy = "true"
    weight = "echo {weight} >> weights.txt"
  }
}

environment production {
  provider = command {
    deploy = "true"
    weight = "echo {weight} >> weights.txt"
  }
}

team {
  lead = "lead@example.com"
  qa   = "qa@example.com"
}

release "1.0.0" {
  strategy = canary {
    analysis every 1m
    step 5%  for 30m
    step 25% for 1h
    step 100%
  }
  checklist {
    confirm "the release notes are published" by lead
  }
  monitor 2h

  environment ci {
    strategy = canary {
      analysis every 100ms
      step 50% for 300ms
      step 100%
    }
    checklist {
      confirm "the test data is loaded" by qa
    }
    monitor 200ms
  }
}
"#;

fn plan_of(dir: &Path, env: &str) -> String {
    let o = deployc()
        .current_dir(dir)
        .args(["plan", "app.deploy", "--release", "1.0.0", "--env", env])
        .args(["--start", "2026-12-01T09:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn an_environment_runs_its_own_strategy_monitor_and_checklist_from_one_file() {
    let dir = scratch("per-environment");
    let o = run(&dir, PER_ENVIRONMENT, "1.0.0", &["--yes"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let weights = std::fs::read_to_string(dir.join("weights.txt")).unwrap();
    assert_eq!(weights.lines().collect::<Vec<_>>(), ["50", "100"], "{out}");
    let events = journal(&dir);
    let asked: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "decision")
        .map(|e| e["question"].as_str().unwrap())
        .collect();
    assert_eq!(asked, ["the test data is loaded (qa)"], "{events:#?}");
    insta::assert_snapshot!("plan_per_environment_ci", plan_of(&dir, "ci"));
    insta::assert_snapshot!(
        "plan_per_environment_production",
        plan_of(&dir, "production")
    );
}
