//! `deployc fmt`: one canonical layout for `.deploy` files.
//!
//! The formatter prints the concrete syntax ([`crate::syntax::cst`]), not the AST, so every
//! comment stays where it was and nothing the AST drops is lost. It only changes blanks:
//! the tokens of the output are the tokens of the input, in the same order, except that
//! commas separating the entries of a block are written only where a block stays on one
//! line. The rules are in `docs/formatting.md`; `printer` applies them.
//!
//! A file that does not parse is not formatted: the error is the one `deployc check` reports.

mod printer;

use crate::diagnostics::Diagnostic;
use crate::diagnostics::errors::Error;
use crate::source::FileId;

/// Why a file could not be formatted: it does not parse.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatError {
    error: Error,
}

impl FormatError {
    /// The syntax error, as `deployc check` reports it. Its spans are in the file passed to
    /// [`format_file`] ([`FileId`] 0 for [`format_source`]).
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The syntax error as a diagnostic (code, message, label on the exact place, help).
    pub fn diagnostic(&self) -> Diagnostic {
        self.error.to_diagnostic()
    }

    /// The byte range the error points at.
    pub fn range(&self) -> Option<std::ops::Range<usize>> {
        self.diagnostic().primary_span().map(|s| s.range())
    }
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error.to_diagnostic().message)
    }
}

impl std::error::Error for FormatError {}

/// Formats a whole `.deploy` file. The result ends with one line break; formatting it again
/// gives it back unchanged.
pub fn format_source(source: &str) -> Result<String, FormatError> {
    format_file(FileId(0), source)
}

/// [`format_source`] for a file of a [`crate::source::SourceMap`], so that the error's spans
/// point into that file.
pub fn format_file(file: FileId, source: &str) -> Result<String, FormatError> {
    // Valid files, nearly all of them, are parsed once: the hand-written parser records the
    // concrete tree as it goes, and it only accepts files whose literals all read.
    if let Some(tree) = crate::syntax::parse_cst_fast(file, source) {
        return Ok(printer::print(source, &tree));
    }
    // Otherwise pest decides, as for `check`: besides the grammar its builder rejects
    // literals that cannot be read (a number too large, a bad escape: E105, E106), and a
    // file with a syntax error is not formatted. A literal that reads but is out of range (a
    // time `09:75`, E311) is the checker's business: that file is formatted, its tree built
    // from pest's pairs.
    let (_, errors) = crate::syntax::parse(file, source);
    if let Some(error) = errors.into_iter().find(|e| e.code().starts_with("E1")) {
        return Err(FormatError { error });
    }
    let tree = crate::syntax::cst::parse(file, source).map_err(|error| FormatError { error })?;
    Ok(printer::print(source, &tree))
}
