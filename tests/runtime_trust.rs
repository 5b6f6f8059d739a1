//! `deployc run` end to end on what must be trustworthy in production: a rollback that is
//! ordered and verified, the people told when it cannot finish, and messages that say what
//! happened. Real processes, a real SQLite database, `file` channels read back.
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
    process::scratch_in("runtime-trust", name)
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

fn run(dir: &Path, program: &str, args: &[&str]) -> Output {
    std::fs::write(dir.join("app.deploy"), program).unwrap();
    allow_rules(dir);
    deployc()
        .current_dir(dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", "ci"])
        .args(args)
        .output()
        .unwrap()
}

fn journal(dir: &Path) -> Vec<serde_json::Value> {
    let run = std::fs::read_dir(dir.join(".deployc/runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .unwrap();
    std::fs::read_to_string(run.join("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The JSON lines a `file` channel wrote.
fn delivered(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

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

/// The canary's guard fails (the metric command reads 5%), and the switch back to the stable
/// version fails (`rollback` exits 1): the live version may still be the new one.
const SWITCH_BACK_FAILS: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy   = "true"
    weight   = "true"
    rollback = "echo {reason} > reason.txt; exit 1"
  }
  database = sqlite "app.db"
  metrics  = command "echo 5"
}

metric error_rate: percent { command = "error_rate" }

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

channel oncall = file "oncall.jsonl"
channel pager  = file "pager.jsonl"

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 1s require error_rate < 1%
    step 100%
  }
  migrations {
    expand a {
      up   = sql "CREATE TABLE a (id INTEGER PRIMARY KEY)"
      down = sql "DROP TABLE a"
    }
  }
  comms {
    on failed            notify oncall "{service} {version} needs a person: {reason}"
    on rollback_decision notify pager  "decide on {service} {version}: {reason}"
  }
}
"#;

#[test]
fn a_failed_switch_back_keeps_the_migrations_exits_3_and_tells_on_failed() {
    let dir = scratch("switch-back-fails");
    let o = run(&dir, SWITCH_BACK_FAILS, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    // Traffic may still reach the new version, which uses the table: it stays.
    assert!(table_exists(&dir.join("app.db"), "a"), "{out}");
    let events = journal(&dir);
    assert!(
        !events.iter().any(|e| e["type"] == "migration_reverted"),
        "{events:#?}"
    );
    // Nothing ran after the failed step.
    let after: Vec<&serde_json::Value> = events
        .iter()
        .skip_while(|e| e["what"] != "traffic to stable")
        .skip(1)
        .filter(|e| e["type"] == "action")
        .collect();
    assert!(after.is_empty(), "{after:#?}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "rollback_finished" && e["complete"] == false),
        "{events:#?}"
    );
    let failed = delivered(&dir.join("oncall.jsonl"));
    assert_eq!(failed.len(), 1, "{out}");
    assert_eq!(failed[0]["event"], "on failed");
    let t = failed[0]["text"].as_str().unwrap();
    assert!(t.starts_with("app 1.0.0 needs a person: "), "{t}");
    assert!(t.contains("traffic to stable"), "{t}");
    let paged = delivered(&dir.join("pager.jsonl"));
    assert_eq!(paged.len(), 1, "{out}");
    assert!(
        paged[0]["text"]
            .as_str()
            .unwrap()
            .contains("traffic to stable")
    );
    // The provider's `rollback` action was told why.
    let reason = std::fs::read_to_string(dir.join("reason.txt")).unwrap();
    assert!(
        reason.contains("require `error_rate < 1%` failed"),
        "{reason}"
    );
}

/// The guard fails; the rollback completes, and the stable version is verified afterwards.
const ROLLS_BACK: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy   = "true"
    weight   = "true"
    rollback = "true"
  }
  database = sqlite "app.db"
  metrics  = command "echo 5"
}

metric error_rate: percent { command = "error_rate" }

channel log = file "log.jsonl"

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 1s require error_rate < 10%
    step 100% for 1s require error_rate < 1%
  }
  migrations {
    expand a {
      up   = sql "CREATE TABLE a (id INTEGER PRIMARY KEY)"
      down = sql "DROP TABLE a"
    }
  }
  comms {
    on rollback notify log "{error_rate}% errors at {weight}: {reason}"
  }
}
"#;

#[test]
fn a_rollback_reverts_migrations_after_traffic_and_health_and_verifies_the_stable_version() {
    let dir = scratch("rolls-back");
    let o = run(&dir, ROLLS_BACK, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(!table_exists(&dir.join("app.db"), "a"), "{out}");
    let events = journal(&dir);
    let order: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "action" || e["type"] == "migration_reverted")
        .skip_while(|e| e["what"] != "traffic to stable")
        .map(|e| {
            e["what"]
                .as_str()
                .unwrap_or(e["type"].as_str().unwrap())
                .to_string()
        })
        .collect();
    assert_eq!(
        order,
        [
            "traffic to stable",
            "stop new version",
            "verify health",
            "migration_reverted",
            "revert migration",
            "verify stable"
        ],
        "{events:#?}"
    );
    // The stable version reads 5% too: the guard it is verified against does not hold, and
    // the journal says so.
    let verify = events
        .iter()
        .find(|e| e["what"] == "verify stable")
        .unwrap();
    assert_eq!(verify["ok"], false);
    assert!(
        verify["detail"]
            .as_str()
            .unwrap()
            .contains("`error_rate < 1%` does not hold (error_rate 5)"),
        "{verify}"
    );
    let report = std::fs::read_to_string(
        std::fs::read_dir(dir.join(".deployc/runs"))
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path()
            .join("report.md"),
    )
    .unwrap();
    assert!(report.contains("verify stable"), "{report}");
    let msgs = delivered(&dir.join("log.jsonl"));
    assert_eq!(msgs.len(), 1, "{out}");
    assert_eq!(
        msgs[0]["text"],
        "5% errors at 100%: require `error_rate < 1%` failed"
    );
}

/// An approval gate, then a message that names the reading and who decided.
const DECIDED: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  metrics  = command "echo 0.25"
  approval = lead timeout 1m else abort
}

metric error_rate: percent { command = "error_rate" }

team {
  lead = "lead@example.com"
}

channel log = file "log.jsonl"

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 600ms require error_rate < 1%
    step 100%
  }
  comms {
    on done notify log "live with {error_rate}% errors, approved by {decided_by}"
  }
}
"#;

#[test]
fn a_message_shows_the_metric_reading_and_who_decided() {
    let dir = scratch("decided");
    let o = run(&dir, DECIDED, &["--approve", "lead"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let msgs = delivered(&dir.join("log.jsonl"));
    assert_eq!(msgs.len(), 1, "{out}");
    assert_eq!(
        msgs[0]["text"],
        "live with 0.25% errors, approved by lead@example.com (--approve lead)"
    );
}

/// A checklist `check` whose metric cannot be read.
const CHECK_NO_DATA: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy = "touch deployed"
    weight = "true"
  }
  metrics  = command "exit 1"
}

metric error_rate: percent { command = "error_rate" }

release "1.0.0" {
  checklist {
    check error_rate < 1%
  }
  strategy = canary {
    analysis every 200ms
    step 100%
  }
}
"#;

#[test]
fn a_checklist_check_without_data_fails_before_anything_changes() {
    let dir = scratch("check-no-data");
    let o = run(&dir, CHECK_NO_DATA, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("no data for `error_rate < 1%`"), "{out}");
    assert!(!dir.join("deployed").exists(), "{out}");
}

/// Two confirmations of one checklist: each gate's message says what it asks.
const GATES: &str = r#"
service app {
  smoke = run "echo {url} > smoke.txt"
}

environment ci {
  provider = command {
    deploy = "true"
    weight = "echo {url} > weight.txt"
  }
  url = "http://app.example:8080"
}

team {
  lead = "lead@example.com"
  qa   = "qa@example.com"
}

channel log = file "log.jsonl"

release "1.0.0" {
  checklist {
    confirm "release notes are published" by lead
    confirm "the load test passed" by qa
  }
  strategy = canary {
    analysis every 200ms
    step 100%
  }
  comms {
    on approval_needed notify log "to confirm at {step}: {reason}"
  }
}
"#;

#[test]
fn each_gate_sends_its_own_text_and_commands_get_the_url() {
    let dir = scratch("gates");
    let o = run(&dir, GATES, &["--yes"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let texts: Vec<String> = delivered(&dir.join("log.jsonl"))
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        texts,
        [
            "to confirm at pre.checklist: release notes are published",
            "to confirm at pre.checklist: the load test passed"
        ],
        "{out}"
    );
    for f in ["smoke.txt", "weight.txt"] {
        let url = std::fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(url.trim(), "http://app.example:8080", "{f}");
    }
}

/// The health endpoint answers 200 until the 50% step, then 503 (the `weight` command makes it
/// fail); the switch back makes it healthy again.
const HEALTH_FAILS: &str = r#"
service app {
  health = http "HEALTH_URL" expect 200 timeout 2s
}

environment ci {
  provider = command {
    deploy   = "true"
    weight   = "test {weight} != 50 || touch unhealthy"
    rollback = "rm -f unhealthy"
  }
}

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 10% for 600ms
    step 50% for 30s
    step 100%
  }
}
"#;

fn ms_between(a: &serde_json::Value, b: &serde_json::Value) -> i64 {
    let a: jiff::Timestamp = a["at"].as_str().unwrap().parse().unwrap();
    let b: jiff::Timestamp = b["at"].as_str().unwrap().parse().unwrap();
    b.duration_since(a).as_millis() as i64
}

#[test]
fn a_health_endpoint_failing_after_the_50_percent_step_rolls_back() {
    let dir = scratch("health-fails");
    let flag = dir.join("unhealthy");
    let server = loopback::Server::start(move |_| {
        if flag.exists() {
            (503, "down".into())
        } else {
            (200, "ok".into())
        }
    });
    let program = HEALTH_FAILS.replace("HEALTH_URL", &server.url("/health"));
    let o = run(&dir, &program, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let events = journal(&dir);
    let weight = events
        .iter()
        .find(|e| e["what"] == "weight" && e["step"] == "deploy.canary-2")
        .unwrap();
    let failed = events.iter().find(|e| e["type"] == "step_failed").unwrap();
    assert_eq!(failed["step"], "deploy.canary-2", "{events:#?}");
    assert!(
        failed["reason"].as_str().unwrap().contains("answered 503"),
        "{failed}"
    );
    // Found at once, not at the end of the 30 s hold.
    assert!(ms_between(weight, failed) < 10_000, "{weight} {failed}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "rollback_finished" && e["complete"] == true),
        "{events:#?}"
    );
}
