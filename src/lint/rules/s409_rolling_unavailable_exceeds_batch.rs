//! ## What it does
//! Flags a rolling update whose `max_unavailable` takes every instance down (`100%`, or at
//! least the environment's `replicas`), or whose `batch` is larger than the number of
//! instances.
//!
//! ## Why is this bad?
//! A rolling update keeps the service up by replacing a few instances at a time. With every
//! instance allowed to be unavailable, it is a `recreate` with downtime, without saying so;
//! a batch larger than the fleet is one batch, with the same effect.
//!
//! ## Example
//! ```deploy
//! environment staging { provider = local { command = "app --port {port}", replicas = 2 } }
//! release "1.0.0" {
//!   strategy = rolling { batch 1, max_unavailable 2, health every 10s timeout 30s }
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! strategy = rolling { batch 1, max_unavailable 1, health every 10s timeout 30s }
//! ```

use super::blocks::{self, Once};
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::{CountOrPercent, Strategy};

pub(crate) static RULE: Rule = Rule {
    code: "S409",
    name: "rolling-unavailable-exceeds-batch",
    level: Level::Deny,
    category: Category::Strategy,
    summary: "a rolling update may take every instance down",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    let mut once = Once::default();
    for r in blocks::releases(ctx) {
        for u in &r.strategies {
            let b = &u.bound;
            let Strategy::Rolling {
                batch,
                max_unavailable,
                ..
            } = b.body
            else {
                continue;
            };
            for p in r.plans(ctx).filter(|p| u.runs_in(&p.environment)) {
                // The number of instances is known only where deployc runs them.
                let replicas = blocks::environment_of(ctx, p)
                    .and_then(crate::check::gates::known_instances);
                let text = |s| ctx.session.sources.text(s).to_string();
                for m in max_unavailable {
                    let all = match (m.value, replicas) {
                        (CountOrPercent::Percent(p), _) => p >= 100.0,
                        (CountOrPercent::Count(n), Some(r)) => n >= r,
                        (CountOrPercent::Count(_), None) => false,
                    };
                    // A share is the same in every environment: report it once.
                    let key = match m.value {
                        CountOrPercent::Percent(_) => "",
                        CountOrPercent::Count(_) => p.environment.as_str(),
                    };
                    if !all || !once.first(b.at(m.span), key) {
                        continue;
                    }
                    let mut d = finding(
                        format!(
                            "`max_unavailable {}` lets the rolling update take every instance down",
                            text(m.span)
                        ),
                        b.at(m.span),
                        "no instance has to stay up",
                    );
                    if let (CountOrPercent::Count(_), Some(r)) = (m.value, replicas) {
                        d = d.with_note(format!("`{}` runs {r} instances", p.environment));
                    }
                    out.report(d.with_help("keep some instances serving: `max_unavailable` below the number of instances (often 1 or 25%)"));
                }
                for x in batch {
                    let (CountOrPercent::Count(n), Some(r)) = (x.value, replicas) else {
                        continue;
                    };
                    if n <= r || !once.first(b.at(x.span), &p.environment) {
                        continue;
                    }
                    out.report(
                        finding(
                            format!(
                                "`batch {n}` is larger than the {r} instances of `{}`",
                                p.environment
                            ),
                            b.at(x.span),
                            "every instance is replaced in one batch",
                        )
                        .with_help(format!("use a batch smaller than {r}, or a share such as `25%`")),
                    );
                }
            }
        }
    }
}
