//! ## What it does
//! Flags a release whose `on rollback` notices miss a channel that its start notice
//! (`at T-0` or `on start`) reaches.
//!
//! ## Why is this bad?
//! Everyone told that a deployment starts assumes it went well unless told otherwise.
//! Stakeholders who heard "starting" but not "rolling back" plan on a feature that is no
//! longer live, and support learns about the rollback from users.
//!
//! ## Example
//! ```deploy
//! comms {
//!   at T-0      notify releases, stakeholders std.comms.starting
//!   on rollback notify releases std.comms.rolling_back
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! comms {
//!   at T-0      notify releases, stakeholders std.comms.starting
//!   on rollback notify releases, stakeholders std.comms.rolling_back
//! }
//! ```

use super::blocks::{self, Once};
use super::c502_no_start_notice::is_start;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::CommsWhen;

pub(crate) static RULE: Rule = Rule {
    code: "C505",
    name: "rollback-notice-not-to-stakeholders",
    level: Level::Warn,
    category: Category::Comms,
    summary: "the rollback notice reaches fewer channels than the start notice",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    let mut once = Once::default();
    for r in blocks::releases(ctx) {
        let is_rollback = |w: &CommsWhen| matches!(w, CommsWhen::On(ev) if ev.name == "rollback");
        let start = r.channels_of(is_start);
        let rollback = r.channels_of(is_rollback);
        let missing: Vec<String> = start
            .iter()
            .filter(|c| !rollback.contains(c))
            .map(|c| format!("`{c}`"))
            .collect();
        if missing.is_empty() {
            continue;
        }
        // No rollback notice at all is C501.
        let Some((b, e)) = r.all_comms().find(|(_, e)| is_rollback(&e.when)) else {
            continue;
        };
        let span = b.at(e.span);
        if !once.first(span, &missing.join(",")) {
            continue;
        }
        out.report(
            finding(
                format!(
                    "the rollback notice of release `{}` does not reach {}",
                    r.release.version.value,
                    missing.join(", ")
                ),
                span,
                "told that it starts, not that it rolls back",
            )
            .with_help(format!("add {} to `on rollback`", missing.join(", "))),
        );
    }
}
