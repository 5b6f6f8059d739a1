//! ## What it does
//! Flags a `data` migration whose `UPDATE` or `DELETE` has no `WHERE`, or that has no
//! `batch`.
//!
//! ## Why is this bad?
//! One statement over a whole table holds row locks on every row it touches until it
//! commits, bloats the table, and can run for a long time on a large table while the
//! application waits on those rows. With `batch N`, the runtime repeats the statement until
//! no row changes, each run in its own short transaction — which needs a `WHERE` that
//! selects the rows still to do, or the statement never finishes (or is not batched at
//! all).
//!
//! ## Example
//! ```deploy
//! data backfill_email_address {
//!   up   = sql "UPDATE users SET email_address = email"
//!   down = noop "the down of add_email_address drops the copies"
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! data backfill_email_address {
//!   up   = sql "UPDATE users SET email_address = email WHERE id IN (SELECT id FROM users WHERE email_address IS NULL LIMIT 10000)"
//!   down = noop "the down of add_email_address drops the copies"
//!   batch 10_000
//! }
//! ```

use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::sql::model::{DmlKind, EffectKind};
use crate::syntax::ast::Phase;

pub(crate) static RULE: Rule = Rule {
    code: "M209",
    name: "unbatched-backfill",
    level: Level::Warn,
    category: Category::Migrations,
    summary: "a data migration updates or deletes without `batch` or without a `WHERE`",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for (_, release) in ctx.names.releases() {
        for m in &release.migrations {
            if m.phase.value != Phase::Data {
                continue;
            }
            let (Some((src, _)), Some(a)) = (m.up.first(), ctx.up(m)) else {
                continue;
            };
            for e in a.model.effects() {
                let EffectKind::Dml {
                    kind: kind @ (DmlKind::Update | DmlKind::Delete),
                    table,
                    has_where,
                    ..
                } = &e.kind
                else {
                    continue;
                };
                let batched = !m.batch.is_empty();
                let (message, label, help) = match (batched, *has_where) {
                    (true, true) => continue,
                    (true, false) => (
                        format!("batched `{}` on `{table}` has no `WHERE`", kind.keyword()),
                        "touches every row on every run",
                        "add a `WHERE` that selects only the rows still to do, so that each batch makes progress and the last one changes nothing",
                    ),
                    (false, true) => (
                        format!("data migration `{}` runs `{}` on `{table}` without `batch`", m.name.name, kind.keyword()),
                        "runs as one transaction over every matching row",
                        "add `batch N` and limit the statement to N rows still to do",
                    ),
                    (false, false) => (
                        format!("data migration `{}` runs `{}` on every row of `{table}` at once", m.name.name, kind.keyword()),
                        "no `WHERE` and no `batch`",
                        "add `batch N` and a `WHERE` that selects at most N rows still to do",
                    ),
                };
                out.report(finding(message, ctx.sql_span(src, &e.range), label).with_help(help));
            }
        }
    }
}
