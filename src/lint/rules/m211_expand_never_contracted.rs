//! ## What it does
//! Flags an `expand` that replaces something — a `data` migration fills a column it adds
//! from other columns of the table — when no `contract … of` it follows within
//! `[migrations] contract_after_releases` releases (3 by default).
//!
//! ## Why is this bad?
//! Until the contract runs, the old and the new shape both live in the schema: writers keep
//! both up to date, readers may use either, and the old column keeps taking space and
//! confusing whoever reads the schema next. An expand without its contract is a migration
//! left half done.
//!
//! ## Example
//! ```deploy
//! release "2.1.0" {
//!   migrations {
//!     expand add_email_address { … }
//!     data backfill_email_address after add_email_address {
//!       up = sql "UPDATE users SET email_address = email WHERE email_address IS NULL"
//!       …
//!     }
//!   }
//! }
//! # 2.2.0, 2.3.0 and 2.4.0 ship without `contract … of add_email_address`
//! ```
//!
//! ## Use instead
//! ```deploy
//! release "2.2.0" {
//!   migrations {
//!     contract drop_legacy_email of add_email_address {
//!       up = sql "ALTER TABLE users DROP COLUMN email"
//!       irreversible "drops the old column"
//!     }
//!   }
//! }
//! ```

use std::collections::{HashMap, HashSet};

use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::sql::model::{DmlKind, EffectKind};
use crate::syntax::ast::{Migration, Phase};

pub(crate) static RULE: Rule = Rule {
    code: "M211",
    name: "expand-never-contracted",
    level: Level::Warn,
    category: Category::Migrations,
    summary: "an expand that replaces something has no contract after the configured number of releases",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    let n = ctx.config.migrations.contract_after_releases as usize;
    let releases: Vec<_> = ctx.names.releases().map(|(_, r)| r).collect();
    // Every data migration in program order, and for each column an `UPDATE` sets, the
    // positions of the data migrations that set it: an expand looks only at those, not at
    // every later migration (which made the rule quadratic in the program's migrations).
    let mut data: Vec<&Migration> = Vec::new();
    let mut first_of_release: Vec<usize> = Vec::with_capacity(releases.len());
    let mut setters: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for release in &releases {
        first_of_release.push(data.len());
        for d in release.migrations.iter().filter(|d| d.phase.value == Phase::Data) {
            if let Some(a) = ctx.up(d) {
                for e in a.model.effects() {
                    if let EffectKind::Dml {
                        kind: DmlKind::Update,
                        table,
                        sets,
                        ..
                    } = &e.kind
                    {
                        for c in sets {
                            let v = setters.entry((table.as_str(), c.as_str())).or_default();
                            if v.last() != Some(&data.len()) {
                                v.push(data.len());
                            }
                        }
                    }
                }
            }
            data.push(d);
        }
    }
    // The expands each release contracts, by name.
    let contracts: Vec<HashSet<&str>> = releases
        .iter()
        .map(|r| {
            r.migrations
                .iter()
                .filter(|c| c.phase.value == Phase::Contract)
                .flat_map(|c| c.of.iter().map(|o| o.name.as_str()))
                .collect()
        })
        .collect();
    for (ri, release) in releases.iter().enumerate() {
        for x in &release.migrations {
            if x.phase.value != Phase::Expand {
                continue;
            }
            let Some(a) = ctx.up(x) else { continue };
            let added: Vec<(&str, &str)> = a
                .model
                .effects()
                .filter_map(|e| match &e.kind {
                    EffectKind::AddColumn { table, column, .. } => {
                        Some((table.as_str(), column.as_str()))
                    }
                    _ => None,
                })
                .collect();
            // The backfill that copies old columns into the new one: what is replaced.
            let from = first_of_release.get(ri).copied().unwrap_or(0);
            let mut candidates: Vec<usize> = added
                .iter()
                .filter_map(|k| setters.get(k))
                .flat_map(|v| v.iter().copied().skip(v.partition_point(|p| *p < from)))
                .collect();
            candidates.sort_unstable();
            candidates.dedup();
            let replaced = candidates.iter().filter_map(|p| data.get(*p)).find_map(|d| {
                let (dsrc, _) = d.up.first()?;
                ctx.up(d)?.model.effects().find_map(|e| match &e.kind {
                    EffectKind::Dml {
                        kind: DmlKind::Update,
                        table,
                        sets,
                        reads,
                        ..
                    } => {
                        let set = sets.iter().find(|c| added.contains(&(table.as_str(), c.as_str())))?;
                        let old: Vec<&String> = reads.iter().filter(|r| !sets.contains(r)).collect();
                        let first = old.first()?;
                        Some((table.clone(), set.clone(), (*first).clone(), ctx.sql_span(dsrc, &e.range)))
                    }
                    _ => None,
                })
            });
            let Some((table, new, old, fill_span)) = replaced else {
                continue;
            };
            let later: Vec<_> = releases.iter().skip(ri + 1).collect();
            if later.len() < n {
                continue;
            }
            let contracted = contracts
                .iter()
                .skip(ri + 1)
                .take(n)
                .any(|names| names.contains(x.name.name.as_str()));
            if contracted {
                continue;
            }
            let last = later
                .get(n.saturating_sub(1))
                .map(|r| r.version.value.clone())
                .unwrap_or_default();
            out.report(
                finding(
                    format!(
                        "expand `{}` replaces `{table}.{old}` but no contract follows it within {n} release{}",
                        x.name.name,
                        if n == 1 { "" } else { "s" }
                    ),
                    x.name.span,
                    format!("adds `{table}.{new}`"),
                )
                .with_label(Label::secondary(fill_span, format!("`{new}` is filled from `{old}` here")))
                .with_note(format!("releases up to `{last}` ship without `contract … of {}`", x.name.name))
                .with_help(format!(
                    "add `contract … of {}` that removes `{old}` once no running version reads it",
                    x.name.name
                )),
            );
        }
    }
}
