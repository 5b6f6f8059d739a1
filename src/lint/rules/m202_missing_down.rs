//! ## What it does
//! Flags a migration that has neither a `down` nor `irreversible "why"`, and a
//! `down = noop "…"` on a migration whose `up` drops, renames, retypes or deletes
//! something.
//!
//! ## Why is this bad?
//! Without a `down`, nobody has decided what a rollback does with this migration: the plan
//! treats it as irreversible, but without the reason a reviewer needs. A `noop` down says
//! "rolling back needs nothing", which is false when the `up` removed a column, a table or
//! rows: the plan then lets automatic rollback run past a change it cannot undo, and the
//! previous version comes back to a schema it does not know.
//!
//! ## Example
//! ```deploy
//! expand add_email_address {
//!   up = sql "ALTER TABLE users ADD COLUMN email_address TEXT"
//! }
//! data purge_guests {
//!   up   = sql "DELETE FROM users WHERE guest"
//!   down = noop "nothing to do"
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! expand add_email_address {
//!   up   = sql "ALTER TABLE users ADD COLUMN email_address TEXT"
//!   down = sql "ALTER TABLE users DROP COLUMN email_address"
//! }
//! data purge_guests {
//!   up = sql "DELETE FROM users WHERE guest"
//!   irreversible "deleted guests can only come back from the backup"
//! }
//! ```

use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::Down;

pub(crate) static RULE: Rule = Rule {
    code: "M202",
    name: "missing-down",
    level: Level::Deny,
    category: Category::Migrations,
    summary: "a migration has no real `down`: none and not marked irreversible, or `noop` after a destructive `up`",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for (_, release) in ctx.names.releases() {
        for m in &release.migrations {
            if m.down.is_empty() && m.irreversible.is_empty() {
                out.report(
                    finding(
                        format!("migration `{}` has no `down`", m.name.name),
                        m.name.span,
                        "no `down` and not marked `irreversible`",
                    )
                    .with_note("without a `down` the plan treats the migration as irreversible")
                    .with_help(
                        "add `down = sql \"…\"` that undoes the `up`, or `irreversible \"why\"`",
                    ),
                );
                continue;
            }
            let Some((Down::Noop(noop), _)) = m.down.first() else {
                continue;
            };
            let Some(a) = ctx.up(m) else { continue };
            let Some(((src, _), effect)) = m
                .up
                .first()
                .zip(a.model.effects().find(|e| e.kind.is_destructive()))
            else {
                continue;
            };
            out.report(
                finding(
                    format!(
                        "`down = noop` on migration `{}`, whose `up` {}",
                        m.name.name,
                        effect.kind.describe()
                    ),
                    noop.span,
                    "rolling back leaves this change in place",
                )
                .with_label(Label::secondary(
                    ctx.sql_span(src, &effect.range),
                    "cannot be undone by doing nothing",
                ))
                .with_help(
                    "write a `down` that restores it, or mark the migration `irreversible \"why\"` \
                     so that the plan takes it as its point of no return",
                ),
            );
        }
    }
}
