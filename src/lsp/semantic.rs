//! Semantic tokens: a lexical pass over the current text (comments, suppressions, strings,
//! numbers with their units, keywords) and, where the analysis is of this very text, the
//! resolved names coloured by what they denote.

use lsp_types::{SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokensLegend};

use super::index::{Index, SymbolKind};
use super::position::LineIndex;
use crate::resolve::Kind;
use crate::source::FileId;

/// Token types, in legend order.
const TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::KEYWORD,
    SemanticTokenType::COMMENT,
    SemanticTokenType::STRING,
    SemanticTokenType::NUMBER,
    SemanticTokenType::NAMESPACE,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::EVENT,
    SemanticTokenType::ENUM_MEMBER,
    SemanticTokenType::CLASS,
    SemanticTokenType::MACRO,
];

const KEYWORD: u32 = 0;
const COMMENT: u32 = 1;
const STRING: u32 = 2;
const NUMBER: u32 = 3;
const NAMESPACE: u32 = 4;
const PARAMETER: u32 = 5;
const VARIABLE: u32 = 6;
const PROPERTY: u32 = 7;
const FUNCTION: u32 = 8;
const EVENT: u32 = 9;
const ENUM_MEMBER: u32 = 10;
const CLASS: u32 = 11;
const MACRO: u32 = 12;

const DECLARATION: u32 = 1;
const DEFAULT_LIBRARY: u32 = 2;

pub(crate) fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: vec![
            SemanticTokenModifier::DECLARATION,
            SemanticTokenModifier::DEFAULT_LIBRARY,
        ],
    }
}

/// A token before encoding: byte range, type and modifier bits.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Token {
    start: usize,
    end: usize,
    kind: u32,
    modifiers: u32,
}

/// The tokens of `text`; `names` are the index and file of an analysis of this same text.
pub(crate) fn tokens(text: &str, names: Option<(&Index, FileId)>) -> Vec<SemanticToken> {
    let keywords = crate::syntax::keywords();
    let mut tokens = lex(text, &keywords);
    if let Some((index, file)) = names {
        let mut resolved: Vec<Token> = index
            .occurrences
            .iter()
            .filter(|o| o.span.file == file && o.span.end > o.span.start)
            .filter_map(|o| {
                let sym = index.symbol(o.target)?;
                let mut modifiers = 0;
                if o.is_definition {
                    modifiers |= DECLARATION;
                }
                if o.target.file != file && sym.kind != SymbolKind::Module {
                    // Defined elsewhere; the stdlib is the only library there is.
                    modifiers |= DEFAULT_LIBRARY;
                }
                Some(Token {
                    start: o.span.start as usize,
                    end: o.span.end as usize,
                    kind: symbol_type(sym.kind),
                    modifiers,
                })
            })
            .collect();
        // A resolved name replaces the lexical token it covers (an import's path is left
        // to the lexer: its keyword stays a keyword).
        resolved.retain(|r| {
            !tokens
                .iter()
                .any(|t| t.kind == KEYWORD && t.start == r.start && t.end < r.end)
        });
        tokens.retain(|t| !resolved.iter().any(|r| r.start < t.end && t.start < r.end));
        tokens.extend(resolved);
        tokens.sort_by_key(|t| t.start);
    }
    encode(text, &tokens)
}

fn symbol_type(kind: SymbolKind) -> u32 {
    match kind {
        SymbolKind::Named(Kind::Environment) => NAMESPACE,
        SymbolKind::Named(Kind::Role) => PARAMETER,
        SymbolKind::Named(Kind::Channel) => VARIABLE,
        SymbolKind::Named(Kind::Metric) => PROPERTY,
        SymbolKind::Named(Kind::Message) => MACRO,
        SymbolKind::Named(Kind::Migration) => EVENT,
        SymbolKind::Named(_) => FUNCTION,
        SymbolKind::Param(_) => PARAMETER,
        SymbolKind::Module => NAMESPACE,
        SymbolKind::Service => CLASS,
        SymbolKind::Flag => ENUM_MEMBER,
    }
}

/// Comments, strings (`"…"` and `"""…"""`), numbers with units (`10m`, `5%`, `T-0`,
/// `2026-12-20`) and keywords.
fn lex(text: &str, keywords: &[String]) -> Vec<Token> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    let token = |start, end, kind| Token {
        start,
        end,
        kind,
        modifiers: 0,
    };
    while let Some(&c) = b.get(i) {
        let start = i;
        match c {
            b'#' => {
                while b.get(i).is_some_and(|c| *c != b'\n') {
                    i += 1;
                }
                out.push(token(start, i, COMMENT));
            }
            b'"' if b.get(i..i + 3) == Some(b"\"\"\"") => {
                i += 3;
                while b.get(i).is_some() && b.get(i..i + 3) != Some(b"\"\"\"") {
                    i += 1;
                }
                i = (i + 3).min(b.len());
                out.push(token(start, i, STRING));
            }
            b'"' => {
                i += 1;
                while let Some(&c) = b.get(i) {
                    i += 1;
                    match c {
                        b'\\' => i += 1,
                        b'"' => break,
                        b'\n' => {
                            i -= 1;
                            break;
                        }
                        _ => {}
                    }
                }
                i = i.min(b.len());
                out.push(token(start, i, STRING));
            }
            b'0'..=b'9' => {
                i = literal_end(b, i);
                out.push(token(start, i, NUMBER));
            }
            b'T' if matches!(b.get(i + 1), Some(b'-' | b'+')) => {
                i = literal_end(b, i + 2);
                out.push(token(start, i, NUMBER));
            }
            b'+' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i = literal_end(b, i + 1);
                out.push(token(start, i, NUMBER));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while b
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    i += 1;
                }
                let word = text.get(start..i).unwrap_or("");
                let after_dot = start > 0 && b.get(start - 1) == Some(&b'.');
                if !after_dot && keywords.iter().any(|k| k == word) {
                    out.push(token(start, i, KEYWORD));
                }
            }
            _ => i += 1,
        }
        if i == start {
            i += 1;
        }
    }
    out
}

/// The end of a unit literal starting with digits at `i`: digits, `_`, `.`, `-`, `:` and
/// then a unit (`ms`, `%`, `x`, `/s`, …).
fn literal_end(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'_' | b'.' | b'-' | b':'))
    {
        // `..` separates a range (`09:00..17:00`); it is not part of the number.
        if b.get(i) == Some(&b'.') && b.get(i + 1) == Some(&b'.') {
            return i;
        }
        i += 1;
    }
    match b.get(i) {
        Some(b'%') => i + 1,
        Some(b'/') if b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) => i + 2,
        Some(c) if c.is_ascii_alphabetic() => {
            while b.get(i).is_some_and(u8::is_ascii_alphabetic) {
                i += 1;
            }
            i
        }
        _ => i,
    }
}

/// LSP's relative encoding; a token spanning lines (a `"""` string) is split per line, and
/// lengths count UTF-16 code units.
fn encode(text: &str, tokens: &[Token]) -> Vec<SemanticToken> {
    let lines = LineIndex::new(text);
    let mut out = Vec::new();
    let (mut prev_line, mut prev_col) = (0u32, 0u32);
    for t in tokens {
        let mut start = t.start;
        while start < t.end {
            let line_end = text
                .get(start..t.end)
                .and_then(|s| s.find('\n'))
                .map_or(t.end, |n| start + n);
            let from = lines.position(start);
            let to = lines.position(line_end);
            let length = to.character.saturating_sub(from.character);
            if length > 0 {
                let delta_line = from.line.saturating_sub(prev_line);
                let delta_start = if delta_line == 0 {
                    from.character.saturating_sub(prev_col)
                } else {
                    from.character
                };
                out.push(SemanticToken {
                    delta_line,
                    delta_start,
                    length,
                    token_type: t.kind,
                    token_modifiers_bitset: t.modifiers,
                });
                prev_line = from.line;
                prev_col = from.character;
            }
            start = line_end + 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(String, u32)> {
        let keywords = crate::syntax::keywords();
        lex(text, &keywords)
            .into_iter()
            .map(|t| (text[t.start..t.end].to_string(), t.kind))
            .collect()
    }

    #[test]
    fn units_strings_comments_and_keywords() {
        let got = kinds(
            "step 10% for 10m require error_rate < 0.5% # why\nat T-24h notify ops \"x\\\"y\"",
        );
        assert_eq!(
            got,
            vec![
                ("step".into(), KEYWORD),
                ("10%".into(), NUMBER),
                ("for".into(), KEYWORD),
                ("10m".into(), NUMBER),
                ("require".into(), KEYWORD),
                ("0.5%".into(), NUMBER),
                ("# why".into(), COMMENT),
                ("at".into(), KEYWORD),
                ("T-24h".into(), NUMBER),
                ("notify".into(), KEYWORD),
                ("\"x\\\"y\"".into(), STRING),
            ]
        );
    }

    #[test]
    fn ranges_and_rates_stop_at_their_units() {
        let got = kinds("window = mon..fri 09:00..17:00 \"UTC\"\ntraffic = 20/s \"/\"");
        let numbers: Vec<&str> = got
            .iter()
            .filter(|(_, k)| *k == NUMBER)
            .map(|(t, _)| t.as_str())
            .collect();
        assert_eq!(numbers, ["09:00", "17:00", "20/s"]);
    }

    #[test]
    fn multi_line_strings_are_split_per_line_in_utf16() {
        let text = "x = \"\"\"é\nab\"\"\"";
        let tokens = vec![Token {
            start: 4,
            end: text.len(),
            kind: STRING,
            modifiers: 0,
        }];
        let encoded = encode(text, &tokens);
        assert_eq!(encoded.len(), 2);
        assert_eq!(
            (
                encoded[0].delta_line,
                encoded[0].delta_start,
                encoded[0].length
            ),
            (0, 4, 4)
        );
        assert_eq!(
            (
                encoded[1].delta_line,
                encoded[1].delta_start,
                encoded[1].length
            ),
            (1, 0, 5)
        );
    }
}
