//! `deployc rollback` and `deployc plan --rollback`: taking back a finished release, end to
//! end. Real processes: the demo application started and replaced by the `command` provider's
//! script (checked over HTTP), SQLite, and the machine's PostgreSQL server (skipped with the
//! reason printed unless `DEPLOYC_REQUIRE_POSTGRES=1`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/process.rs"]
mod process;
use process::{deployc, required, text};

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    process::scratch_in("runtime-rollback", name)
}

/// `deployc ARGS` in `dir`, with `env`.
fn run_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = deployc();
    c.current_dir(dir).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn deploy(dir: &Path, env: &[(&str, &str)], release: &str) {
    let out = run_in(
        dir,
        env,
        &["run", "app.deploy", "--release", release, "--env", "local"],
    );
    assert_eq!(out.status.code(), Some(0), "{release}: {}", text(&out));
}

/// These programs test the way back, not a safe rollout: the findings about missing notices,
/// triggers and roles are switched off the way a user would.
fn allow_rules(dir: &Path) {
    process::allow_rules(
        dir,
        &[
            "C501", "C502", "C505", "R301", "R305", "S403", "S405", "T801", "M201", "M202", "M203",
            "M204", "M205",
        ],
    );
}

/// The newest run's journal.
fn last_journal(dir: &Path) -> Vec<serde_json::Value> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir.join(".deployc/runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    runs.sort();
    std::fs::read_to_string(runs.last().unwrap().join("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn history_lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(".deployc/history"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /` on the demo application: the line naming the version that answers.
fn serving(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Read until the body's line is whole: the connection may stay open after it.
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(line) = text
            .split_inclusive('\n')
            .find(|l| l.starts_with("hello from") && l.ends_with('\n'))
        {
            return line.trim_end().to_string();
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the connection closed before the body: {text}");
        got.extend_from_slice(&buf[..n]);
    }
}

/// The `command` provider's deploy: replaces the demo application on `port` by version `$1`
/// and waits until it answers. The application outlives the command (its output goes to a
/// file, so the command's own output ends with it).
fn serve_script(dir: &Path, port: u16) {
    let bin = env!("CARGO_BIN_EXE_deployc");
    std::fs::write(
        dir.join("serve.sh"),
        format!(
            r#"set -e
if [ -f app.pid ]; then
  old=$(cat app.pid)
  kill "$old" 2>/dev/null || true
  while kill -0 "$old" 2>/dev/null; do sleep 0.05; done
fi
"{bin}" demo-app --port {port} --version "$1" </dev/null >>app.log 2>&1 &
echo $! > app.pid
i=0
until "{bin}" demo-app --get http://127.0.0.1:{port}/health >/dev/null 2>&1; do
  i=$((i+1)); [ $i -gt 200 ] && exit 1; sleep 0.05
done
echo "$1" >> deployed.txt
echo "serving $1"
"#
        ),
    )
    .unwrap();
}

/// Stops the demo application the script started, whatever the test's outcome.
struct App(PathBuf);

impl Drop for App {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.0.join("app.pid")) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// Releases with a short canary each; 1.1.0 has the comms; 1.2.0 a reversible migration.
const PROGRAM: &str = r#"service app {
  health = http "http://127.0.0.1:PORT/health" expect 200 timeout 2s
}

environment local {
  provider = command {
    deploy = "sh serve.sh {version}"
    weight = "true"
  }
  database = sqlite "app.db"
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

channel log = file "events.log"

release "1.0.0" {
  strategy = canary {
    analysis every 300ms
    step 50% for 300ms
    step 100%
  }
}

release "1.1.0" {
  strategy = canary {
    analysis every 300ms
    step 50% for 300ms
    step 100%
  }
  comms {
    on start notify log "start: {service} {version} (from {previous_version})"
    on done notify log "done: {service} {version}"
    on failed notify log "failed: {reason}"
  }
}

release "1.2.0" {
  strategy = canary {
    analysis every 300ms
    step 50% for 300ms
    step 100%
  }
  migrations {
    expand add_audit {
      up   = sql "CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT)"
      down = sql "DROP TABLE audit"
    }
  }
}
"#;

fn tables(dir: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(dir.join("app.db")).unwrap();
    let mut s = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'deployc%' ORDER BY name")
        .unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Paths and ports differ per machine and run: the snapshots show them as placeholders.
fn redact(s: &str, dir: &Path, port: Option<u16>) -> String {
    let s = s.replace(&dir.display().to_string(), "[DIR]");
    match port {
        Some(p) => s.replace(&format!(":{p}"), ":[PORT]"),
        None => s,
    }
}

#[test]
fn rollback_reverts_the_migration_and_serves_the_earlier_release_again() {
    let dir = scratch("sqlite");
    let port = free_port();
    std::fs::write(
        dir.join("app.deploy"),
        PROGRAM.replace("PORT", &port.to_string()),
    )
    .unwrap();
    allow_rules(&dir);
    serve_script(&dir, port);
    let _app = App(dir.clone());
    // 1.0.0 serves before deployc is used here.
    let first = std::process::Command::new("sh")
        .current_dir(&dir)
        .args(["serve.sh", "1.0.0"])
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", text(&first));

    deploy(&dir, &[], "1.1.0");
    deploy(&dir, &[], "1.2.0");
    assert_eq!(tables(&dir), ["audit"]);
    assert_eq!(serving(port), "hello from demo-app 1.2.0");

    // The plan first: human and JSON.
    let plan = run_in(
        &dir,
        &[],
        &["plan", "app.deploy", "--rollback", "--env", "local"],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    insta::assert_snapshot!(
        "plan_rollback_text",
        redact(&String::from_utf8_lossy(&plan.stdout), &dir, Some(port))
    );
    let json = run_in(
        &dir,
        &[],
        &[
            "plan",
            "app.deploy",
            "--rollback",
            "--env",
            "local",
            "--format",
            "json",
        ],
    );
    assert_eq!(json.status.code(), Some(0), "{}", text(&json));
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["release"], "1.1.0");
    assert_eq!(json["rollback"]["from"], "1.2.0");
    let ids: Vec<&str> = json["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["steps"].as_array().unwrap())
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "deploy.rollback",
            "verify.health",
            "monitor",
            "migrate.revert.add_audit",
            "post.report"
        ]
    );

    let back = run_in(&dir, &[], &["rollback", "app.deploy", "--env", "local"]);
    let out = text(&back);
    assert_eq!(back.status.code(), Some(0), "{out}");
    // The migration is reverted in the database, the earlier release answers.
    assert_eq!(tables(&dir), Vec::<String>::new());
    assert_eq!(serving(port), "hello from demo-app 1.1.0");
    let deployed = std::fs::read_to_string(dir.join("deployed.txt")).unwrap();
    assert_eq!(
        deployed.lines().collect::<Vec<_>>(),
        ["1.0.0", "1.1.0", "1.2.0", "1.1.0"]
    );

    // A run like any other: journal, report, comms.
    let events = last_journal(&dir);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "migration_reverted" && e["name"] == "add_audit"),
        "{events:?}"
    );
    assert_eq!(events.last().unwrap()["outcome"], "succeeded");
    let log = std::fs::read_to_string(dir.join("events.log")).unwrap();
    assert!(log.contains("start: app 1.1.0 (from 1.2.0)"), "{log}");
    assert!(log.contains("done: app 1.1.0"), "{log}");
    let report = out
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap_or_else(|| panic!("no report in {out}"));
    let report = std::fs::read_to_string(dir.join(report)).unwrap();
    assert!(
        report.starts_with("# Rollback report: app 1.2.0 back to 1.1.0 in local"),
        "{report}"
    );

    // The history: a rollback, and 1.1.0 is the last success.
    let h = history_lines(&dir);
    let last = h.last().unwrap();
    assert_eq!(last["release"], "1.1.0");
    assert_eq!(last["outcome"], "succeeded");
    assert_eq!(last["rollback"]["from"], "1.2.0");
    assert_eq!(last["rollback"]["reverted"][0]["name"], "add_audit");
    let shown = run_in(&dir, &[], &["history"]);
    let shown = text(&shown);
    let line = shown.lines().last().unwrap();
    assert!(
        line.contains("app rollback 1.2.0 → 1.1.0 in local  succeeded  (1 migration reverted)"),
        "{shown}"
    );

    // Nothing before 1.1.0 was deployed here: nothing more to take back, nothing changed.
    let again = run_in(&dir, &[], &["rollback", "app.deploy", "--env", "local"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    insta::assert_snapshot!(
        "error_nothing_before",
        redact(&text(&again), &dir, Some(port))
    );
    assert_eq!(history_lines(&dir).len(), h.len());
}

#[test]
fn bad_input_is_one_line_exit_2_and_changes_nothing() {
    let dir = scratch("bad-input");
    let port = free_port();
    std::fs::write(
        dir.join("app.deploy"),
        PROGRAM.replace("PORT", &port.to_string()),
    )
    .unwrap();
    allow_rules(&dir);
    let cases: [(&str, &[&str]); 2] = [
        ("error_no_success", &["--env", "local"]),
        ("error_unknown_environment", &["--env", "prod"]),
    ];
    for (name, args) in cases {
        for command in [
            &["rollback", "app.deploy"][..],
            &["plan", "app.deploy", "--rollback"],
        ] {
            let out = run_in(&dir, &[], &[command, args].concat());
            assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
            assert_eq!(text(&out).lines().count(), 1, "{name}: {}", text(&out));
            insta::assert_snapshot!(
                format!("{name}_{}", command[0]),
                redact(&text(&out), &dir, Some(port))
            );
        }
    }
    assert!(!dir.join(".deployc").exists());

    // A history (written as runs write it) with 1.0.0 then 1.1.0 successful.
    std::fs::create_dir_all(dir.join(".deployc")).unwrap();
    let line = |release: &str, outcome: &str| {
        format!(
            "{{\"format\":1,\"run\":\"r-{release}\",\"service\":\"app\",\"release\":\"{release}\",\"environment\":\"local\",\"outcome\":\"{outcome}\",\"started_at\":\"2026-12-01T10:00:00Z\",\"finished_at\":\"2026-12-01T10:05:00Z\",\"migrations\":[]}}\n"
        )
    };
    let history = format!(
        "{}{}{}",
        line("1.0.0", "succeeded"),
        line("1.1.0", "succeeded"),
        line("1.2.0", "rolled_back")
    );
    std::fs::write(dir.join(".deployc/history"), &history).unwrap();
    let cases: [(&str, &[&str]); 2] = [
        (
            "error_to_never_deployed",
            &["--env", "local", "--to", "1.2.0"],
        ),
        ("error_to_not_earlier", &["--env", "local", "--to", "1.1.0"]),
    ];
    for (name, args) in cases {
        let out = run_in(&dir, &[], &[&["rollback", "app.deploy"][..], args].concat());
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        assert_eq!(text(&out).lines().count(), 1, "{name}: {}", text(&out));
        insta::assert_snapshot!(name, redact(&text(&out), &dir, Some(port)));
    }

    // A file that does not check: its diagnostics, exit 2.
    std::fs::write(dir.join("broken.deploy"), "service app {\n  health = 3\n").unwrap();
    let out = run_in(&dir, &[], &["rollback", "broken.deploy", "--env", "local"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no plan: `broken.deploy`"),
        "{}",
        text(&out)
    );

    assert_eq!(
        std::fs::read_to_string(dir.join(".deployc/history")).unwrap(),
        history
    );
    assert!(!dir.join(".deployc/runs").exists());
}

/// 1.1.0's data migration cannot be undone: the way back to 1.0.0 stops at the gate.
const IRREVERSIBLE: &str = r#"service app {}

environment local {
  provider = command {
    deploy = "echo {version} >> deployed.txt"
    weight = "true"
  }
  database = sqlite "app.db"
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

channel log = file "events.log"

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 200ms
    step 100%
  }
  migrations {
    expand create_items {
      up   = sql "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"
      down = sql "DROP TABLE items"
    }
  }
  comms {
    on failed notify log "failed: {reason}"
    on rollback_decision notify log "decide: {reason}"
  }
}

release "1.1.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 200ms
    step 100%
  }
  migrations {
    data shout_names {
      up   = sql "UPDATE items SET name = upper(name)"
      irreversible "the original case is lost"
    }
  }
}
"#;

#[test]
fn a_way_back_past_an_irreversible_migration_stops_at_the_gate() {
    let dir = scratch("irreversible");
    std::fs::write(dir.join("app.deploy"), IRREVERSIBLE).unwrap();
    allow_rules(&dir);
    deploy(&dir, &[], "1.0.0");
    deploy(&dir, &[], "1.1.0");

    let plan = run_in(
        &dir,
        &[],
        &["plan", "app.deploy", "--rollback", "--env", "local"],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    insta::assert_snapshot!(
        "plan_rollback_irreversible",
        redact(&String::from_utf8_lossy(&plan.stdout), &dir, None)
    );

    let back = run_in(
        &dir,
        &[],
        &["rollback", "app.deploy", "--env", "local", "--yes"],
    );
    let out = text(&back);
    assert_eq!(back.status.code(), Some(3), "{out}");
    // Stopped before anything changed: 1.0.0 was not deployed again, the table stands.
    let deployed = std::fs::read_to_string(dir.join("deployed.txt")).unwrap();
    assert_eq!(deployed.lines().collect::<Vec<_>>(), ["1.0.0", "1.1.0"]);
    assert_eq!(tables(&dir), ["items"]);
    let events = last_journal(&dir);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "action" && e["what"] == "manual gate" && e["ok"] == false),
        "{events:?}"
    );
    assert_eq!(events.last().unwrap()["outcome"], "rollback_incomplete");
    let log = std::fs::read_to_string(dir.join("events.log")).unwrap();
    assert!(log.contains("decide: migration `shout_names` of 1.1.0 cannot be undone automatically (the original case is lost)"), "{log}");
    assert!(log.contains("failed: the rollback did not finish"), "{log}");
    // The history keeps 1.1.0 as the last success.
    let h = history_lines(&dir);
    assert_eq!(h.last().unwrap()["outcome"], "rollback_incomplete");
    let plan = run_in(
        &dir,
        &[],
        &["plan", "app.deploy", "--rollback", "--env", "local"],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
}

/// 1.0.0 watched for 2 s on the way back: time to kill the run in the middle.
const RESUMABLE: &str = r#"service app {}

environment local {
  provider = command {
    deploy = "echo {version} >> deployed.txt"
    weight = "true"
  }
  database = sqlite "app.db"
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

release "1.0.0" {
  strategy = canary {
    analysis every 2s
    step 50% for 2s
    step 100%
  }
}

release "1.1.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 200ms
    step 100%
  }
  migrations {
    expand create_tags {
      up   = sql "CREATE TABLE tags (id INTEGER PRIMARY KEY)"
      down = sql "DROP TABLE tags"
    }
  }
}
"#;

#[test]
fn a_rollback_killed_mid_way_is_finished_by_resume() {
    use std::io::BufRead;
    let dir = scratch("resume");
    std::fs::write(dir.join("app.deploy"), RESUMABLE).unwrap();
    allow_rules(&dir);
    deploy(&dir, &[], "1.0.0");
    deploy(&dir, &[], "1.1.0");
    assert_eq!(tables(&dir), ["tags"]);
    let forward_run = history_lines(&dir).last().unwrap()["run"]
        .as_str()
        .unwrap()
        .to_string();

    let mut child = deployc()
        .current_dir(&dir)
        .args([
            "rollback",
            "app.deploy",
            "--env",
            "local",
            "--log-format",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut run = String::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let e: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if e["type"] == "run_started" {
            run = e["run"].as_str().unwrap().to_string();
        }
        if e["type"] == "step_started" && e["step"] == "monitor" {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(run.contains("-rollback-1.0.0-local"), "{run}");
    assert_eq!(tables(&dir), ["tags"], "killed before the revert");

    // A run that is not a rollback is not continued as one.
    let other = run_in(&dir, &[], &["rollback", "--resume", &forward_run]);
    assert_eq!(other.status.code(), Some(2), "{}", text(&other));
    assert_eq!(text(&other).lines().count(), 1, "{}", text(&other));

    let resumed = run_in(&dir, &[], &["rollback", "--resume", &run]);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
    assert_eq!(tables(&dir), Vec::<String>::new());
    let events = last_journal(&dir);
    assert!(events.iter().any(|e| e["type"] == "resumed"), "{events:?}");
    for step in ["deploy.rollback", "monitor", "migrate.revert.create_tags"] {
        let finished = events
            .iter()
            .filter(|e| e["type"] == "step_finished" && e["step"] == step)
            .count();
        assert_eq!(finished, 1, "{step}: {events:?}");
    }
    let h = history_lines(&dir);
    assert_eq!(h.last().unwrap()["release"], "1.0.0");
    assert_eq!(
        h.last().unwrap()["rollback"]["reverted"][0]["name"],
        "create_tags"
    );
}

#[test]
fn an_earlier_release_that_fails_to_start_leaves_the_newer_one_serving() {
    let dir = scratch("refused");
    let program = RESUMABLE
        .replace(
            "analysis every 2s\n    step 50% for 2s",
            "analysis every 200ms\n    step 50% for 200ms",
        )
        .replace(
            r#"deploy = "echo {version} >> deployed.txt""#,
            r#"deploy = "test ! -f broken-{version} && echo {version} >> deployed.txt""#,
        )
        .replace(
            "release \"1.0.0\" {\n",
            "channel log = file \"events.log\"\n\nrelease \"1.0.0\" {\n  comms {\n    on rollback notify log \"rolling back: {reason}\"\n  }\n",
        );
    std::fs::write(dir.join("app.deploy"), program).unwrap();
    allow_rules(&dir);
    deploy(&dir, &[], "1.0.0");
    deploy(&dir, &[], "1.1.0");
    std::fs::write(dir.join("broken-1.0.0"), "").unwrap();

    let back = run_in(&dir, &[], &["rollback", "app.deploy", "--env", "local"]);
    let out = text(&back);
    assert_eq!(back.status.code(), Some(1), "{out}");
    // 1.1.0 still serves with its migration; the history keeps it as the last success.
    assert_eq!(tables(&dir), ["tags"]);
    let deployed = std::fs::read_to_string(dir.join("deployed.txt")).unwrap();
    assert_eq!(deployed.lines().collect::<Vec<_>>(), ["1.0.0", "1.1.0"]);
    let log = std::fs::read_to_string(dir.join("events.log")).unwrap();
    assert!(log.contains("rolling back: deploy: "), "{log}");
    let last = history_lines(&dir).pop().unwrap();
    assert_eq!(last["outcome"], "rolled_back");
    assert_eq!(last["rollback"]["from"], "1.1.0");
    // The way back is still there to be taken once the cause is fixed.
    std::fs::remove_file(dir.join("broken-1.0.0")).unwrap();
    let again = run_in(&dir, &[], &["rollback", "app.deploy", "--env", "local"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(tables(&dir), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: `--to` two releases back.

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Runs SQL on the test server; `None` (with the reason printed) when it is unreachable.
fn pg_rows(sql: &str) -> Option<Vec<tokio_postgres::Row>> {
    let url = std::env::var("DEPLOYC_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(async {
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
            assert!(
                !required("DEPLOYC_REQUIRE_POSTGRES"),
                "DEPLOYC_REQUIRE_POSTGRES=1 but {e}"
            );
            eprintln!("skipped: {e} (set DEPLOYC_REQUIRE_POSTGRES=1 to make this an error)");
            None
        }
        Err(e) => panic!("{sql}: {e}"),
    }
}

const PG_PROGRAM: &str = r#"service app {}

environment local {
  provider = command {
    deploy = "echo {version} >> deployed.txt"
    weight = "true"
  }
  database = postgres env DATABASE_URL
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

release "1.0.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 200ms
    step 100%
  }
  migrations {
    expand create_items {
      up   = sql "CREATE TABLE items (id integer PRIMARY KEY)"
      down = sql "DROP TABLE items"
    }
  }
}

release "1.1.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 200ms
    step 100%
  }
  migrations {
    expand create_tags {
      up   = sql "CREATE TABLE tags (id integer PRIMARY KEY)"
      down = sql "DROP TABLE tags"
    }
  }
}

release "1.2.0" {
  strategy = canary {
    analysis every 200ms
    step 50% for 200ms
    step 100%
  }
  migrations {
    expand add_item_name {
      up   = sql "ALTER TABLE items ADD COLUMN name text"
      down = sql "ALTER TABLE items DROP COLUMN name"
    }
    expand create_labels {
      up   = sql "CREATE TABLE labels (id integer PRIMARY KEY)"
      down = sql "DROP TABLE labels"
    }
  }
}
"#;

#[test]
fn rollback_to_two_releases_back_on_postgres() {
    if pg_rows("SELECT 1").is_none() {
        return;
    }
    let schema = format!("deployc_rollback_{}", std::process::id());
    pg_rows(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
    pg_rows(&format!("CREATE SCHEMA {schema}")).unwrap();
    let base = std::env::var("DEPLOYC_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into());
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    let env = [("DATABASE_URL", url.as_str())];

    let dir = scratch("postgres-to");
    std::fs::write(dir.join("app.deploy"), PG_PROGRAM).unwrap();
    allow_rules(&dir);
    for r in ["1.0.0", "1.1.0", "1.2.0"] {
        deploy(&dir, &env, r);
    }
    let relations = || -> Vec<String> {
        pg_rows(&format!(
            "SELECT table_name || coalesce('.' || (SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns c WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name), '') FROM information_schema.tables t WHERE table_schema = '{schema}' AND table_name NOT LIKE 'deployc%' ORDER BY 1"
        ))
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    assert_eq!(relations(), ["items.id,name", "labels.id", "tags.id"]);

    let plan = run_in(
        &dir,
        &env,
        &[
            "plan",
            "app.deploy",
            "--rollback",
            "--env",
            "local",
            "--to",
            "1.0.0",
        ],
    );
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    insta::assert_snapshot!(
        "plan_rollback_to_two_back",
        redact(&String::from_utf8_lossy(&plan.stdout), &dir, None)
    );

    let back = run_in(
        &dir,
        &env,
        &["rollback", "app.deploy", "--env", "local", "--to", "1.0.0"],
    );
    assert_eq!(back.status.code(), Some(0), "{}", text(&back));
    assert_eq!(relations(), ["items.id"]);
    let reverted: Vec<String> = last_journal(&dir)
        .iter()
        .filter(|e| e["type"] == "migration_reverted")
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reverted, ["create_labels", "add_item_name", "create_tags"]);
    let deployed = std::fs::read_to_string(dir.join("deployed.txt")).unwrap();
    assert_eq!(deployed.lines().last(), Some("1.0.0"));
    let h = history_lines(&dir);
    assert_eq!(h.last().unwrap()["release"], "1.0.0");
    assert_eq!(h.last().unwrap()["rollback"]["from"], "1.2.0");
    pg_rows(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
}
