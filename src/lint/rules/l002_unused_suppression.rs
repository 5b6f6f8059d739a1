//! ## What it does
//! Flags a `# deployc: allow(…)` suppression that suppresses nothing: the rule it names
//! reports nothing on the construct below it, the rule does not exist, it names an error
//! (errors cannot be suppressed), or the comment cannot be read.
//!
//! ## Why is this bad?
//! A stale suppression hides the next real finding at that place, and a misspelt one gives
//! the false impression that something was reviewed. Either way the comment lies.
//!
//! ## Example
//! ```deploy
//! # deployc: allow(M2O4) "contract reviewed with the team"
//! contract drop_email of add_email_address { … }
//! ```
//!
//! ## Use instead
//! ```deploy
//! # deployc: allow(M204) "contract reviewed with the team"
//! contract drop_email of add_email_address { … }
//! ```
//! or remove the comment when the finding is gone.

use crate::lint::{Category, Level, Rule};

pub(crate) static RULE: Rule = Rule {
    code: "L002",
    name: "unused-suppression",
    level: Level::Warn,
    category: Category::Suppressions,
    summary: "a suppression comment suppresses nothing",
    file: file!(),
    check: super::engine,
};
