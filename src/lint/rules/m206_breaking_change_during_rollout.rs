//! ## What it does
//! With a `canary`, `blue_green` or `rolling` strategy, flags a migration that runs before
//! the deploy and makes the previous version fail: a `NOT NULL` column added without a
//! default, a column's type changed, an enum value renamed.
//!
//! ## Why is this bad?
//! Progressive strategies run the old and the new version side by side, and a rollback
//! sends all traffic back to the old version — against the migrated schema. The old version
//! does not write the new `NOT NULL` column, so its inserts fail; it reads and writes the
//! column with the old type and the enum with the old value. Drops, renames and narrowing
//! type changes are reported by M203.
//!
//! ## Example
//! ```deploy
//! release "2.1.0" {
//!   strategy = canary { … }
//!   migrations {
//!     expand add_locale {
//!       up   = sql "ALTER TABLE users ADD COLUMN locale TEXT NOT NULL"
//!       down = sql "ALTER TABLE users DROP COLUMN locale"
//!     }
//!   }
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! expand add_locale {
//!   up   = sql "ALTER TABLE users ADD COLUMN locale TEXT NOT NULL DEFAULT 'en'"
//!   down = sql "ALTER TABLE users DROP COLUMN locale"
//! }
//! ```

use super::m203_destructive_outside_contract::is_contract_change;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::sql::model::EffectKind;
use crate::syntax::ast::Phase;

pub(crate) static RULE: Rule = Rule {
    code: "M206",
    name: "breaking-change-during-rollout",
    level: Level::Deny,
    category: Category::Migrations,
    summary: "a migration before a progressive deploy makes the previous version fail",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for (module, release) in ctx.names.releases() {
        // Any environment that rolls out progressively serves the previous version during
        // the rollout.
        let Some(strategy) = ctx
            .strategies(module, release)
            .into_iter()
            .find(|s| s.is_progressive())
            .map(|s| s.name())
        else {
            continue;
        };
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
                if e.kind.table().is_some_and(|t| ctx.is_new_at(m, i, t)) {
                    continue;
                }
                let why = match &e.kind {
                    EffectKind::AddColumn {
                        not_null: true,
                        default: false,
                        ..
                    } => "the previous version's inserts do not set this column and fail",
                    EffectKind::AlterColumnType { .. } if !is_contract_change(ctx, m, &e.kind) => {
                        "the previous version reads and writes the old type"
                    }
                    EffectKind::RenameEnumValue { .. } => {
                        "the previous version still reads and writes the old value"
                    }
                    _ => continue,
                };
                out.report(
                    finding(
                        format!(
                            "migration `{}` {} before a `{strategy}` deploy",
                            m.name.name,
                            e.kind.describe()
                        ),
                        ctx.sql_span(src, &e.range),
                        why,
                    )
                    .with_note(format!(
                        "with `{strategy}`, the previous version serves traffic during the rollout and all of it after a rollback"
                    ))
                    .with_help(
                        "make the change compatible with both versions (a default, a new column the new version writes), and remove the old shape in a later `contract`",
                    ),
                );
            }
        }
    }
}
