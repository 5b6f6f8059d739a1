//! Shared state in PostgreSQL and one deploy at a time: runners on separate state directories
//! (as CI runners on separate machines) share the run index, journals, history, operator
//! requests and the deploy lease through the machine's real PostgreSQL server. Each test keeps
//! its tables in a schema of its own (named after the test and this process).
//!
//! Without a PostgreSQL server the tests skip with the reason printed, unless
//! `DEPLOYC_REQUIRE_POSTGRES=1` (CI).
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
use std::time::{Duration, Instant};

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn base_url() -> String {
    std::env::var("DEPLOYC_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into())
}

fn required() -> bool {
    std::env::var("DEPLOYC_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Runs SQL on the test server; `None` (with the reason printed) when it is unreachable.
fn pg(sql: &str) -> Option<Vec<tokio_postgres::Row>> {
    let url = base_url();
    let r = block_on(async {
        let (client, conn) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_postgres::connect(&url, tokio_postgres::NoTls),
        )
        .await
        .map_err(|_| format!("no answer from {url}"))?
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
        tokio::spawn(conn);
        client.query(sql, &[]).await.map_err(|e| e.to_string())
    });
    match r {
        Ok(rows) => Some(rows),
        Err(e) if e.starts_with("no answer") || e.starts_with("cannot connect") => {
            assert!(!required(), "DEPLOYC_REQUIRE_POSTGRES=1 but {e}");
            eprintln!("skipped: {e} (set DEPLOYC_REQUIRE_POSTGRES=1 to make this an error)");
            None
        }
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// An empty schema for one test, and the state URL that keeps its tables there; `None` when
/// there is no server and the test is skipped.
fn fresh_store(name: &str) -> Option<(String, String)> {
    pg("SELECT 1")?;
    let schema = format!("shared_{name}_{}", std::process::id());
    pg(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
    pg(&format!("CREATE SCHEMA {schema}")).unwrap();
    let base = base_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    Some((schema, url))
}

fn scratch(name: &str) -> PathBuf {
    process::scratch_in("runtime-shared", name)
}

/// Two environments that keep their state in PostgreSQL; `eu` requires `staging`. The
/// provider's commands do nothing: these tests are about the state, not the deploy.
const PROGRAM: &str = r#"
service app {}

environment staging {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  state = postgres env DEPLOYC_STATE_URL
}

environment eu {
  requires = staging
  provider = command {
    deploy = "true"
    weight = "true"
  }
  state = postgres env DEPLOYC_STATE_URL
}

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for HOLD
    step 100%
  }
}
"#;

/// A project directory with the program (holding `hold` at the canary step). The findings
/// about missing notices and triggers are switched off the way a user would.
fn project(name: &str, hold: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("app.deploy"), PROGRAM.replace("HOLD", hold)).unwrap();
    std::fs::write(
        dir.join("deployc.toml"),
        "[rules]\nC501 = \"allow\"\nC502 = \"allow\"\nR301 = \"allow\"\nR305 = \"allow\"\nS403 = \"allow\"\n",
    )
    .unwrap();
    dir
}

/// `deployc run app.deploy --release 1.0.0 --env ENV --state-dir STATE_DIR ARGS` with the
/// store's URL in `DEPLOYC_STATE_URL`.
fn runner(
    dir: &Path,
    url: &str,
    env: &str,
    state_dir: &str,
    args: &[&str],
) -> std::process::Command {
    let mut c = deployc();
    c.current_dir(dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", env])
        .args(["--state-dir", state_dir])
        .args(args)
        .env("DEPLOYC_STATE_URL", url);
    c
}

/// Starts a runner whose journal lines come on its standard output.
fn spawn(dir: &Path, url: &str, env: &str, state_dir: &str, args: &[&str]) -> Child {
    runner(dir, url, env, state_dir, args)
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

/// The journal of `run` as the store holds it.
fn journal(schema: &str, run: &str) -> Vec<serde_json::Value> {
    pg(&format!(
        "SELECT line FROM {schema}.deployc_journal WHERE run = '{run}' ORDER BY seq"
    ))
    .unwrap()
    .iter()
    .map(|r| serde_json::from_str(r.get::<_, &str>(0)).unwrap())
    .collect()
}

fn count(schema: &str, table: &str) -> i64 {
    pg(&format!("SELECT count(*) FROM {schema}.{table}")).unwrap()[0].get(0)
}

#[test]
fn two_runners_on_two_state_directories_share_the_history() {
    let Some((schema, url)) = fresh_store("history") else {
        return;
    };
    let dir = project("history", "400ms");
    let staging = runner(&dir, &url, "staging", "runner-a", &[])
        .output()
        .unwrap();
    assert_eq!(staging.status.code(), Some(0), "{}", text(&staging));
    // The second runner has never seen the first's directory: `requires = staging` holds
    // because the history is in the store.
    let eu = runner(&dir, &url, "eu", "runner-b", &[]).output().unwrap();
    assert_eq!(eu.status.code(), Some(0), "{}", text(&eu));
    assert!(!dir.join("runner-a/history").exists());
    assert!(!dir.join("runner-b/history").exists());
    assert_eq!(count(&schema, "deployc_history"), 2);
    assert_eq!(count(&schema, "deployc_leases"), 0, "leases are given back");
    // Without the shared history the same run is refused by its precondition.
    let Some((_, other)) = fresh_store("history_other") else {
        return;
    };
    let alone = runner(&dir, &other, "eu", "runner-c", &[])
        .output()
        .unwrap();
    assert_eq!(alone.status.code(), Some(1), "{}", text(&alone));
    assert!(
        text(&alone).contains("no successful run of"),
        "{}",
        text(&alone)
    );
    // Any machine lists the history and the runs from the store.
    let history = deployc()
        .current_dir(&dir)
        .args(["history", "--state", &url])
        .output()
        .unwrap();
    assert_eq!(history.status.code(), Some(0), "{}", text(&history));
    let listed = String::from_utf8_lossy(&history.stdout);
    assert!(
        listed.contains("app 1.0.0 → staging  succeeded"),
        "{listed}"
    );
    assert!(listed.contains("app 1.0.0 → eu  succeeded"), "{listed}");
    let status = deployc()
        .current_dir(&dir)
        .args(["status", "--state", &url])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    assert_eq!(
        String::from_utf8_lossy(&status.stdout)
            .lines()
            .filter(|l| l.ends_with("succeeded"))
            .count(),
        2,
        "{}",
        text(&status)
    );
}

#[test]
fn a_second_concurrent_run_is_refused_and_operators_steer_the_first_through_the_store() {
    let Some((schema, url)) = fresh_store("concurrent") else {
        return;
    };
    let dir = project("concurrent", "60s");
    let mut first = spawn(&dir, &url, "staging", "runner-a", &[]);
    let run = read_until(&mut first, |e| {
        e["type"] == "action" && e["what"] == "weight"
    });
    let second = runner(&dir, &url, "staging", "runner-b", &[])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    let refusal = String::from_utf8_lossy(&second.stderr).to_string();
    assert!(
        refusal.contains("`app` in `staging` is being deployed by ")
            && refusal.contains(&format!("pid {}", first.id()))
            && refusal.contains(" since ")
            && refusal.contains(&run),
        "{refusal}"
    );
    assert!(!dir.join("runner-b/runs").exists(), "nothing written");
    assert_eq!(count(&schema, "deployc_runs"), 1);
    // A third machine pauses, resumes and aborts the run through the store.
    let operate = |command: &str, args: &[&str]| -> Output {
        deployc()
            .current_dir(&dir)
            .args([command, &run])
            .args(args)
            .args(["--state", &url, "--state-dir", "runner-c"])
            .output()
            .unwrap()
    };
    let paused = operate("pause", &[]);
    assert_eq!(paused.status.code(), Some(0), "{}", text(&paused));
    let status = deployc()
        .current_dir(&dir)
        .args(["status", &run, "--state", &url])
        .output()
        .unwrap();
    assert!(text(&status).contains("paused by "), "{}", text(&status));
    assert!(text(&status).contains("held by "), "{}", text(&status));
    let resumed = operate("resume", &[]);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
    let aborted = operate("abort", &["--reason", "wrong build"]);
    assert_eq!(aborted.status.code(), Some(0), "{}", text(&aborted));
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let events = journal(&schema, &run);
    let commands: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "operator_command")
        .map(|e| e["command"].as_str().unwrap())
        .collect();
    assert_eq!(commands, ["pause", "resume", "abort"], "{events:#?}");
    assert!(
        events.iter().any(|e| e["type"] == "rollback_started"
            && e["reason"].as_str().unwrap().ends_with(": wrong build")),
        "{events:#?}"
    );
    // The lease was given back when the run ended.
    assert_eq!(count(&schema, "deployc_leases"), 0);
}

#[test]
fn a_killed_runner_s_lease_is_taken_over_after_expiry_and_resumed_elsewhere() {
    let Some((schema, url)) = fresh_store("takeover") else {
        return;
    };
    let dir = project("takeover", "2s");
    let mut first = spawn(&dir, &url, "staging", "runner-a", &["--lease-ttl", "3s"]);
    let run = read_until(&mut first, |e| e["type"] == "step_finished");
    let pid = first.id();
    first.kill().unwrap(); // SIGKILL: the lease stays until it expires
    let killed_at = Instant::now();
    let _ = first.wait();
    let resume = |state_dir: &str| -> Output {
        deployc()
            .current_dir(&dir)
            .args([
                "run",
                "--resume",
                &run,
                "--state",
                &url,
                "--state-dir",
                state_dir,
            ])
            .output()
            .unwrap()
    };
    let early = resume("runner-b");
    assert!(
        killed_at.elapsed() < Duration::from_secs(3),
        "too slow to test"
    );
    assert_eq!(early.status.code(), Some(2), "{}", text(&early));
    assert!(
        String::from_utf8_lossy(&early.stderr).contains(&format!("pid {pid} since")),
        "{}",
        text(&early)
    );
    let before = journal(&schema, &run).len();
    std::thread::sleep(
        Duration::from_secs(3).saturating_sub(killed_at.elapsed()) + Duration::from_millis(300),
    );
    let late = resume("runner-b");
    assert_eq!(late.status.code(), Some(0), "{}", text(&late));
    let events = journal(&schema, &run);
    assert!(events.len() > before);
    let taken = events
        .iter()
        .find(|e| e["type"] == "lease_taken_over")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert!(
        taken["previous"]
            .as_str()
            .unwrap()
            .ends_with(&format!("pid {pid}")),
        "{taken}"
    );
    assert_eq!(taken["previous_run"], run.as_str());
    assert!(
        taken["expired_at"].as_str().unwrap().ends_with('Z'),
        "{taken}"
    );
    let mut finished: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "step_finished")
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    let n = finished.len();
    finished.sort_unstable();
    finished.dedup();
    assert_eq!(n, finished.len(), "a step finished twice: {events:#?}");
    assert_eq!(
        events.last().unwrap()["type"],
        "run_finished",
        "{events:#?}"
    );
    // The resumed run's report is on the machine that finished it, and says so.
    let report =
        std::fs::read_to_string(dir.join("runner-b/runs").join(&run).join("report.md")).unwrap();
    assert!(
        report.contains("the deploy lease was taken over at "),
        "{report}"
    );
    assert!(
        report.contains(&format!("pid {pid} (run {run})")),
        "{report}"
    );
}

#[test]
fn an_unreachable_state_store_is_one_line_and_changes_nothing() {
    let dir = project("unreachable", "400ms");
    // Nothing listens on port 1: the connection is refused at once.
    let url = "postgres://deployc:s3cret-pw@127.0.0.1:1/test";
    let run = runner(&dir, url, "staging", "runner-a", &[])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    let err = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(
        err.contains("cannot reach the state store `postgres://deployc@127.0.0.1:1/test`"),
        "{err}"
    );
    assert!(!err.contains("s3cret-pw"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    insta::assert_snapshot!("unreachable_state_store", err);
    assert!(!dir.join("runner-a").exists(), "nothing written");
    for args in [
        vec!["status", "--state", url],
        vec!["history", "--state", url],
        vec!["abort", "latest", "--state", url],
    ] {
        let out = deployc().current_dir(&dir).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!err.contains("s3cret-pw"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    assert!(!dir.join(".deployc").exists(), "nothing written");
}

#[test]
fn lint_m214_compares_with_the_shared_history() {
    let Some((schema, url)) = fresh_store("m214") else {
        return;
    };
    let dir = scratch("m214");
    std::fs::write(
        dir.join("app.deploy"),
        r#"
service app {}

environment staging {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  database = sqlite "app.db"
  state = postgres env DEPLOYC_STATE_URL
}

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 1s
    step 100%
  }
  migrations {
    expand a {
      up   = sql "CREATE TABLE a (id INTEGER PRIMARY KEY, note TEXT)"
      down = sql "DROP TABLE a"
    }
  }
}
"#,
    )
    .unwrap();
    // The store's tables, made by its first use; then a run on another machine that
    // applied `a` as it was before someone edited it.
    let first = deployc()
        .current_dir(&dir)
        .args(["history", "--state", &url])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let line = serde_json::json!({
        "format": 1, "run": "r-elsewhere", "service": "app", "release": "1.0.0",
        "environment": "staging", "outcome": "succeeded",
        "started_at": "2026-12-01T10:00:00Z", "finished_at": "2026-12-01T10:05:00Z",
        "migrations": [{"name": "a", "phase": "expand", "checksum": deployc::history::checksum("CREATE TABLE a (id INTEGER PRIMARY KEY)")}]
    });
    pg(&format!(
        "INSERT INTO {schema}.deployc_history (line) VALUES ('{line}')"
    ))
    .unwrap();
    let check = |args: &[&str]| -> String {
        let out = deployc()
            .current_dir(&dir)
            .args(["check", "app.deploy", "--exit-zero"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        text(&out)
    };
    assert!(
        !check(&[]).contains("M214"),
        "no local history, nothing to compare"
    );
    let shared = check(&["--state", &url]);
    assert!(shared.contains("M214"), "{shared}");
    // `deployc plan` reads it through the environment's `state =`.
    let plan = deployc()
        .current_dir(&dir)
        .args([
            "plan",
            "app.deploy",
            "--release",
            "1.0.0",
            "--env",
            "staging",
        ])
        .env("DEPLOYC_STATE_URL", &url)
        .output()
        .unwrap();
    assert!(text(&plan).contains("M214"), "{}", text(&plan));
}

#[test]
fn a_run_whose_lease_is_taken_over_stops_where_it_is() {
    let Some((schema, url)) = fresh_store("lost") else {
        return;
    };
    let dir = project("lost", "30s");
    let mut child = spawn(&dir, &url, "staging", "runner-a", &["--lease-ttl", "3s"]);
    let run = read_until(&mut child, |e| {
        e["type"] == "action" && e["what"] == "weight"
    });
    // Another run took the lease (as after this runner could not renew it for a whole TTL).
    pg(&format!(
        "UPDATE {schema}.deployc_leases SET holder = 'ops@elsewhere pid 1', run = 'other'"
    ))
    .unwrap();
    let taken = Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2));
    // The heartbeat renews every second; the run stops at its next evaluation.
    assert!(
        taken.elapsed() < Duration::from_secs(5),
        "{:?}",
        taken.elapsed()
    );
    let events = journal(&schema, &run);
    let stopped = events
        .iter()
        .find(|e| e["type"] == "interrupted")
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(stopped["signal"], "lease lost");
    assert_eq!(stopped["action"], "pause");
    assert!(
        !events.iter().any(|e| e["type"] == "rollback_started"),
        "nothing undone under the new holder: {events:#?}"
    );
    // The other run's lease is left alone.
    let holder: String =
        pg(&format!("SELECT holder FROM {schema}.deployc_leases")).unwrap()[0].get(0);
    assert_eq!(holder, "ops@elsewhere pid 1");
}
