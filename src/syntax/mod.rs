//! Syntax: the pest grammar (`grammar/deploy.pest`) and the typed AST built from it.
//!
//! Invariant: this is the only module that touches pest pairs. Its output is a [`Module`]
//! whose every node is spanned, or one E1xx error (pest stops at the first syntax error of a
//! file; other files still report).

pub mod ast;
mod errors;
mod parser;

pub use ast::Module;
pub use parser::parse;

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
