//! ## What it does
//! Flags a scheduled notice (`at T+…`) that falls after the plan and its monitoring have
//! ended, in every environment the release is planned for. Notices up to the last check-in
//! (`monitor … then checkins …`, as the release runs it in that environment) are part of the
//! follow-up and are not flagged.
//!
//! ## Why is this bad?
//! By then the deployment is over: the notice announces something that already happened or
//! never will (a rollback ended it early, or it finished long before). Readers learn to
//! ignore deployment messages.
//!
//! ## Example
//! ```deploy
//! comms {
//!   at T+6h notify releases "{service} {version}: monitoring ends"
//! }
//! monitor 1h
//! ```
//!
//! ## Use instead
//! ```deploy
//! comms {
//!   on done notify releases std.comms.done
//! }
//! monitor 1h
//! ```

use super::blocks::{self, Once};
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::lower::{fmt_ms, fmt_offset};
use crate::syntax::ast::CommsWhen;

pub(crate) static RULE: Rule = Rule {
    code: "C503",
    name: "notice-after-end",
    level: Level::Warn,
    category: Category::Comms,
    summary: "a scheduled notice falls after the plan has ended",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    let mut once = Once::default();
    for r in blocks::releases(ctx) {
        // The latest end of the follow-up over the release's environments, each with the
        // check-ins of the monitoring it runs there: the notice must come after it.
        let Some((follow_up, end, env)) = r
            .plans(ctx)
            .map(|p| {
                let monitor = blocks::environment_of(ctx, p).map_or(&r.release.monitor[..], |e| {
                    ctx.names.settings_in(r.module, r.release, e).monitor.value
                });
                let last_checkin = monitor
                    .first()
                    .and_then(|m| m.checkins.iter().map(|c| c.value).max())
                    .map_or(0, |c| u64::try_from(c).unwrap_or(0));
                let end = p.plan.timeline.expected_ms;
                (end.saturating_add(last_checkin), end, p.environment.as_str())
            })
            .max_by_key(|(follow_up, _, _)| *follow_up)
        else {
            continue;
        };
        for (b, e) in r.all_comms() {
            let CommsWhen::At(o) = &e.when else { continue };
            let Ok(at) = u64::try_from(o.value) else { continue };
            if at <= follow_up {
                continue;
            }
            let span = b.at(o.span);
            if !once.first(span, &r.release.version.value) {
                continue;
            }
            out.report(
                finding(
                    format!(
                        "notice at `{}` comes after release `{}` has ended",
                        fmt_offset(o.value, "T"),
                        r.release.version.value
                    ),
                    span,
                    format!(
                        "the plan ends by `T+{}` at the latest (in `{env}`)",
                        fmt_ms(end)
                    ),
                )
                .with_help("send it `on done`, or move it inside the plan"),
            );
        }
    }
}
