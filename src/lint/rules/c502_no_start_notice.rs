//! ## What it does
//! Flags a release with no notification at the start: neither `at T-0` nor `on start`.
//!
//! ## Why is this bad?
//! People who see errors rise, a dashboard move or a page fire first ask whether something
//! is being deployed. A start notice answers before they ask, and gives the time to
//! correlate with later.
//!
//! ## Example
//! ```deploy
//! comms {
//!   on rollback notify releases std.comms.rolling_back
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! comms {
//!   at T-0      notify releases std.comms.starting
//!   on rollback notify releases std.comms.rolling_back
//! }
//! ```

use super::blocks;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::CommsWhen;

pub(crate) static RULE: Rule = Rule {
    code: "C502",
    name: "no-start-notice",
    level: Level::Warn,
    category: Category::Comms,
    summary: "a release sends no notice when it starts",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for r in blocks::releases(ctx) {
        if r.all_comms().any(|(_, e)| is_start(&e.when)) {
            continue;
        }
        out.report(
            finding(
                format!(
                    "release `{}` does not announce its start",
                    r.release.version.value
                ),
                r.span(),
                "no `at T-0` or `on start` notification in this release",
            )
            .with_help("add `at T-0 notify CHANNEL std.comms.starting` to its comms"),
        );
    }
}

/// `at T-0` or `on start`.
pub(super) fn is_start(w: &CommsWhen) -> bool {
    match w {
        CommsWhen::At(o) => o.value == 0,
        CommsWhen::On(ev) => ev.name == "start",
        CommsWhen::Every(_) => false,
    }
}
