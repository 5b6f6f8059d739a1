//! Placeholders in strings: `{name}` is a placeholder, `{{` a literal brace.
//!
//! Any other `{` (one not followed by a name and `}`) is literal text. That keeps query
//! languages with braces usable as they are: in
//! `signups_total{service="{service}"}` the first brace is PromQL and `{service}` is a
//! placeholder.

use crate::diagnostics::errors::Error;
use crate::resolve::suggest;
use crate::syntax::ast::StrLit;

/// Where a string is used, and so which placeholders it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Message,
    LocalCommand,
    ProviderAction(ProviderAction),
    Smoke,
    Health,
    ChecklistRun,
    PrometheusQuery,
    MetricCommand,
    BackupCommand,
    FlagCommand,
    /// A cluster provider's container image.
    Image,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderAction {
    Deploy,
    Weight,
    Promote,
    Rollback,
    Scale,
    Health,
}

impl ProviderAction {
    pub const NAMES: &'static [&'static str] =
        &["deploy", "weight", "promote", "rollback", "scale", "health"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "deploy" => ProviderAction::Deploy,
            "weight" => ProviderAction::Weight,
            "promote" => ProviderAction::Promote,
            "rollback" => ProviderAction::Rollback,
            "scale" => ProviderAction::Scale,
            "health" => ProviderAction::Health,
            _ => return None,
        })
    }
}

const RELEASE: &[&str] = &["service", "version", "previous_version", "environment"];

impl Context {
    pub fn describe(self) -> &'static str {
        match self {
            Context::Message => "a message",
            Context::LocalCommand => "the local provider's command",
            Context::ProviderAction(_) => "a provider command",
            Context::Smoke => "the smoke test command",
            Context::Health => "the health check URL",
            Context::ChecklistRun => "a checklist command",
            Context::PrometheusQuery => "a Prometheus query",
            Context::MetricCommand => "a metric command",
            Context::BackupCommand => "a backup command",
            Context::FlagCommand => "the flag command",
            Context::Image => "a container image",
        }
    }

    /// The placeholders valid in this context (metric names come on top for messages).
    pub fn valid(self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = RELEASE.to_vec();
        let extra: &[&str] = match self {
            Context::Message => &[
                "phase",
                "step",
                "weight",
                "reason",
                "start",
                "url",
                "run",
                "decided_by",
            ],
            Context::LocalCommand => &["port"],
            Context::ProviderAction(a) => match a {
                ProviderAction::Weight => &["weight", "url"],
                ProviderAction::Scale => &["replicas", "url"],
                ProviderAction::Rollback => &["reason", "url"],
                _ => &["url"],
            },
            Context::Smoke | Context::ChecklistRun => &["url"],
            Context::Health => &["url", "port"],
            Context::PrometheusQuery => &["track", "window"],
            Context::MetricCommand => &["track", "window", "metric", "query"],
            Context::BackupCommand => &["file"],
            Context::FlagCommand => &["flag", "percent", "segment"],
            Context::Image => &[],
        };
        v.extend_from_slice(extra);
        v
    }
}

/// One placeholder found in a string: its name and byte range in the decoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    pub name: String,
    pub start: usize,
    pub end: usize,
}

/// Finds the placeholders of a decoded string value.
pub fn scan(value: &str) -> Vec<Placeholder> {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'{') if bytes.get(i + 1) == Some(&b'{') => i += 2,
            Some(b'{') => {
                let name_len = bytes
                    .get(i + 1..)
                    .unwrap_or(&[])
                    .iter()
                    .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || **b == b'_')
                    .count();
                let starts_ok = bytes
                    .get(i + 1)
                    .is_some_and(|b| b.is_ascii_lowercase() || *b == b'_');
                if name_len > 0 && starts_ok && bytes.get(i + 1 + name_len) == Some(&b'}') {
                    let name = value.get(i + 1..i + 1 + name_len).unwrap_or("").to_string();
                    out.push(Placeholder {
                        name,
                        start: i,
                        end: i + name_len + 2,
                    });
                    i += name_len + 2;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Checks every placeholder of `lit` against the context, plus the names `extra` lists
/// (metrics, for messages). `extra` is called only when a placeholder is not a context name,
/// and at most once: listing every visible metric is not free.
pub fn check(lit: &StrLit, ctx: Context, extra: &dyn Fn() -> Vec<String>, errors: &mut Vec<Error>) {
    let valid = ctx.valid();
    let mut extra_names: Option<Vec<String>> = None;
    for p in scan(&lit.value) {
        if valid.contains(&p.name.as_str()) {
            continue;
        }
        let extra = extra_names.get_or_insert_with(extra);
        if extra.contains(&p.name) {
            continue;
        }
        let all = valid
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str));
        let suggestion = suggest(&p.name, all);
        errors.push(Error::UnknownPlaceholder {
            span: lit.sub_span(p.start, p.end),
            name: p.name,
            context: ctx.describe(),
            valid: valid.iter().map(|s| s.to_string()).collect(),
            suggestion,
        });
    }
}

/// Replaces placeholders with values; unknown ones stay as written, `{{` becomes `{`.
pub fn render(value: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut last = 0;
    for p in scan(value) {
        out.push_str(&value.get(last..p.start).unwrap_or("").replace("{{", "{"));
        match lookup(&p.name) {
            Some(v) => out.push_str(&v),
            None => out.push_str(value.get(p.start..p.end).unwrap_or("")),
        }
        last = p.end;
    }
    out.push_str(&value.get(last..).unwrap_or("").replace("{{", "{"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promql_braces_are_literal() {
        let s = r#"sum(increase(signups_total{service="{service}"}[1h]))"#;
        let names: Vec<String> = scan(s).into_iter().map(|p| p.name).collect();
        assert_eq!(names, vec!["service"]);
    }

    #[test]
    fn double_brace_is_escaped() {
        assert!(scan("{{service}}").is_empty());
        assert_eq!(render("a {{b}} {x}", &|_| Some("1".into())), "a {b}} 1");
    }
}
