//! The command line as users see it: exit codes, stdout and stderr.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

fn deployc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deployc"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_examples_is_clean() {
    let (code, _, err) = deployc(&["check", "examples"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!(err);
}

#[test]
fn check_errors_exit_1_with_diagnostics() {
    let (code, out, err) = deployc(&[
        "check",
        "tests/fixtures/check/err/E301-percent-vs-duration.deploy",
    ]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    insta::assert_snapshot!(err);
}

#[test]
fn check_short_and_json_formats() {
    let (code, out, _) = deployc(&[
        "check",
        "--format",
        "short",
        "tests/fixtures/check/err/E305-unknown-placeholder.deploy",
    ]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("short", out);
    let (code, out, _) = deployc(&[
        "check",
        "--format",
        "json",
        "tests/fixtures/check/err/E305-unknown-placeholder.deploy",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], 1);
    assert!(v["counts"]["errors"].as_u64().unwrap() >= 1);
    insta::assert_snapshot!("json", out);
}

#[test]
fn missing_path_is_exit_2_naming_it() {
    let (code, _, err) = deployc(&["check", "no/such/dir"]);
    assert_eq!(code, 2);
    assert!(err.contains("no/such/dir"), "{err}");
}

#[test]
fn bad_flag_is_exit_2() {
    let (code, _, err) = deployc(&["check", "--format", "xml"]);
    assert_eq!(code, 2);
    assert!(err.contains("xml"));
}

#[test]
fn plan_markdown_of_checkout() {
    let (code, out, err) = deployc(&[
        "plan",
        "examples/checkout.deploy",
        "--release",
        "2.1.0",
        "--env",
        "production",
        "--start",
        "2026-12-01T10:00",
        "--format",
        "markdown",
    ]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!(out);
}

#[test]
fn plan_of_a_program_with_errors_prints_no_plan() {
    let (code, out, err) = deployc(&[
        "plan",
        "tests/fixtures/check/err/E301-percent-vs-duration.deploy",
        "--release",
        "1.0.0",
        "--env",
        "production",
    ]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("no plan"), "{err}");
}

#[test]
fn plan_unknown_release_or_env_is_exit_2() {
    let (code, _, err) = deployc(&[
        "plan",
        "examples/checkout.deploy",
        "--release",
        "9.9.9",
        "--env",
        "production",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("9.9.9") && err.contains("2.1.0"), "{err}");
    let (code, _, err) = deployc(&[
        "plan",
        "examples/checkout.deploy",
        "--release",
        "2.1.0",
        "--env",
        "prod",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("prod"), "{err}");
    let (code, _, err) = deployc(&[
        "plan",
        "examples/checkout.deploy",
        "--release",
        "2.1.0",
        "--env",
        "production",
        "--start",
        "tomorrow",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("tomorrow"), "{err}");
}

#[test]
fn plan_missing_file_is_exit_2() {
    let (code, _, err) = deployc(&["plan", "nope.deploy", "--release", "1.0.0", "--env", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("nope.deploy"), "{err}");
}
