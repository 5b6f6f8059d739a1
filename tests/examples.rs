//! Every example and every stdlib module checks clean, and the plans of every example are
//! snapshotted (the checkout example in every format).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use deployc::compile::{compile_files, read_from_disk};
use deployc::lower::{self, LowerOptions, render};
use deployc::resolve::{Names, STDLIB};

#[test]
fn examples_check_clean() {
    let files = deploy_files("examples");
    assert!(files.len() >= 7);
    let (session, diags) = compile(&files);
    assert!(diags.is_empty(), "{}", render(&session, &diags));
}

#[test]
fn stdlib_modules_check_clean() {
    for (name, text) in STDLIB {
        let (session, compiled) = deployc::compile::compile_source(name, text.as_bytes());
        let diags: Vec<_> = compiled
            .output
            .errors
            .iter()
            .map(|e| e.to_diagnostic())
            .collect();
        assert!(diags.is_empty(), "{name}:\n{}", render(&session, &diags));
    }
}

fn plans(file: &str) -> Vec<(String, String, lower::Plan)> {
    plans_with(file, false)
}

fn plans_with(file: &str, without_rollback_lists: bool) -> Vec<(String, String, lower::Plan)> {
    let mut read = read_from_disk;
    let (session, compiled, diags) =
        compile_files(&[(file.to_string(), file.into())], &mut read).unwrap();
    assert!(diags.is_empty());
    let c = &compiled[0];
    let names = Names::new(&session, &c.program);
    let releases: Vec<String> = names
        .releases()
        .map(|(_, r)| r.version.value.clone())
        .collect();
    let envs: Vec<String> = names.environments().map(|e| e.name.name.clone()).collect();
    let start = "2026-12-01T09:00:00Z".parse().unwrap();
    let mut out = Vec::new();
    for r in &releases {
        for e in &envs {
            let plan = lower::lower(
                &names,
                &session.sources,
                &c.output.sql,
                r,
                e,
                &LowerOptions {
                    start: Some(start),
                    without_rollback_lists,
                    previous_release: None,
                },
            )
            .unwrap();
            out.push((r.clone(), e.clone(), plan));
        }
    }
    out
}

/// The lint lowers plans without each step's rollback list; everything else, the
/// worst-case rollback included, is the same plan.
#[test]
fn plans_without_rollback_lists_keep_their_timing() {
    for (name, _) in deploy_files("examples") {
        let full = plans_with(&name, false);
        let lean = plans_with(&name, true);
        assert_eq!(full.len(), lean.len());
        for ((r, e, mut a), (_, _, b)) in full.into_iter().zip(lean) {
            assert!(
                b.phases
                    .iter()
                    .flat_map(|p| &p.steps)
                    .all(|s| s.rollback.is_empty())
            );
            for s in a.phases.iter_mut().flat_map(|p| p.steps.iter_mut()) {
                s.rollback.clear();
            }
            assert_eq!(a, b, "{name} {r} {e}");
        }
    }
}

#[test]
fn plans_of_every_example() {
    for (name, _) in deploy_files("examples") {
        let stem = std::path::Path::new(&name)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for (release, env, plan) in plans(&name) {
            insta::with_settings!({ snapshot_suffix => format!("{stem}-{release}-{env}"), omit_expression => true }, {
                insta::assert_snapshot!("plan_text", render::text(&plan));
            });
        }
    }
}

#[test]
fn checkout_plan_in_every_format() {
    let plans = plans("examples/checkout.deploy");
    let (_, _, plan) = plans
        .iter()
        .find(|(r, e, _)| r == "2.1.0" && e == "production")
        .unwrap();
    insta::assert_snapshot!("checkout_markdown", render::markdown(plan));
    insta::assert_snapshot!("checkout_dot", render::dot(plan));
    insta::assert_snapshot!("checkout_mermaid", render::mermaid(plan));
    insta::assert_json_snapshot!("checkout_json", plan);
    // The JSON form reads back to the same plan: what was reviewed is what runs.
    let json = serde_json::to_string(plan).unwrap();
    let back: lower::Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, plan);
}

#[test]
fn every_step_has_a_rollback_and_the_point_of_no_return_is_marked() {
    for (name, _) in deploy_files("examples") {
        for (_, _, plan) in plans(&name) {
            let steps: Vec<_> = plan.phases.iter().flat_map(|p| p.steps.iter()).collect();
            assert!(steps.iter().all(|s| !s.rollback.is_empty()));
            let marked: Vec<_> = steps.iter().filter(|s| s.point_of_no_return).collect();
            match &plan.point_of_no_return {
                Some(id) => assert!(marked.len() == 1 && &marked[0].id == id),
                None => assert!(marked.is_empty()),
            }
        }
    }
}
