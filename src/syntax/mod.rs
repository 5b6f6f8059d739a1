//! Syntax: the pest grammar (`grammar/deploy.pest`) and the typed AST built from it.
//!
//! Invariant: this is the only module that touches pest pairs (`cst` hands the formatter the
//! concrete tokens, comments included, without them; `fast` builds the same tokens for the
//! files it accepts). Its output is a [`Module`] whose every node is spanned, or one E1xx
//! error (pest stops at the first syntax error of a file; other files still report).
//!
//! Two parsers produce the module: `fast`, a hand-written parser that only accepts valid
//! files, and pest (`parser`), which runs when `fast` gives up and is the only source of
//! syntax errors. Both build the same module for every file `fast` accepts
//! (`tests/fast_parser.rs`).

pub mod ast;
pub(crate) mod cst;
mod errors;
mod fast;
mod parser;

pub use ast::Module;

use crate::diagnostics::errors::Error;
use crate::source::FileId;

/// How deep brackets (`(`, `[`, `{`) may nest in a file (E107). Real programs stay below
/// ten; the limit keeps every recursive stage (both parsers, the AST builder, the checks,
/// dropping the tree) far from the end of even a 2 MiB thread stack.
pub const MAX_NESTING: usize = 256;

/// The first bracket nested deeper than [`MAX_NESTING`], outside strings and comments.
pub(crate) fn too_deep(src: &str) -> Option<usize> {
    let b = src.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'#' => {
                // A comment runs to the end of the line.
                while b.get(i).is_some_and(|c| *c != b'\n') {
                    i += 1;
                }
            }
            b'"' if b.get(i..i + 3) == Some(b"\"\"\"") => {
                i += 3;
                while b.get(i).is_some() && b.get(i..i + 3) != Some(b"\"\"\"") {
                    i += 1;
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while let Some(&c) = b.get(i) {
                    match c {
                        b'\\' => i += 1,
                        // An unterminated string ends at the line's end (E102 says so).
                        b'"' | b'\n' => break,
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

fn nesting_error(file: FileId, offset: usize) -> Error {
    Error::NestedTooDeeply {
        span: crate::source::Span::new(file, offset, offset + 1),
        limit: MAX_NESTING,
    }
}

/// Parses one file. On a syntax error the module is `None` and the error says where.
pub fn parse(file: FileId, src: &str) -> (Option<Module>, Vec<Error>) {
    // Neither parser (nor what follows them) recurses deeper than the limit allows.
    if let Some(offset) = too_deep(src) {
        return (None, vec![nesting_error(file, offset)]);
    }
    // Valid files, nearly all of them, never reach pest; for anything else pest decides.
    if let Some(module) = fast::parse(file, src) {
        return (Some(module), Vec::new());
    }
    parser::parse(file, src)
}

/// The hand-written parser alone (`None` where [`parse`] falls back to pest), for the tests
/// that compare both parsers.
#[doc(hidden)]
pub fn parse_fast(file: FileId, src: &str) -> Option<Module> {
    if too_deep(src).is_some() {
        return None;
    }
    fast::parse(file, src)
}

/// The hand-written parser on a file cut into `pieces` pieces, whatever its size: `None` where
/// it would parse the file whole instead, `Some(None)` where it gives the file to pest. For
/// the tests that compare it with the parse of the whole file.
#[doc(hidden)]
pub fn parse_fast_pieces(file: FileId, src: &str, pieces: usize) -> Option<Option<Module>> {
    if too_deep(src).is_some() {
        return None;
    }
    fast::parse_pieces_only(file, src, pieces)
}

/// The concrete tree of a valid file from the hand-written parser, or `None` where it gives
/// up (then [`cst::parse`] builds it from pest's pairs).
pub(crate) fn parse_cst_fast(file: FileId, src: &str) -> Option<cst::Tree<'_>> {
    if too_deep(src).is_some() {
        return None;
    }
    fast::parse_cst(file, src)
}

/// The concrete tree from the hand-written parser, shown with `{:#?}` (`None` where it gives
/// up), for the tests that compare it with pest's.
#[doc(hidden)]
pub fn cst_fast_dump(file: FileId, src: &str) -> Option<String> {
    parse_cst_fast(file, src).map(|tree| format!("{tree:#?}"))
}

/// The concrete tree built from pest's pairs, shown with `{:#?}` (`None` on a syntax error).
#[doc(hidden)]
pub fn cst_pest_dump(file: FileId, src: &str) -> Option<String> {
    cst::parse(file, src).ok().map(|tree| format!("{tree:#?}"))
}

/// The pest parser alone, for the tests that compare both parsers.
#[doc(hidden)]
pub fn parse_pest(file: FileId, src: &str) -> (Option<Module>, Vec<Error>) {
    if let Some(offset) = too_deep(src) {
        return (None, vec![nesting_error(file, offset)]);
    }
    parser::parse(file, src)
}

/// Every keyword of the grammar, read from the grammar itself; editors are tested against it.
pub fn keywords() -> Vec<String> {
    let grammar = include_str!("../../grammar/deploy.pest");
    let mut out: Vec<String> = Vec::new();
    for line in grammar.lines() {
        let line = line.trim();
        if line.starts_with("//") || line.starts_with("///") {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find('"') {
            let after = rest.get(start + 1..).unwrap_or("");
            let Some(end) = after.find('"') else { break };
            let word = after.get(..end).unwrap_or("");
            if word.len() > 1 && word.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                let w = word.to_string();
                if !out.contains(&w) {
                    out.push(w);
                }
            }
            rest = after.get(end + 1..).unwrap_or("");
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::MAX_NESTING;

    #[test]
    fn too_deep_at_the_limit() {
        let at = "(".repeat(MAX_NESTING);
        assert_eq!(super::too_deep(&at), None);
        assert_eq!(super::too_deep(&format!("{at}(")), Some(MAX_NESTING));
        assert_eq!(super::too_deep(&format!("\"{at}(\"")), None);
        assert_eq!(super::too_deep(&format!("# {at}(\n")), None);
        assert_eq!(super::too_deep(&format!("\"\"\"{at}(\"\"\"")), None);
    }
}
