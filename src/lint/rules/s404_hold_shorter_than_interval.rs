//! ## What it does
//! Flags a canary step or blue/green preview whose `for` hold is shorter than one analysis
//! interval (`analysis every …`, one minute when not written).
//!
//! ## Why is this bad?
//! The analysis samples the metrics once per interval. A hold shorter than that ends before
//! the first sample of the step is taken: its `require` is judged on data from before the
//! step, so the step is never really evaluated.
//!
//! ## Example
//! ```deploy
//! strategy = canary {
//!   analysis every 1m, no_data fail after 3
//!   step 10% for 30s require error_rate < 1%
//!   step 100%
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! strategy = canary {
//!   analysis every 1m, no_data fail after 3
//!   step 10% for 5m require error_rate < 1%
//!   step 100%
//! }
//! ```

use super::blocks;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::lower::{DEFAULT_INTERVAL_MS, fmt_ms};
use crate::syntax::ast::{Millis, Spanned, Strategy};

pub(crate) static RULE: Rule = Rule {
    code: "S404",
    name: "hold-shorter-than-interval",
    level: Level::Deny,
    category: Category::Strategy,
    summary: "a step holds for less than one analysis interval",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for s in blocks::user_strategies(ctx) {
        let Some(analysis) = s.analysis() else { continue };
        let every = analysis.every.as_ref();
        let interval = every
            .map(|e| u64::try_from(e.value).unwrap_or(0))
            .unwrap_or(DEFAULT_INTERVAL_MS);
        let holds: Vec<&Spanned<Millis>> = match s {
            Strategy::Canary { steps, .. } => steps.iter().filter_map(|s| s.hold.as_ref()).collect(),
            Strategy::BlueGreen { preview, .. } => {
                preview.iter().filter_map(|p| p.hold.as_ref()).collect()
            }
            _ => Vec::new(),
        };
        for h in holds {
            let hold = u64::try_from(h.value).unwrap_or(0);
            if hold >= interval {
                continue;
            }
            let mut d = finding(
                format!(
                    "a hold of `{}` is shorter than the analysis interval of `{}`",
                    fmt_ms(hold),
                    fmt_ms(interval)
                ),
                h.span,
                "ends before the first sample of this step",
            );
            d = match every {
                Some(e) => d.with_label(crate::diagnostics::Label::secondary(
                    e.span,
                    "metrics are sampled this often",
                )),
                None => d.with_note("without `analysis every …` metrics are sampled every minute"),
            };
            out.report(d.with_help(format!(
                "hold for at least `{}`, or analyse more often",
                fmt_ms(interval)
            )));
        }
    }
}
