//! deployc: deployment runbooks as checked programs.
//!
//! The pipeline is `syntax` (parse) → `resolve` (imports, names) → `check` (types, units,
//! structure) → `lower` (one release × one environment to a [`lower::Plan`]). Every stage is
//! pure: no IO besides reading source files through a [`resolve::Loader`].

mod chart;
pub mod check;
pub mod cli;
pub mod compile;
pub mod demo;
pub mod diagnostics;
pub mod export;
pub mod fmt;
pub mod history;
pub mod lint;
pub mod lower;
pub mod lsp;
mod parallel;
pub mod resolve;
pub mod runtime;
pub mod source;
pub mod sql;
pub mod stats;
pub mod syntax;
