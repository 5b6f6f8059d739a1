//! ## What it does
//! Flags a blue/green strategy that switches traffic although nothing checks the preview:
//! no `require` and no `smoke` on it.
//!
//! ## Why is this bad?
//! The point of blue/green is that the new colour is proven before any user reaches it. A
//! preview that checks nothing only proves that the new version starts; the switch then
//! sends all users at once to a version nobody tested.
//!
//! ## Example
//! ```deploy
//! strategy = blue_green {
//!   preview for 10m
//!   switch
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! strategy = blue_green {
//!   analysis every 1m, no_data fail after 3
//!   preview for 10m require error_rate < 0.5% smoke
//!   switch
//! }
//! ```

use super::blocks;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::Strategy;

pub(crate) static RULE: Rule = Rule {
    code: "S407",
    name: "blue-green-without-preview-check",
    level: Level::Warn,
    category: Category::Strategy,
    summary: "blue/green switches traffic to a preview that nothing checks",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for s in blocks::user_strategies(ctx) {
        let Strategy::BlueGreen { preview, span, .. } = s else {
            continue;
        };
        if preview.iter().any(|p| p.require.is_some() || p.smoke) {
            continue;
        }
        let (at, label) = match preview.first() {
            Some(p) => (
                blocks::until(p.span, &[p.hold.map(|h| h.span)]),
                "this preview has no `require` and no `smoke`",
            ),
            None => (blocks::head(*span, s.name().len()), "this blue/green has no `preview` check"),
        };
        out.report(
            finding(
                "traffic switches to the new colour without checking it first",
                at,
                label,
            )
            .with_help("check the preview before the switch: `preview for 10m require error_rate < 0.5% smoke`"),
        );
    }
}
