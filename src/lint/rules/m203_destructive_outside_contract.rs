//! ## What it does
//! Flags an `expand`, `data` or `index` migration that drops or renames a table or column,
//! a view, a materialized view or a foreign table (or a column of one), or an attribute of a
//! composite type, or narrows a column's type.
//!
//! ## Why is this bad?
//! Those migrations run before the application deploy, while the previous version still
//! serves traffic (and after a rollback it serves all of it). The previous version still
//! reads and writes what is dropped or renamed, and still writes values a narrowed type
//! rejects. Removing the old shape is a `contract` change: it belongs in a `contract … of`
//! migration of a later release, which runs after the deploy.
//!
//! Tables, views, foreign tables and types created earlier in the same release are exempt
//! (no running version uses them). Order counts: a drop or a rename that comes before the
//! statement creating the name again (`DROP TABLE accounts; CREATE TABLE accounts (…)`,
//! `ALTER TABLE k RENAME TO k_old; CREATE TABLE k (…)`) destroys the object the running
//! version uses, and is reported.
//! A type change counts as narrowing when the earlier migrations of the program give the
//! column's type and the new type does not hold every old value (a shorter `varchar`, a
//! smaller integer, `text` to `varchar(n)`…).
//!
//! ## Example
//! ```deploy
//! expand rename_email {
//!   up   = sql "ALTER TABLE users RENAME COLUMN email TO email_address"
//!   down = sql "ALTER TABLE users RENAME COLUMN email_address TO email"
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! release "2.1.0" {
//!   migrations {
//!     expand add_email_address { … }
//!     data backfill_email_address after add_email_address { … }
//!   }
//! }
//! release "2.2.0" {
//!   migrations {
//!     contract drop_email of add_email_address {
//!       up = sql "ALTER TABLE users DROP COLUMN email"
//!       irreversible "drops the old column"
//!     }
//!   }
//! }
//! ```

use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::sql::model::{EffectKind, is_widening};
use crate::syntax::ast::{Migration, Phase};

pub(crate) static RULE: Rule = Rule {
    code: "M203",
    name: "destructive-outside-contract",
    level: Level::Deny,
    category: Category::Migrations,
    summary: "an expand, data or index migration drops or renames a table, view, column or attribute, or narrows a type",
    file: file!(),
    check,
};

/// Whether `kind` is a drop or a rename this rule reports (outside new relations): of a
/// table or a column, of a view, materialized view or foreign table, of a column of one of
/// those, or of an attribute of a composite type.
pub(crate) fn knows(kind: &EffectKind) -> bool {
    matches!(
        kind,
        EffectKind::DropTable { .. }
            | EffectKind::DropColumn { .. }
            | EffectKind::RenameTable { .. }
            | EffectKind::RenameColumn { .. }
            | EffectKind::DropObject { .. }
            | EffectKind::RenameObject { .. }
            | EffectKind::DropMember { .. }
            | EffectKind::RenameMember { .. }
    )
}

/// Whether `kind`, in migration `m` (not a contract), is a contract change.
pub(crate) fn is_contract_change(ctx: &Context<'_>, m: &Migration, kind: &EffectKind) -> bool {
    match kind {
        k if knows(k) => true,
        EffectKind::AlterColumnType { table, column, ty } => ctx
            .column_type_before(m, table, column)
            .is_some_and(|old| !is_widening(&old, ty)),
        _ => false,
    }
}

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for (_, release) in ctx.names.releases() {
        for m in &release.migrations {
            if m.phase.value == Phase::Contract {
                continue;
            }
            let (Some((src, _)), Some(a)) = (m.up.first(), ctx.up(m)) else {
                continue;
            };
            let effects = a
                .model
                .statements
                .iter()
                .enumerate()
                .flat_map(|(i, s)| s.effects.iter().map(move |e| (i, e)));
            for (i, e) in effects {
                if e.kind.relation().is_some_and(|t| ctx.is_new_at(m, i, t))
                    || !is_contract_change(ctx, m, &e.kind)
                {
                    continue;
                }
                let narrows = matches!(e.kind, EffectKind::AlterColumnType { .. });
                out.report(
                    finding(
                        format!(
                            "{} migration `{}` {}",
                            m.phase.value.name(),
                            m.name.name,
                            e.kind.describe()
                        ),
                        ctx.sql_span(src, &e.range),
                        if narrows {
                            "narrows a type the running version still writes"
                        } else {
                            "the running version still uses what this removes"
                        },
                    )
                    .with_note(format!(
                        "`{}` migrations run before the deploy, while the previous version serves traffic",
                        m.phase.value.name()
                    ))
                    .with_help(
                        "make it a `contract … of` migration in a later release, once no running version uses the old shape",
                    ),
                );
            }
        }
    }
}
