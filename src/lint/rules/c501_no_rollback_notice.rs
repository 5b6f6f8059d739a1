//! ## What it does
//! Flags a release with no `on rollback` notification.
//!
//! ## Why is this bad?
//! A rollback is the moment people most need to hear about: support answers users, the
//! status page must say something, and whoever owns the release must look. Without a notice,
//! they learn about it from the users.
//!
//! ## Example
//! ```deploy
//! comms {
//!   at T-0 notify releases "Deploying {service} {version}"
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! comms {
//!   at T-0      notify releases "Deploying {service} {version}"
//!   on rollback notify releases, stakeholders std.comms.rolling_back
//! }
//! ```

use super::blocks;
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::CommsWhen;

pub(crate) static RULE: Rule = Rule {
    code: "C501",
    name: "no-rollback-notice",
    level: Level::Deny,
    category: Category::Comms,
    summary: "a release sends no notice when it rolls back",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for r in blocks::releases(ctx) {
        if r
            .all_comms()
            .any(|(_, e)| matches!(&e.when, CommsWhen::On(ev) if ev.name == "rollback"))
        {
            continue;
        }
        out.report(
            finding(
                format!(
                    "release `{}` tells nobody when it rolls back",
                    r.release.version.value
                ),
                r.span(),
                "no `on rollback` notification in this release",
            )
            .with_help(
                "add `on rollback notify CHANNEL std.comms.rolling_back` to its comms, or use `comms = std.comms.standard(team, everyone)`",
            ),
        );
    }
}
