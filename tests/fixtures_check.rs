//! Fixtures: files that must parse and check clean, and files that must fail with the codes
//! their `# expect:` header lists. Failing fixtures are snapshotted with their source and the
//! rendered diagnostics, as a user sees them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;

#[test]
fn parse_ok_fixtures_check_clean() {
    let files = deploy_files("tests/fixtures/parse/ok");
    assert!(
        files.len() >= 20,
        "expected the feature fixtures, found {}",
        files.len()
    );
    for f in &files {
        let (session, diags) = compile(std::slice::from_ref(f));
        assert!(diags.is_empty(), "{}:\n{}", f.0, render(&session, &diags));
    }
}

fn snapshot_failures(dir: &str, name: &str) {
    let files = deploy_files(dir);
    assert!(!files.is_empty(), "no fixtures in {dir}");
    for f in &files {
        let bytes = std::fs::read(&f.1).unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let expected = expected_codes(&text);
        assert!(!expected.is_empty(), "{} has no `# expect:` header", f.0);
        let (session, diags) = compile(std::slice::from_ref(f));
        let codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
        for e in &expected {
            assert!(
                codes.contains(&e.as_str()),
                "{}: expected {e}, got {codes:?}",
                f.0
            );
        }
        let stem = f.1.file_stem().unwrap().to_string_lossy().into_owned();
        let rendered = render(&session, &diags);
        insta::with_settings!({ snapshot_suffix => stem, prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name, format!("{text}\n---- diagnostics ----\n{rendered}"));
        });
    }
}

#[test]
fn parse_error_fixtures() {
    snapshot_failures("tests/fixtures/parse/err", "parse_err");
}

#[test]
fn check_error_fixtures() {
    snapshot_failures("tests/fixtures/check/err", "check_err");
}
