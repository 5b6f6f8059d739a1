#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Property tests: parsing, resolving and checking (`compile_source`) never panics and always
//! terminates, whatever the input, and every diagnostic it produces renders without panicking.
//!
//! Three generators:
//! * arbitrary byte vectors, including invalid UTF-8;
//! * arbitrary strings;
//! * mutations of real `.deploy` files (the example and the stdlib): random spans are deleted,
//!   replaced or duplicated, and keywords, punctuation and unit literals are inserted, so most
//!   inputs get far into the grammar, the resolver and the checker.

use std::time::{Duration, Instant};

use codespan_reporting::term::termcolor::NoColor;
use deployc::compile::compile_source;
use deployc::diagnostics::{Diagnostic, render_human, render_short, to_json};
use proptest::prelude::*;
use proptest::test_runner::Config;

mod generators;
use generators::{SEEDS, mutated_seed};

/// How long one input may take before we call it a hang. Inputs are a few kilobytes; a
/// debug build checks the whole example in milliseconds, so this only trips on blow-ups.
const LIMIT: Duration = Duration::from_secs(20);

/// Compiles `bytes` and renders every diagnostic in every format.
fn compile_and_render(bytes: &[u8]) {
    let started = Instant::now();
    let (session, compiled) = compile_source("fuzz.deploy", bytes);
    let diags: Vec<Diagnostic> = compiled
        .output
        .errors
        .iter()
        .map(|e| e.to_diagnostic())
        .collect();
    let short = render_short(&diags, &session.sources);
    assert_eq!(short.lines().count(), diags.len(), "{short}");
    let mut out = NoColor::new(Vec::new());
    render_human(&diags, &session.sources, &mut out)
        .unwrap_or_else(|e| panic!("render_human failed: {e}\n{short}"));
    for d in &diags {
        let _ = to_json(d, &session.sources);
    }
    let elapsed = started.elapsed();
    assert!(elapsed < LIMIT, "{} bytes took {elapsed:?}", bytes.len());
}

fn config() -> Config {
    Config {
        // `PROPTEST_CASES=100000 cargo test --release --test proptest_parse` searches longer.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        // Regressions found here are kept as named tests below, not in a side file.
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        compile_and_render(&bytes);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        compile_and_render(s.as_bytes());
    }

    #[test]
    fn mutated_examples_never_panic(bytes in mutated_seed()) {
        compile_and_render(&bytes);
    }
}

#[test]
fn seeds_check_and_render() {
    for seed in SEEDS {
        compile_and_render(seed.as_bytes());
    }
}

#[test]
fn empty_and_tiny_inputs() {
    for input in [
        &b""[..],
        b"\n",
        b"\xff",
        b"\xef\xbb\xbf",
        b"{",
        b"\"",
        b"\"\"\"",
        b"#",
        b"release",
    ] {
        compile_and_render(input);
    }
}
