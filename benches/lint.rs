#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // benchmark setup
//! Benchmarks of linting.
//!
//! SQL statement linting against the squawk CLI, on the same corpus, in one run:
//!
//! * `sql::deployc_analyze`: every migration file of the corpus parsed once and read by
//!   deployc (schema-effect model + every `sql/…` rule at its default level), in process;
//! * `sql::deployc_check`: a `.deploy` program whose migrations are the corpus files
//!   (`up = file "…"`), read from disk, checked and linted with every rule;
//! * `sql::squawk_cli`: the `squawk` binary (`pip install squawk-cli`) on the same files,
//!   one process for all of them, as CI runs it; `sql::squawk_cli_startup` is the same
//!   binary on one empty file, the cost of starting the process.
//!
//! The squawk benchmarks are skipped (with a message) when `squawk` is not on `PATH`.
//!
//! Lint overhead on the 10,000-line program of `benches/check.rs`: write it first with
//! `DEPLOYC_BENCH_WRITE=DIR cargo bench --bench check`, then
//! `DEPLOYC_BENCH_INPUT=DIR cargo bench --bench lint`; `overhead::check` compiles it and
//! `overhead::check_and_lint` compiles and lints it. Without `DEPLOYC_BENCH_INPUT` they are
//! skipped.
//!
//! `release_size::check_and_lint` compiles and lints one program whose last release has
//! 500, 1,000, 2,000 and 4,000 migrations (expand, data, index in turn, with `after` edges
//! and column type changes), from memory: the cost of checking must grow linearly with the
//! migrations of a release.
//!
//! An SQL-heavy service history (one SQL statement per 8 lines, [`history::program`]):
//!
//! * `history::deployc_check_process`: the `deployc` binary (`deployc check FILE`, as a user
//!   runs it) on histories of 2,500 to 20,000 lines, reported in bytes per second;
//! * `history::squawk_linter` and `history::deployc_sql`: the 1,250 SQL texts of the
//!   10,000-line history in one process, through squawk's linter crate directly (parse, its
//!   syntax errors, its rules) and through deployc's SQL path (parse, syntax errors, the
//!   schema-effect model, the same rules), for the side-by-side ratio.
//!
//! `DEPLOYC_BENCH_HISTORY=DIR cargo bench --bench lint` writes the histories to
//! `DIR/history-LINES.deploy` and exits, to time or profile `deployc check` on them;
//! `DEPLOYC_BENCH_ONCE=history-sql` (or `history-squawk`) runs the in-process SQL path once
//! over the statements and exits, for callgrind.
//!
//! For instruction counts (steadier than time on a shared machine), run the bench binary
//! once under callgrind with `DEPLOYC_BENCH_ONCE=check` or `DEPLOYC_BENCH_ONCE=lint` (and
//! `DEPLOYC_BENCH_INPUT`): it compiles the program, lints it too for `lint`, and exits.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;

use deployc::compile::{check_files, compile_source, read_from_disk};
use deployc::lint::{self, Config, Level, LintOptions};
use divan::Bencher;
use divan::counter::ItemsCount;

/// Migration files in the corpus, and statements in each.
const FILES: usize = 240;
const STATEMENTS_PER_FILE: usize = 5;

fn main() {
    if let Some(dir) = std::env::var_os("DEPLOYC_BENCH_HISTORY") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        for releases in history::SIZES {
            let text = history::program(releases);
            let path = dir.join(format!("history-{}.deploy", text.lines().count()));
            std::fs::write(&path, &text).unwrap();
            println!("wrote {} ({} bytes)", path.display(), text.len());
        }
        return;
    }
    match std::env::var("DEPLOYC_BENCH_ONCE").as_deref() {
        Ok("history-sql") => {
            println!("{} findings", history::deployc_sql_once());
            return;
        }
        Ok("history-squawk") => {
            println!("{} findings", history::squawk_linter_once());
            return;
        }
        _ => {}
    }
    if let Some(what) = std::env::var_os("DEPLOYC_BENCH_ONCE") {
        let dir = std::env::var_os("DEPLOYC_BENCH_INPUT").expect("DEPLOYC_BENCH_INPUT");
        let src = std::fs::read(Path::new(&dir).join("program.deploy")).unwrap();
        let (session, compiled) = compile_source("program.deploy", &src);
        if what == "lint" {
            let n = lint::lint(
                &session,
                &compiled,
                &Config::default(),
                &LintOptions::default(),
            );
            println!("{} findings", n.len());
        }
        return;
    }
    let c = &*CORPUS;
    println!(
        "SQL corpus: {} files, {} statements, {} bytes, in {}",
        c.files.len(),
        c.statements,
        c.files.iter().map(|(_, t)| t.len()).sum::<usize>(),
        c.dir.display()
    );
    divan::main();
    let _ = std::fs::remove_dir_all(&c.dir);
}

struct Corpus {
    dir: PathBuf,
    /// `(path, text)` of every migration file.
    files: Vec<(PathBuf, String)>,
    statements: usize,
    /// The `.deploy` program that runs them.
    program: PathBuf,
}

/// One migration's statements: a deterministic mix of what real migrations contain.
fn migration(i: usize) -> (String, usize) {
    let t = format!("table_{}", i % 37);
    let c = format!("col_{i}");
    let mut s = String::new();
    if i % 6 == 5 {
        // An index migration: runs outside a transaction, one statement per file.
        let _ = writeln!(
            s,
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_{t}_{i} ON {t} (col_{});",
            i - 1
        );
        return (s, 1);
    }
    let stmts = [
        format!(
            "CREATE TABLE IF NOT EXISTS new_{i} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());"
        ),
        format!("ALTER TABLE {t} ADD COLUMN {c} text;"),
        format!(
            "ALTER TABLE {t} ADD CONSTRAINT fk_{t}_{i} FOREIGN KEY (owner_id) REFERENCES owners (id) NOT VALID;"
        ),
        format!("UPDATE {t} SET {c} = legacy_{c} WHERE {c} IS NULL AND id < 10000;"),
        format!("ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT '';"),
        format!("ALTER TABLE {t} DROP COLUMN IF EXISTS legacy_{c};"),
        format!("CREATE INDEX idx_new_{i}_name ON new_{i} (name);"),
        format!("ALTER TABLE {t} ALTER COLUMN {c} TYPE varchar(200);"),
    ];
    for k in 0..STATEMENTS_PER_FILE {
        let _ = writeln!(s, "{}", stmts[(i + k * 3) % stmts.len()]);
    }
    (s, STATEMENTS_PER_FILE)
}

static CORPUS: LazyLock<Corpus> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("deployc-bench-sql-{}", std::process::id()));
    let sql = dir.join("sql");
    std::fs::create_dir_all(&sql).unwrap();
    let mut files = Vec::new();
    let mut statements = 0;
    let mut deploy = String::from(
        "service api { health = http \"http://localhost/health\" }\n\
         environment production {\n  provider = local { command = \"app --port {port} --version {version}\", replicas = 2 }\n  database = postgres env DATABASE_URL\n  backup   = pg_dump\n}\n",
    );
    for r in 0..FILES / 10 {
        let _ = writeln!(
            deploy,
            "release \"1.{r}.0\" {{\n  strategy = flags_only\n  migrations {{"
        );
        for k in 0..10 {
            let i = r * 10 + k;
            let (text, n) = migration(i);
            statements += n;
            let path = sql.join(format!("m{i:04}.sql"));
            std::fs::write(&path, &text).unwrap();
            files.push((path, text));
            let phase = if i % 6 == 5 { "index" } else { "expand" };
            let _ = writeln!(
                deploy,
                "    {phase} m{i:04} {{\n      up = file \"sql/m{i:04}.sql\"\n      irreversible \"benchmark\"\n    }}"
            );
        }
        let _ = writeln!(deploy, "  }}\n}}");
    }
    let program = dir.join("migrations.deploy");
    std::fs::write(&program, deploy).unwrap();
    Corpus {
        dir,
        files,
        statements,
        program,
    }
});

/// The squawk rules deployc runs by default.
fn default_sql_rules() -> Vec<&'static str> {
    let config = Config::default();
    lint::all_rules()
        .filter(|r| r.code.starts_with("sql/") && config.level(r) != Level::Allow)
        .map(|r| r.name)
        .collect()
}

/// The squawk binary: `$SQUAWK`, else the first `squawk` on `PATH` (point `SQUAWK` at the
/// real binary when `PATH` has a wrapper, such as a pyenv shim, that adds its own start-up).
fn squawk() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SQUAWK") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("squawk"))
        .find(|p| p.is_file())
}

mod sql {
    use super::*;

    #[divan::bench(sample_count = 30)]
    fn deployc_analyze(bencher: Bencher) {
        let c = &*CORPUS;
        let rules = default_sql_rules();
        bencher.counter(ItemsCount::new(c.statements)).bench(|| {
            let mut findings = 0;
            for (_, text) in &c.files {
                findings += deployc::sql::lint::analyze(divan::black_box(text), &rules, None)
                    .violations
                    .len();
            }
            findings
        });
    }

    #[divan::bench(sample_count = 30)]
    fn deployc_check(bencher: Bencher) {
        let c = &*CORPUS;
        let files = vec![("migrations.deploy".to_string(), c.program.clone())];
        let run = check_files(&files, &mut read_from_disk, None, &LintOptions::default()).unwrap();
        assert!(
            run.diagnostics.iter().all(|d| !d.code.starts_with('E')),
            "the benchmark program does not check: {:?}",
            run.diagnostics.iter().map(|d| &d.code).collect::<Vec<_>>()
        );
        bencher.counter(ItemsCount::new(c.statements)).bench(|| {
            let mut read = read_from_disk;
            check_files(&files, &mut read, None, &LintOptions::default())
                .unwrap()
                .diagnostics
                .len()
        });
    }

    #[divan::bench(sample_count = 30)]
    fn squawk_cli(bencher: Bencher) {
        let Some(squawk) = squawk() else {
            eprintln!("squawk is not on PATH (pip install squawk-cli): skipped");
            return;
        };
        let c = &*CORPUS;
        bencher
            .counter(ItemsCount::new(c.statements))
            .bench(|| run_squawk(&squawk, c.files.iter().map(|(p, _)| p.as_path())));
    }

    #[divan::bench(sample_count = 30)]
    fn squawk_cli_startup(bencher: Bencher) {
        let Some(squawk) = squawk() else { return };
        let empty = CORPUS.dir.join("empty.sql");
        std::fs::write(&empty, "").unwrap();
        bencher.bench(|| run_squawk(&squawk, std::iter::once(empty.as_path())));
    }

    fn run_squawk<'a>(squawk: &Path, files: impl Iterator<Item = &'a Path>) -> bool {
        Command::new(squawk)
            .args(files)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }
}

mod overhead {
    use super::*;

    static INPUT: LazyLock<Option<Vec<u8>>> = LazyLock::new(|| {
        let dir = std::env::var_os("DEPLOYC_BENCH_INPUT")?;
        std::fs::read(Path::new(&dir).join("program.deploy")).ok()
    });

    #[divan::bench(sample_count = 30)]
    fn check(bencher: Bencher) {
        let Some(src) = INPUT.as_ref() else {
            eprintln!("DEPLOYC_BENCH_INPUT is not set: skipped");
            return;
        };
        bencher.bench(|| compile_source("program.deploy", divan::black_box(src)));
    }

    #[divan::bench(sample_count = 30)]
    fn check_and_lint(bencher: Bencher) {
        let Some(src) = INPUT.as_ref() else { return };
        let (session, compiled) = compile_source("program.deploy", src);
        assert!(compiled.output.errors.is_empty());
        let findings = lint::lint(
            &session,
            &compiled,
            &Config::default(),
            &LintOptions::default(),
        );
        eprintln!("10,000-line program: {} findings", findings.len());
        bencher.bench(|| {
            let (session, compiled) = compile_source("program.deploy", divan::black_box(src));
            lint::lint(
                &session,
                &compiled,
                &Config::default(),
                &LintOptions::default(),
            )
            .len()
        });
    }
}

mod release_size {
    use super::*;

    /// A program whose release `2.0.0` has `n` migrations: a table and a column added, the
    /// column backfilled in batches after it, an index built concurrently, a type widened.
    pub(super) fn program(n: usize) -> String {
        let mut s = String::from(
            "service api { health = http \"http://localhost/health\" }\n\
             environment production {\n  provider = local { command = \"app --port {port} --version {version}\", replicas = 2 }\n  database = postgres env DATABASE_URL\n  backup   = pg_dump\n}\n\
             release \"1.0.0\" {\n  strategy = flags_only\n  migrations {\n    expand base {\n      up   = sql \"CREATE TABLE base (id bigint PRIMARY KEY)\"\n      down = sql \"DROP TABLE base\"\n    }\n  }\n}\n\
             release \"2.0.0\" {\n  strategy = flags_only\n  migrations {\n",
        );
        for i in 0..n {
            let t = format!("t{}", i % 50);
            let _ = match i % 4 {
                0 => writeln!(
                    s,
                    "    expand e{i} {{\n      up   = sql \"CREATE TABLE n{i} (id bigint PRIMARY KEY, v text); ALTER TABLE {t} ADD COLUMN c{i} text\"\n      down = sql \"ALTER TABLE {t} DROP COLUMN c{i}; DROP TABLE n{i}\"\n    }}"
                ),
                1 => writeln!(
                    s,
                    "    data d{i} after e{} {{\n      up   = sql \"UPDATE {t} SET c{} = 'x' WHERE c{} IS NULL\"\n      down = noop \"copies\"\n      batch 1000\n    }}",
                    i - 1,
                    i - 1,
                    i - 1
                ),
                2 => writeln!(
                    s,
                    "    index x{i} {{\n      up   = sql \"CREATE INDEX CONCURRENTLY IF NOT EXISTS x{i} ON {t} (c{})\"\n      down = sql \"DROP INDEX CONCURRENTLY IF EXISTS x{i}\"\n    }}",
                    i - 2
                ),
                _ => writeln!(
                    s,
                    "    expand a{i} {{\n      up   = sql \"ALTER TABLE {t} ALTER COLUMN c{} TYPE text\"\n      down = sql \"ALTER TABLE {t} ALTER COLUMN c{} TYPE text\"\n    }}",
                    i - 3,
                    i - 3
                ),
            };
        }
        s.push_str("  }\n}\n");
        s
    }

    #[divan::bench(args = [500, 1000, 2000, 4000], sample_count = 10)]
    fn check_and_lint(bencher: Bencher, n: usize) {
        let src = program(n);
        let (_, compiled) = compile_source("release.deploy", src.as_bytes());
        assert!(
            compiled.output.errors.is_empty(),
            "the benchmark program does not check"
        );
        bencher.counter(ItemsCount::new(n)).bench(|| {
            let (session, compiled) =
                compile_source("release.deploy", divan::black_box(src.as_bytes()));
            lint::lint(
                &session,
                &compiled,
                &Config::default(),
                &LintOptions::default(),
            )
            .len()
        });
    }
}

mod history {
    use super::*;

    /// Releases in the histories of the process benchmark: 2,500 to 20,000 lines.
    pub(super) const SIZES: [usize; 4] = [63, 125, 250, 500];
    /// Releases of the history whose statements the in-process benchmarks read (10,022
    /// lines, 1,250 statements).
    const SIDE_BY_SIDE: usize = 250;

    /// A service's history of `releases` releases, about 40 lines each with five SQL
    /// statements (one per 8 lines): a column added, backfilled in batches and indexed
    /// concurrently, each with its `down`, under a canary with triggers and comms. It checks
    /// with no findings, so the process measures checking, not rendering findings.
    pub(super) fn program(releases: usize) -> String {
        let mut s = String::from(
            "import std.http\nimport std.comms\n\n\
             service billing {\n  health = http \"http://localhost:{port}/health\" expect 200 timeout 1s\n}\n\n\
             environment production {\n  provider = local { command = \"billing --port {port} --version {version}\", replicas = 4 }\n  database = postgres env DATABASE_URL\n  backup   = pg_dump\n  metrics  = probe every 10s\n  window   = mon..thu 09:00..16:00 \"Europe/Berlin\"\n}\n\n\
             team {\n  lead    = \"lead@example.com\"\n  monitor = \"oncall@example.com\"\n  rollback_decision = lead\n}\n\n\
             channel ops = stdout\n",
        );
        for r in 0..releases {
            let t = format!("ledger_{}", r % 23);
            let _ = write!(
                s,
                r#"
# 1.{r}.0: notes on {t}, filled in batches and indexed without blocking writes.
# The canary holds each step for ten minutes; rollback is automatic on errors
# and on latency, and the on-call decides on the manual trigger.
release "1.{r}.0" {{
  strategy = canary {{
    analysis every 1m, no_data fail after 3
    step 5%   for 10m require error_rate < 1%
    step 25%  for 10m require error_rate < 1% and latency_p95 < 400ms
    step 50%  for 20m require error_rate < 1% and latency_p95 < 400ms
    step 100%         require error_rate < 0.5%
  }}
  migrations {{
    expand add_note_{r} {{
      up   = sql "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS note_{r} text"
      down = sql "ALTER TABLE {t} DROP COLUMN IF EXISTS note_{r}"
    }}
    data fill_note_{r} after add_note_{r} {{
      up   = sql "UPDATE {t} SET note_{r} = '' WHERE note_{r} IS NULL"
      down = noop "the down of add_note_{r} drops the copies"
      batch 5_000
    }}
    index note_{r}_idx after fill_note_{r} {{
      up   = sql "CREATE INDEX CONCURRENTLY IF NOT EXISTS {t}_note_{r}_idx ON {t} (note_{r})"
      down = sql "DROP INDEX CONCURRENTLY IF EXISTS {t}_note_{r}_idx"
    }}
  }}
  rollback {{
    auto when error_rate > 5% for 5m
    auto when latency_p95 > 800ms for 5m
    manual when error_rate > 2% for 10m timeout 30m else rollback
  }}
  comms {{
    at T-0      notify ops std.comms.starting
    on step     notify ops "{{service}} {{version}}: {{weight}} of traffic"
    on done     notify ops std.comms.done
    on rollback notify ops std.comms.rolling_back
  }}
  monitor 30m
}}
"#
            );
        }
        s
    }

    /// The SQL texts of the history, as written in its `sql "…"` strings.
    fn statements(releases: usize) -> Vec<String> {
        program(releases)
            .split("sql \"")
            .skip(1)
            .filter_map(|rest| rest.split_once('"').map(|(sql, _)| sql.to_string()))
            .collect()
    }

    static STATEMENTS: LazyLock<Vec<String>> = LazyLock::new(|| statements(SIDE_BY_SIDE));

    /// The file of one history, written once per size.
    fn file(releases: usize) -> (PathBuf, usize) {
        let dir =
            std::env::temp_dir().join(format!("deployc-bench-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = program(releases);
        let path = dir.join(format!("history-{releases}.deploy"));
        std::fs::write(&path, &text).unwrap();
        (path, text.len())
    }

    fn check_process(path: &Path) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_deployc"))
            .arg("check")
            .arg(path)
            .output()
            .unwrap()
    }

    #[divan::bench(args = SIZES, sample_count = 10)]
    fn deployc_check_process(bencher: Bencher, releases: usize) {
        let (path, bytes) = file(releases);
        let out = check_process(&path);
        // The summary line is on stderr.
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && printed.contains("no problems"),
            "the history does not check cleanly: {printed}"
        );
        bencher
            .counter(divan::counter::BytesCount::new(bytes))
            .bench(|| check_process(divan::black_box(&path)).status.success());
        let _ = std::fs::remove_file(&path);
    }

    /// squawk's linter crate as its CLI runs it on one text: parse, collect the syntax
    /// errors, lint with the rules deployc runs by default.
    fn squawk_one(text: &str, rules: &[squawk_linter::Rule]) -> usize {
        let parse = squawk_syntax::SourceFile::parse(text);
        let errors = parse.errors().len();
        let mut linter = squawk_linter::Linter::from(rules.iter().copied());
        errors + linter.lint(&parse, text).len()
    }

    fn squawk_rules() -> Vec<squawk_linter::Rule> {
        default_sql_rules()
            .iter()
            .filter_map(|r| r.parse().ok())
            .collect()
    }

    /// deployc's SQL path on one text: parse with syntax errors (as the checker does), then
    /// the model and the rules on the same tree (as the lint does).
    fn deployc_one(text: &str, rules: &[&str]) -> usize {
        let parsed = deployc::sql::parse(text);
        let errors = parsed.errors.len();
        errors
            + deployc::sql::lint::analyze_parsed(text, parsed.tree.as_ref(), rules, None)
                .violations
                .len()
    }

    pub(super) fn squawk_linter_once() -> usize {
        let rules = squawk_rules();
        STATEMENTS.iter().map(|t| squawk_one(t, &rules)).sum()
    }

    pub(super) fn deployc_sql_once() -> usize {
        let rules = default_sql_rules();
        STATEMENTS.iter().map(|t| deployc_one(t, &rules)).sum()
    }

    #[divan::bench(sample_count = 30)]
    fn squawk_linter(bencher: Bencher) {
        let rules = squawk_rules();
        bencher
            .counter(ItemsCount::new(STATEMENTS.len()))
            .bench(|| {
                STATEMENTS
                    .iter()
                    .map(|t| squawk_one(divan::black_box(t), &rules))
                    .sum::<usize>()
            });
    }

    #[divan::bench(sample_count = 30)]
    fn deployc_sql(bencher: Bencher) {
        let rules = default_sql_rules();
        bencher
            .counter(ItemsCount::new(STATEMENTS.len()))
            .bench(|| {
                STATEMENTS
                    .iter()
                    .map(|t| deployc_one(divan::black_box(t), &rules))
                    .sum::<usize>()
            });
    }
}
