//! ## What it does
//! Flags a secret written in a string of the program: a URL with a password
//! (`postgres://app:s3cret@db`), a Slack webhook URL, a token with a known prefix (`ghp_`,
//! `xoxb-`, `sk_live_`, `AKIA…`), an `Authorization: Bearer …` header in a command, or a
//! long random value in a `token=`/`key=`-style parameter.
//!
//! ## Why is this bad?
//! A `.deploy` file is reviewed, committed, copied into CI logs and printed in plans.
//! Anything written in it is readable by everyone who can read the repository, for as long
//! as the history exists; a leaked webhook lets anyone post as the release bot, a leaked
//! database URL gives the data away.
//!
//! ## Example
//! ```deploy
//! channel releases = slack "#releases" webhook "https://hooks.slack.com/services/T000/B000/XXXXXXXX"
//! ```
//!
//! ## Use instead
//! ```deploy
//! channel releases = slack "#releases" webhook env SLACK_WEBHOOK
//! ```
//! In commands, read the secret from the environment: `curl -H "Authorization: Bearer $API_TOKEN" …`.

use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::source::Span;
use crate::syntax::ast::Module;

pub(crate) static RULE: Rule = Rule {
    code: "X901",
    name: "secret-inline",
    level: Level::Deny,
    category: Category::Security,
    summary: "a secret is written inline instead of read with `env VAR`",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for m in ctx.names.user_modules() {
        let Some(module) = ctx.session.module(m) else { continue };
        let Some(file) = ctx.session.sources.get(module.file) else {
            continue;
        };
        let Some(ast) = module.ast.as_ref() else {
            continue;
        };
        // Scanning every string literal makes this the costliest rule on a large file; the
        // literals are independent, so they are scanned on every core.
        let literals = string_literals(&file.text, ast);
        let found = crate::parallel::map(&literals, |(_, text)| secrets(text));
        for ((start, _), secrets) in literals.iter().zip(found) {
            let start = *start;
            for (at, len, what) in secrets {
                let span = Span::new(module.file, start + at, start + at + len);
                out.report(
                    finding(format!("{what} is written inline"), span, "a secret in the source")
                        .with_note("everyone who can read the repository, the CI logs or a printed plan can read it")
                        .with_help(
                            "read it from the environment: `env VAR` where the setting accepts it, `$VAR` in a command; and rotate the secret",
                        ),
                );
            }
        }
    }
}

/// Every string literal of a module: (offset of its content, content as written). Escapes
/// are kept, so offsets map straight back to the file.
fn string_literals<'t>(text: &'t str, ast: &Module) -> Vec<(usize, &'t str)> {
    ast.strings
        .iter()
        .filter_map(|span| {
            let r = span.range();
            let quote = if text.get(r.clone())?.starts_with("\"\"\"") { 3 } else { 1 };
            let (from, to) = (r.start + quote, r.end.checked_sub(quote)?);
            Some((from, text.get(from..to)?))
        })
        .collect()
}

/// Token prefixes: (prefix, shortest rest, what it is).
const TOKEN_PREFIXES: &[(&str, usize, &str)] = &[
    ("ghp_", 20, "a GitHub token"),
    ("gho_", 20, "a GitHub token"),
    ("ghs_", 20, "a GitHub token"),
    ("github_pat_", 20, "a GitHub token"),
    ("xoxb-", 10, "a Slack token"),
    ("xoxp-", 10, "a Slack token"),
    ("xoxa-", 10, "a Slack token"),
    ("sk_live_", 16, "a Stripe secret key"),
    ("rk_live_", 16, "a Stripe secret key"),
    ("AKIA", 16, "an AWS access key"),
    ("glpat-", 16, "a GitLab token"),
];

/// The secrets in one string: (offset, length, what it is).
fn secrets(s: &str) -> Vec<(usize, usize, &'static str)> {
    let mut out = Vec::new();
    // Every pattern below needs one of a few bytes; most strings (names, queries, messages)
    // have none of them, and searching each one for thirty patterns is most of this rule's
    // cost on large programs.
    let bytes = s.as_bytes();
    let has = |b: u8| bytes.contains(&b);
    let (has_colon, has_eq) = (has(b':'), has(b'='));
    let has_token_mark = has(b'_') || has(b'-') || has(b'A');
    if s.len() < 8 || !(has_colon || has_eq || has_token_mark || has(b'/')) {
        return out;
    }
    // Credentials in a URL: `scheme://user:password@host`.
    let mut from = 0;
    while let Some(i) = s.get(from..).and_then(|r| r.find("://")) {
        let auth_start = from + i + 3;
        let rest = s.get(auth_start..).unwrap_or("");
        let authority_end = rest.find(['/', '?', '#', ' ', '"', '\'', '\\']).unwrap_or(rest.len());
        let authority = rest.get(..authority_end).unwrap_or("");
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority.get(..at).and_then(|c| c.find(':'))
        {
            let password = authority.get(colon + 1..at).unwrap_or("");
            if is_literal_secret(password) && password != "***" {
                out.push((auth_start + colon + 1, password.len(), "a password in a URL"));
            }
        }
        from = auth_start;
    }
    // Slack incoming webhooks carry their token in the path.
    if let Some(i) = s.find("hooks.slack.com/services/") {
        let rest = s.get(i..).unwrap_or("");
        let len = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
            .unwrap_or(rest.len());
        if len > "hooks.slack.com/services/".len() + 8 {
            out.push((i, len, "a Slack webhook URL"));
        }
    }
    // Tokens with a known prefix (each has `_`, `-` or is `AKIA`): one pass over the
    // string, trying the prefixes only where one of their first letters is.
    if has_token_mark {
        for (at, &b) in bytes.iter().enumerate() {
            if !matches!(b, b'g' | b'x' | b's' | b'r' | b'A') {
                continue;
            }
            let rest = bytes.get(at..).unwrap_or(&[]);
            for &(prefix, min, what) in TOKEN_PREFIXES {
                if !rest.starts_with(prefix.as_bytes()) {
                    continue;
                }
                let starts_word = at == 0
                    || s.get(..at)
                        .and_then(|b| b.chars().last())
                        .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_');
                let tail = token_len(s.get(at + prefix.len()..).unwrap_or(""));
                let tail_ok = if prefix == "AKIA" {
                    s.get(at + 4..at + 4 + tail).is_some_and(|t| {
                        t.len() == 16
                            && t.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                    })
                } else {
                    tail >= min
                };
                if starts_word && tail_ok {
                    out.push((at, prefix.len() + tail, what));
                }
            }
        }
    }
    // `Authorization: Bearer …` / `Basic …` with a literal value.
    if !(has_colon || has_eq) {
        return out;
    }
    let lower = s.to_ascii_lowercase();
    let schemes: &[&str] = if lower.contains("authorization: ") {
        &["authorization: bearer ", "authorization: basic ", "authorization: token "]
    } else {
        &[]
    };
    for scheme in schemes {
        let mut from = 0;
        while let Some(i) = lower.get(from..).and_then(|r| r.find(scheme)) {
            let at = from + i + scheme.len();
            let len = token_len(s.get(at..).unwrap_or(""));
            if let Some(v) = s.get(at..at + len)
                && len >= 8
                && is_literal_secret(v)
            {
                out.push((at, len, "an authorization header"));
            }
            from = at;
        }
    }
    // Long random values in secret-looking parameters: `?token=…`, `api_key=…`.
    let lower_bytes = lower.as_bytes();
    let equals: Vec<usize> = lower_bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'=')
        .map(|(i, _)| i)
        .collect();
    for key in [
        "token=", "access_token=", "api_key=", "apikey=", "api-key=", "key=", "secret=",
        "password=", "passwd=", "sig=", "signature=",
    ] {
        for &e in &equals {
            if !lower_bytes.get(..=e).is_some_and(|b| b.ends_with(key.as_bytes())) {
                continue;
            }
            let k = e + 1 - key.len();
            let at = k + key.len();
            let whole_key = k == 0
                || lower
                    .get(..k)
                    .and_then(|b| b.chars().last())
                    .is_some_and(|c| matches!(c, '?' | '&' | ' ' | '-' | '"' | '\''));
            let len = token_len(s.get(at..).unwrap_or(""));
            if let Some(v) = s.get(at..at + len)
                && whole_key
                && len >= 16
                && is_literal_secret(v)
                && entropy(v) >= 3.5
                && !out.iter().any(|(o, l, _)| *o <= at && at < o + l)
            {
                out.push((at, len, "a secret parameter"));
            }
        }
    }
    out.sort_unstable();
    out.dedup_by(|a, b| a.0 < b.0 + b.1 && b.0 <= a.0);
    out
}

/// Length of the token at the start of `s`.
fn token_len(s: &str) -> usize {
    s.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '+' | '=' | '~')))
        .unwrap_or(s.len())
}

/// A literal value, not a placeholder, a shell variable or a redaction.
fn is_literal_secret(v: &str) -> bool {
    !v.is_empty()
        && !v.contains('{')
        && !v.contains('$')
        && !v.contains('*')
        && !v.starts_with('<')
}

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c += 1;
        }
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::secrets;

    #[test]
    fn ordinary_strings_hold_no_secret() {
        for s in [
            "https://checkout.internal/health",
            "http://localhost:{port}/health",
            "postgres://app@db.internal/shop",
            "postgres://{user}:{password}@db.internal/shop",
            "https://user:***@host/path",
            "curl -H \"Authorization: Bearer $API_TOKEN\" https://api.internal",
            "https://api.example.com/items?page=2&key=value",
            "https://api.example.com/items?token={run}",
            "sum(rate(http_requests_total{version=\"{version}\"}[{window}]))",
            "dana@example.com",
            "ssh deploy@app-vm 'sudo systemctl restart app'",
        ] {
            assert!(secrets(s).is_empty(), "{s}: {:?}", secrets(s));
        }
    }

    #[test]
    fn secrets_are_found() {
        for s in [
            "https://app:hunter2@db.internal",
            "https://hooks.slack.com/services/T0000AAAA/B0000BBBB/abcdefghijklmnopqrstuvwx",
            "export GH=ghp_0123456789abcdefghijABCDEFGHIJ",
            "xoxb-1234567890-abcdefghij",
            "sk_live_0123456789abcdefABCD",
            "aws AKIAIOSFODNN7EXAMPLE",
            "curl -H 'Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0'",
            "https://api.example.com/v1?api_key=Zx8Qp2Lm9Vt4Rb7Nc1Kd",
        ] {
            assert_eq!(secrets(s).len(), 1, "{s}: {:?}", secrets(s));
        }
    }
}
