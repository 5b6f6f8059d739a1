//! ## What it does
//! Flags a migration whose `up` both changes the schema and changes data. Rows inserted
//! into a table the same migration creates (seed data) do not count.
//!
//! ## Why is this bad?
//! Schema changes are short but take strong locks; data changes are long but take weak
//! ones. Together in one transaction the long data change runs while the strong lock is
//! held, blocking every query on the table. They also cannot be phased apart: the schema
//! change belongs before the deploy (`expand`), the backfill in a batched `data`
//! migration.
//!
//! ## Example
//! ```deploy
//! expand add_email_address {
//!   up = sql """
//!     ALTER TABLE users ADD COLUMN email_address TEXT;
//!     UPDATE users SET email_address = email;
//!   """
//!   down = sql "ALTER TABLE users DROP COLUMN email_address"
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! expand add_email_address {
//!   up   = sql "ALTER TABLE users ADD COLUMN email_address TEXT"
//!   down = sql "ALTER TABLE users DROP COLUMN email_address"
//! }
//! data backfill_email_address after add_email_address {
//!   up   = sql "UPDATE users SET email_address = email WHERE email_address IS NULL"
//!   down = noop "the down of add_email_address drops the copies"
//!   batch 10_000
//! }
//! ```

use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::sql::model::{DmlKind, EffectKind};

pub(crate) static RULE: Rule = Rule {
    code: "M208",
    name: "mixed-ddl-and-dml",
    level: Level::Warn,
    category: Category::Migrations,
    summary: "one migration mixes schema changes and data changes",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for (_, release) in ctx.names.releases() {
        for m in &release.migrations {
            let (Some((src, _)), Some(a)) = (m.up.first(), ctx.up(m)) else {
                continue;
            };
            let created: Vec<&str> = a
                .model
                .effects()
                .filter_map(|e| match &e.kind {
                    EffectKind::CreateTable { table, .. } => Some(table.as_str()),
                    _ => None,
                })
                .collect();
            let ddl = a.model.effects().find(|e| e.kind.is_ddl());
            let dml = a.model.effects().find(|e| match &e.kind {
                EffectKind::Dml {
                    kind: DmlKind::Insert,
                    table,
                    ..
                } => !created.contains(&table.as_str()),
                EffectKind::Dml { .. } => true,
                _ => false,
            });
            let (Some(ddl), Some(dml)) = (ddl, dml) else {
                continue;
            };
            out.report(
                finding(
                    format!(
                        "migration `{}` changes both the schema and the data",
                        m.name.name
                    ),
                    ctx.sql_span(src, &dml.range),
                    format!("data change: {}", dml.kind.describe()),
                )
                .with_label(Label::secondary(
                    ctx.sql_span(src, &ddl.range),
                    format!("schema change: {}", ddl.kind.describe()),
                ))
                .with_help(
                    "move the data change into a `data` migration that runs after this one, with `batch`",
                ),
            );
        }
    }
}
