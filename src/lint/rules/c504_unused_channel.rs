//! ## What it does
//! Flags a channel that no comms entry uses: no release, and no comms block of the project,
//! sends anything to it.
//!
//! ## Why is this bad?
//! A channel says who is told. One that nothing uses suggests a notice was forgotten (the
//! status page never hears about rollbacks), or it is left over and misleads the reader
//! about who is informed.
//!
//! ## Example
//! ```deploy
//! channel releases    = slack "#releases" webhook env SLACK_WEBHOOK
//! channel status_page = webhook env STATUS_PAGE_URL
//! release "1.0.0" {
//!   comms { on rollback notify releases std.comms.rolling_back }
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! release "1.0.0" {
//!   comms { on rollback notify releases, status_page std.comms.rolling_back }
//! }
//! ```

use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::syntax::ast::{CommsEntry, Item, Use};

pub(crate) static RULE: Rule = Rule {
    code: "C504",
    name: "unused-channel",
    level: Level::Warn,
    category: Category::Comms,
    summary: "a channel that no comms entry uses",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    // Every name a comms entry or a comms block argument mentions in the user's files.
    let mut used: Vec<&str> = Vec::new();
    fn entries<'a>(es: &'a [CommsEntry], used: &mut Vec<&'a str>) {
        for e in es {
            used.extend(e.channels.iter().map(|c| c.name.as_str()));
        }
    }
    for (_, item) in ctx.names.user_items() {
        match item {
            Item::Comms(c) => entries(&c.entries, &mut used),
            Item::Release(r) => {
                for u in &r.comms {
                    match u {
                        Use::Inline { body, .. } => entries(body, &mut used),
                        Use::Named(n) => {
                            used.extend(n.args.iter().flatten().map(|a| a.name.as_str()))
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for (_, item) in ctx.names.user_items() {
        let Item::Channel(c) = item else { continue };
        if used.contains(&c.name.name.as_str()) {
            continue;
        }
        out.report(
            finding(
                format!("channel `{}` is never notified", c.name.name),
                c.name.span,
                "no comms entry sends to this channel",
            )
            .with_help(format!(
                "notify it where it matters (`on rollback notify …, {}`), or remove it",
                c.name.name
            )),
        );
    }
}
