//! ## What it does
//! Compares a migration's `down` with its `up` on the schema model and flags a `down` that
//! does not undo the `up`: it leaves something the `up` created, or drops or renames
//! something the `up` did not create.
//!
//! ## Why is this bad?
//! Rollback runs the `down` to bring the schema back to what the previous version expects.
//! A `down` that drops the wrong column leaves the new one behind and destroys one the
//! previous version uses; a `down` that forgets an index or a table leaves it to fail the
//! next attempt at the release. Dropping a table also drops its columns, indexes and
//! constraints, and dropping a column drops the indexes on it: those count as undone.
//!
//! ## Example
//! ```deploy
//! expand add_email_address {
//!   up   = sql "ALTER TABLE users ADD COLUMN email_address TEXT"
//!   down = sql "ALTER TABLE users DROP COLUMN email"
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! expand add_email_address {
//!   up   = sql "ALTER TABLE users ADD COLUMN email_address TEXT"
//!   down = sql "ALTER TABLE users DROP COLUMN email_address"
//! }
//! ```

use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::sql::model::{Effect, EffectKind as K};

pub(crate) static RULE: Rule = Rule {
    code: "M210",
    name: "down-not-inverse",
    level: Level::Warn,
    category: Category::Migrations,
    summary: "the `down` does not undo the `up` on the schema model",
    file: file!(),
    check,
};

/// Whether the down effects `down` undo the up effect `up`.
fn undone(up: &K, down: &[&Effect]) -> bool {
    down.iter().any(|d| match (up, &d.kind) {
        (K::CreateTable { table, .. }, K::DropTable { table: t }) => t == table,
        (K::AddColumn { table, column, .. }, K::DropColumn { table: t, column: c }) => {
            t == table && c == column
        }
        (K::AddColumn { table, .. }, K::DropTable { table: t }) => t == table,
        (K::CreateIndex { name: Some(n), .. }, K::DropIndex { name, .. }) => n == name,
        (K::CreateIndex { table, .. }, K::DropTable { table: t }) => t == table,
        (K::CreateIndex { table, columns, .. }, K::DropColumn { table: t, column }) => {
            t == table && columns.contains(column)
        }
        (K::RenameColumn { table, from, to }, K::RenameColumn { table: t, from: f, to: o }) => {
            t == table && f == to && o == from
        }
        (K::RenameTable { from, to }, K::RenameTable { from: f, to: o }) => f == to && o == from,
        (K::AddConstraint { name: Some(n), .. }, K::DropConstraint { name, .. }) => n == name,
        (K::AddConstraint { table, .. }, K::DropTable { table: t }) => t == table,
        (K::CreateType { name, .. }, K::DropType { name: n }) => n == name,
        _ => false,
    })
}

/// Whether the down effect `d` removes something the up created (or renames it back).
fn expected(d: &K, up: &[&Effect]) -> bool {
    up.iter().any(|u| match (&u.kind, d) {
        (K::CreateTable { table, .. }, K::DropTable { table: t }) => t == table,
        (K::AddColumn { table, column, .. }, K::DropColumn { table: t, column: c }) => {
            t == table && c == column
        }
        (K::CreateTable { table, .. }, K::DropColumn { table: t, .. }) => t == table,
        (K::CreateIndex { name: Some(n), .. }, K::DropIndex { name, .. }) => n == name,
        (K::RenameColumn { table, from, to }, K::RenameColumn { table: t, from: f, to: o }) => {
            t == table && f == to && o == from
        }
        (K::RenameTable { from, to }, K::RenameTable { from: f, to: o }) => f == to && o == from,
        (K::AddConstraint { name: Some(n), .. }, K::DropConstraint { name, .. }) => n == name,
        (K::CreateType { name, .. }, K::DropType { name: n }) => n == name,
        _ => false,
    })
}

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for (_, release) in ctx.names.releases() {
        for m in &release.migrations {
            let (Some((up_src, _)), Some(up)) = (m.up.first(), ctx.up(m)) else {
                continue;
            };
            let Some((down_src, down)) = ctx.down(m) else {
                continue;
            };
            let ups: Vec<&Effect> = up.model.effects().collect();
            let downs: Vec<&Effect> = down.model.effects().collect();
            // Only schema changes are compared; a migration whose SQL the model does not
            // describe fully is left alone.
            if ups.iter().any(|e| matches!(e.kind, K::Other))
                || downs.iter().any(|e| matches!(e.kind, K::Other))
            {
                continue;
            }
            let stray = downs.iter().find(|d| {
                matches!(
                    d.kind,
                    K::DropTable { .. }
                        | K::DropColumn { .. }
                        | K::DropIndex { .. }
                        | K::RenameColumn { .. }
                        | K::RenameTable { .. }
                        | K::DropConstraint { .. }
                        | K::DropType { .. }
                ) && !expected(&d.kind, &ups)
            });
            let left = ups.iter().find(|u| {
                matches!(
                    u.kind,
                    K::CreateTable { .. }
                        | K::AddColumn { .. }
                        | K::CreateIndex { name: Some(_), .. }
                        | K::RenameColumn { .. }
                        | K::RenameTable { .. }
                        | K::CreateType { .. }
                ) && !undone(&u.kind, &downs)
            });
            if let Some(d) = stray {
                let mut f = finding(
                    format!(
                        "the `down` of `{}` {}, which its `up` did not create",
                        m.name.name,
                        d.kind.describe()
                    ),
                    ctx.sql_span(down_src, &d.range),
                    "not undoing anything the `up` did",
                );
                if let Some(u) = left {
                    f = f.with_label(Label::secondary(
                        ctx.sql_span(up_src, &u.range),
                        format!("the `up` {}", u.kind.describe()),
                    ));
                }
                out.report(f.with_help("make the `down` undo exactly what the `up` does"));
            } else if let Some(u) = left {
                out.report(
                    finding(
                        format!("the `down` of `{}` does not undo all of its `up`", m.name.name),
                        ctx.sql_span(up_src, &u.range),
                        format!("the `up` {}; the `down` leaves it", u.kind.describe()),
                    )
                    .with_label(Label::secondary(down_src.span(), "this `down`"))
                    .with_help("make the `down` undo exactly what the `up` does"),
                );
            }
        }
    }
}
