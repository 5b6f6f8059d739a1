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
    out.push_str(&squawk_section());
    out
}

/// The index's section on how the SQL statement rules differ from running the squawk CLI on
/// the same SQL: every difference comes from something deployc knows about the migration and
/// squawk cannot. `tests/squawk_differential.rs` holds deployc to this section: each
/// disagreement it finds must be explained by one of these headings.
fn squawk_section() -> String {
    let list = |names: &mut dyn Iterator<Item = &str>| {
        names
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let timeouts = list(
        &mut crate::sql::lint::NEVER
            .iter()
            .copied()
            .filter(|n| n.contains("timeout")),
    );
    let compat = list(
        &mut rules::sql_rules()
            .map(|r| r.name)
            .filter(|n| rules::sql::class(n) == rules::sql::Class::Compat),
    );
    let m203 = list(&mut rules::sql::M203_COVERS.iter().copied());
    format!(
        "\n## SQL statement rules and the squawk CLI\n\n\
         The `sql/` rules are squawk's, run on the same syntax tree, but with what deployc knows \
         about each migration and the squawk CLI cannot. Run on the same SQL, the two differ \
         only for the reasons below; a differential test runs the pinned squawk CLI and \
         `deployc check` over a corpus of SQL cases in an `expand` and in a `contract` \
         migration and fails on any other difference.\n\n\
         ### Timeouts set by the runtime\n\n\
         The runtime sets `lock_timeout` and `statement_timeout` for every migration (see \
         [runtime integrations](../runtime-integrations.md#timeouts-and-retries)), so these \
         squawk rules are never run: {timeouts}.\n\n\
         ### One transaction per migration\n\n\
         squawk is told the transaction mode the runtime uses instead of guessing it: a \
         migration with a statement PostgreSQL refuses inside a transaction block \
         (`CONCURRENTLY`, `VACUUM`, `CLUSTER` without a table, `REINDEX SCHEMA`, `DATABASE` \
         or `SYSTEM`, an enum value used after it is added) runs outside a transaction, every \
         other migration inside one. The findings are squawk's with \
         `--assume-in-transaction` for the second kind: `prefer-robust-stmts` is silent, \
         `BEGIN` and `COMMIT` are `transaction-nesting`, a constraint validated in the \
         transaction that added it is `constraint-missing-not-valid`, and an index on a table \
         created in the same migration is not `require-concurrent-index-creation`.\n\n\
         ### Contract migrations\n\n\
         A `contract` migration runs after the application deploy, when no running version \
         uses what it removes or renames: these rules are silent in contracts: {compat}.\n\n\
         ### M203 instead of drop and rename rules\n\n\
         In `expand`, `data` and `index` migrations, [M203](M203.md) reports drops and renames \
         of tables, views, materialized views, foreign tables, their columns and composite \
         type attributes with the plan's context, and these rules stay silent for those \
         statements: {m203}. For objects M203 does not model (an index or a sequence renamed) \
         the rule reports as in squawk.\n"
    )
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
