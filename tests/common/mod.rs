//! Helpers shared by the integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use codespan_reporting::term::termcolor::NoColor;
use deployc::compile::{compile_files, read_from_disk};
use deployc::diagnostics::{Diagnostic, render_human};
use deployc::resolve::Session;

/// Every `.deploy` file under `dir`, sorted, as (display name, path).
pub fn deploy_files(dir: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    walk(Path::new(dir), &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "deploy") {
            out.push((p.to_string_lossy().replace('\\', "/"), p));
        }
    }
}

/// Compiles files from disk; returns the session and the diagnostics.
pub fn compile(files: &[(String, PathBuf)]) -> (Session, Vec<Diagnostic>) {
    let mut read = read_from_disk;
    let (session, _, diags) = compile_files(files, &mut read).unwrap();
    (session, diags)
}

/// Diagnostics rendered as a person sees them, without colour.
pub fn render(session: &Session, diags: &[Diagnostic]) -> String {
    let mut out = NoColor::new(Vec::new());
    render_human(diags, &session.sources, &mut out).unwrap();
    String::from_utf8(out.into_inner()).unwrap()
}

/// The codes listed in a fixture's `# expect: E301, E302` header.
pub fn expected_codes(text: &str) -> Vec<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("# expect:"))
        .map(|rest| {
            rest.split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
