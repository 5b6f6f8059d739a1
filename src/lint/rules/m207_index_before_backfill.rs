//! ## What it does
//! Flags an index on a column that is built before the `data` migration of the same
//! release that fills that column.
//!
//! ## Why is this bad?
//! Built first, the index is updated for every row the backfill writes: the backfill runs
//! slower, writes more WAL, and leaves a bloated index. Built after, it reads the filled
//! column once.
//!
//! ## Example
//! ```deploy
//! index idx_users_email_address after add_email_address {
//!   up   = sql "CREATE INDEX CONCURRENTLY idx_users_email_address ON users (email_address)"
//!   down = sql "DROP INDEX CONCURRENTLY idx_users_email_address"
//! }
//! data backfill_email_address after idx_users_email_address { … }
//! ```
//!
//! ## Use instead
//! ```deploy
//! data backfill_email_address after add_email_address { … }
//! index idx_users_email_address after backfill_email_address { … }
//! ```

use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::sql::model::{DmlKind, EffectKind};
use crate::syntax::ast::Phase;

pub(crate) static RULE: Rule = Rule {
    code: "M207",
    name: "index-before-backfill",
    level: Level::Warn,
    category: Category::Migrations,
    summary: "an index on a column is built before the data migration that fills that column",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for (_, release) in ctx.names.releases() {
        let graph = crate::check::release_graph(release);
        let order: Vec<_> = graph
            .before_deploy
            .iter()
            .chain(&graph.after_deploy)
            .copied()
            .collect();
        for (i, m) in order.iter().enumerate() {
            let (Some((src, _)), Some(a)) = (m.up.first(), ctx.up(m)) else {
                continue;
            };
            for e in a.model.effects() {
                let EffectKind::CreateIndex { table, columns, .. } = &e.kind else {
                    continue;
                };
                let mut later = order.iter().skip(i + 1).filter(|d| d.phase.value == Phase::Data);
                let fill = later.find_map(|d| {
                    let (dsrc, _) = d.up.first()?;
                    let da = ctx.up(d)?;
                    da.model.effects().find_map(|f| match &f.kind {
                        EffectKind::Dml {
                            kind: DmlKind::Update,
                            table: t,
                            sets,
                            ..
                        } if t == table => sets
                            .iter()
                            .find(|c| columns.contains(c))
                            .map(|c| (d, dsrc, f, c.clone())),
                        _ => None,
                    })
                });
                let Some((d, dsrc, f, column)) = fill else {
                    continue;
                };
                out.report(
                    finding(
                        format!(
                            "index on `{table}.{column}` is built before `{}` fills the column",
                            d.name.name
                        ),
                        ctx.sql_span(src, &e.range),
                        format!("built by `{}`", m.name.name),
                    )
                    .with_label(Label::secondary(
                        ctx.sql_span(dsrc, &f.range),
                        format!("fills `{column}` afterwards"),
                    ))
                    .with_help(if m.phase.value == Phase::Index {
                        format!(
                            "order `{}` after `{}` (`after {}`)",
                            m.name.name, d.name.name, d.name.name
                        )
                    } else {
                        format!(
                            "build the index in an `index` migration, which runs after `{}`",
                            d.name.name
                        )
                    }),
                );
            }
        }
    }
}
