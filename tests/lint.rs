//! The lint rules: every rule fires on its fixtures and stays silent on its negative ones,
//! the registry keeps its conventions, and `docs/rules/` matches the rule sources.
//!
//! Fixtures live in `tests/fixtures/lint/<CODE>/` (`sql/<name>` rules in
//! `tests/fixtures/lint/sql/<name>/`). A header line `# expect: CODE` says the file must
//! produce that finding, `# expect-not: CODE` that it must not; `# start: TIME` lints it as
//! planned for that T-0. A `deployc.toml` or `.deployc/history` beside a fixture applies to
//! it as it would for a user. Every fixture is snapshotted with its source and findings.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::*;
use deployc::compile::{check_files, read_from_disk};
use deployc::lint::{self, LintOptions, docs};

fn header<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.strip_prefix(key))
        .flat_map(|rest| {
            rest.split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
        })
        .collect()
}

/// The rule code a fixture belongs to, from its directory.
fn fixture_code(path: &Path) -> String {
    let rel = path.strip_prefix("tests/fixtures/lint").unwrap();
    let parts: Vec<String> = rel
        .parent()
        .unwrap()
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

fn lint_fixture(f: &(String, PathBuf)) -> (deployc::compile::CheckRun, String) {
    let text = std::fs::read_to_string(&f.1).unwrap();
    let start = header(&text, "# start:")
        .first()
        .map(|s| s.parse::<jiff::Timestamp>().unwrap());
    let options = LintOptions {
        start,
        ..LintOptions::default()
    };
    let mut read = read_from_disk;
    let run = check_files(std::slice::from_ref(f), &mut read, None, &options).unwrap();
    (run, text)
}

#[test]
fn every_fixture_fires_or_stays_silent_as_its_header_says() {
    let files = deploy_files("tests/fixtures/lint");
    assert!(!files.is_empty());
    for f in &files {
        let (run, text) = lint_fixture(f);
        let codes: Vec<&str> = run.diagnostics.iter().map(|d| d.code.as_str()).collect();
        let expect = header(&text, "# expect:");
        let expect_not = header(&text, "# expect-not:");
        assert!(
            !expect.is_empty() || !expect_not.is_empty(),
            "{} has neither `# expect:` nor `# expect-not:`",
            f.0
        );
        let rendered = render(&run.session, &run.diagnostics);
        for e in &expect {
            assert!(codes.contains(e), "{}: expected {e}, got:\n{rendered}", f.0);
        }
        for e in &expect_not {
            assert!(
                !codes.contains(e),
                "{}: {e} must not fire, got:\n{rendered}",
                f.0
            );
        }
        // A fixture must be a valid program: lints only run on those.
        assert!(
            !codes.iter().any(|c| c.starts_with('E')),
            "{}: not a valid program:\n{rendered}",
            f.0
        );
        let name = format!(
            "{}__{}",
            fixture_code(&f.1).replace('/', "-"),
            f.1.file_stem().unwrap().to_string_lossy()
        );
        insta::with_settings!({ snapshot_suffix => name, prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!("lint", format!("{text}\n---- findings ----\n{rendered}"));
        });
    }
}

#[test]
fn every_rule_has_a_firing_and_a_silent_fixture() {
    let mut fires: BTreeMap<String, usize> = BTreeMap::new();
    let mut silent: BTreeMap<String, usize> = BTreeMap::new();
    for f in deploy_files("tests/fixtures/lint") {
        let code = fixture_code(&f.1);
        let text = std::fs::read_to_string(&f.1).unwrap();
        if header(&text, "# expect:").contains(&code.as_str()) {
            *fires.entry(code.clone()).or_default() += 1;
        }
        if header(&text, "# expect-not:").contains(&code.as_str()) {
            *silent.entry(code).or_default() += 1;
        }
    }
    let mut missing = Vec::new();
    for rule in lint::all_rules() {
        if !fires.contains_key(rule.code) {
            missing.push(format!("{}: no fixture that fires", rule.code));
        }
        if !silent.contains_key(rule.code) {
            missing.push(format!("{}: no fixture that stays silent", rule.code));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn registry_conventions() {
    let mut codes = BTreeSet::new();
    let mut names = BTreeSet::new();
    for rule in lint::all_rules() {
        assert!(codes.insert(rule.code), "duplicate code {}", rule.code);
        assert!(names.insert(rule.name), "duplicate name {}", rule.name);
        assert!(
            rule.name.split('-').all(|w| !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
            "{}: name `{}` is not kebab-case",
            rule.code,
            rule.name
        );
        let plan_code = rule.code.len() == 4
            && rule.code[1..].chars().all(|c| c.is_ascii_digit())
            && rule.code.starts_with(|c: char| c.is_ascii_uppercase());
        let sql_code = rule.code == format!("sql/{}", rule.name);
        assert!(plan_code || sql_code, "{}: bad code", rule.code);
        assert!(
            !rule.summary.ends_with('.') && !rule.summary.starts_with(|c: char| c.is_uppercase()),
            "{}: summary must be lowercase without a final period",
            rule.code
        );
    }
}

#[test]
fn every_rule_doc_has_the_four_sections() {
    for rule in lint::all_rules() {
        let doc = rule.doc();
        let mut at = 0;
        for section in [
            "## What it does",
            "## Why is this bad?",
            "## Example",
            "## Use instead",
        ] {
            let Some(i) = doc[at..].find(section) else {
                panic!("{}: doc lacks `{section}` (in this order)", rule.code);
            };
            at += i + section.len();
        }
    }
}

#[test]
fn rule_docs_are_in_sync() {
    let dir = Path::new("docs/rules");
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    expected.insert("README.md".to_string(), docs::index());
    for rule in lint::all_rules() {
        expected.insert(docs::page_name(rule), docs::page(rule));
    }
    if std::env::var_os("DEPLOYC_UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(dir).unwrap();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".md") && !expected.contains_key(&name) {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
        for (name, text) in &expected {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
    let mut problems = Vec::new();
    for (name, text) in &expected {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(on_disk) if on_disk == *text => {}
            Ok(_) => problems.push(format!("docs/rules/{name} is out of date")),
            Err(_) => problems.push(format!("docs/rules/{name} is missing")),
        }
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !expected.contains_key(&name) {
            problems.push(format!("docs/rules/{name} belongs to no rule"));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\nrun `DEPLOYC_UPDATE_DOCS=1 cargo test --test lint rule_docs_are_in_sync`",
        problems.join("\n")
    );
}

/// The examples are what users copy: no lint may deny them, and every warning on them must
/// be true (the snapshot lists them for review).
#[test]
fn examples_have_no_denied_findings() {
    let mut all = String::new();
    for f in deploy_files("examples") {
        let (run, _) = lint_fixture(&f);
        let rendered = render(&run.session, &run.diagnostics);
        assert!(
            !run.diagnostics
                .iter()
                .any(|d| d.severity == deployc::diagnostics::Severity::Error),
            "{}: denied findings:\n{rendered}",
            f.0
        );
        all.push_str(&format!("==== {} ====\n{rendered}\n", f.0));
    }
    insta::assert_snapshot!("examples_lint_findings", all);
}

#[test]
fn unreadable_history_line_is_an_error_at_that_line() {
    let dir = std::env::temp_dir().join(format!("deployc-history-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(".deployc")).unwrap();
    let file = dir.join("app.deploy");
    std::fs::write(
        &file,
        "service api { health = http \"http://localhost/health\" }\n",
    )
    .unwrap();
    let good = r#"{"format":1,"run":"r1","service":"api","release":"1.0.0","environment":"staging","outcome":"succeeded","started_at":"2026-11-01T09:00:00Z","finished_at":"2026-11-01T09:20:00Z"}"#;
    std::fs::write(
        dir.join(".deployc/history"),
        format!("{good}\n{{\"format\":1,\"run\":\"r2\"\n"),
    )
    .unwrap();
    let mut read = read_from_disk;
    let run = check_files(
        &[("app.deploy".to_string(), file)],
        &mut read,
        None,
        &LintOptions::default(),
    )
    .unwrap();
    let rendered = render(&run.session, &run.diagnostics);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        rendered.contains("error[E502]: cannot read line 2 of the run history"),
        "{rendered}"
    );
    assert!(rendered.contains("history:2:1"), "{rendered}");
    assert!(
        rendered.contains("EOF while parsing an object"),
        "{rendered}"
    );
}
