//! ## What it does
//! Flags a release in which more than one migration takes an `ACCESS EXCLUSIVE` lock on the
//! same table (most `ALTER TABLE`, `DROP INDEX` without `CONCURRENTLY`, `TRUNCATE`…).
//! Tables created earlier in the same release are exempt. PostgreSQL only.
//!
//! ## Why is this bad?
//! Each exclusive lock waits for every running query on the table to finish and blocks
//! every query that arrives meanwhile: each is a short outage of the table, and under load a
//! queue that can take minutes to drain. Several in one release multiply the risk, and each
//! is a separate step that can time out and fail the release half way.
//!
//! ## Example
//! ```deploy
//! expand add_email_address {
//!   up   = sql "ALTER TABLE users ADD COLUMN email_address TEXT"
//!   down = sql "ALTER TABLE users DROP COLUMN email_address"
//! }
//! expand add_locale {
//!   up   = sql "ALTER TABLE users ADD COLUMN locale TEXT"
//!   down = sql "ALTER TABLE users DROP COLUMN locale"
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! expand add_email_address_and_locale {
//!   up   = sql "ALTER TABLE users ADD COLUMN email_address TEXT, ADD COLUMN locale TEXT"
//!   down = sql "ALTER TABLE users DROP COLUMN email_address, DROP COLUMN locale"
//! }
//! ```

use std::collections::BTreeMap;

use crate::diagnostics::Label;
use crate::lint::config::Dialect;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::source::Span;
use crate::sql::model::Lock;

pub(crate) static RULE: Rule = Rule {
    code: "M213",
    name: "lock-heavy-release",
    level: Level::Warn,
    category: Category::Migrations,
    summary: "more than one migration of a release takes an exclusive lock on the same table",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    // The lock model is PostgreSQL's; SQLite locks the whole database for any write.
    if ctx.dialect() == Dialect::Sqlite {
        return;
    }
    for (_, release) in ctx.names.releases() {
        let graph = crate::check::release_graph(release);
        // table → every (migration, statement span) taking ACCESS EXCLUSIVE on it, in run order
        let mut locks: BTreeMap<String, Vec<(String, Span)>> = BTreeMap::new();
        for m in graph.before_deploy.iter().chain(&graph.after_deploy) {
            let (Some((src, _)), Some(a)) = (m.up.first(), ctx.up(m)) else {
                continue;
            };
            let mut tables: Vec<&str> = a
                .model
                .statements
                .iter()
                .enumerate()
                .flat_map(|(i, s)| s.locks.iter().map(move |l| (i, l)))
                .filter(|(_, (_, l))| *l == Lock::AccessExclusive)
                .filter(|(i, (t, _))| !ctx.is_new_at(m, *i, t))
                .map(|(_, (t, _))| t.as_str())
                .collect();
            tables.sort_unstable();
            tables.dedup();
            for t in tables {
                if let Some((_, stmt)) = a.model.strongest_lock(t) {
                    locks
                        .entry(t.to_string())
                        .or_default()
                        .push((m.name.name.clone(), ctx.sql_span(src, &stmt.range)));
                }
            }
        }
        for (table, steps) in locks {
            let [(first_name, first_span), (second_name, second_span), rest @ ..] = steps.as_slice() else {
                continue;
            };
            let mut d = finding(
                format!(
                    "release `{}` locks `{table}` exclusively in {} migrations",
                    release.version.value,
                    steps.len()
                ),
                *second_span,
                format!("`{second_name}` takes an `ACCESS EXCLUSIVE` lock on `{table}`"),
            )
            .with_label(Label::secondary(
                *first_span,
                format!("`{first_name}` takes one before it"),
            ));
            for (name, span) in rest {
                d = d.with_label(Label::secondary(*span, format!("and `{name}`")));
            }
            out.report(d.with_help(format!(
                "combine the changes to `{table}` into one migration, or spread them over releases"
            )));
        }
    }
}
