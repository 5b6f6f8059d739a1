//! ## What it does
//! Flags a `# deployc: allow(…)` suppression that gives no reason.
//!
//! ## Why is this bad?
//! A suppression switches a safety check off at one place. Without the reason, a reviewer
//! cannot tell whether the finding was understood and does not apply, or was silenced to get
//! the check green; a year later nobody can tell whether it still holds.
//!
//! ## Example
//! ```deploy
//! # deployc: allow(M203)
//! expand drop_old { up = sql "ALTER TABLE users DROP COLUMN nickname" … }
//! ```
//!
//! ## Use instead
//! ```deploy
//! # deployc: allow(M203) "nickname has been unused since 1.4; no running version reads it"
//! expand drop_old { up = sql "ALTER TABLE users DROP COLUMN nickname" … }
//! ```

use crate::lint::{Category, Level, Rule};

pub(crate) static RULE: Rule = Rule {
    code: "L001",
    name: "suppression-without-reason",
    level: Level::Warn,
    category: Category::Suppressions,
    summary: "a suppression comment gives no reason",
    file: file!(),
    check: super::engine,
};
