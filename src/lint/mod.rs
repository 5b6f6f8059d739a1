//! Lint rules: the program is valid, but unsafe or sloppy.
//!
//! A lint reads a checked program (no errors) and the plans lowered from it — every user
//! release in every environment — and reports findings; it never mutates either. Every rule
//! lives in its own file under `rules/` with a `//!` doc in fixed sections (*What it does*,
//! *Why is this bad?*, *Example*, *Use instead*) that `deployc explain` prints and
//! `docs/rules/` is generated from. The registry ([`rules::ALL`]) is the one list of rules.
//!
//! Levels come from the rule's default, then `deployc.toml`; a finding whose level is
//! `allow` is never reported, `warn` becomes a warning, `deny` an error. Suppressions
//! (`# deployc: allow(CODE) "reason"`) remove findings at one place afterwards.

pub mod config;
mod context;
pub mod docs;
pub(crate) mod rules;
mod suppress;

use std::collections::BTreeMap;

pub use config::{Config, ConfigError};
pub use context::{Context, LintPlan};

use crate::compile::Compiled;
use crate::diagnostics::{self, Diagnostic, Label, Severity};
use crate::resolve::{Names, Session};
use crate::source::Span;

/// How a finding is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Not reported.
    Allow,
    /// Reported as a warning.
    Warn,
    /// Reported as an error.
    Deny,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Allow => "allow",
            Level::Warn => "warn",
            Level::Deny => "deny",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "allow" => Some(Level::Allow),
            "warn" => Some(Level::Warn),
            "deny" => Some(Level::Deny),
            _ => None,
        }
    }
}

/// The family a rule belongs to; the letter of its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Migrations,
    Rollback,
    Strategy,
    Comms,
    Windows,
    Flags,
    Team,
    Security,
    Suppressions,
    Sql,
}

impl Category {
    pub fn title(self) -> &'static str {
        match self {
            Category::Migrations => "Migrations",
            Category::Rollback => "Rollback",
            Category::Strategy => "Strategy",
            Category::Comms => "Comms",
            Category::Windows => "Windows and schedule",
            Category::Flags => "Flags",
            Category::Team => "Team",
            Category::Security => "Security",
            Category::Suppressions => "Suppressions",
            Category::Sql => "SQL statements",
        }
    }
}

/// One lint rule. Every rule file defines one `pub(crate) static RULE: Rule`.
pub struct Rule {
    /// `M204`, or `sql/<name>` for SQL statement rules.
    pub code: &'static str,
    /// kebab-case, describing the pattern flagged.
    pub name: &'static str,
    pub level: Level,
    pub category: Category,
    /// One line, lowercase, no final period: what the rule flags.
    pub summary: &'static str,
    /// `file!()` of the rule's file; its `//!` doc is the rule's documentation.
    pub file: &'static str,
    /// Reports findings; reads the context only.
    pub check: fn(&Context<'_>, &mut Findings),
}

impl Rule {
    /// The rule's documentation (its file's `//!` comment), in Markdown.
    pub fn doc(&self) -> &'static str {
        rules::doc_of(self.file)
    }
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.code, self.name)
    }
}

/// Where a rule reports its findings.
pub struct Findings {
    items: Vec<Diagnostic>,
}

impl Findings {
    fn new() -> Self {
        Findings { items: Vec::new() }
    }

    /// Reports a finding made with [`finding`]; code and severity are filled in by the engine.
    pub fn report(&mut self, finding: Diagnostic) {
        self.items.push(finding);
    }
}

/// A finding at `span` with its primary label; add secondary labels (`with_label`), notes and
/// help with the [`Diagnostic`] builders, then pass it to [`Findings::report`].
pub fn finding(message: impl Into<String>, span: Span, label: impl Into<String>) -> Diagnostic {
    Diagnostic {
        code: String::new(),
        severity: Severity::Warning,
        message: message.into(),
        labels: vec![Label::primary(span, label)],
        notes: Vec::new(),
        help: None,
    }
}

/// What a lint run is given besides the program.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// T-0 of a planned run (`--start`), for rules about windows and freezes.
    pub start: Option<jiff::Timestamp>,
    /// Lint only this `(release, environment)` (used by `deployc plan`).
    pub only: Option<(String, String)>,
    /// The run history beside the checked file (`.deployc/history`), for M214.
    pub history: Option<std::sync::Arc<crate::history::LoadedHistory>>,
}

/// Every rule, in registry order.
pub fn all_rules() -> impl Iterator<Item = &'static Rule> {
    rules::all()
}

/// Looks a rule up by code (`M204`, case-insensitive) or name (`contract-in-expand-release`).
pub fn find_rule(key: &str) -> Option<&'static Rule> {
    rules::all().find(|r| r.code.eq_ignore_ascii_case(key) || r.name.eq_ignore_ascii_case(key))
}

/// Lints one compiled root whose check found no errors. Returns the findings at their
/// configured level, with suppressions applied, sorted.
pub fn lint(
    session: &Session,
    compiled: &Compiled,
    config: &Config,
    options: &LintOptions,
) -> Vec<Diagnostic> {
    if !compiled.output.errors.is_empty() {
        return Vec::new();
    }
    let names = Names::new(session, &compiled.program);
    let ctx = Context::new(session, &names, &compiled.output.sql, config, options);
    let active: Vec<(&Rule, Level)> = rules::all()
        .map(|rule| (rule, config.level(rule)))
        .filter(|(_, level)| *level != Level::Allow)
        .collect();
    // Rules only read the context (what they share is computed once, by whichever rule asks
    // first), so they run side by side; the findings keep the registry's order.
    let found = crate::parallel::map(&active, |(rule, _)| {
        let mut findings = Findings::new();
        (rule.check)(&ctx, &mut findings);
        findings.items
    });
    let mut out = Vec::new();
    for ((rule, level), items) in active.iter().zip(found) {
        for mut d in items {
            d.code = rule.code.to_string();
            d.severity = severity(*level);
            out.push(d);
        }
    }
    let user_files: Vec<_> = names
        .user_modules()
        .filter_map(|m| session.module(m))
        .map(|m| (m.file, &m.ast))
        .collect();
    let mut out = suppress::apply(session, &user_files, out, config);
    diagnostics::sort(&mut out);
    out.dedup();
    out
}

pub(crate) fn severity(level: Level) -> Severity {
    match level {
        Level::Deny => Severity::Error,
        _ => Severity::Warning,
    }
}

/// Every rule with its effective level under `config`, in registry order.
pub fn levels(config: &Config) -> BTreeMap<&'static str, Level> {
    rules::all().map(|r| (r.code, config.level(r))).collect()
}
