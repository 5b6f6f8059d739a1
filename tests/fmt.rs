#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `deployc fmt`: the layout of each construct (snapshots), comments kept, idempotence, and
//! "formatting does not change the program": over every `.deploy` file of the repository and
//! over generated programs, the check result (every error and lint finding, with the text
//! each label points at) and the plan of every release × environment (as JSON) are the same
//! before and after formatting.

mod generators;
#[path = "../benches/inputs/mod.rs"]
#[allow(dead_code)] // the shared module is not used here
mod inputs;

use std::path::{Path, PathBuf};

use deployc::compile::{check_files, compile_source, read_from_disk};
use deployc::fmt::format_source;
use deployc::lint::LintOptions;
use deployc::lower::{self, LowerOptions};
use deployc::resolve::{Names, Session};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn fmt(src: &str) -> String {
    format_source(src).unwrap_or_else(|e| panic!("does not parse: {e}\n{src}"))
}

/// Formats `src`, and checks that formatting the result changes nothing.
fn fmt_stable(name: &str, src: &str) -> String {
    let once = fmt(src);
    let twice = fmt(&once);
    if once != twice {
        panic!(
            "{name}: formatting is not idempotent\n--- once\n{once}\n--- twice\n{twice}\n{}",
            similar::TextDiff::from_lines(&once, &twice).unified_diff()
        );
    }
    once
}

// ---------------------------------------------------------------------------------------------
// What a program means, independent of its layout

/// A diagnostic without positions: the code, the words, and the text under each label
/// (without blanks and commas: formatting moves blanks and writes the commas between
/// entries only in one-line blocks).
fn summarize(session: &Session, diags: &[deployc::diagnostics::Diagnostic]) -> Vec<String> {
    let mut out: Vec<String> = diags
        .iter()
        .map(|d| {
            let labels: Vec<String> = d
                .labels
                .iter()
                .map(|l| {
                    let text = if l.span.is_synthetic() {
                        String::new()
                    } else {
                        session
                            .sources
                            .text(l.span)
                            .chars()
                            .filter(|c| !c.is_whitespace() && *c != ',')
                            .collect::<String>()
                    };
                    format!("[{}] {} «{}»", l.primary, l.message, text)
                })
                .collect();
            format!(
                "{} {:?} {} {:?} {:?} {}",
                d.code,
                d.severity,
                d.message,
                d.help,
                d.notes,
                labels.join(" ")
            )
        })
        .collect();
    out.sort();
    out
}

/// Replaces every source position in a plan (`{file, line, column, start, end}`) with the
/// text it points at, without blanks and commas: formatting moves positions, not what they
/// show.
fn positions_to_text(value: &mut serde_json::Value, session: &Session) {
    match value {
        serde_json::Value::Object(map) => {
            let position = ["file", "line", "column", "start", "end"]
                .iter()
                .all(|k| map.contains_key(*k));
            if position {
                let file = map["file"].as_str().unwrap_or("").to_string();
                let (start, end) = (map["start"].as_u64().unwrap(), map["end"].as_u64().unwrap());
                let text = session
                    .sources
                    .files()
                    .find(|(_, f)| f.name == file)
                    .and_then(|(_, f)| f.text.get(start as usize..end as usize))
                    .unwrap_or("")
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != ',')
                    .collect::<String>();
                *value = serde_json::Value::String(format!("{file}: {text}"));
                return;
            }
            for v in map.values_mut() {
                positions_to_text(v, session);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                positions_to_text(v, session);
            }
        }
        _ => {}
    }
}

/// The plans of every release in every environment, as JSON.
fn plans(session: &Session, compiled: &deployc::compile::Compiled) -> Vec<String> {
    let names = Names::new(session, &compiled.program);
    let releases: Vec<String> = names
        .releases()
        .map(|(_, r)| r.version.value.clone())
        .collect();
    let envs: Vec<String> = names.environments().map(|e| e.name.name.clone()).collect();
    let options = LowerOptions {
        start: Some("2026-12-01T09:00:00Z".parse().unwrap()),
        without_rollback_lists: false,
        previous_release: None,
    };
    let mut out = Vec::new();
    for r in &releases {
        for e in &envs {
            let plan = lower::lower(
                &names,
                &session.sources,
                &compiled.output.sql,
                r,
                e,
                &options,
            );
            out.push(match plan {
                Ok(p) => {
                    let mut json = serde_json::to_value(&p).unwrap();
                    positions_to_text(&mut json, session);
                    serde_json::to_string_pretty(&json).unwrap()
                }
                Err(e) => format!("{r} × {e}: no plan: {e:?}")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            });
        }
    }
    out
}

/// `deployc check` of the file at `path` whose text is `text` (imports and SQL files are read
/// from disk beside it), and its plans.
fn meaning_on_disk(path: &Path, text: &str) -> (Vec<String>, Vec<String>) {
    let root = path.to_path_buf();
    let mut read = |p: &Path| -> std::io::Result<Vec<u8>> {
        if p == root {
            Ok(text.as_bytes().to_vec())
        } else {
            read_from_disk(p)
        }
    };
    let files = [(path.display().to_string(), path.to_path_buf())];
    let run = check_files(&files, &mut read, None, &LintOptions::default()).unwrap();
    let plans = run
        .compiled
        .first()
        .map(|c| plans(&run.session, c))
        .unwrap_or_default();
    (summarize(&run.session, &run.diagnostics), plans)
}

/// The errors and plans of `text` compiled from memory.
fn meaning_in_memory(text: &str) -> (Vec<String>, Vec<String>) {
    let (session, compiled) = compile_source("generated.deploy", text.as_bytes());
    let errors: Vec<_> = compiled
        .output
        .errors
        .iter()
        .map(|e| e.to_diagnostic())
        .collect();
    (summarize(&session, &errors), plans(&session, &compiled))
}

fn assert_same_meaning(
    name: &str,
    before: (Vec<String>, Vec<String>),
    after: (Vec<String>, Vec<String>),
) {
    assert_eq!(
        before.0, after.0,
        "{name}: formatting changed the check result"
    );
    assert_eq!(
        before.1.len(),
        after.1.len(),
        "{name}: formatting changed the plans"
    );
    for (a, b) in before.1.iter().zip(&after.1) {
        if a != b {
            panic!(
                "{name}: formatting changed a plan\n{}",
                similar::TextDiff::from_lines(a, b).unified_diff()
            );
        }
    }
}

/// A syntax diagnostic without its file id: `fmt` parses outside any session.
fn without_file(d: Option<deployc::diagnostics::Diagnostic>) -> Option<String> {
    d.map(|d| {
        let labels: Vec<String> = d
            .labels
            .iter()
            .map(|l| format!("{:?} {}", l.span.range(), l.message))
            .collect();
        format!("{} {} {:?} {:?}", d.code, d.message, d.help, labels)
    })
}

// ---------------------------------------------------------------------------------------------
// Every file of the repository

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                walk(&p, out);
            }
        } else if name.ends_with(".deploy") {
            out.push(p);
        }
    }
}

fn repository_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(Path::new(env!("CARGO_MANIFEST_DIR")), &mut out);
    out.sort();
    out
}

#[test]
fn every_repository_file_formats_stably_without_changing_its_program() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut formatted = 0;
    for path in repository_files() {
        let name = path.strip_prefix(root).unwrap().display().to_string();
        // Syntax error fixtures and the editors' token samples: `fmt` refuses them.
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if format_source(&text).is_err() {
            continue;
        }
        let out = fmt_stable(&name, &text);
        assert_same_meaning(
            &name,
            meaning_on_disk(&path, &text),
            meaning_on_disk(&path, &out),
        );
        formatted += 1;
    }
    assert!(formatted > 100, "only {formatted} files formatted");
}

/// The directories whose files are kept formatted (`.ci/run` checks them with `--check`):
/// every file there that parses.
const FORMATTED_DIRS: &[&str] = &["examples/", "stdlib/", "tests/fixtures/", "tests/runtime/"];

#[test]
fn the_repository_files_are_formatted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut unformatted = Vec::new();
    for path in repository_files() {
        let name = path.strip_prefix(root).unwrap().display().to_string();
        if !FORMATTED_DIRS.iter().any(|d| name.starts_with(d)) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Ok(out) = format_source(&text)
            && out != text
        {
            unformatted.push(name);
        }
    }
    assert!(
        unformatted.is_empty(),
        "run `deployc fmt` on: {unformatted:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Generated programs

#[test]
fn generated_benchmark_program_formats_stably_without_changing_its_program() {
    let src = inputs::program(600);
    let out = fmt_stable("program(600)", &src);
    assert_same_meaning(
        "program(600)",
        meaning_in_memory(&src),
        meaning_in_memory(&out),
    );
    for (s, r) in [(0, 0), (3, 7)] {
        let src = inputs::release_file(s, r);
        let out = fmt_stable("release_file", &src);
        assert_same_meaning(
            "release_file",
            meaning_in_memory(&src),
            meaning_in_memory(&out),
        );
    }
}

proptest! {
    #![proptest_config(Config {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        failure_persistence: None,
        ..Config::default()
    })]

    /// Mutants of real files: those that parse format stably to the same program; those that
    /// do not are refused with the error `check` reports.
    #[test]
    fn mutants_format_stably_without_changing_their_program(bytes in generators::mutated_seed()) {
        let Ok(text) = String::from_utf8(bytes) else {
            return Ok(());
        };
        match format_source(&text) {
            Ok(_) => {
                let out = fmt_stable("mutant", &text);
                assert_same_meaning(&text, meaning_in_memory(&text), meaning_in_memory(&out));
            }
            Err(e) => {
                let (_, compiled) = compile_source("generated.deploy", text.as_bytes());
                let first = compiled.output.errors.first().map(|e| e.to_diagnostic());
                prop_assert_eq!(without_file(Some(e.diagnostic())), without_file(first));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The layout of each construct

/// Formats `src` (checking idempotence) and shows input and output together.
fn show(src: &str) -> String {
    let out = fmt_stable("snapshot", src);
    format!("{src}\n---- formatted ----\n{out}")
}

#[test]
fn layout_imports_service_and_environments() {
    insta::assert_snapshot!(show(
        r##"import   std.http
import "./team.deploy"   as   team
service api{health=http "http://localhost/health" expect 200 timeout 2s,smoke=run "./smoke {url}" timeout 5m
url="https://api.example.com"}
environment staging { provider = local { command = "app --port {port}", replicas = 2, traffic = 20/s "/" , "/health" }
database = sqlite "s.db"  backup = snapshot
metrics = probe every 1s   }
environment production {
requires = staging
approval = lead timeout 30m else abort
  provider = kubernetes { namespace = "api" deployment = "api" image = "registry.example.com/api:{version}" replicas = 20 timeout = 10m token = env KUBE_TOKEN }
database = postgres env DATABASE_URL
backup = run "./backup.sh" verify "./verify.sh"
metrics = prometheus env PROM_URL timeout 5s
window = mon .. thu 09:00 .. 16:00 "Europe/Berlin"
freeze = 2026-12-20..2027-01-04 , 2027-04-01
flags = file "flags.json"
url = "https://api.example.com"
production
}
environment edge { provider = command { deploy = "./deploy {version}" timeout 5m, weight = "./weight {percent}" }, provider = argo_rollouts { namespace = "a", rollout = "a" }, metrics = command "./m" timeout 2s, flags = command "./flag {flag} {percent}" }
"##
    ));
}

#[test]
fn layout_team_channels_metrics_messages() {
    insta::assert_snapshot!(show(
        r##"team { lead = "dana@example.com", on_call = "pager:x"
rollback_decision = lead , on_call }
channel releases = slack "#releases" webhook env SLACK_WEBHOOK required
channel mail = email "a@example.com" , "b@example.com" smtp env SMTP_URL
channel hook = webhook "https://hooks.example.com/x"
channel out = stdout
channel log = file "deploy.log"
metric signups : rate = prometheus "sum(rate(signups_total[5m]))" per minute
metric errors: percent { prometheus = "sum(errors)" probe = "/health" per second }
message done = "{service} {version} is out"
"##
    ));
}

#[test]
fn layout_named_blocks() {
    insta::assert_snapshot!(show(
        r##"strategy safe ( c : channel , r : role ) = canary { analysis every 1m , no_data fail after 3 step 5% for 10m require error_rate < 1% step 100% }
strategy bg = blue_green { analysis every 30s
no_data pause
preview for 10m require error_rate < 1% smoke
switch after approval lead timeout 1h else abort
keep_previous 1d }
strategy roll = rolling { batch 25%, max_unavailable 1, health every 10s timeout 30s healthy 2 unhealthy 3 }
strategy re = recreate { downtime 2m }
strategy plain = recreate
strategy flags = flags_only
rollback standard { auto when error_rate > 5% for 5m
manual when latency_p95 > 2x baseline for 10m timeout 30m else rollback }
comms standard(c: channel) { at T-1h notify c "soon" on done notify c std.comms.done every 30m notify c "still going" }
checklist db { check error_rate < 1%
run "./pre.sh" timeout 1m
confirm "backups verified" by lead }
"##
    ));
}

#[test]
fn layout_releases() {
    insta::assert_snapshot!(show(
        r##"release "2.1.0" { risk = high
strategy = canary { analysis every 1m, no_data fail after 3
step 5%   for 10m  require error_rate < 1%   and latency_p95 < 500ms
step 100%          require error_rate < 0.1% }


migrations { expand add_email { up = sql "ALTER TABLE users ADD COLUMN email_address TEXT"
down = sql "ALTER TABLE users DROP COLUMN email_address" }
data backfill after add_email { up = sql """
UPDATE users SET email_address = email
  WHERE email_address IS NULL
""" down = noop "dropped with the column" batch 10_000 }
index idx after backfill { up = file "idx.sql" down = file "idx_down.sql" }
contract drop_old of add_email after backfill, idx { up = sql "ALTER TABLE users DROP COLUMN email" irreversible "needs the backup" } }
flag oauth { initially off day 1 5% of internal day 7 100% remove by day 14 }
rollback { auto when error_rate > 5% for 5m }
comms { at T-24h notify a, b std.comms.scheduled }
checklist { confirm "ready" by lead }
monitor 1h then checkins +4h , +24h
}
release "2.2.0" { strategy = std.strategies.safe(releases, lead), rollback = std.rollback.standard, comms = std.comms.standard(releases), checklist = db }
release "2.3.0" {}
"##
    ));
}

/// The settings and clauses added with verified migrations, pause points, per-environment
/// settings and shared state: their operators stay whole (`==` is not `= =`).
#[test]
fn layout_verify_gates_release_environments_and_state() {
    insta::assert_snapshot!(show(
        r##"environment prod { provider = local { command = "api --port {port}" }
state = postgres env DEPLOYC_STATE_URL
statement_timeout = 30m lock_timeout = 2s }
release "1.0.0" { strategy = canary { step 5% for 10m, step 100% }
migrations { data backfill { up = sql "UPDATE users SET a = b WHERE a IS NULL" down = noop "harmless"
batch 10_000 by user_id verify = sql "SELECT count(*) FROM users WHERE a IS NULL" == 0 statement_timeout = 2h } }
approval after step 1 by lead "the dashboards look normal" timeout 30m else rollback
approval after smoke by qa "QA signed off"
environment staging { strategy = quick monitor 5m } }
"##
    ));
}

#[test]
fn layout_environment_release_defaults() {
    insta::assert_snapshot!(show(
        r##"environment staging { provider = local { command = "api --port {port}" }
release { strategy = quick monitor 10m then checkins +1h checklist { check error_rate < 2% }
flag a { initially off, day 1 100% } } }
environment qa { provider = local { command = "api --port {port}" } release { monitor 1m } }
"##
    ));
}

#[test]
fn layout_long_conditions_are_broken_before_and_or() {
    insta::assert_snapshot!(show(
        r##"release "1" {
  strategy = canary {
    step 5% for 10m require error_rate < 1% and latency_p95 < 500ms and latency_p99 < 900ms and throughput > 80% of baseline
    step 50% for 10m require (error_rate < 1% or latency_p95 < 500ms) and latency_p99 < 900ms or throughput > 80% of baseline and signups > 10/m
    step 100% require error_rate < 0.1%
  }
  rollback { auto when error_rate > 5% or latency_p95 > 2x baseline or latency_p99 > 3x baseline or signups < 50% of baseline for 5m }
}
"##
    ));
}

#[test]
fn comments_and_doc_comments_stay_where_they_were() {
    let src = r##"# The checkout service.
# Second line of the header.

import std.http   # error_rate and friends


# The production environment.
environment production { # after the brace
  requires = staging  # first
  approval = lead     # second

  # before the provider
  provider = kubernetes { namespace = "checkout" }   # after a one-line block
  # deployc: allow(W601) "reviewed"
  metrics = prometheus "http://prom:9090"
  # last line of the block
}
release "1.0.0" {
  strategy = canary {
    step 5% # a comment inside an entry
      for 10m
    step 100% require error_rate < 1% # trailing
      and latency_p95 < 500ms
  }
}
# end of file"##;
    let out = fmt_stable("comments", src);
    let comments = |s: &str| -> Vec<String> {
        s.lines()
            .filter_map(|l| l.find('#').map(|i| l[i..].trim_end().to_string()))
            .collect()
    };
    // Every comment, in the same order.
    assert_eq!(comments(src), comments(&out));
    insta::assert_snapshot!(format!("{src}\n---- formatted ----\n{out}"));
}

#[test]
fn blank_lines_are_kept_and_collapsed_to_one() {
    let out = fmt(
        "\n\n\nimport std.http\n\n\n\nimport std.comms\nteam {\n\n\n  lead = \"x\"\n\n\n\n  qa = \"y\"\n\n\n}\n\n\n",
    );
    assert_eq!(
        out,
        "import std.http\n\nimport std.comms\nteam {\n  lead = \"x\"\n\n  qa = \"y\"\n}\n"
    );
}

#[test]
fn settings_align_in_runs() {
    let out = fmt(
        "service s {\n  health = http \"x\"\n  url = \"y\"\n}\nteam {\n  lead = \"a\"\n  on_call = \"b\"\n\n  qa = \"c\"\n}\n",
    );
    assert_eq!(
        out,
        "service s {\n  health = http \"x\"\n  url    = \"y\"\n}\nteam {\n  lead    = \"a\"\n  on_call = \"b\"\n\n  qa = \"c\"\n}\n"
    );
}

#[test]
fn strings_are_never_changed() {
    let src = "release \"1\" {\n  migrations {\n    expand a {\n      up = sql \"\"\"\n   SELECT   1;\n\t-- tab\n\"\"\"\n      down = sql \"DROP   TABLE   x  \"\n    }\n  }\n}\n";
    let out = fmt(src);
    assert!(
        out.contains("\"\"\"\n   SELECT   1;\n\t-- tab\n\"\"\""),
        "{out}"
    );
    assert!(out.contains("\"DROP   TABLE   x  \""), "{out}");
}

#[test]
fn crlf_input_gives_lf_output() {
    let out = fmt("import std.http\r\n# note\r\nteam {\r\n  lead = \"x\"\r\n}\r\n");
    assert_eq!(out, "import std.http\n# note\nteam {\n  lead = \"x\"\n}\n");
}

#[test]
fn empty_input_and_comment_only_input() {
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("\n\n"), "");
    assert_eq!(fmt("# only\n\n\n# comments"), "# only\n\n# comments\n");
}

#[test]
fn a_file_that_does_not_parse_gives_the_check_error() {
    for src in [
        "release \"1\" { strategy = canary { step 5 % } }",
        "service s { health = http \"x }",
        "team { lead = }",
        // Parses, but a literal cannot be read (E106): not formatted either.
        "message m = \"\\u{110000}\"",
        &"(".repeat(300),
    ] {
        let err = format_source(src).unwrap_err();
        let (_, compiled) = compile_source("x.deploy", src.as_bytes());
        assert_eq!(
            without_file(Some(err.diagnostic())),
            without_file(compiled.output.errors.first().map(|e| e.to_diagnostic())),
            "{src}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The command line

/// Runs `deployc ARGS` in `dir` without colour, with `stdin`; returns the exit code, stdout
/// and stderr.
fn deployc(dir: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_deployc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const UNFORMATTED: &str = "team {\n    lead=\"dana@example.com\"\n  on_call = \"pager:x\",\n}\n";
const FORMATTED: &str = "team {\n  lead    = \"dana@example.com\"\n  on_call = \"pager:x\"\n}\n";
const BROKEN: &str = "team {\n  lead = \n}\n";

/// A directory with a formatted file, an unformatted one in a subdirectory, and a file that
/// is not `.deploy`.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.deploy"), FORMATTED).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/messy.deploy"), UNFORMATTED).unwrap();
    std::fs::write(dir.path().join("sub/notes.txt"), UNFORMATTED).unwrap();
    dir
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[test]
fn cli_check_lists_the_files_to_change_and_writes_nothing() {
    let dir = project();
    let (code, out, err) = deployc(dir.path(), &["fmt", "--check", "."], "");
    assert_eq!((code, err.as_str()), (1, ""));
    insta::assert_snapshot!(out, @"sub/messy.deploy");
    assert_eq!(read(dir.path(), "sub/messy.deploy"), UNFORMATTED);
    // A formatted file alone passes.
    let (code, out, _) = deployc(dir.path(), &["fmt", "--check", "good.deploy"], "");
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn cli_diff_prints_a_unified_diff_and_writes_nothing() {
    let dir = project();
    let (code, out, err) = deployc(dir.path(), &["fmt", "--diff", "sub"], "");
    assert_eq!((code, err.as_str()), (1, ""));
    insta::assert_snapshot!(out);
    assert_eq!(read(dir.path(), "sub/messy.deploy"), UNFORMATTED);
}

#[test]
fn cli_formats_in_place_and_then_has_nothing_to_do() {
    let dir = project();
    let (code, out, err) = deployc(dir.path(), &["fmt"], "");
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    assert_eq!(read(dir.path(), "sub/messy.deploy"), FORMATTED);
    assert_eq!(read(dir.path(), "good.deploy"), FORMATTED);
    assert_eq!(read(dir.path(), "sub/notes.txt"), UNFORMATTED);
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let (code, _, _) = deployc(dir.path(), &["fmt", "--check"], "");
    assert_eq!(code, 0);
}

#[test]
fn cli_stdin_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = deployc(dir.path(), &["fmt", "-"], UNFORMATTED);
    assert_eq!((code, out.as_str(), err.as_str()), (0, FORMATTED, ""));
    let (code, out, _) = deployc(dir.path(), &["fmt", "--check", "-"], UNFORMATTED);
    assert_eq!((code, out.as_str()), (1, "<stdin>\n"));
    let (code, out, _) = deployc(dir.path(), &["fmt", "--check", "-"], FORMATTED);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn cli_a_file_that_does_not_parse_is_left_untouched_with_its_error() {
    let dir = project();
    std::fs::write(dir.path().join("broken.deploy"), BROKEN).unwrap();
    let (code, out, err) = deployc(dir.path(), &["fmt", "."], "");
    assert_eq!((code, out.as_str()), (2, ""));
    insta::assert_snapshot!(err);
    assert_eq!(read(dir.path(), "broken.deploy"), BROKEN);
    // The other files are still formatted.
    assert_eq!(read(dir.path(), "sub/messy.deploy"), FORMATTED);
    // The same diagnostic as `check`.
    let (_, _, check_err) = deployc(dir.path(), &["check", "broken.deploy"], "");
    assert!(check_err.starts_with(err.trim_end()), "{check_err}");
    // From stdin: nothing on stdout.
    let (code, out, err_stdin) = deployc(dir.path(), &["fmt", "-"], BROKEN);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err_stdin.contains("E101"), "{err_stdin}");
}

#[test]
fn cli_missing_path_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = deployc(dir.path(), &["fmt", "nope.deploy"], "");
    assert_eq!(code, 2);
    assert!(err.contains("nope.deploy"), "{err}");
}

/// Each language feature's fixture (formatted, as `.ci/run` checks) comes back from a copy
/// with every line's indentation removed and its alignment padded away: indentation and
/// alignment are the formatter's, whatever the input had.
#[test]
fn every_feature_fixture_comes_back_from_a_flattened_copy() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parse/ok");
    let mut files = Vec::new();
    walk(&dir, &mut files);
    assert!(files.len() > 20);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut flat = String::new();
        let mut in_raw = false;
        for line in text.lines() {
            if in_raw {
                flat.push_str(line);
            } else {
                // Outside strings and comments, runs of blanks become one blank.
                let rest = line.trim_start();
                let mut out = String::new();
                let (mut quoted, mut escaped, mut prev_blank) = (false, false, false);
                for (i, c) in rest.char_indices() {
                    if quoted && !escaped && c == '\\' {
                        escaped = true;
                        out.push(c);
                        continue;
                    }
                    if c == '"' && !escaped {
                        quoted = !quoted;
                    }
                    escaped = false;
                    if c == '#' && !quoted {
                        out.push_str(&rest[i..]);
                        break;
                    }
                    if c == ' ' && !quoted && prev_blank {
                        continue;
                    }
                    prev_blank = c == ' ';
                    out.push(c);
                }
                flat.push_str(&out);
            }
            flat.push('\n');
            if line.matches("\"\"\"").count() % 2 == 1 {
                in_raw = !in_raw;
            }
        }
        assert_eq!(fmt(&flat), text, "{}", path.display());
    }
}

/// As deep as the parser allows: formatting recurses no deeper than parsing.
#[test]
fn deeply_nested_conditions_format() {
    let depth = 250;
    let src = format!(
        "rollback r {{ auto when {}error_rate > 1%{} }}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let out = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || fmt_stable("deep", &src))
        .unwrap()
        .join()
        .unwrap();
    assert!(out.contains(&format!(
        "when {}error_rate > 1%{}",
        "(".repeat(depth),
        ")".repeat(depth)
    )));
}

/// A literal that reads but is out of range is the checker's error, not a syntax error: the
/// file is formatted (as `.ci/run` formats the checker's error fixtures).
#[test]
fn a_checker_error_does_not_stop_formatting() {
    let src = "environment e {\n  window = mon..fri 09:75..16:00 \"UTC\"\n  backup = none\n}\n";
    let (_, compiled) = compile_source("x.deploy", src.as_bytes());
    assert!(compiled.output.errors.iter().any(|e| e.code() == "E311"));
    assert_eq!(
        fmt(src),
        "environment e {\n  window = mon..fri 09:75..16:00 \"UTC\"\n  backup = none\n}\n"
    );
}
