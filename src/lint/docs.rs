//! Rule documentation as users read it: `deployc explain`, `deployc rules` and the pages
//! under `docs/rules/` (kept in sync with the rule files by a test).

use std::fmt::Write as _;

use super::{Category, Rule, rules};

/// The repository path of a rule's page, relative to `docs/rules/`.
pub fn page_name(rule: &Rule) -> String {
    format!("{}.md", rule.code.replace('/', "-"))
}

/// The text `deployc explain` prints.
pub fn explain(rule: &Rule) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} ({} by default, {})",
        rule.code,
        rule.name,
        rule.level.as_str(),
        rule.category.title().to_lowercase()
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", rule.summary);
    let doc = rule.doc();
    if !doc.is_empty() {
        let _ = writeln!(out);
        out.push_str(doc);
        if !doc.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The Markdown page of one rule.
pub fn page(rule: &Rule) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!-- generated from the rule's source; do not edit -->"
    );
    let _ = writeln!(out, "# {} `{}`", rule.code, rule.name);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Default level: **{}** · Category: {}",
        rule.level.as_str(),
        rule.category.title()
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", capitalise(rule.summary));
    let doc = rule.doc();
    if !doc.is_empty() {
        let _ = writeln!(out);
        out.push_str(doc);
        if !doc.ends_with('\n') {
            out.push('\n');
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Change its level in `deployc.toml` (`[rules] {} = \"allow\"`), or suppress one finding \
         with `# deployc: allow({}) \"reason\"` on the line above.",
        toml_key(rule.code),
        rule.code
    );
    out
}

/// The index page, `docs/rules/README.md`.
pub fn index() -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<!-- generated from the rule sources; do not edit -->");
    let _ = writeln!(out, "# Lint rules");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Every rule has a code, a name and a default level (`deny` is an error, `warn` a \
         warning, `allow` off). `deployc explain CODE` prints a rule's page; `deployc rules` \
         lists them. Levels are changed in `deployc.toml`; see the [language reference](../language.md#23-lint-configuration-and-suppressions)."
    );
    let mut last: Option<Category> = None;
    for rule in rules::all() {
        if last != Some(rule.category) {
            let _ = writeln!(out);
            let _ = writeln!(out, "## {}", rule.category.title());
            let _ = writeln!(out);
            let _ = writeln!(out, "| code | name | level | flags |");
            let _ = writeln!(out, "|---|---|---|---|");
            last = Some(rule.category);
        }
        let _ = writeln!(
            out,
            "| [{}]({}) | `{}` | {} | {} |",
            rule.code,
            page_name(rule),
            rule.name,
            rule.level.as_str(),
            rule.summary
        );
    }
    out
}

fn toml_key(code: &str) -> String {
    if code.contains('/') {
        format!("\"{code}\"")
    } else {
        code.to_string()
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect::<String>() + ".",
        None => String::new(),
    }
}
