//! The command line as users see it: exit codes, stdout and stderr.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

fn deployc(args: &[&str]) -> (i32, String, String) {
    deployc_env(args, &[])
}

/// Runs deployc without colour and outside GitHub Actions, with `env` set.
fn deployc_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deployc"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_examples_has_no_denied_finding() {
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

const M204: &str = "tests/fixtures/lint/M204/contract-in-same-release.deploy";

#[test]
fn every_finding_on_the_examples() {
    // The precision snapshot: every finding deployc reports on the examples, each reviewed.
    let (code, out, err) = deployc(&["check", "examples", "--format", "short"]);
    assert_eq!(code, 0, "a denied finding on the examples:\n{out}{err}");
    insta::assert_snapshot!(out);
}

#[test]
fn explain_by_code_or_name() {
    let (code, by_code, _) = deployc(&["explain", "M204"]);
    assert_eq!(code, 0);
    let (_, by_name, _) = deployc(&["explain", "contract-in-expand-release"]);
    assert_eq!(by_code, by_name);
    insta::assert_snapshot!(by_code);
    let (code, _, err) = deployc(&["explain", "M2O4"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `M204`?"), "{err}");
}

#[test]
fn rules_lists_every_rule() {
    let (code, out, _) = deployc(&["rules"]);
    assert_eq!(code, 0);
    for rule in deployc::lint::all_rules() {
        assert!(out.contains(rule.code), "{} missing:\n{out}", rule.code);
    }
    let (code, json, _) = deployc(&["rules", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let first = &v[0];
    assert!(
        first["code"].is_string() && first["level"].is_string() && first["help_uri"].is_string()
    );
    assert_eq!(
        v.as_array().unwrap().len(),
        deployc::lint::all_rules().count()
    );
}

#[test]
fn invalid_configuration_is_exit_2_pointing_into_it() {
    let (code, _, err) = deployc(&["check", "tests/fixtures/config/bad"]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(err);
}

#[test]
fn levels_from_configuration_and_fail_on() {
    // M204 is denied by default: exit 1.
    let (code, _, _) = deployc(&["check", M204]);
    assert_eq!(code, 1);
    let (code, _, _) = deployc(&["check", M204, "--exit-zero"]);
    assert_eq!(code, 0);
    // The fixture's deployc.toml makes it a warning: exit 0, unless warnings fail.
    let levels = "tests/fixtures/config/levels/service.deploy";
    let (code, out, _) = deployc(&["check", levels, "--format", "short"]);
    assert_eq!(code, 0);
    assert!(out.contains("warning[M204]"), "{out}");
    let (code, _, _) = deployc(&["check", levels, "--fail-on", "warning"]);
    assert_eq!(code, 1);
    let (code, _, _) = deployc(&["check", levels, "--deny-warnings"]);
    assert_eq!(code, 1);
    // `--config` replaces discovery.
    let (code, out, _) = deployc(&[
        "check",
        M204,
        "--config",
        "tests/fixtures/config/levels/deployc.toml",
        "--format",
        "short",
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = deployc(&["check", M204, "--config", "no/such/deployc.toml"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn json_output_is_versioned_with_positions() {
    let (code, out, _) = deployc(&["check", M204, "--format", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["counts"]["errors"], 1);
    let d = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "M204")
        .unwrap();
    assert_eq!(d["rule"], "contract-in-expand-release");
    let start = &d["labels"][0]["start"];
    assert!(start["line"].as_u64().unwrap() >= 1 && start["offset"].is_u64());
    insta::assert_snapshot!(out);
}

#[test]
fn sarif_output_validates_against_the_schema() {
    // The shared schema when the design material is checked out beside the repository, else
    // the copy kept in the repository (the same file).
    let shared = std::path::Path::new("../shared/schemas/sarif-2.1.0.json");
    let schema_path = if shared.is_file() {
        shared
    } else {
        std::path::Path::new("tests/schemas/sarif-2.1.0.json")
    };
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    for args in [
        vec!["check", M204, "--format", "sarif"],
        vec!["check", "examples", "--format", "sarif"],
        vec![
            "check",
            "tests/fixtures/check/err/E301-percent-vs-duration.deploy",
            "--format",
            "sarif",
        ],
    ] {
        let (_, out, err) = deployc(&args);
        let doc: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{args:?}:\n{}", errors.join("\n"));
    }
    let (_, out, _) = deployc(&["check", M204, "--format", "sarif"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let run = &doc["runs"][0];
    let result = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "M204")
        .unwrap();
    assert_eq!(result["level"], "error");
    let loc = &result["locations"][0]["physicalLocation"];
    // Repository-relative, so the same on every machine.
    assert_eq!(loc["artifactLocation"]["uri"], M204);
    assert_eq!(loc["region"]["startLine"], 83);
    assert_eq!(
        result["relatedLocations"][0]["message"]["text"],
        "expanded here"
    );
    let index = result["ruleIndex"].as_u64().unwrap() as usize;
    let rule = &run["tool"]["driver"]["rules"][index];
    assert_eq!(rule["id"], "M204");
    assert_eq!(rule["defaultConfiguration"]["level"], "error");
    assert!(
        rule["helpUri"]
            .as_str()
            .unwrap()
            .ends_with("docs/rules/M204.md")
    );
    assert!(
        rule["help"]["text"]
            .as_str()
            .unwrap()
            .contains("## Why is this bad?")
    );
}

#[test]
fn github_annotations() {
    let (code, out, _) = deployc(&["check", M204, "--format", "github"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
    // Chosen by default inside GitHub Actions.
    let (_, auto, _) = deployc_env(&["check", M204], &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(auto, out);
}

#[test]
fn plan_refuses_a_denied_finding() {
    let (code, out, err) = deployc(&["plan", M204, "--release", "2.1.0", "--env", "staging"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains("no plan: 1 denied finding for release `2.1.0` in `staging`"),
        "{err}"
    );
}
