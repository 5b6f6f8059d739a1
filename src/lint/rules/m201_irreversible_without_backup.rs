//! ## What it does
//! Flags an irreversible migration (marked `irreversible "why"`, or without a `down`) that
//! runs in an environment whose plan has no backup before it.
//!
//! ## Why is this bad?
//! An irreversible migration is the plan's point of no return: after it, rollback cannot
//! restore the previous state, and only a backup can bring back what it removed. Without a
//! backup taken before it, a mistake in the migration (or in the data it drops) is
//! permanent.
//!
//! ## Example
//! ```deploy
//! environment production { database = postgres env DATABASE_URL }
//! release "2.2.0" {
//!   migrations {
//!     contract drop_legacy_email of add_email_address {
//!       up = sql "ALTER TABLE users DROP COLUMN email"
//!       irreversible "drops the old column"
//!     }
//!   }
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! environment production {
//!   database = postgres env DATABASE_URL
//!   backup   = pg_dump
//! }
//! ```

use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::Backup;

pub(crate) static RULE: Rule = Rule {
    code: "M201",
    name: "irreversible-without-backup",
    level: Level::Deny,
    category: Category::Migrations,
    summary: "an irreversible migration runs in an environment with no backup before it",
    file: file!(),
    check,
};

// The plan's only backup step is the environment's `backup`, taken before the migrations
// of any release that has some (see `lower`); reading the environment says the same as
// lowering every release in it, for a fraction of the cost.
fn check(ctx: &Context<'_>, out: &mut Findings) {
    for env in ctx.names.environments() {
        let backed_up = env
            .backup
            .iter()
            .any(|b| !matches!(b, Backup::None(_)));
        if backed_up {
            continue;
        }
        for (_, release) in ctx.names.releases() {
            if let Some((r, e)) = &ctx.options.only
                && (*r != release.version.value || *e != env.name.name)
            {
                continue;
            }
            for m in &release.migrations {
                if !m.irreversible.is_empty() || m.down.is_empty() {
                    let mut d = finding(
                        format!(
                            "irreversible migration `{}` runs in `{}` with no backup before it",
                            m.name.name, env.name.name
                        ),
                        m.name.span,
                        "nothing can restore what this migration removes",
                    );
                    if let Some((_, span)) = m.irreversible.first() {
                        d = d.with_label(Label::secondary(*span, "marked irreversible here"));
                    }
                    out.report(
                        d.with_label(Label::secondary(
                            env.name.span,
                            "this environment takes no backup",
                        ))
                        .with_help(format!(
                            "add a `backup` (`pg_dump`, `snapshot` or a command) to environment `{}`",
                            env.name.name
                        )),
                    );
                }
            }
        }
    }
}
