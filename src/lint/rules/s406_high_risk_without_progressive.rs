//! ## What it does
//! Flags a release with `risk = high` that ships with `rolling` or `recreate`.
//!
//! ## Why is this bad?
//! A rolling update moves instances, not traffic shares: every batch serves real users at
//! once and nothing compares the new version with the old one before the next batch.
//! `recreate` replaces everything at once. A high-risk change wants a canary (small share
//! first, analysed against the stable version) or blue/green (checked before any user sees
//! it, switched back in seconds).
//!
//! ## Example
//! ```deploy
//! release "3.0.0" {
//!   risk = high
//!   strategy = rolling { batch 2, max_unavailable 1, health every 10s timeout 30s }
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! release "3.0.0" {
//!   risk = high
//!   strategy = canary { analysis every 1m, no_data fail after 3, step 5% for 10m, step 100% }
//! }
//! ```

use super::blocks;
use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::{Risk, Strategy};

pub(crate) static RULE: Rule = Rule {
    code: "S406",
    name: "high-risk-without-progressive",
    level: Level::Warn,
    category: Category::Strategy,
    summary: "a high-risk release ships with `rolling` or `recreate`",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for r in blocks::releases(ctx) {
        let Some(risk) = r.release.risk.first() else { continue };
        if risk.value != Risk::High {
            continue;
        }
        for b in r.strategies.iter().map(|u| &u.bound) {
            if !matches!(b.body, Strategy::Rolling { .. } | Strategy::Recreate { .. }) {
                continue;
            }
            out.report(
                finding(
                    format!(
                        "high-risk release `{}` ships with `{}`",
                        r.release.version.value,
                        b.body.name()
                    ),
                    b.keyword_span(),
                    "no traffic share is tried and analysed first",
                )
                .with_label(Label::secondary(risk.span, "the release is marked high risk here"))
                .with_help("use a `canary` or `blue_green` strategy for high-risk releases"),
            );
        }
    }
}
