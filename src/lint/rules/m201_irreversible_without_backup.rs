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
use crate::lower::plan::Action;

pub(crate) static RULE: Rule = Rule {
    code: "M201",
    name: "irreversible-without-backup",
    level: Level::Deny,
    category: Category::Migrations,
    summary: "an irreversible migration runs in an environment with no backup before it",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for lp in ctx.plans() {
        let mut backed_up = false;
        for step in lp.plan.phases.iter().flat_map(|p| p.steps.iter()) {
            match &step.action {
                Action::Backup { method, .. } if method != "none" => backed_up = true,
                Action::Migrate {
                    name,
                    reversible: false,
                    ..
                } if !backed_up => {
                    let Some(m) = ctx
                        .names
                        .releases()
                        .filter(|(_, r)| r.version.value == lp.release)
                        .flat_map(|(_, r)| r.migrations.iter())
                        .find(|m| m.name.name == *name)
                    else {
                        continue;
                    };
                    let mut d = finding(
                        format!(
                            "irreversible migration `{name}` runs in `{}` with no backup before it",
                            lp.environment
                        ),
                        m.name.span,
                        "nothing can restore what this migration removes",
                    );
                    if let Some((_, span)) = m.irreversible.first() {
                        d = d.with_label(Label::secondary(*span, "marked irreversible here"));
                    }
                    if let Some(env) = ctx
                        .names
                        .environments()
                        .find(|e| e.name.name == lp.environment)
                    {
                        d = d.with_label(Label::secondary(
                            env.name.span,
                            "this environment takes no backup",
                        ));
                    }
                    out.report(d.with_help(format!(
                        "add a `backup` (`pg_dump`, `snapshot` or a command) to environment `{}`",
                        lp.environment
                    )));
                }
                _ => {}
            }
        }
    }
}
