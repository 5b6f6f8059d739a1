//! ## What it does
//! Compares every migration of an already released version with the run history
//! (`.deployc/history` beside the `.deploy` file, see `docs/history-format.md`) and flags a
//! migration whose `up` SQL changed since a run applied it, or that was removed from its
//! release.
//!
//! ## Why is this bad?
//! A migration that already ran in an environment will not run there again: the edited
//! SQL runs only in environments that have not had the release yet, so the schemas drift
//! apart, and the next migration is written against a schema that does not exist
//! everywhere. A change to released schema belongs in a new migration of a new release.
//!
//! ## Example
//! ```deploy
//! # `.deployc/history` records `add_email_address` of 2.1.0 as applied in production
//! release "2.1.0" {
//!   migrations {
//!     expand add_email_address {
//!       up   = sql "ALTER TABLE users ADD COLUMN email_address TEXT NOT NULL DEFAULT ''"
//!       down = sql "ALTER TABLE users DROP COLUMN email_address"
//!     }
//!   }
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! release "2.3.0" {
//!   migrations {
//!     expand default_email_address {
//!       up   = sql "ALTER TABLE users ALTER COLUMN email_address SET DEFAULT ''"
//!       down = sql "ALTER TABLE users ALTER COLUMN email_address DROP DEFAULT"
//!     }
//!   }
//! }
//! ```

use std::collections::HashSet;

use crate::diagnostics::Label;
use crate::history::{Outcome, checksum};
use crate::source::Span;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};

pub(crate) static RULE: Rule = Rule {
    code: "M214",
    name: "migration-changed-after-release",
    level: Level::Deny,
    category: Category::Migrations,
    summary: "a migration of an already released version changed since a run applied it",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    let Some(loaded) = &ctx.options.history else {
        return;
    };
    let service = ctx.names.service().map(|s| s.name.name.as_str());
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for (i, entry) in loaded.history.entries.iter().enumerate() {
        if service.is_some_and(|s| s != entry.service) || entry.outcome != Outcome::Succeeded {
            continue;
        }
        let Some(release) = ctx
            .names
            .releases()
            .map(|(_, r)| r)
            .find(|r| r.version.value == entry.release)
        else {
            continue;
        };
        let line = loaded.lines.get(i).copied();
        for record in &entry.migrations {
            if !seen.insert((entry.release.clone(), record.name.clone())) {
                continue;
            }
            let applied = format!("applied in `{}` by run `{}`", entry.environment, entry.run);
            match release.migrations.iter().find(|m| m.name.name == record.name) {
                None => {
                    let mut d = finding(
                        format!(
                            "migration `{}` of released version `{}` was removed",
                            record.name, entry.release
                        ),
                        release.version.span,
                        format!("`{}` is no longer in this release", record.name),
                    );
                    if let Some(l) = line {
                        d = d.with_label(Label::secondary(l, applied));
                    }
                    out.report(d.with_help(
                        "put the migration back as it was, and undo it with a new migration in a new release",
                    ));
                }
                Some(m) => {
                    let Some((src, _)) = m.up.first() else { continue };
                    let Some(loaded_sql) = ctx.sql.get(&src.span()) else {
                        continue;
                    };
                    let now = checksum(&loaded_sql.text);
                    if now == record.checksum {
                        continue;
                    }
                    let mut d = finding(
                        format!(
                            "migration `{}` of released version `{}` changed after it was applied",
                            record.name, entry.release
                        ),
                        src.span(),
                        format!("checksum is now `{now}`"),
                    );
                    if let Some(l) = line {
                        // Point at the recorded checksum inside the line when it is there.
                        let l = ctx
                            .session
                            .sources
                            .get(l.file)
                            .and_then(|f| f.text.get(l.start as usize..l.end as usize))
                            .and_then(|text| text.find(record.checksum.as_str()))
                            .map_or(l, |at| {
                                let start = l.start as usize + at;
                                Span::new(l.file, start, start + record.checksum.len())
                            });
                        d = d.with_label(Label::secondary(
                            l,
                            format!("{applied} with checksum `{}`", record.checksum),
                        ));
                    }
                    out.report(
                        d.with_note("environments that already ran it keep the old schema")
                            .with_help(
                                "restore the SQL that was applied, and make the change in a new migration of a new release",
                            ),
                    );
                }
            }
        }
    }
}
