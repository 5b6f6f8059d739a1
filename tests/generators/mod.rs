//! Generators of `.deploy` inputs shared by the property tests: mutations of real files (the
//! example and the stdlib). Random spans are deleted, replaced or duplicated, and keywords,
//! punctuation and unit literals are inserted, so most inputs get far into the grammar, the
//! resolver and the checker, and some stay valid programs.
#![allow(dead_code, clippy::indexing_slicing)]

use proptest::prelude::*;

/// Real programs the mutations start from.
pub const SEEDS: &[&str] = &[
    include_str!("../../examples/checkout.deploy"),
    include_str!("../../stdlib/std/http.deploy"),
    include_str!("../../stdlib/std/comms.deploy"),
    include_str!("../../stdlib/std/rollback.deploy"),
    include_str!("../../stdlib/std/checklists.deploy"),
];

/// Tokens that steer mutations towards interesting grammar: keywords, punctuation, literals
/// at the edge of their unit syntax, and text that stresses spans and line handling.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "=",
    ":",
    ",",
    "..",
    "\"",
    "\"\"\"",
    "\n",
    "#",
    "\\",
    "\\u{",
    "\\u{110000}",
    "import",
    "import std.http",
    "import \"./other.deploy\" as other",
    "service",
    "environment",
    "team",
    "channel",
    "metric",
    "message",
    "strategy",
    "rollback",
    "comms",
    "checklist",
    "release",
    "release \"1.0.0\" { }",
    "release \"x\" { }",
    "env",
    "timeout",
    "every",
    "for",
    "require",
    "after",
    "of",
    "when",
    "and",
    "or",
    "baseline",
    "notify",
    "run",
    "canary",
    "blue_green",
    "rolling",
    "recreate",
    "flags_only",
    "step",
    "migrations",
    "expand",
    "data",
    "index",
    "contract",
    "up = sql",
    "down = noop \"x\"",
    "sql \"\"\"",
    "file \"x.sql\"",
    "flag",
    "day",
    "monitor",
    "then checkins",
    "std.comms.done",
    "std.rollback.standard",
    "std.nope.x",
    "error_rate",
    "latency_p95",
    "0",
    "-1",
    "5%",
    "150%",
    "-5%",
    "0.5%",
    "10m",
    "-10m",
    "0s",
    "99999999999999999999",
    "1_000",
    "2x",
    "1.5x",
    "20/s",
    "T-24h",
    "T+0",
    "T-0",
    "+4h",
    "2026-12-20",
    "2026-02-30",
    "9999-99-99",
    "09:00",
    "25:61",
    "mon..sun",
    "{service}",
    "{version}",
    "{nope}",
    "{",
    "é",
    "\u{1F680}",
    "\r\n",
    "\t",
    "\u{0}",
    "\u{FEFF}",
];

/// One edit of a seed file. Positions are taken modulo the current length.
#[derive(Debug, Clone)]
enum Mutation {
    Delete {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        text: Vec<u8>,
    },
    Replace {
        at: usize,
        len: usize,
        text: Vec<u8>,
    },
    /// Copies a span of the file (or another seed) somewhere else: splicing real syntax.
    Splice {
        from_seed: usize,
        from: usize,
        len: usize,
        at: usize,
    },
}

fn insert_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::sample::select(TOKENS).prop_map(|t| t.as_bytes().to_vec()),
        1 => any::<String>().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..8),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0usize..64).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), insert_text()).prop_map(|(at, text)| Mutation::Insert { at, text }),
        (any::<usize>(), 0usize..32, insert_text()).prop_map(|(at, len, text)| Mutation::Replace {
            at,
            len,
            text
        }),
        (any::<usize>(), any::<usize>(), 0usize..400, any::<usize>()).prop_map(
            |(from_seed, from, len, at)| Mutation::Splice {
                from_seed,
                from,
                len,
                at
            }
        ),
    ]
}

fn apply(seed: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut buf = seed.as_bytes().to_vec();
    for m in mutations {
        let n = buf.len();
        let pos = |at: usize| if n == 0 { 0 } else { at % (n + 1) };
        match m {
            Mutation::Delete { at, len } => {
                let start = pos(*at);
                let end = (start + len).min(n);
                buf.drain(start..end);
            }
            Mutation::Insert { at, text } => {
                let start = pos(*at);
                buf.splice(start..start, text.iter().copied());
            }
            Mutation::Replace { at, len, text } => {
                let start = pos(*at);
                let end = (start + len).min(n);
                buf.splice(start..end, text.iter().copied());
            }
            Mutation::Splice {
                from_seed,
                from,
                len,
                at,
            } => {
                let src = SEEDS[from_seed % SEEDS.len()].as_bytes();
                let start = from % (src.len() + 1);
                let end = (start + len).min(src.len());
                let piece = src[start..end].to_vec();
                let at = pos(*at);
                buf.splice(at..at, piece);
            }
        }
    }
    buf
}

pub fn mutated_seed() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(SEEDS),
        prop::collection::vec(mutation(), 1..8),
    )
        .prop_map(|(seed, ms)| apply(seed, &ms))
}
