//! Suppressions: `# deployc: allow(M203, unsafe-down) "why this is fine here"`.
//!
//! A suppression comment covers the construct that starts on the next line that is neither
//! blank nor a comment: that line, and, when the line opens a `{` or `(`, everything up to its
//! matching close. A finding is suppressed when its primary span starts inside the covered
//! range of a suppression naming its code or rule name. Afterwards, a suppression without a
//! reason (L001) and one that suppressed nothing (L002) are reported themselves.

use std::ops::Range;

use super::{Config, Level, find_rule, finding, severity};
use crate::diagnostics::Diagnostic;
use crate::resolve::Session;
use crate::source::{FileId, Span};
use crate::syntax::ast::Module;

struct Suppression {
    span: Span,
    /// (code or name as written, its span, rule code if it names a rule).
    rules: Vec<(String, Span, Option<&'static str>)>,
    reason: Option<String>,
    covers: Range<usize>,
    used: Vec<bool>,
    /// Why the comment could not be read, if it could not.
    malformed: Option<String>,
}

/// Removes suppressed findings and adds the findings about suppressions themselves.
pub(super) fn apply(
    session: &Session,
    files: &[(FileId, &Option<Module>)],
    mut findings: Vec<Diagnostic>,
    config: &Config,
) -> Vec<Diagnostic> {
    let mut sups = Vec::new();
    for (file, ast) in files {
        let (Some(ast), Some(src)) = (ast, session.sources.get(*file)) else {
            continue;
        };
        // Strings and comments, from the parser, in file order: brackets inside them do not
        // open or close anything.
        let mut skips: Vec<Range<usize>> = ast
            .comments
            .iter()
            .map(|c| c.span.range())
            .chain(ast.strings.iter().map(Span::range))
            .collect();
        skips.sort_by_key(|r| r.start);
        for c in &ast.comments {
            if let Some(s) = parse(&src.text, c.span, &c.text, &skips) {
                sups.push(s);
            }
        }
    }
    if sups.is_empty() {
        return findings;
    }
    findings.retain(|d| {
        let Some(span) = d.primary_span() else {
            return true;
        };
        let mut keep = true;
        for s in sups.iter_mut() {
            if s.span.file != span.file || !s.covers.contains(&span.range().start) {
                continue;
            }
            for (i, (_, _, code)) in s.rules.iter().enumerate() {
                if *code == Some(d.code.as_str())
                    && let Some(u) = s.used.get_mut(i)
                {
                    *u = true;
                    keep = false;
                }
            }
        }
        keep
    });
    let level = |code: &str| {
        find_rule(code)
            .map(|r| config.level(r))
            .unwrap_or(Level::Warn)
    };
    let (l001, l002) = (level("L001"), level("L002"));
    for s in &sups {
        if let Some(why) = &s.malformed {
            if l002 != Level::Allow {
                findings.push(meta(
                    "L002",
                    l002,
                    finding(
                        "suppression is not understood, so it suppresses nothing",
                        s.span,
                        why.clone(),
                    )
                    .with_help("write `# deployc: allow(CODE) \"reason\"` on the line above"),
                ));
            }
            continue;
        }
        if s.reason.is_none() && l001 != Level::Allow {
            findings.push(meta(
                "L001",
                l001,
                finding(
                    "suppression without a reason",
                    s.span,
                    "say why the finding does not apply here",
                )
                .with_help("add the reason as a string: `# deployc: allow(CODE) \"reason\"`"),
            ));
        }
        if l002 == Level::Allow {
            continue;
        }
        for ((written, span, code), used) in s.rules.iter().zip(&s.used) {
            let d = match code {
                None if written.starts_with('E') && written.len() == 4 => finding(
                    format!("`{written}` is an error and cannot be suppressed"),
                    *span,
                    "errors mean no plan can be made",
                ),
                None => finding(
                    format!("no rule `{written}`"),
                    *span,
                    "this suppresses nothing",
                )
                .with_help("`deployc rules` lists every rule"),
                Some(_) if *used => continue,
                Some(code) => finding(
                    format!("unused suppression of `{written}`"),
                    *span,
                    format!("no `{code}` finding here"),
                )
                .with_help("remove it, or move it to the line above the construct it is for"),
            };
            findings.push(meta("L002", l002, d));
        }
    }
    findings
}

fn meta(code: &str, level: Level, mut d: Diagnostic) -> Diagnostic {
    d.code = code.to_string();
    d.severity = severity(level);
    d
}

/// Reads one comment; `None` when it is not a suppression at all.
fn parse(text: &str, span: Span, comment: &str, skips: &[Range<usize>]) -> Option<Suppression> {
    let body = comment.strip_prefix('#')?.trim_start();
    let rest = body.strip_prefix("deployc:")?;
    let base = span.range().start + (comment.len() - rest.len());
    let mut s = Suppression {
        span,
        rules: Vec::new(),
        reason: None,
        covers: covered(text, span, skips),
        used: Vec::new(),
        malformed: None,
    };
    let trimmed = rest.trim_start();
    let mut pos = base + (rest.len() - trimmed.len());
    let Some(after) = trimmed.strip_prefix("allow(") else {
        s.malformed = Some("expected `allow(CODE)` after `deployc:`".to_string());
        return Some(s);
    };
    pos += "allow(".len();
    let Some(close) = after.find(')') else {
        s.malformed = Some("`allow(` is not closed".to_string());
        return Some(s);
    };
    let list = after.get(..close).unwrap_or("");
    let mut offset = 0;
    for part in list.split(',') {
        let name = part.trim();
        let lead = part.len() - part.trim_start().len();
        if !name.is_empty() {
            let start = pos + offset + lead;
            s.rules.push((
                name.to_string(),
                Span::new(span.file, start, start + name.len()),
                find_rule(name).map(|r| r.code),
            ));
        }
        offset += part.len() + 1;
    }
    if s.rules.is_empty() {
        s.malformed = Some("no rule named in `allow()`".to_string());
        return Some(s);
    }
    s.used = vec![false; s.rules.len()];
    let tail = after.get(close + 1..).unwrap_or("").trim();
    if let Some(q) = tail.strip_prefix('"') {
        let reason = q.strip_suffix('"').unwrap_or(q).trim();
        if !reason.is_empty() {
            s.reason = Some(reason.to_string());
        }
    } else if !tail.is_empty() {
        s.malformed = Some("the reason must be a string in double quotes".to_string());
    }
    Some(s)
}

/// The byte range a suppression comment at `span` covers. `skips` are the file's strings
/// and comments, sorted by start.
fn covered(text: &str, span: Span, skips: &[Range<usize>]) -> Range<usize> {
    let bytes = text.as_bytes();
    // The next line that is neither blank nor a comment.
    let end = span.range().end;
    let mut line = match text.get(end..).and_then(|t| t.find('\n')) {
        Some(i) => end + i + 1,
        None => return end..end,
    };
    loop {
        let rest = text.get(line..).unwrap_or("");
        let trimmed = rest.trim_start_matches([' ', '\t', '\r']);
        if trimmed.starts_with('#') || trimmed.starts_with('\n') {
            match rest.find('\n') {
                Some(i) => line += i + 1,
                None => return line..line,
            }
        } else {
            break;
        }
    }
    // Scan to the end of that line, or to the close of a bracket it opens.
    let mut depth: i32 = 0;
    let mut i = line;
    while let Some(&b) = bytes.get(i) {
        let next = skips.partition_point(|r| r.start < i);
        if let Some(r) = skips.get(next).filter(|r| r.start == i) {
            i = r.end.max(i + 1);
            continue;
        }
        match b {
            b'\n' if depth <= 0 => return line..i,
            b'{' | b'(' => depth += 1,
            b'}' | b')' => {
                depth -= 1;
                if depth == 0 {
                    // The construct ends with the rest of this line.
                    let eol = text
                        .get(i..)
                        .and_then(|t| t.find('\n'))
                        .map_or(text.len(), |e| i + e);
                    return line..eol;
                }
            }
            _ => {}
        }
        i += 1;
    }
    line..text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the suppression at the first `#` covers; strings and comments are the ranges a
    /// parser would give (`"…"` on one line, `#` to the end of the line).
    fn cover(text: &str) -> &str {
        let mut skips = Vec::new();
        let mut i = 0;
        while i < text.len() {
            let rest = &text[i..];
            if rest.starts_with('#') {
                let end = i + rest.find('\n').unwrap_or(rest.len());
                skips.push(i..end);
                i = end;
            } else if let Some(body) = rest.strip_prefix('"') {
                let end = i + 1 + body.find('"').unwrap() + 1;
                skips.push(i..end);
                i = end;
            } else {
                i += rest.chars().next().unwrap().len_utf8();
            }
        }
        let first = skips[0].clone();
        let r = covered(text, Span::new(FileId(0), first.start, first.end), &skips);
        &text[r]
    }

    #[test]
    fn covers_next_line() {
        assert_eq!(
            cover("# deployc: allow(X)\nstep 5% for 1m\nstep 6%\n"),
            "step 5% for 1m"
        );
    }

    #[test]
    fn covers_block_and_skips_comments() {
        let t = "# deployc: allow(X)\n# more\n\nexpand a {\n  up = sql \"}\"\n}\nnext\n";
        assert_eq!(cover(t), "expand a {\n  up = sql \"}\"\n}");
    }

    #[test]
    fn parses_codes_and_reason() {
        let text = "# deployc: allow(M204, unsafe-down) \"old column unused\"\n";
        let s = parse(
            text,
            Span::new(FileId(0), 0, text.len() - 1),
            text.trim_end(),
            &[],
        )
        .unwrap();
        assert_eq!(s.reason.as_deref(), Some("old column unused"));
        assert_eq!(s.rules.len(), 2);
        let (_, span, code) = &s.rules[0];
        assert_eq!(&text[span.range()], "M204");
        assert_eq!(*code, Some("M204"));
    }
}
