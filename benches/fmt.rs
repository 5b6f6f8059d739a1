//! Benchmark of `deployc fmt`: formatting the generated program of `benches/check.rs`
//! (10,000 lines) from memory, reported in bytes per second. The program is not formatted
//! to begin with (the generator writes its own layout), so the benchmark does the whole
//! work: parse with comments, lay out, align; it is asserted once, outside the timed loop,
//! that the result is a fixed point.
//!
//! Run with `cargo bench --bench fmt`.

use std::sync::LazyLock;

use deployc::fmt::format_source;
use divan::Bencher;
use divan::counter::BytesCount;

#[allow(dead_code)] // only the single program is formatted here
mod inputs;

const PROGRAM_LINES: usize = 10_000;

static PROGRAM: LazyLock<String> = LazyLock::new(|| inputs::program(PROGRAM_LINES));
static FORMATTED: LazyLock<String> = LazyLock::new(|| match format_source(&PROGRAM) {
    Ok(f) => f,
    Err(e) => {
        eprintln!("the benchmark program does not parse: {e}");
        std::process::exit(2);
    }
});

fn main() {
    let again = format_source(&FORMATTED).ok();
    if again.as_deref() != Some(FORMATTED.as_str()) {
        eprintln!("formatting the benchmark program is not idempotent");
        std::process::exit(2);
    }
    divan::main();
}

/// The generated program as written.
#[divan::bench(sample_count = 50)]
fn program(bencher: Bencher) {
    let src = PROGRAM.as_str();
    bencher
        .counter(BytesCount::new(src.len()))
        .bench(|| format_source(divan::black_box(src)));
}

/// The same program already formatted: what `deployc fmt --check` does in CI.
#[divan::bench(sample_count = 50)]
fn formatted_program(bencher: Bencher) {
    let src = FORMATTED.as_str();
    bencher
        .counter(BytesCount::new(src.len()))
        .bench(|| format_source(divan::black_box(src)));
}
