//! ## What it does
//! Flags a placeholder written inside quotes in a command: `'{reason}'`, `"{version}"`, or
//! anywhere inside a double-quoted part (`"--reason={reason}"`).
//!
//! ## Why is this bad?
//! The runtime shell-quotes every value it puts into a command, so `{reason}` already
//! arrives as one safe word. Quoted again, the quotes of the value end up literal inside
//! `"…"` (the script receives `'disk full'` with the quote marks), and around `'{x}'` they
//! cancel out, so a value with a space splits into two arguments.
//!
//! A placeholder inside a longer single-quoted part (`ssh host 'install.sh {version}'`) is
//! not flagged: there the quotes delimit a command for another shell, not the value.
//!
//! ## Example
//! ```deploy
//! rollback = "./scripts/rollback.sh --reason '{reason}'"
//! ```
//!
//! ## Use instead
//! ```deploy
//! rollback = "./scripts/rollback.sh --reason {reason}"
//! ```

use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::{
    Backup, ChecklistEntry, FlagDriver, Item, MetricsSource, Provider, SourceKind, StrLit, Use,
};

pub(crate) static RULE: Rule = Rule {
    code: "X902",
    name: "placeholder-inside-shell-quotes",
    level: Level::Warn,
    category: Category::Security,
    summary: "a placeholder is quoted again inside a command",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for cmd in commands(ctx) {
        for (start, end, name) in quoted_placeholders(&cmd.value) {
            let without = format!("{{{name}}}");
            out.report(
                finding(
                    format!("placeholder `{{{name}}}` is quoted inside the command"),
                    cmd.sub_span(start, end),
                    "the runtime already shell-quotes this value",
                )
                .with_note("the extra quotes end up in the value, or split it at its spaces")
                .with_help(format!("write the placeholder without quotes: `{without}`")),
            );
        }
    }
}

/// Every command string of the user's files.
fn commands<'a>(ctx: &Context<'a>) -> Vec<&'a StrLit> {
    let mut out = Vec::new();
    let checklist = |entries: &'a [ChecklistEntry], out: &mut Vec<&'a StrLit>| {
        for e in entries {
            if let ChecklistEntry::Run(r) = e {
                out.push(&r.command);
            }
        }
    };
    for (_, item) in ctx.names.user_items() {
        match item {
            Item::Service(s) => out.extend(s.smoke.iter().map(|r| &r.command)),
            Item::Environment(e) => {
                for p in &e.provider {
                    match p {
                        Provider::Local { command, .. } => out.extend(command),
                        Provider::Command { actions, .. } => {
                            out.extend(actions.iter().map(|a| &a.command))
                        }
                        // Cluster settings are API fields, never a shell's words.
                        Provider::Cluster { .. } => {}
                    }
                }
                for b in &e.backup {
                    if let Backup::Run {
                        command,
                        verify,
                        restore,
                        ..
                    } = b
                    {
                        out.push(command);
                        out.extend(verify);
                        out.extend(restore);
                    }
                }
                for m in &e.metrics {
                    if let MetricsSource::Command { command, .. } = m {
                        out.push(command);
                    }
                }
                for (f, _) in &e.flags {
                    if let FlagDriver::Command(c) = f {
                        out.push(c);
                    }
                }
            }
            Item::Metric(m) => out.extend(
                m.queries
                    .iter()
                    .filter(|q| q.source.value == SourceKind::Command)
                    .map(|q| &q.query),
            ),
            Item::Checklist(c) => checklist(&c.entries, &mut out),
            Item::Release(r) => {
                for u in &r.checklist {
                    if let Use::Inline { body, .. } = u {
                        checklist(body, &mut out);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Placeholders inside shell quotes: (start, end, name) in the decoded command, the span
/// covering the quotes when they enclose just the placeholder.
fn quoted_placeholders(cmd: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let bytes = cmd.as_bytes();
    // The quote that is open, and where it opened.
    let mut open: Option<(u8, usize)> = None;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match (b, open) {
            (b'\\', Some((b'"', _)) | None) => {
                i += 2;
                continue;
            }
            (b'\'' | b'"', None) => open = Some((b, i)),
            (q, Some((o, _))) if q == o => open = None,
            (b'{', _) if bytes.get(i + 1) == Some(&b'{') => {
                i += 2;
                continue;
            }
            (b'{', Some((quote, from))) => {
                let name_len = cmd
                    .get(i + 1..)
                    .and_then(|r| {
                        r.find(|c: char| {
                            !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                        })
                    })
                    .unwrap_or(0);
                let close = i + 1 + name_len;
                if name_len > 0 && bytes.get(close) == Some(&b'}') {
                    let name = cmd.get(i + 1..close).unwrap_or("").to_string();
                    let alone = from + 1 == i && bytes.get(close + 1) == Some(&quote);
                    if alone {
                        out.push((from, close + 2, name));
                    } else if quote == b'"' {
                        out.push((i, close + 1, name));
                    }
                    i = close + 1;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::quoted_placeholders;

    #[test]
    fn finds_quoted_placeholders_only() {
        let names = |s: &str| -> Vec<String> {
            quoted_placeholders(s)
                .into_iter()
                .map(|(_, _, n)| n)
                .collect()
        };
        assert_eq!(names("./rb.sh '{reason}'"), ["reason"]);
        assert_eq!(names("./rb.sh \"{reason}\""), ["reason"]);
        assert_eq!(
            names("./rb.sh --note \"rolled back {version}\""),
            ["version"]
        );
        assert!(names("./rb.sh --reason {reason}").is_empty());
        assert!(names("ssh vm 'install.sh {version} && restart'").is_empty());
        assert!(names("echo '{{literal}}' {version}").is_empty());
        assert!(names("jq '.items[] | {name}' file.json {version}").is_empty());
    }
}
