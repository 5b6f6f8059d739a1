//! Feeds arbitrary bytes to parse + resolve + check and renders every diagnostic: nothing
//! may panic, hang or render out of bounds.
#![no_main]

use codespan_reporting::term::termcolor::NoColor;
use deployc::compile::compile_source;
use deployc::diagnostics::{Diagnostic, render_human, render_short, to_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (session, compiled) = compile_source("fuzz.deploy", data);
    let diags: Vec<Diagnostic> = compiled
        .output
        .errors
        .iter()
        .map(|e| e.to_diagnostic())
        .collect();
    let short = render_short(&diags, &session.sources);
    assert_eq!(short.lines().count(), diags.len());
    let mut out = NoColor::new(Vec::new());
    if let Err(e) = render_human(&diags, &session.sources, &mut out) {
        panic!("render_human failed: {e}\n{short}");
    }
    for d in &diags {
        let _ = to_json(d, &session.sources);
    }
});
