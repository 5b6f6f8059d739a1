#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The hand-written parser (`syntax::parse_fast`) against pest (`syntax::parse_pest`).
//!
//! `syntax::parse` uses the hand-written parser first and pest when it gives up, so the
//! hand-written one must be invisible: whenever it returns a module, pest accepts the same
//! text with no errors and builds an identical module (compared through `{:#?}`, which
//! shows every node, span, comment and string span). And it must not give up on valid
//! files, or it would not be worth having: every valid `.deploy` file of the repository and
//! every benchmark input goes through it.

#[path = "../benches/inputs/mod.rs"]
mod inputs;

use std::path::{Path, PathBuf};

use deployc::source::FileId;
use deployc::syntax::{
    cst_fast_dump, cst_pest_dump, parse, parse_fast, parse_fast_pieces, parse_pest,
};
use proptest::prelude::*;
use proptest::test_runner::Config;

const FILE: FileId = FileId(3);

/// What happened to one input.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Both parsers built the same module.
    Same,
    /// The hand-written parser gave up; pest's result is what `parse` returns.
    FellBack,
}

/// Runs both parsers and checks the invariant; panics with the first difference.
fn compare(name: &str, src: &str) -> Outcome {
    let fast = parse_fast(FILE, src);
    compare_pieces(name, src, fast.as_ref().map(|m| format!("{m:#?}")));
    let (pest, errors) = parse_pest(FILE, src);
    let (combined, combined_errors) = parse(FILE, src);
    let Some(fast) = fast else {
        // `parse` must then be exactly pest.
        assert_eq!(
            format!("{combined:#?}{combined_errors:?}"),
            format!("{pest:#?}{errors:?}"),
            "{name}: parse differs from pest after falling back"
        );
        // The formatter falls back with it.
        assert!(
            cst_fast_dump(FILE, src).is_none(),
            "{name}: the fast parser built a tree but no module"
        );
        return Outcome::FellBack;
    };
    assert!(
        errors.is_empty(),
        "{name}: the fast parser accepted a file pest reports errors for: {errors:?}"
    );
    let pest = pest.unwrap_or_else(|| panic!("{name}: the fast parser accepted invalid input"));
    let (a, b) = (format!("{fast:#?}"), format!("{pest:#?}"));
    assert_same_dump(&format!("{name}: modules"), &a, &b, "");
    let combined = combined.map(|m| format!("{m:#?}"));
    assert!(combined.as_ref() == Some(&a), "{name}: parse differs");
    assert!(combined_errors.is_empty());
    compare_trees(name, src);
    Outcome::Same
}

/// A large file is parsed in pieces side by side: cut anywhere a line starts with
/// `release `, the pieces must give the module of the whole parse, or give up on the same
/// files (or not be used at all, where a cut falls inside an item).
fn compare_pieces(name: &str, src: &str, whole: Option<String>) {
    for pieces in [2, 3, 8] {
        match parse_fast_pieces(FILE, src, pieces) {
            None => {}
            Some(None) => assert!(
                whole.is_none(),
                "{name}: in {pieces} pieces the fast parser gave up on a file it parses whole"
            ),
            Some(Some(m)) => {
                let Some(whole) = &whole else {
                    panic!(
                        "{name}: in {pieces} pieces the fast parser accepted a file it gives up on whole"
                    );
                };
                assert_same_dump(
                    &format!("{name}: {pieces} pieces"),
                    &format!("{m:#?}"),
                    whole,
                    "",
                );
            }
        }
    }
}

/// The concrete tree the formatter prints: built by the hand-written parser for every file
/// it accepts, it must be the one built from pest's pairs, token for token (text, offset,
/// kind) and group for group.
fn compare_trees(name: &str, src: &str) {
    let fast = cst_fast_dump(FILE, src)
        .unwrap_or_else(|| panic!("{name}: the module came from the fast parser but no tree"));
    let pest = cst_pest_dump(FILE, src)
        .unwrap_or_else(|| panic!("{name}: pest builds no concrete tree for a valid file"));
    assert_same_dump(
        &format!("{name}: concrete trees"),
        &fast,
        &pest,
        &format!("\n--- source:\n{src}"),
    );
}

/// Fails with the lines around the first difference of two debug dumps (`what` names them,
/// `more` is appended to the message).
fn assert_same_dump(what: &str, fast: &str, pest: &str, more: &str) {
    if fast == pest {
        return;
    }
    let line = fast
        .lines()
        .zip(pest.lines())
        .position(|(x, y)| x != y)
        .unwrap_or(0);
    let context = |s: &str| {
        s.lines()
            .skip(line.saturating_sub(16))
            .take(24)
            .collect::<Vec<_>>()
            .join("\n")
    };
    panic!(
        "{what} differ at line {line} of the dump\n--- fast:\n{}\n--- pest:\n{}{more}",
        context(fast),
        context(pest)
    );
}

/// Whether pest accepts the text and its builder reports nothing.
fn valid(src: &str) -> bool {
    let (module, errors) = parse_pest(FILE, src);
    module.is_some() && errors.is_empty()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        if path.is_dir() {
            if name != "target" && name != ".git" && name != "node_modules" {
                collect(&path, out);
            }
        } else if path.extension().is_some_and(|x| x == "deploy") {
            out.push(path);
        }
    }
}

/// Every `.deploy` file of the repository: examples, the standard library, the fixtures,
/// the runtime tests and the editor tests.
fn repository_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    collect(Path::new(env!("CARGO_MANIFEST_DIR")), &mut out);
    out.sort();
    out
}

#[test]
fn every_repository_file() {
    let files = repository_files();
    assert!(files.len() > 300, "found only {} files", files.len());
    let (mut same, mut fell_back) = (0, 0);
    for path in &files {
        let Ok(src) = std::fs::read_to_string(path) else {
            continue; // not UTF-8: rejected before parsing
        };
        let name = path.display().to_string();
        let outcome = compare(&name, &src);
        // Valid files must not fall back; invalid ones (and the ones whose literals the
        // builder reports) always do.
        assert_eq!(
            outcome == Outcome::Same,
            valid(&src),
            "{name}: fast path {outcome:?}"
        );
        match outcome {
            Outcome::Same => same += 1,
            Outcome::FellBack => fell_back += 1,
        }
    }
    assert!(same > 250, "{same} same, {fell_back} fell back");
    assert!(fell_back > 15, "{same} same, {fell_back} fell back");
}

#[test]
fn benchmark_inputs() {
    let program = inputs::program(10_000);
    assert_eq!(compare("program", &program), Outcome::Same);
    // A large program is parsed in pieces, not whole.
    assert!(matches!(
        parse_fast_pieces(FILE, &program, 8),
        Some(Some(_))
    ));
    // The tree's files differ only in numbering between services; two services cover them.
    for s in [0, 39] {
        assert_eq!(compare("shared", &inputs::shared_module(s)), Outcome::Same);
        for r in 0..24 {
            let name = format!("svc_{s}/r{r}");
            assert_eq!(compare(&name, &inputs::release_file(s, r)), Outcome::Same);
        }
    }
}

/// Small programs around the corners of the grammar, each valid.
const VALID: &[&str] = &[
    "",
    "   \n\t\r\n",
    "# only a comment",
    "# doc\n# more doc\nservice a { }",
    // Spans of rules ending with an optional part include the blanks and comments after
    // them (pest does not undo the skip before an optional that matched nothing).
    "channel a = stdout  # trailing\n# doc of b\nchannel b = stdout required # x\n",
    "channel c = email \"a@b\", \"c@d\" # comment\n  smtp env SMTP_URL required",
    "channel c = email \"a@b\" ,\"c@d\"",
    "channel s = slack \"#room\" webhook env SLACK_HOOK\nchannel t = slack \"#r\" webhook \"https://x\"",
    "channel w = webhook env HOOK_1 required\nchannel f = file \"out.log\"",
    "service s {\n  health = http \"http://x/health\" expect 200 timeout 2s\n  smoke = run \"make smoke\" timeout 5m,\n  url = \"https://x\" }",
    "service s { health=http\"u\"expect200, health = http \"u\" timeout 1s # t\n }",
    "service s { health = http \"u\" # c\n , }",
    "import std.http\nimport \"./a.deploy\" as a",
    "environment e {\n  requires = staging\n  approval = lead timeout 4h else continue\n  approval = lead timeout 4h\n  approval = lead\n  production\n}",
    "environment e { provider = local { command = \"./run\", replicas = 3, traffic = 20/s \"/\", \"/api\" # c\n } }",
    "environment e { provider = command { deploy = \"d\" timeout 10m, weight = \"w\" } }",
    "environment e { database = sqlite \"db.sqlite\" database = postgres env DATABASE_URL }",
    "environment e { database = postgres \"postgres://x\", backup = pg_dump backup = snapshot backup = none }",
    "environment e { state = postgres env STATE_URL, state=postgres env S # c\n database = sqlite \"a\" }",
    "environment e { backup = run \"dump\" verify \"check\" backup = run \"dump\" }",
    "environment e { metrics = prometheus env PROM timeout 5s metrics = prometheus \"http://p\" }",
    "environment e { metrics = probe every 10s metrics = probe metrics = command \"m\" timeout 1s }",
    "environment e { window = mon..thu 09:00..16:00 \"Europe/Berlin\" window = sat 00:00 .. 24:00 \"UTC\" }",
    "environment e { freeze = 2026-12-20..2027-01-04, 2027-03-01 freeze = 2026-01-01 .. 2026-01-02 }",
    "environment e { flags = command \"f\" flags = file \"flags.json\" url = \"https://e\" }",
    "team { lead = \"ann\", on_call = \"bob\" rollback_decision = lead, on_call\n qa = \"c\" }",
    "team { rollback_decision = lead, on_call, rollback_decision2 = \"x\" }",
    "team { rollback_decision = lead,\n # c\n qa = \"x\" }",
    "team { rollback_decision = lead, }",
    "metric m: percent = prometheus \"q\" per second\nmetric n: rate { prometheus = \"a\", probe = \"b\" per minute, per hour }",
    "metric d: duration = command \"x\"  # c\nmetric e: count { }",
    "message hello = \"Hi {service} \\u{1F680} \\\" \\\\ \\n \\t \\r\"",
    "message m = \"\\u{0}\\u{10FFFF}é\"",
    "strategy s(c: channel, r: role, m: metric) = canary { analysis every 1m, no_data pause after 3 step 5% for 10m require m < 1% and (x > 2 or y <= 3) step 100% }",
    "strategy s() = recreate\nstrategy t = recreate { downtime 5m, downtime 1m }\nstrategy u = flags_only",
    "strategy b = blue_green { preview for 10m require a < 1 smoke, switch after approval lead timeout 1h else abort, keep_previous 1d }",
    "strategy b = blue_green { preview smoke switch after approval lead switch no_data fail analysis every 5s }",
    "strategy r = rolling { batch 2, batch 25%, max_unavailable 1, max_unavailable 10% health every 5s timeout 2s healthy 2 unhealthy 3 health every 1s timeout 1s }",
    "rollback r(m: metric) { auto when m > 2x baseline for 5m timeout 1h else rollback, manual when m >= 150% of baseline }",
    "comms c(ch: channel) { at T-24h notify ch, ops \"x\" every 30m notify ch std.comms.started on done notify a, b msg, at T-0 notify a m at T+0 notify a m }",
    "checklist k { check a < 1 run \"x\" timeout 1s confirm \"y\" by lead, run \"z\" }",
    "release \"1.0.0\" {\n  risk = high\n  strategy = canary { step 50% }\n  strategy = std.strategies.safe(a, b)\n  strategy = canary\n  strategy = rolling_out\n  rollback = std.rollback.standard(m)\n  rollback { auto when e > 1% }\n  comms = std.comms.standard(a)\n  comms { on start notify a m }\n  checklist = std.checklists.db\n  checklist { confirm \"x\" by y }\n  monitor 1h then checkins +4h, +1d\n  monitor 30m\n}",
    "release \"1\" { migrations { expand add_col { up = sql \"ALTER TABLE t ADD c int\" down = sql \"\"\"ALTER TABLE t\n  DROP c\"\"\" } data fill after add_col, other of x { up = file \"fill.sql\" down = noop \"why\" batch 1_000 } contract drop of add_col { up = sql \"\"\"\"\"\" irreversible \"gone\" } } }",
    "release \"2\" { flag f { initially on, day 1 5%, day 2 10% of beta, remove by day 30 } flag g { initially off } }",
    "release \"3\" { strategy = canary { step 5% require a < -5m and b > 0.5 and c < 20/s or d >= 1_000 or e < 10 and f < baseline } }",
    "release \"4\" { strategy = canary { step 5% require ((a < 1)) } }",
    "release \"5\" { rollback { auto when (a < 1 or b < 2) and c < 3 # c\n for 5m } }",
    "release \"6\" { strategy = canary { step 5% require a < 1 # end\n } }",
    "release \"7\" { risk=low,strategy=flags_only,monitor 1h,}",
    // The concrete tree: literals written together are one token, as pest's gaps give them;
    // a rule made of one literal is a token unless a comment follows it inside the rule.
    "release \"8\" { flag f { removebyday 3 } monitor 1h thencheckins +4h,+1d }",
    "environment e { metrics = probe # c\n metrics = probe\n # d\n url = \"u\" }",
    "strategy b = blue_green { preview # p\n switch # s\n switch after approval lead # a\n }",
    "release \"9\" { migrations { data d { up = sql \"x\" verify = sql \"y\"==1 batch 5 by id # b\n } } }",
    "release \"10\" { approval after step 2 by lead \"ok\" # g\n approval after smoke by lead \"ok\" }",
    "comms c { at T-0 notify a, b # n\n std.m on x notify a \"t\" # m\n }",
    "message m = \"x\" # one\r\n# two\r\n",
];

#[test]
fn corners_of_the_grammar() {
    let invalid: Vec<&&str> = VALID.iter().filter(|src| !valid(src)).collect();
    assert!(invalid.is_empty(), "not valid: {invalid:#?}");
    for (i, src) in VALID.iter().enumerate() {
        assert_eq!(compare(&format!("case {i}"), src), Outcome::Same, "{src}");
    }
}

/// Valid text that the hand-written parser leaves to pest: literals the builder reports
/// as errors, and nesting deeper than the parser recurses. `parse` still returns exactly
/// what pest does (checked by `compare`).
#[test]
fn falls_back_where_documented() {
    let deep = format!(
        "release \"1\" {{ strategy = canary {{ step 5% require {}a < 1{} }} }}",
        "(".repeat(100),
        ")".repeat(100)
    );
    let cases = [
        "release \"1\" { flag f { day 99999999999999999999 5% } }".to_string(),
        "release \"1\" { monitor 99999999999999999999h }".to_string(),
        "message m = \"\\u{D800}\"".to_string(),
        "environment e { window = mon 25:00..26:00 \"UTC\" }".to_string(),
        deep,
    ];
    for src in &cases {
        assert_eq!(compare(src, src), Outcome::FellBack, "{src}");
    }
    // Far deeper nesting neither overflows the stack nor takes the fast path (pest reports
    // it).
    let very_deep = format!(
        "release \"1\" {{ strategy = canary {{ step 5% require {}a < 1{} }} }}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert_eq!(compare("very deep", &very_deep), Outcome::FellBack);
    // Nesting within the limit stays on the fast path.
    let nested = format!(
        "release \"1\" {{ strategy = canary {{ step 5% require {}a < 1{} }} }}",
        "(".repeat(60),
        ")".repeat(60)
    );
    assert_eq!(compare("nested", &nested), Outcome::Same);
}

#[test]
fn invalid_text_falls_back() {
    let cases = [
        "service",
        "service a {",
        "service A { }",
        "channel a = stdout,",
        "metric m: percent = prometheus \"q\" per week",
        "message m = \"unterminated",
        "message m = \"a\nb\"",
        "message m = \"\\q\"",
        "message m = \"\\u{1234567}\"",
        "release \"1\" { strategy = canary { step 5 % } }",
        "release \"1\" { strategy = canary { step 5% require a < } }",
        "release \"1\" { monitor 10 m }",
        "release \"1\" { monitor 10mins }",
        "release \"1\" { migrations { expand a { up = sql \"\"\"x } } }",
        "environment e { freeze = 2026-1-01 }",
        "environment e { window = mon 9:00..10:00 \"UTC\" }",
        "import std . http",
        "environment e { productionx = \"a\" }",
        "\u{FEFF}service a { }",
        "service a { } }",
    ];
    for src in cases {
        assert!(!valid(src), "expected invalid: {src}");
        assert_eq!(compare(src, src), Outcome::FellBack, "{src}");
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations

/// Real files the mutations start from, small enough for many cases per run.
const SEEDS: &[&str] = &[
    include_str!("../examples/checkout.deploy"),
    include_str!("../stdlib/std/comms.deploy"),
    include_str!("../stdlib/std/rollback.deploy"),
    include_str!("fixtures/parse/ok/environment-gates.deploy"),
    include_str!("fixtures/parse/ok/migrations.deploy"),
    include_str!("fixtures/parse/ok/strategy-canary.deploy"),
    include_str!("fixtures/parse/ok/strategy-blue-green.deploy"),
    include_str!("fixtures/parse/ok/channels.deploy"),
    include_str!("fixtures/parse/ok/strings.deploy"),
    include_str!("fixtures/parse/ok/comments.deploy"),
    include_str!("fixtures/parse/ok/strategy-rolling.deploy"),
    include_str!("fixtures/parse/ok/strategy-recreate.deploy"),
    include_str!("fixtures/parse/ok/environment-providers.deploy"),
    include_str!("fixtures/parse/ok/environment-database-backup.deploy"),
    include_str!("fixtures/parse/ok/environment-metrics.deploy"),
    include_str!("fixtures/parse/ok/metrics.deploy"),
    include_str!("fixtures/parse/ok/flags.deploy"),
    include_str!("fixtures/parse/ok/checklists.deploy"),
    include_str!("fixtures/parse/ok/named-blocks.deploy"),
    include_str!("fixtures/parse/ok/monitor-checkins.deploy"),
    include_str!("fixtures/parse/ok/triggers.deploy"),
    include_str!("fixtures/parse/ok/service-team.deploy"),
    include_str!("fixtures/parse/ok/imports-file.deploy"),
];

/// Text to insert: pieces of syntax, so that many mutants stay valid or nearly so.
const TOKENS: &[&str] = &[
    " ",
    "\n",
    "\t",
    ",",
    "{",
    "}",
    "(",
    ")",
    "=",
    ":",
    "..",
    "\"",
    "\"\"\"",
    "#",
    "# c\n",
    "\\",
    "\\u{41}",
    "and",
    "or",
    "baseline",
    "of",
    "for",
    "require",
    "timeout",
    "else",
    "every",
    "after",
    "x",
    "_",
    "A",
    "0",
    "5",
    "5%",
    "2x",
    "10m",
    "-",
    "+4h",
    "T-0",
    "20/s",
    ".",
    "a.b",
    "step 5%",
    "required",
    "production",
    "smoke",
    "env",
    "ENV_X",
    "é",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Deletes a byte range.
    Delete { at: usize, len: usize },
    /// Inserts a piece of syntax.
    Insert { at: usize, token: usize },
    /// Copies a byte range elsewhere in the file.
    Duplicate { from: usize, len: usize, at: usize },
    /// Deletes or duplicates a whole line.
    Line { line: usize, duplicate: bool },
    /// Inserts arbitrary text.
    Text { at: usize, text: String },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..12).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Mutation::Insert { at, token }),
        (any::<usize>(), 1usize..40, any::<usize>())
            .prop_map(|(from, len, at)| Mutation::Duplicate { from, len, at }),
        (any::<usize>(), any::<bool>())
            .prop_map(|(line, duplicate)| Mutation::Line { line, duplicate }),
        (any::<usize>(), ".{0,4}").prop_map(|(at, text)| Mutation::Text { at, text }),
    ]
}

fn apply(seed: &str, mutations: &[Mutation]) -> String {
    let mut buf = seed.as_bytes().to_vec();
    for m in mutations {
        let n = buf.len();
        let pos = |at: usize| if n == 0 { 0 } else { at % (n + 1) };
        match *m {
            Mutation::Delete { at, len } => {
                let a = pos(at);
                let b = (a + len).min(n);
                buf.drain(a..b);
            }
            Mutation::Insert { at, token } => {
                let a = pos(at);
                let t = TOKENS[token].as_bytes();
                buf.splice(a..a, t.iter().copied());
            }
            Mutation::Duplicate { from, len, at } => {
                let a = pos(from);
                let b = (a + len).min(n);
                let piece = buf[a..b].to_vec();
                let at = pos(at);
                buf.splice(at..at, piece);
            }
            Mutation::Text { at, ref text } => {
                let a = pos(at);
                buf.splice(a..a, text.bytes());
            }
            Mutation::Line { line, duplicate } => {
                let text = String::from_utf8_lossy(&buf).into_owned();
                let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
                if lines.is_empty() {
                    continue;
                }
                let i = line % lines.len();
                if duplicate {
                    lines.insert(i, lines[i]);
                } else {
                    lines.remove(i);
                }
                buf = lines.concat().into_bytes();
            }
        }
    }
    // Byte edits can split a character; the parsers only ever see UTF-8.
    String::from_utf8_lossy(&buf).into_owned()
}

proptest! {
    #![proptest_config(Config { cases: 600, ..Config::default() })]

    /// Whenever the hand-written parser returns a module, pest accepts the input and builds
    /// the same one; it never panics; and it does not give up on mutants pest accepts.
    #[test]
    fn mutants_agree(
        seed in 0..SEEDS.len(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let src = apply(SEEDS[seed], &mutations);
        let outcome = compare("mutant", &src);
        prop_assert_eq!(outcome == Outcome::Same, valid(&src), "{}", src);
    }
}

/// Cuts that fall inside an item (a line starting with `release ` inside a multi-line
/// string, or a release that fails to parse after a cut) never change what the parse finds.
#[test]
fn pieces_cut_inside_an_item_or_before_a_bad_one() {
    let release = |v: u32| {
        format!(
            "release \"1.{v}.0\" {{\n  strategy = recreate\n  migrations {{\n    expand m{v} {{\n      up   = sql \"\"\"\nrelease notes are not SQL {v};\nrelease \"x\" {{\n\"\"\"\n      down = noop \"nothing\"\n    }}\n  }}\n}}\n"
        )
    };
    let mut src = String::from("service s {\n}\n\n");
    for v in 0..40 {
        src.push_str(&release(v));
        src.push('\n');
    }
    let whole = parse_fast(FILE, &src).map(|m| format!("{m:#?}"));
    assert!(whole.is_some());
    compare_pieces("cut inside strings", &src, whole);
    // Here some cut falls inside a string: the file is parsed whole.
    assert!(parse_fast_pieces(FILE, &src, 8).is_none());
    // A release that does not parse, after every cut: the pieces give up, like the whole.
    let bad = src.replace("release \"1.30.0\" {", "release \"1.30.0\" {{");
    assert!(parse_fast(FILE, &bad).is_none());
    compare_pieces("a bad release", &bad, None);
    for pieces in [2, 3, 8] {
        assert!(
            matches!(parse_fast_pieces(FILE, &bad, pieces), None | Some(None)),
            "{pieces} pieces accepted a file with a bad release"
        );
    }
    // Without strings to fall in, every cut lands: the piece with the bad release fails,
    // and so does the whole parse.
    let plain: String = (0..40)
        .map(|v| format!("release \"1.{v}.0\" {{\n  strategy = recreate\n}}\n\n"))
        .collect();
    let plain = format!("service s {{\n}}\n\n{plain}");
    assert!(matches!(parse_fast_pieces(FILE, &plain, 8), Some(Some(_))));
    let broken = plain.replace("release \"1.30.0\" {", "release \"1.30.0\" {{");
    assert!(matches!(parse_fast_pieces(FILE, &broken, 8), Some(None)));
}
