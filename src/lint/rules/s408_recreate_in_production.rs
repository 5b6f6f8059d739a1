//! ## What it does
//! Flags a `recreate` release planned for a production environment that has no `window`.
//!
//! ## Why is this bad?
//! `recreate` stops the old version before the new one starts: downtime is certain. In
//! production that downtime needs a maintenance window that users were told about; without
//! one, it happens whenever someone runs the deployment.
//!
//! ## Example
//! ```deploy
//! environment production { provider = command { deploy = "./deploy.sh {version}" } }
//! release "1.0.0" { strategy = recreate { downtime 5m } }
//! ```
//!
//! ## Use instead
//! ```deploy
//! environment production {
//!   provider = command { deploy = "./deploy.sh {version}" }
//!   window   = sat..sat 02:00..04:00 "UTC"
//! }
//! ```
//! or a strategy without downtime (`rolling`, `blue_green`).

use super::blocks::{self, Once, is_production};
use crate::diagnostics::Label;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::Strategy;

pub(crate) static RULE: Rule = Rule {
    code: "S408",
    name: "recreate-in-production",
    level: Level::Warn,
    category: Category::Strategy,
    summary: "`recreate` runs in a production environment without a window",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    let mut once = Once::default();
    for r in blocks::releases(ctx) {
        for u in &r.strategies {
            let b = &u.bound;
            if !matches!(b.body, Strategy::Recreate { .. }) {
                continue;
            }
            for p in r.plans(ctx).filter(|p| u.runs_in(&p.environment)) {
                let Some(env) = blocks::environment_of(ctx, p)
                else {
                    continue;
                };
                if !is_production(env) || !env.window.is_empty() {
                    continue;
                }
                let span = b.keyword_span();
                if !once.first(span, &env.name.name) {
                    continue;
                }
                out.report(
                    finding(
                        format!(
                            "`recreate` takes `{}` down with no maintenance window",
                            env.name.name
                        ),
                        span,
                        "stops the old version before the new one starts",
                    )
                    .with_label(Label::secondary(
                        env.name.span,
                        "production environment without a `window`",
                    ))
                    .with_help("give the environment a maintenance `window`, or use a strategy without downtime"),
                );
            }
        }
    }
}
