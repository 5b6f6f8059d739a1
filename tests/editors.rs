#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The editor support under `editors/` stays in step with the grammar: every keyword of
//! `grammar/deploy.pest` (as listed by `deployc::syntax::keywords()`) must be known to the
//! TextMate grammar (VS Code), the tree-sitter grammar (Neovim, Helix, Zed) and the Vim syntax
//! file. Adding a keyword to the pest grammar without teaching the editors fails here.

use std::path::{Path, PathBuf};

/// Keywords an editor file may leave out, as `(keyword, file, reason)`. Weekday names are
/// highlighted as constants and `ms` appears in the duration patterns. Add an entry only for a
/// keyword that an editor does not highlight, with the reason.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

const TEXTMATE: &str = "editors/vscode/syntaxes/deploy.tmLanguage.json";
const TREE_SITTER: &str = "editors/tree-sitter-deploy/grammar.js";
const VIM: &str = "editors/vim/syntax/deploy.vim";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `word` occurs in `text` with no identifier character on either side.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

/// Regex escapes such as `\b`, `\s` or `\<` would glue onto a neighbouring word (`\bbaseline`);
/// blank them out.
fn without_escapes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
            out.push_str("  ");
        } else {
            out.push(c);
        }
    }
    out
}

/// The regular expressions of a TextMate grammar (`match`, `begin`, `end`, `while`), so that
/// words in scope names (`comment.line.number-sign`) do not count.
fn textmate_patterns(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("match" | "begin" | "end" | "while", serde_json::Value::String(s)) => {
                        out.push_str(&without_escapes(s));
                        out.push('\n');
                    }
                    _ => textmate_patterns(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                textmate_patterns(v, out);
            }
        }
        _ => {}
    }
}

/// `grammar.js` without its comments: keywords must appear in code (string literals or token
/// regexes), not in prose.
fn javascript_code(source: &str) -> String {
    let mut out = String::new();
    let mut in_block = false;
    for line in source.lines() {
        let mut line = line;
        if in_block {
            match line.find("*/") {
                Some(end) => {
                    in_block = false;
                    line = &line[end + 2..];
                }
                None => continue,
            }
        }
        if let Some(start) = line.find("/*") {
            if !line[start..].contains("*/") {
                in_block = true;
            }
            line = &line[..start];
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") || trimmed.starts_with('*') {
            continue;
        }
        out.push_str(&without_escapes(line));
        out.push('\n');
    }
    out
}

/// The Vim syntax file without its comment lines.
fn vim_code(source: &str) -> String {
    source
        .lines()
        .filter(|l| !l.trim_start().starts_with('"'))
        .map(without_escapes)
        .collect::<Vec<_>>()
        .join("\n")
}

fn missing_keywords(file: &str, code: &str) -> Vec<String> {
    deployc::syntax::keywords()
        .into_iter()
        .filter(|k| !EXCEPTIONS.iter().any(|(kw, f, _)| kw == k && *f == file))
        .filter(|k| !contains_word(code, k))
        .collect()
}

fn assert_all_keywords(file: &str, code: &str) {
    let missing = missing_keywords(file, code);
    assert!(
        missing.is_empty(),
        "{file} does not know these keywords of grammar/deploy.pest: {missing:?}\n\
         Teach the editor the new syntax (see editors/README.md), or list the keyword with a \
         reason in EXCEPTIONS in tests/editors.rs."
    );
}

#[test]
fn keywords_are_read_from_the_grammar() {
    let keywords = deployc::syntax::keywords();
    for expected in [
        "service",
        "canary",
        "blue_green",
        "no_data",
        "irreversible",
        "checkins",
    ] {
        assert!(
            keywords.iter().any(|k| k == expected),
            "{expected} is not in {keywords:?}"
        );
    }
}

#[test]
fn textmate_grammar_knows_every_keyword() {
    let json: serde_json::Value = serde_json::from_str(&read(TEXTMATE)).expect("valid JSON");
    assert_eq!(json["scopeName"], "source.deploy");
    let mut patterns = String::new();
    textmate_patterns(&json, &mut patterns);
    assert_all_keywords(TEXTMATE, &patterns);
}

#[test]
fn tree_sitter_grammar_knows_every_keyword() {
    assert_all_keywords(TREE_SITTER, &javascript_code(&read(TREE_SITTER)));
}

#[test]
fn vim_syntax_knows_every_keyword() {
    assert_all_keywords(VIM, &vim_code(&read(VIM)));
}

#[test]
fn exceptions_name_real_keywords_and_files() {
    let keywords = deployc::syntax::keywords();
    for (kw, file, reason) in EXCEPTIONS {
        assert!(
            keywords.iter().any(|k| k == kw),
            "exception for unknown keyword {kw}"
        );
        assert!(
            [TEXTMATE, TREE_SITTER, VIM].contains(file),
            "exception for unknown file {file}"
        );
        assert!(
            !reason.trim().is_empty(),
            "exception for {kw} in {file} needs a reason"
        );
    }
}

#[test]
fn the_check_notices_a_missing_keyword() {
    // A keyword that appears only in a comment, a scope name or inside a longer word does not
    // count.
    assert!(!contains_word("flags_only", "flags"));
    assert!(contains_word("(canary|rolling)", "rolling"));
    assert!(!javascript_code("// rolling\nconst x = 1;").contains("rolling"));
    assert!(!vim_code("\" rolling\nsyn keyword deployX canary").contains("rolling"));
    let mut patterns = String::new();
    textmate_patterns(
        &serde_json::json!({"name": "keyword.rolling", "match": "\\bcanary\\b"}),
        &mut patterns,
    );
    assert!(contains_word(&patterns, "canary"));
    assert!(!contains_word(&patterns, "rolling"));
    assert!(Path::new(&root().join(TEXTMATE)).exists());
}
