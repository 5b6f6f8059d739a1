//! Migrations end to end, through the `deployc` binary against the machine's PostgreSQL server
//! and embedded SQLite: `verify` clauses that pass and fail (and roll back), a 200,000-row
//! backfill in batches killed with SIGKILL and resumed, statement timeouts per migration, and
//! the snapshot a restore takes before it overwrites the database.
//!
//! Without a PostgreSQL server the PostgreSQL tests skip with the reason printed, unless
//! `DEPLOYC_REQUIRE_POSTGRES=1`. Each works in a schema of its own.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/process.rs"]
mod process;
use process::{deployc, journal_of, required, text};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    process::scratch_in("runtime-migrations", name)
}

fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = deployc();
    c.current_dir(dir).args(["run", "app.deploy"]).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The run directories, oldest first.
fn run_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir.join(".deployc/runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    runs.sort_by_key(|p| {
        std::fs::metadata(p.join("journal.jsonl"))
            .unwrap()
            .modified()
            .unwrap()
    });
    runs
}

fn action<'a>(events: &'a [serde_json::Value], what: &str) -> Option<&'a serde_json::Value> {
    events
        .iter()
        .find(|e| e["type"] == "action" && e["what"] == what)
}

/// These programs test migrations, not a safe rollout: the findings about missing notices,
/// triggers and roles are switched off the way a user would.
fn allow_rules(dir: &Path) {
    process::allow_rules(
        dir,
        &[
            "C501", "C502", "C505", "R301", "R305", "S403", "T801", "M202", "M209",
        ],
    );
}

fn sqlite(path: &Path, sql: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let columns = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            (0..columns)
                .map(|i| {
                    r.get_ref(i).map(|v| match v {
                        rusqlite::types::ValueRef::Null => "NULL".to_string(),
                        rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                        rusqlite::types::ValueRef::Real(x) => x.to_string(),
                        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                            String::from_utf8_lossy(t).into_owned()
                        }
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// The report's deviations, with what changes from run to run (the run id, file sizes)
/// replaced by placeholders.
fn deviations(report: &str, run: &Path) -> String {
    let id = run.file_name().unwrap().to_string_lossy().into_owned();
    let section = report
        .split("## Deviations")
        .nth(1)
        .unwrap_or("")
        .split("\n## ")
        .next()
        .unwrap_or("")
        .trim()
        .replace(&id, "RUN");
    let mut out = String::new();
    let mut rest = section.as_str();
    while let Some(at) = rest.find(" bytes") {
        let head = &rest[..at];
        let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        out.push_str(&head[..head.len() - digits]);
        out.push_str("N bytes");
        rest = &rest[at + " bytes".len()..];
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Runs SQL on the test server (the simple protocol: every value as text); `None` (with the
/// reason printed) when the server is unreachable.
fn pg(sql: &str) -> Option<Vec<Vec<String>>> {
    let url = std::env::var("DEPLOYC_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into());
    let r = block_on(async {
        let (client, conn) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_postgres::connect(&url, tokio_postgres::NoTls),
        )
        .await
        .map_err(|_| format!("no answer from {url}"))?
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
        tokio::spawn(conn);
        let messages = client.simple_query(sql).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(
            messages
                .iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                        (0..r.len())
                            .map(|i| r.get(i).unwrap_or("NULL").to_string())
                            .collect(),
                    ),
                    _ => None,
                })
                .collect(),
        )
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

/// An empty schema named after `name` and this process, or `None` when there is no server.
fn fresh_schema(name: &str) -> Option<String> {
    pg("SELECT 1")?;
    let schema = format!("{name}_{}", std::process::id());
    pg(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .unwrap();
    Some(schema)
}

fn pg_url(schema: &str) -> String {
    let base = std::env::var("DEPLOYC_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into());
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

fn one(rows: &[Vec<String>]) -> String {
    rows[0][0].clone()
}

/// `DATABASE` is replaced by the environment's database, `RELEASES` by the releases.
const PROGRAM: &str = r#"
service app {}

environment ci {
  provider = command {
    deploy = "true"
    weight = "true"
  }
  DATABASE
  statement_timeout = 1m
  lock_timeout      = 3s
}

team {
  lead = "lead@example.com"
  rollback_decision = lead
}

RELEASES
"#;

fn program(database: &str, releases: &str) -> String {
    PROGRAM
        .replace("DATABASE", database)
        .replace("RELEASES", releases)
}

const STRATEGY: &str =
    "strategy = canary {\n    analysis every 200ms\n    step 50% for 200ms\n    step 100%\n  }";

fn release(version: &str, migrations: &str) -> String {
    format!("release \"{version}\" {{\n  {STRATEGY}\n  migrations {{\n{migrations}\n  }}\n}}\n")
}

// ---------------------------------------------------------------------------------------------
// Batches

const BATCHED: &str = r#"
    data touch_all {
      up    = sql "UPDATE big SET hits = hits + 1"
      down  = noop "the counts are only read by this test"
      batch 10_000
      verify = sql "SELECT count(*) FROM big WHERE hits <> 1" == 0
    }
"#;

#[test]
fn a_200000_row_backfill_killed_mid_way_resumes_without_doing_a_row_twice() {
    let Some(schema) = &fresh_schema("deployc_batch_kill") else {
        return;
    };
    pg(&format!(
        "CREATE TABLE {schema}.big (id bigint PRIMARY KEY, hits integer NOT NULL DEFAULT 0);
         INSERT INTO {schema}.big (id) SELECT g FROM generate_series(1, 200000) g"
    ))
    .unwrap();
    let dir = scratch("batch-kill");
    std::fs::write(
        dir.join("app.deploy"),
        program(
            "database = postgres env DATABASE_URL\n  backup = none",
            &release("1.0.0", BATCHED),
        ),
    )
    .unwrap();
    allow_rules(&dir);
    let url = pg_url(schema);

    let mut child = deployc()
        .current_dir(&dir)
        .args(["run", "app.deploy", "--release", "1.0.0", "--env", "ci"])
        .args(["--log-format", "json"])
        .env("DATABASE_URL", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut run_id = String::new();
    let mut seen = 0;
    for line in lines.by_ref() {
        let Ok(e) = serde_json::from_str::<serde_json::Value>(&line.unwrap()) else {
            continue;
        };
        if e["type"] == "run_started" {
            run_id = e["run"].as_str().unwrap().to_string();
        }
        if e["type"] == "migration_batch" {
            seen = e["batch"].as_u64().unwrap();
            if seen >= 5 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    let _ = child.wait();
    std::thread::spawn(move || for _ in lines {});
    assert!(seen >= 5, "the run ended before its fifth batch");

    // What the database holds is what the batches committed, nothing in between.
    let progress = pg(&format!(
        "SELECT batches, rows FROM {schema}.deployc_migration_batches WHERE name = 'touch_all'"
    ))
    .unwrap();
    let batches: u64 = progress[0][0].parse().unwrap();
    let rows: u64 = progress[0][1].parse().unwrap();
    assert!(
        (5..20).contains(&batches),
        "killed mid-way, after {batches} batches"
    );
    assert_eq!(rows, batches * 10_000);
    let counts = pg(&format!(
        "SELECT count(*) FILTER (WHERE hits = 1), count(*) FILTER (WHERE hits = 0), count(*) FILTER (WHERE hits > 1) FROM {schema}.big"
    ))
    .unwrap();
    assert_eq!(
        counts[0],
        [rows.to_string(), (200_000 - rows).to_string(), "0".into()]
    );
    let ledger = pg(&format!(
        "SELECT count(*) FROM {schema}.deployc_migrations WHERE name = 'touch_all'"
    ))
    .unwrap();
    assert_eq!(one(&ledger), "0", "not in the ledger before its last batch");

    let resumed = deployc()
        .current_dir(&dir)
        .args(["run", "--resume", &run_id, "--state-dir", ".deployc"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    let out = text(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!("batch {} committed", batches + 1)),
        "the resumed run goes on after the last batch committed:\n{out}"
    );
    let counts = pg(&format!(
        "SELECT count(*) FILTER (WHERE hits = 1), count(*) FILTER (WHERE hits <> 1) FROM {schema}.big"
    ))
    .unwrap();
    assert_eq!(counts[0], ["200000", "0"], "every row exactly once");
    assert_eq!(
        one(&pg(&format!(
            "SELECT count(*) FROM {schema}.deployc_migration_batches"
        ))
        .unwrap()),
        "0",
        "the progress row goes with the ledger row"
    );
    assert_eq!(one(&ledger_count(schema)), "1");
    let events = journal_of(&run_dirs(&dir)[0]);
    let numbers: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "migration_batch")
        .map(|e| e["batch"].as_u64().unwrap())
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "batches counted on across the crash: {numbers:?}"
    );
    let last = events
        .iter()
        .rfind(|e| e["type"] == "migration_batch")
        .unwrap();
    assert_eq!(last["total_rows"], 200_000);
    assert!(last.get("last_key").is_none(), "{last}");
    assert_eq!(action(&events, "verify migration").unwrap()["ok"], true);
    pg(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
}

fn ledger_count(schema: &str) -> Vec<Vec<String>> {
    pg(&format!(
        "SELECT count(*) FROM {schema}.deployc_migrations WHERE name = 'touch_all' AND reverted_at IS NULL"
    ))
    .unwrap()
}

#[test]
fn sqlite_batches_by_a_named_key_and_prints_its_progress() {
    let dir = scratch("sqlite-batches");
    let db = dir.join("app.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE people (person_id INTEGER PRIMARY KEY, name TEXT, shout TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
             INSERT INTO people (person_id, name) SELECT i, 'p' || i FROM n;",
        )
        .unwrap();
    }
    let migration = r#"
    data shout_names {
      up    = sql "UPDATE people SET shout = upper(name) WHERE shout IS NULL"
      down  = sql "UPDATE people SET shout = NULL"
      batch 1_000 by person_id
      verify = sql "SELECT count(*) FROM people WHERE shout IS NULL" == 0
    }
"#;
    std::fs::write(
        dir.join("app.deploy"),
        program(
            "database = sqlite \"app.db\"\n  backup = none",
            &release("1.0.0", migration),
        ),
    )
    .unwrap();
    allow_rules(&dir);
    let out = run(&dir, &[], &["--release", "1.0.0", "--env", "ci"]);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(0), "{printed}");
    for line in [
        "migration `shout_names`: batch 1 committed, 1000 rows (1000 in all, up to key 1000)",
        "migration `shout_names`: batch 2 committed, 1000 rows (2000 in all, up to key 2000)",
        "migration `shout_names`: last batch 3 committed, 500 rows (2500 in all)",
    ] {
        assert!(printed.contains(line), "{line}\n{printed}");
    }
    assert_eq!(
        sqlite(&db, "SELECT count(*) FROM people WHERE shout = upper(name)"),
        [["2500"]]
    );
}

// ---------------------------------------------------------------------------------------------
// Verify

const VERIFIED: &str = r#"
    expand create_items {
      up     = sql "CREATE TABLE items (id integer PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'apple'), (2, 'pear')"
      down   = sql "DROP TABLE items"
      verify = sql "SELECT count(*) FROM items" == 2
    }
"#;

const FAILS_VERIFY: &str = r#"
    expand add_label {
      up     = sql "ALTER TABLE items ADD COLUMN label text"
      down   = sql "ALTER TABLE items DROP COLUMN label"
      verify = sql "SELECT count(*) FROM items WHERE label IS NULL" == 0
    }
"#;

/// A passing verify lets the release through; a failing one fails its migration, whose
/// `down` the rollback runs.
fn verify_then_fail(
    dir: &Path,
    database: &str,
    env: &[(&str, &str)],
    columns: &dyn Fn() -> Vec<String>,
) {
    std::fs::write(
        dir.join("app.deploy"),
        program(
            database,
            &format!(
                "{}{}",
                release("1.0.0", VERIFIED),
                release("1.1.0", FAILS_VERIFY)
            ),
        ),
    )
    .unwrap();
    allow_rules(dir);
    let good = run(dir, env, &["--release", "1.0.0", "--env", "ci"]);
    assert_eq!(good.status.code(), Some(0), "{}", text(&good));
    let events = journal_of(run_dirs(dir).last().unwrap());
    let verify = action(&events, "verify migration").unwrap();
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["detail"], "`SELECT count(*) FROM items` = 2");

    let bad = run(dir, env, &["--release", "1.1.0", "--env", "ci"]);
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    let run = run_dirs(dir).last().unwrap().clone();
    let events = journal_of(&run);
    let verify = action(&events, "verify migration").unwrap();
    assert_eq!(verify["ok"], false);
    assert_eq!(
        verify["detail"],
        "`SELECT count(*) FROM items WHERE label IS NULL` gave 2, expected 0"
    );
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "migration_reverted" && e["name"] == "add_label"),
        "{events:?}"
    );
    assert_eq!(columns(), ["id", "name"], "the down dropped the column");
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        report.contains("a migration's verify failed: `SELECT count(*) FROM items WHERE label IS NULL` gave 2, expected 0"),
        "{report}"
    );
}

#[test]
fn sqlite_verify_passes_then_fails_and_rolls_back() {
    let dir = scratch("sqlite-verify");
    let db = dir.join("app.db");
    let columns = || {
        sqlite(
            &db,
            "SELECT name FROM pragma_table_info('items') ORDER BY cid",
        )
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
    };
    verify_then_fail(
        &dir,
        "database = sqlite \"app.db\"\n  backup = none",
        &[],
        &columns,
    );
}

#[test]
fn postgres_verify_passes_then_fails_and_rolls_back() {
    let Some(schema) = fresh_schema("deployc_verify") else {
        return;
    };
    let dir = scratch("postgres-verify");
    let url = pg_url(&schema);
    let columns = || {
        pg(&format!(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = '{schema}' AND table_name = 'items' ORDER BY ordinal_position"
        ))
        .unwrap()
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
    };
    verify_then_fail(
        &dir,
        "database = postgres env DATABASE_URL\n  backup = none",
        &[("DATABASE_URL", url.as_str())],
        &columns,
    );
    pg(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Timeouts

fn slow_migration(up: &str) -> String {
    format!(
        r#"
    expand slow {{
      up   = sql "{up}"
      down = sql "DROP TABLE slow"
      statement_timeout = 300ms
    }}
"#
    )
}

fn over_the_timeout(dir: &Path, database: &str, up: &str, env: &[(&str, &str)]) {
    std::fs::write(
        dir.join("app.deploy"),
        program(database, &release("1.0.0", &slow_migration(up))),
    )
    .unwrap();
    allow_rules(dir);
    let plan = deployc()
        .current_dir(dir)
        .args(["plan", "app.deploy", "--release", "1.0.0", "--env", "ci"])
        .output()
        .unwrap();
    assert!(
        text(&plan).contains("statement timeout 300ms, lock timeout 3s"),
        "{}",
        text(&plan)
    );
    let started = Instant::now();
    let out = run(dir, env, &["--release", "1.0.0", "--env", "ci"]);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains(
            "migration `slow`, statement 1: cancelled after its statement timeout of 300ms"
        ),
        "{printed}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the statement was stopped, not waited for"
    );
}

#[test]
fn sqlite_statement_over_its_timeout_fails_the_migration() {
    let dir = scratch("sqlite-timeout");
    over_the_timeout(
        &dir,
        "database = sqlite \"app.db\"\n  backup = none",
        "CREATE TABLE slow AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) SELECT i FROM n",
        &[],
    );
    let tables = sqlite(
        &dir.join("app.db"),
        "SELECT count(*) FROM sqlite_master WHERE name = 'slow'",
    );
    assert_eq!(tables, [["0"]], "the interrupted statement left nothing");
}

#[test]
fn postgres_statement_over_its_timeout_fails_the_migration() {
    let Some(schema) = fresh_schema("deployc_timeout") else {
        return;
    };
    let dir = scratch("postgres-timeout");
    let url = pg_url(&schema);
    over_the_timeout(
        &dir,
        "database = postgres env DATABASE_URL\n  backup = none",
        "CREATE TABLE slow AS SELECT 1 AS s FROM pg_sleep(5)",
        &[("DATABASE_URL", url.as_str())],
    );
    pg(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Restore

/// Past the point of no return (an irreversible backfill ran) a failed release stops at the
/// manual gate; approving it restores the backup, after a snapshot of the database as it is.
const PAST_NO_RETURN: &str = r#"
    data shout_names {
      up   = sql "UPDATE items SET name = upper(name)"
      irreversible "the original case is lost"
    }
    index items_by_missing {
      up   = sql "CREATE INDEX items_by_missing ON items (no_such_column)"
      down = sql "DROP INDEX items_by_missing"
    }
"#;

#[test]
fn a_run_backup_is_restored_by_its_command_after_a_snapshot() {
    let dir = scratch("run-backup-restore");
    let db = dir.join("app.db");
    std::fs::write(
        dir.join("app.deploy"),
        program(
            "database = sqlite \"app.db\"\n  backup = run \"cp app.db {file}\" verify \"test -s {file}\" restore \"cp {file} app.db\"",
            &format!(
                "{}{}",
                release("1.0.0", VERIFIED),
                release("2.0.0", PAST_NO_RETURN)
            ),
        ),
    )
    .unwrap();
    allow_rules(&dir);
    let first = run(&dir, &[], &["--release", "1.0.0", "--env", "ci"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));

    let restored = run(
        &dir,
        &[],
        &["--release", "2.0.0", "--env", "ci", "--approve", "lead"],
    );
    let out = text(&restored);
    assert_eq!(restored.status.code(), Some(1), "{out}");
    let run = run_dirs(&dir).last().unwrap().clone();
    let events = journal_of(&run);
    let snapshot = action(&events, "snapshot before restore").unwrap();
    assert_eq!(snapshot["ok"], true, "{snapshot}");
    let restore = action(&events, "restore from backup").unwrap();
    assert_eq!(restore["ok"], true, "{restore}");
    assert!(
        restore["detail"].as_str().unwrap().contains("cp ")
            && restore["detail"].as_str().unwrap().contains("chosen by"),
        "{restore}"
    );
    let seq = |e: &serde_json::Value| e["seq"].as_u64().unwrap();
    assert!(seq(snapshot) < seq(restore), "the snapshot comes first");
    // The snapshot holds the database as the failed release left it; the database is back
    // to the backup.
    let before = run.join("before-restore.sqlite");
    assert_eq!(
        sqlite(&before, "SELECT name FROM items ORDER BY id"),
        [["APPLE"], ["PEAR"]]
    );
    assert_eq!(
        sqlite(&db, "SELECT name FROM items ORDER BY id"),
        [["apple"], ["pear"]]
    );
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    insta::assert_snapshot!("run_backup_restore_deviations", deviations(&report, &run));
    assert!(
        report.lines().any(|l| l
            .starts_with("* before the restore, saved the database as it was to ")
            && l.contains("before-restore.sqlite")),
        "{report}"
    );
}

#[test]
fn a_pg_dump_restore_takes_a_pg_dump_snapshot_first() {
    let Some(schema) = fresh_schema("deployc_snapshot") else {
        return;
    };
    let dir = scratch("postgres-snapshot");
    let url = pg_url(&schema);
    let env = [("DATABASE_URL", url.as_str())];
    std::fs::write(
        dir.join("app.deploy"),
        program(
            "database = postgres env DATABASE_URL\n  backup = pg_dump",
            &format!(
                "{}{}",
                release("1.0.0", VERIFIED),
                release("2.0.0", PAST_NO_RETURN)
            ),
        ),
    )
    .unwrap();
    allow_rules(&dir);
    let first = run(&dir, &env, &["--release", "1.0.0", "--env", "ci"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let restored = run(
        &dir,
        &env,
        &["--release", "2.0.0", "--env", "ci", "--approve", "lead"],
    );
    let out = text(&restored);
    assert_eq!(restored.status.code(), Some(1), "{out}");
    let run = run_dirs(&dir).last().unwrap().clone();
    let events = journal_of(&run);
    assert_eq!(
        action(&events, "snapshot before restore").unwrap()["ok"],
        true
    );
    assert_eq!(action(&events, "restore from backup").unwrap()["ok"], true);
    let snapshot = run.join("before-restore.pgdump");
    // The snapshot is a pg_dump archive holding the upper-cased names the restore undid.
    let listing = std::process::Command::new("pg_restore")
        .args(["--data-only", "--file=-"])
        .arg(&snapshot)
        .output()
        .unwrap();
    assert!(listing.status.success(), "{}", text(&listing));
    assert!(
        String::from_utf8_lossy(&listing.stdout).contains("APPLE"),
        "{}",
        text(&listing)
    );
    let names = pg(&format!("SELECT name FROM {schema}.items ORDER BY id")).unwrap();
    assert_eq!(names, [["apple"], ["pear"]]);
    pg(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Lock timeouts

const LOCKED: &str = r#"
    expand add_note {
      up   = sql "ALTER TABLE items ADD COLUMN note text"
      down = sql "ALTER TABLE items DROP COLUMN note"
      lock_timeout = 100ms
    }
"#;

/// While `hold` keeps a lock on `items`, the migration gives up after its own lock timeout
/// on each attempt (retried with backoff) instead of queueing behind the lock.
fn over_the_lock_timeout(
    dir: &Path,
    database: &str,
    env: &[(&str, &str)],
    hold: &dyn Fn(&dyn Fn()),
) {
    std::fs::write(
        dir.join("app.deploy"),
        program(
            database,
            &format!("{}{}", release("1.0.0", VERIFIED), release("1.1.0", LOCKED)),
        ),
    )
    .unwrap();
    allow_rules(dir);
    let first = run(dir, env, &["--release", "1.0.0", "--env", "ci"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    hold(&|| {
        let started = Instant::now();
        let out = run(dir, env, &["--release", "1.1.0", "--env", "ci"]);
        let printed = text(&out);
        assert_eq!(out.status.code(), Some(1), "{printed}");
        assert!(
            printed.contains("migration `add_note`: lock timeout on each of 5 attempt(s)"),
            "{printed}"
        );
        // Five waits of 100 ms and the backoff between them (0.5 + 1 + 2 + 4 s), not the
        // environment's 3 s per attempt.
        assert!(
            started.elapsed() < Duration::from_secs(14),
            "{:?}",
            started.elapsed()
        );
    });
}

#[test]
fn sqlite_migration_gives_up_after_its_lock_timeout() {
    let dir = scratch("sqlite-lock");
    let db = dir.join("app.db");
    over_the_lock_timeout(
        &dir,
        "database = sqlite \"app.db\"\n  backup = none",
        &[],
        &|run| {
            let conn = rusqlite::Connection::open(&db).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            run();
            conn.execute_batch("ROLLBACK").unwrap();
        },
    );
}

#[test]
fn postgres_migration_gives_up_after_its_lock_timeout() {
    let Some(schema) = fresh_schema("deployc_lock") else {
        return;
    };
    let dir = scratch("postgres-lock");
    let url = pg_url(&schema);
    let admin = std::env::var("DEPLOYC_TEST_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into());
    over_the_lock_timeout(
        &dir,
        "database = postgres env DATABASE_URL\n  backup = none",
        &[("DATABASE_URL", url.as_str())],
        &|run| {
            let (locked_tx, locked) = std::sync::mpsc::channel();
            let (release_tx, release) = std::sync::mpsc::channel::<()>();
            let admin = admin.clone();
            let table = format!("{schema}.items");
            let holder = std::thread::spawn(move || {
                block_on(async move {
                    let (mut client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
                        .await
                        .unwrap();
                    tokio::spawn(conn);
                    let tx = client.transaction().await.unwrap();
                    tx.batch_execute(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
                        .await
                        .unwrap();
                    locked_tx.send(()).unwrap();
                    tokio::task::spawn_blocking(move || release.recv())
                        .await
                        .unwrap()
                        .unwrap();
                    tx.rollback().await.unwrap();
                });
            });
            locked.recv().unwrap();
            run();
            release_tx.send(()).unwrap();
            holder.join().unwrap();
        },
    );
    pg(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).unwrap();
}

#[test]
fn a_failed_batch_leaves_the_batches_before_it_and_the_next_run_goes_on_from_them() {
    let dir = scratch("sqlite-batch-fails");
    let db = dir.join("app.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE people (person_id INTEGER PRIMARY KEY, name TEXT,
                                  shout TEXT CHECK (shout IS NOT 'P2500'));
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
             INSERT INTO people (person_id, name) SELECT i, 'p' || i FROM n;",
        )
        .unwrap();
    }
    let migration = r#"
    data shout_names {
      up    = sql "UPDATE people SET shout = upper(name) WHERE shout IS NULL"
      down  = noop "the shouted copies are harmless"
      batch 1_000 by person_id
    }
"#;
    std::fs::write(
        dir.join("app.deploy"),
        program(
            "database = sqlite \"app.db\"\n  backup = none",
            &release("1.0.0", migration),
        ),
    )
    .unwrap();
    allow_rules(&dir);
    let failed = run(&dir, &[], &["--release", "1.0.0", "--env", "ci"]);
    let out = text(&failed);
    // The rollback cannot take committed batches back: a person must know.
    assert_eq!(failed.status.code(), Some(3), "{out}");
    let events = journal_of(run_dirs(&dir).last().unwrap());
    let partial = action(&events, "partial migration").unwrap();
    assert_eq!(
        partial["detail"],
        "batches 1 to 2 of migration `shout_names` (2000 rows) stay committed: the rollback cannot undo them, a person must"
    );
    assert_eq!(
        sqlite(&db, "SELECT count(*) FROM people WHERE shout IS NOT NULL"),
        [["2000"]]
    );
    let report = std::fs::read_to_string(run_dirs(&dir).last().unwrap().join("report.md")).unwrap();
    assert!(
        report.contains(
            "* left applied: batches 1 to 2 of migration `shout_names` (2000 rows) stay committed"
        ),
        "{report}"
    );

    // Fixed, the release runs again from the third batch: the first two are not redone.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("UPDATE people SET name = 'q2500' WHERE person_id = 2500")
        .unwrap();
    let again = run(&dir, &[], &["--release", "1.0.0", "--env", "ci"]);
    let out = text(&again);
    assert_eq!(again.status.code(), Some(0), "{out}");
    assert!(
        out.contains("migration `shout_names`: batch 3 committed, 1000 rows (3000 in all"),
        "{out}"
    );
    assert!(!out.contains("batch 1 committed"), "{out}");
    assert_eq!(
        sqlite(&db, "SELECT count(*) FROM people WHERE shout = upper(name)"),
        [["3000"]]
    );
}
