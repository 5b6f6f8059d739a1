//! ## What it does
//! Flags a `contract … of X` migration that ships in the same release as the `expand X` it
//! finishes.
//!
//! ## Why is this bad?
//! Expand/contract exists so that two versions of the application can run against one
//! schema: the expand adds the new shape, the release moves readers and writers over, and
//! only a later release removes the old shape. In the release of the expand, the previous
//! version still serves traffic (during the canary, during a rolling update, and after any
//! rollback) and still reads what the contract removes. Contracting in the same release
//! turns every rollback into an outage.
//!
//! ## Example
//! ```deploy
//! release "2.1.0" {
//!   migrations {
//!     expand add_email_address { … }
//!     contract drop_legacy_email of add_email_address { … }
//!   }
//! }
//! ```
//!
//! ## Use instead
//! ```deploy
//! release "2.1.0" {
//!   migrations { expand add_email_address { … } }
//! }
//! release "2.2.0" {
//!   migrations { contract drop_legacy_email of add_email_address { … } }
//! }
//! ```

use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::diagnostics::Label;
use crate::syntax::ast::Phase;

pub(crate) static RULE: Rule = Rule {
    code: "M204",
    name: "contract-in-expand-release",
    level: Level::Deny,
    category: Category::Migrations,
    summary: "a contract migration ships in the same release as the expand it finishes",
    file: file!(),
    check,
};

fn check(ctx: &Context<'_>, out: &mut Findings) {
    for (_, release) in ctx.names.releases() {
        for m in &release.migrations {
            if m.phase.value != Phase::Contract {
                continue;
            }
            for of in &m.of {
                let Some(expand) = release.migrations.iter().find(|e| e.name.name == of.name)
                else {
                    continue;
                };
                out.report(
                    finding(
                        format!(
                            "contract `{}` ships in release `{}`, the release of the expand it finishes",
                            m.name.name, release.version.value
                        ),
                        of.span,
                        format!("`{}` is expanded in this same release", of.name),
                    )
                    .with_label(Label::secondary(expand.name.span, "expanded here"))
                    .with_note(
                        "the previous version still reads the old shape while this release rolls out and after a rollback",
                    )
                    .with_help(format!(
                        "move `{}` to a later release, once no running version uses the old shape",
                        m.name.name
                    )),
                );
            }
        }
    }
}
