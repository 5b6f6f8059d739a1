//! ## What it does
//! Lints each migration's `down` SQL with the SQL statement rules about live tables (locks,
//! rewrites and scans: `sql/require-concurrent-index-creation`,
//! `sql/require-concurrent-index-deletion`, `sql/changing-column-type`,
//! `sql/constraint-missing-not-valid`…) and flags the `down` that breaks one.
//!
//! ## Why is this bad?
//! A `down` runs during a rollback, when something is already wrong and the previous
//! version serves all traffic. A `down` that holds an exclusive lock on a busy table, or
//! rewrites it, turns the rollback into an outage. The finding is reported once, here, and
//! not also as the `sql/…` rule; turning that `sql/…` rule to `allow` turns it off here
//! too. Rules about running code and style do not apply to a `down`, and tables created
//! earlier in the same release are exempt.
//!
//! ## Example
//! ```deploy
//! index idx_users_email_address {
//!   up   = sql "CREATE INDEX CONCURRENTLY idx_users_email_address ON users (email_address)"
//!   down = sql "DROP INDEX idx_users_email_address"
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! index idx_users_email_address {
//!   up   = sql "CREATE INDEX CONCURRENTLY idx_users_email_address ON users (email_address)"
//!   down = sql "DROP INDEX CONCURRENTLY IF EXISTS idx_users_email_address"
//! }
//! ```

use super::sql::{Class, Side, class, diagnostic, on_new_table, styled};
use crate::lint::{Category, Context, Findings, Level, Rule, find_rule};

pub(crate) static RULE: Rule = Rule {
    code: "M212",
    name: "unsafe-down",
    level: Level::Warn,
    category: Category::Migrations,
    summary: "the `down` SQL breaks an SQL statement rule about live tables",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for (_, release) in ctx.names.releases() {
        for m in &release.migrations {
            let Some((src, a)) = ctx.down(m) else { continue };
            for v in &a.violations {
                let enabled = find_rule(&format!("sql/{}", v.rule))
                    .is_some_and(|r| ctx.config.level(r) != Level::Allow);
                if !enabled
                    || class(&v.rule) != Class::Live
                    || on_new_table(ctx, m, a, v, Side::Down)
                {
                    continue;
                }
                out.report(
                    diagnostic(
                        ctx,
                        src,
                        v,
                        format!("the `down` of `{}`: {}", m.name.name, styled(&v.message)),
                        format!("breaks `sql/{}`", v.rule),
                    )
                    .with_note("the `down` runs during a rollback, while the previous version serves all traffic"),
                );
            }
        }
    }
}
