//! Differential test against the squawk CLI: the same SQL checked by the pinned `squawk`
//! (PyPI `squawk-cli`, the version of the `squawk-linter` crate in `Cargo.lock`) and by
//! `deployc check` with the SQL as the `up` of an `expand` and of a `contract` migration.
//!
//! Every finding one of them reports on a line of a case and the other does not must be
//! explained by a context in `tests/fixtures/squawk/explained.toml`, whose documented rule
//! (a heading of the docs) is checked to exist and to say so; a context that explains
//! nothing fails too, so the table cannot outlive the behaviour it describes.
//!
//! Skips with the reason when `squawk` is missing or not the pinned version, unless
//! `DEPLOYC_REQUIRE_SQUAWK=1` (CI installs the pinned CLI and sets it).
#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

const FIXTURES: &str = "tests/fixtures/squawk";
const PHASES: [&str; 2] = ["expand", "contract"];

/// One release ships `base`; the next holds the case, so that a `contract` has its `of`. The
/// migration has no SQL `down` (that would silence `prefer-robust-stmts`, a context of its
/// own) and the environment takes a backup, so M201 stays out of the way.
const TEMPLATE: &str = r#"import std.http
service api { health = http "http://localhost/health" }
environment production {
  provider = local { command = "app --port {port} --version {version}", replicas = 2 }
  database = postgres env DATABASE_URL
  backup   = pg_dump
}
release "1.0.0" {
  strategy = flags_only
  migrations {
    expand base {
      up   = sql "SELECT 1"
      down = noop "nothing to undo"
    }
  }
}
release "1.1.0" {
  strategy = flags_only
  migrations {
    HEADER {
      up = file "CASE.sql"
      irreversible "compared with squawk"
    }
  }
}
"#;

#[derive(Debug, Deserialize)]
struct Table {
    context: Vec<Context>,
}

#[derive(Debug, Deserialize)]
struct Context {
    id: String,
    side: Side,
    check: Check,
    doc: String,
    quote: String,
    names_rule: bool,
    because: String,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
enum Side {
    Squawk,
    Deployc,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Check {
    NotRun,
    Transaction,
    Contract,
    M203,
}

/// (case, rule, 1-based line) → how many findings.
type Findings = BTreeMap<(String, String, usize), usize>;

/// The squawk-linter version in `Cargo.lock`: the CLI must be the same release.
fn pinned_version() -> String {
    let lock = std::fs::read_to_string("Cargo.lock").expect("Cargo.lock");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"squawk-linter\"" {
            let version = lines.next().expect("a version line after the name");
            return version
                .trim()
                .strip_prefix("version = \"")
                .and_then(|v| v.strip_suffix('"'))
                .expect("version = \"…\"")
                .to_string();
        }
    }
    panic!("squawk-linter is not in Cargo.lock");
}

/// The `squawk` on PATH when it is the pinned version; otherwise the reason it is not used.
fn squawk(pinned: &str) -> Result<PathBuf, String> {
    let out = Command::new("squawk")
        .arg("--version")
        .output()
        .map_err(|e| {
            format!(
                "`squawk` cannot be run ({e}); install it with `pip install squawk-cli=={pinned}`"
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let found = text.trim().strip_prefix("squawk ").unwrap_or(text.trim());
    if found != pinned {
        return Err(format!(
            "`squawk --version` is `{}`, not the pinned {pinned} (the squawk-linter crate in Cargo.lock); install it with `pip install squawk-cli=={pinned}`",
            text.trim()
        ));
    }
    Ok(PathBuf::from("squawk"))
}

fn run_json(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.output().expect("the command runs");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{cmd:?} printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn case_of(file: &str) -> String {
    Path::new(file)
        .file_name()
        .and_then(|f| f.to_str())
        .and_then(|f| f.strip_suffix(".sql"))
        .unwrap_or(file)
        .to_string()
}

/// squawk's findings over every case, with `extra` arguments.
fn squawk_findings(
    bin: &Path,
    dir: &Path,
    cases: &[String],
    opt_in: &[String],
    extra: &[&str],
) -> Findings {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .args(["--reporter", "json", "--include", &opt_in.join(",")])
        .args(extra)
        .args(cases.iter().map(|c| format!("{c}.sql")));
    let mut out = Findings::new();
    for v in run_json(&mut cmd)
        .as_array()
        .expect("squawk prints an array")
    {
        let file = v["file"].as_str().expect("file");
        let rule = v["rule_name"].as_str().expect("rule_name");
        let line = v["line"].as_u64().expect("line") as usize + 1;
        *out.entry((case_of(file), rule.to_string(), line))
            .or_default() += 1;
    }
    out
}

/// deployc's `sql/` findings (under squawk's rule names) and its M203 findings, per case.
fn deployc_findings(dir: &Path) -> (Findings, Findings) {
    let json = run_json(
        Command::new(env!("CARGO_BIN_EXE_deployc"))
            .current_dir(dir)
            .args(["check", ".", "--format", "json"]),
    );
    let mut sql = Findings::new();
    let mut m203 = Findings::new();
    for d in json["diagnostics"].as_array().expect("diagnostics") {
        let code = d["code"].as_str().expect("code");
        let Some(primary) = d["labels"]
            .as_array()
            .and_then(|ls| ls.iter().find(|l| l["primary"] == true))
        else {
            continue;
        };
        let file = primary["file"].as_str().expect("file");
        if !file.ends_with(".sql") {
            continue;
        }
        let line = primary["start"]["line"].as_u64().expect("line") as usize;
        let (target, rule) = match code.strip_prefix("sql/") {
            Some(rule) => (&mut sql, rule),
            None if code == "M203" => (&mut m203, code),
            None => continue,
        };
        *target
            .entry((case_of(file), rule.to_string(), line))
            .or_default() += 1;
    }
    (sql, m203)
}

/// GitHub's anchor of a Markdown heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The text under the heading `doc` points at (`path#anchor`), up to the next heading of the
/// same or a higher level.
fn section(doc: &str) -> Result<String, String> {
    let (path, anchor) = doc
        .split_once('#')
        .ok_or_else(|| format!("`{doc}` has no #anchor"))?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut level = None;
    let mut out = String::new();
    for line in text.lines() {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        let is_heading = hashes > 0 && line[hashes..].starts_with(' ');
        match level {
            None if is_heading && slug(&line[hashes..]) == anchor => level = Some(hashes),
            Some(l) if is_heading && hashes <= l => break,
            Some(_) => {
                out.push_str(line);
                out.push('\n');
            }
            None => {}
        }
    }
    match level {
        Some(_) => Ok(out),
        None => Err(format!("{path} has no heading with the anchor #{anchor}")),
    }
}

#[derive(Debug)]
struct Disagreement {
    phase: &'static str,
    case: String,
    rule: String,
    line: usize,
    side: Side,
    squawk: usize,
    deployc: usize,
}

impl std::fmt::Display for Disagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = match self.side {
            Side::Squawk => "only squawk",
            Side::Deployc => "only deployc",
        };
        write!(
            f,
            "{} {}.sql:{}: `{}` {who} reports (squawk {}, deployc {})",
            self.phase, self.case, self.line, self.rule, self.squawk, self.deployc
        )
    }
}

#[test]
fn deployc_agrees_with_squawk_except_where_documented() {
    let pinned = pinned_version();
    let bin = match squawk(&pinned) {
        Ok(bin) => bin,
        Err(reason) if std::env::var("DEPLOYC_REQUIRE_SQUAWK").as_deref() == Ok("1") => {
            panic!("DEPLOYC_REQUIRE_SQUAWK=1 but {reason}")
        }
        Err(reason) => {
            eprintln!("skipped: {reason} (set DEPLOYC_REQUIRE_SQUAWK=1 to fail instead)");
            return;
        }
    };

    let table: Table = toml::from_str(
        &std::fs::read_to_string(format!("{FIXTURES}/explained.toml")).expect("explained.toml"),
    )
    .expect("explained.toml parses");

    let mut cases: Vec<String> = std::fs::read_dir(format!("{FIXTURES}/cases"))
        .expect("the corpus")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".sql").map(str::to_string))
        .collect();
    cases.sort();
    assert!(cases.len() >= 100, "the corpus has {} cases", cases.len());

    // deployc's rules: the opt-in ones are turned on in squawk too, and a squawk rule that is
    // not among them is one deployc never runs.
    let rules =
        run_json(Command::new(env!("CARGO_BIN_EXE_deployc")).args(["rules", "--format", "json"]));
    let rules = rules.as_array().expect("rules");
    let deployc_rules: BTreeSet<&str> = rules
        .iter()
        .filter_map(|r| r["code"].as_str()?.strip_prefix("sql/"))
        .collect();
    let opt_in: Vec<String> = rules
        .iter()
        .filter(|r| r["default_level"] == "allow")
        .filter_map(|r| Some(r["code"].as_str()?.strip_prefix("sql/")?.to_string()))
        .collect();
    assert!(!opt_in.is_empty());

    let work = tempfile::tempdir().expect("a temporary directory");
    let mut deployc: BTreeMap<&str, (Findings, Findings)> = BTreeMap::new();
    for phase in PHASES {
        let dir = work.path().join(phase);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("deployc.toml"), "[rules]\n\"sql/*\" = \"warn\"\n")
            .expect("deployc.toml");
        let header = match phase {
            "contract" => "contract change of base",
            _ => "expand change",
        };
        for case in &cases {
            std::fs::copy(
                format!("{FIXTURES}/cases/{case}.sql"),
                dir.join(format!("{case}.sql")),
            )
            .expect("copy the case");
            let program = TEMPLATE.replace("HEADER", header).replace("CASE", case);
            std::fs::write(dir.join(format!("{case}.deploy")), program).expect("write");
        }
        deployc.insert(phase, deployc_findings(&dir));
    }
    let sql_dir = work.path().join(PHASES[0]);
    let plain = squawk_findings(&bin, &sql_dir, &cases, &opt_in, &[]);
    let in_transaction = squawk_findings(
        &bin,
        &sql_dir,
        &cases,
        &opt_in,
        &["--assume-in-transaction"],
    );
    assert!(!plain.is_empty(), "squawk found nothing in the corpus");

    let mut disagreements = Vec::new();
    for phase in PHASES {
        let ours = &deployc[phase].0;
        let keys: BTreeSet<_> = plain.keys().chain(ours.keys()).collect();
        for key in keys {
            let s = plain.get(key).copied().unwrap_or(0);
            let d = ours.get(key).copied().unwrap_or(0);
            if s != d {
                disagreements.push(Disagreement {
                    phase,
                    case: key.0.clone(),
                    rule: key.1.clone(),
                    line: key.2,
                    side: if s > d { Side::Squawk } else { Side::Deployc },
                    squawk: s,
                    deployc: d,
                });
            }
        }
    }

    let mut sections = BTreeMap::new();
    let mut problems = Vec::new();
    for c in &table.context {
        match section(&c.doc) {
            Ok(text) if text.contains(&c.quote) => {
                sections.insert(c.id.as_str(), text);
            }
            Ok(_) => problems.push(format!(
                "context `{}`: {} does not say \"{}\"",
                c.id, c.doc, c.quote
            )),
            Err(e) => problems.push(format!("context `{}`: {e}", c.id)),
        }
    }

    let holds = |c: &Context, d: &Disagreement| -> bool {
        if c.side != d.side {
            return false;
        }
        let Some(text) = sections.get(c.id.as_str()) else {
            return false;
        };
        if c.names_rule && !text.contains(&format!("`{}`", d.rule)) {
            return false;
        }
        let key = (d.case.clone(), d.rule.clone(), d.line);
        let line_key = (d.case.clone(), "M203".to_string(), d.line);
        match c.check {
            Check::NotRun => !deployc_rules.contains(d.rule.as_str()),
            Check::Transaction => in_transaction.get(&key).copied().unwrap_or(0) == d.deployc,
            Check::Contract => {
                let (sql, m203) = &deployc["expand"];
                d.phase == "contract"
                    && (sql.get(&key).copied().unwrap_or(0) == d.squawk
                        || m203.contains_key(&line_key))
            }
            Check::M203 => d.phase != "contract" && deployc[d.phase].1.contains_key(&line_key),
        }
    };

    let mut used: BTreeMap<&str, usize> =
        table.context.iter().map(|c| (c.id.as_str(), 0)).collect();
    let mut report = String::new();
    for d in &disagreements {
        match table.context.iter().find(|c| holds(c, d)) {
            Some(c) => {
                *used.entry(c.id.as_str()).or_default() += 1;
                let _ = writeln!(report, "{d}: {} ({})", c.id, c.doc);
            }
            None => problems.push(format!("unexplained: {d}")),
        }
    }
    for c in &table.context {
        if used.get(c.id.as_str()) == Some(&0) {
            problems.push(format!(
                "context `{}` ({}) explains no disagreement any more; remove it",
                c.id, c.because
            ));
        }
    }
    eprintln!(
        "{} cases × {} phases, {} squawk findings, {} disagreements:\n{report}",
        cases.len(),
        PHASES.len(),
        plain.values().sum::<usize>(),
        disagreements.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
