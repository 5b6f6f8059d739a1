//! The bridge to the PostgreSQL parser (the squawk crates).
//!
//! Migration SQL is parsed with a real PostgreSQL grammar, not a generic multi-dialect parser,
//! so forms like `CREATE INDEX CONCURRENTLY` or `DROP INDEX CONCURRENTLY` are read as
//! Postgres reads them. Offsets here are byte offsets into the SQL text; callers map them
//! into the `.deploy` string or the `.sql` file.

pub(crate) mod batch;
pub mod lint;
pub mod model;

use squawk_syntax::ast::AstNode;
use std::ops::Range;

/// Runs `f`, turning a panic inside the SQL crates into `None`: the parser and the linter are
/// built to be resilient, and this guard keeps any internal failure from crashing a check.
pub(crate) fn guard<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

/// One parse problem in SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub message: String,
    /// Where the problem is, in the SQL text.
    pub range: Range<usize>,
    /// The statement it is in, if the parser recognised one.
    pub statement: Option<Range<usize>>,
}

/// What parsing one migration's SQL found.
#[derive(Debug, Clone, Default)]
pub struct SqlParse {
    pub errors: Vec<SqlError>,
    /// Byte range of each statement.
    pub statements: Vec<Range<usize>>,
    /// The syntax tree, kept so that lints read it without parsing again.
    pub tree: Option<squawk_syntax::Parse<squawk_syntax::SourceFile>>,
}

/// Parses SQL text as PostgreSQL.
pub fn parse(text: &str) -> SqlParse {
    // The parser is built to be resilient; the guard turns any internal failure into a
    // reported error instead of a crash of the whole check.
    let result = std::panic::catch_unwind(|| {
        let parse = squawk_syntax::SourceFile::parse(text);
        let file = parse.tree();
        let statements: Vec<Range<usize>> = file
            .stmts()
            .map(|s| {
                let r = s.syntax().text_range();
                usize::from(r.start())..usize::from(r.end())
            })
            .collect();
        let errors = parse
            .errors()
            .into_iter()
            .map(|e| {
                let r = e.range();
                let range = usize::from(r.start())..usize::from(r.end());
                let statement = statements
                    .iter()
                    .find(|s| s.start <= range.start && range.start <= s.end)
                    .cloned();
                SqlError {
                    message: e.message().to_string(),
                    range,
                    statement,
                }
            })
            .collect();
        SqlParse {
            errors,
            statements,
            tree: Some(parse),
        }
    });
    result.unwrap_or_else(|_| SqlParse {
        errors: vec![SqlError {
            message: "the SQL parser could not read this text".into(),
            range: 0..text.len(),
            statement: None,
        }],
        statements: Vec::new(),
        tree: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_forms_parse() {
        for sql in [
            "CREATE INDEX CONCURRENTLY idx ON users (email)",
            "DROP INDEX CONCURRENTLY idx",
            "ALTER TABLE users ADD COLUMN email_address VARCHAR(255)",
            "UPDATE users SET a = b WHERE a IS NULL",
        ] {
            assert!(
                parse(sql).errors.is_empty(),
                "{sql}: {:?}",
                parse(sql).errors
            );
        }
    }

    #[test]
    fn garbage_is_an_error_in_its_statement() {
        let p = parse("ALTER TABLE users ADD COLUMN;\nSELECT 1;");
        assert!(!p.errors.is_empty());
        assert_eq!(p.statements.len(), 2);
    }
}
