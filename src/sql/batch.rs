//! Batched data migrations: the one statement shape deployc can run `N` rows at a time.
//!
//! A batched migration (`batch N [by KEY]`) is a single `UPDATE` or `DELETE` of one table. The
//! runtime walks the table in order of the key column (`id` unless `by` names another): each
//! batch takes the next `N` rows that match the statement's `WHERE`, above the last key
//! done, and runs the statement restricted to that key range, in its own transaction with
//! the progress row. Since the key ranges never overlap, no row is changed twice, whatever
//! the statement's condition says and however often the run is interrupted.
//!
//! That only holds for statements the range can restrict on its own: nothing joined in
//! (`FROM`, `USING`, `WITH`), no `RETURNING` (its rows would be lost between batches), and a
//! key the statement does not change (a row moved past the walk would be seen again). The
//! checker reports anything else (E417) with [`shape`]'s reason.

use squawk_syntax::ast::{self, AstNode};
use std::ops::Range;

/// The key column a batch walks when `by` names none.
pub const DEFAULT_KEY: &str = "id";

/// A statement that can run in batches, cut into the pieces the runtime rewrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The statement up to its `WHERE` (or all of it when it has none), without `;`.
    pub head: String,
    /// The statement's own condition, when it has one.
    pub condition: Option<String>,
    /// The table as written (`public.users`).
    pub table: String,
    /// The alias as written (`AS u`, `u`), empty when none.
    pub alias: String,
    /// What the key is qualified with: the alias, else the table.
    pub qualifier: String,
}

/// Why a statement cannot run in batches, and where (a byte range of the SQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unbatchable {
    pub reason: String,
    pub range: Range<usize>,
}

fn range_of(node: &impl AstNode) -> Range<usize> {
    let r = node.syntax().text_range();
    usize::from(r.start())..usize::from(r.end())
}

fn text_of(sql: &str, node: &impl AstNode) -> String {
    sql.get(range_of(node)).unwrap_or("").trim().to_string()
}

/// A column name as SQL compares it: unquoted names fold to lower case.
fn column_name(text: &str) -> String {
    let t = text.trim();
    match t.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => t.rsplit('.').next().unwrap_or(t).trim().to_lowercase(),
    }
}

/// The shape of `sql` as a batched statement walking `key`, or why it cannot be one.
pub fn shape(sql: &str, key: &str) -> Result<Shape, Unbatchable> {
    let parsed =
        crate::sql::guard(|| squawk_syntax::SourceFile::parse(sql)).ok_or_else(|| Unbatchable {
            reason: "the SQL parser could not read this statement".to_string(),
            range: 0..sql.len(),
        })?;
    shape_parsed(sql, &parsed, key)
}

/// [`shape`] on the syntax tree of `sql` the caller already has (the checker parses each
/// text once).
pub(crate) fn shape_parsed(
    sql: &str,
    parsed: &squawk_syntax::Parse<squawk_syntax::SourceFile>,
    key: &str,
) -> Result<Shape, Unbatchable> {
    let whole = 0..sql.len();
    let fail = |reason: &str, range: Range<usize>| Unbatchable {
        reason: reason.to_string(),
        range,
    };
    let file = parsed.tree();
    let statements: Vec<ast::Stmt> = file.stmts().collect();
    let stmt = match statements.as_slice() {
        [one] => one.clone(),
        [] => return Err(fail("a batched migration needs a statement", whole)),
        [_, second, ..] => {
            return Err(fail(
                "a batched migration must be one statement: each batch runs all of it",
                range_of(second),
            ));
        }
    };
    let range = range_of(&stmt);
    let (relation, alias, where_clause, head_end) = match &stmt {
        ast::Stmt::Update(u) => {
            if let Some(w) = u.with_clause() {
                return Err(fail("a batched `UPDATE` cannot have `WITH`", range_of(&w)));
            }
            if let Some(f) = u.from_clause() {
                return Err(fail(
                    "a batched `UPDATE` cannot join other tables with `FROM`: the key range restricts one table",
                    range_of(&f),
                ));
            }
            if let Some(r) = u.returning_clause() {
                return Err(fail(
                    "a batched `UPDATE` cannot have `RETURNING`: each batch's rows would be thrown away",
                    range_of(&r),
                ));
            }
            let sets = u.set_clause().and_then(|s| s.set_column_list());
            for set in sets.iter().flat_map(|l| l.set_columns()) {
                let targets: Vec<String> = match &set {
                    ast::SetColumn::SetSingleColumn(c) => c
                        .column_target()
                        .map(|t| vec![column_name(&text_of(sql, &t))])
                        .unwrap_or_default(),
                    ast::SetColumn::SetMultipleColumns(c) => c
                        .column_target_list()
                        .map(|t| {
                            let text = text_of(sql, &t);
                            let inner = text.trim_start_matches('(').trim_end_matches(')');
                            inner.split(',').map(column_name).collect()
                        })
                        .unwrap_or_default(),
                };
                if targets.iter().any(|t| t == key) {
                    return Err(fail(
                        &format!(
                            "a batched `UPDATE` cannot change its key `{key}`: a row moved ahead of the walk would be changed again"
                        ),
                        range_of(&set),
                    ));
                }
            }
            let head_end = u
                .where_clause_or_current_of()
                .map(|w| range_of(&w).start)
                .unwrap_or(range.end);
            (
                u.relation_name(),
                u.alias(),
                u.where_clause_or_current_of(),
                head_end,
            )
        }
        ast::Stmt::Delete(d) => {
            if let Some(w) = d.with_clause() {
                return Err(fail("a batched `DELETE` cannot have `WITH`", range_of(&w)));
            }
            if let Some(f) = d.using_clause() {
                return Err(fail(
                    "a batched `DELETE` cannot join other tables with `USING`: the key range restricts one table",
                    range_of(&f),
                ));
            }
            if let Some(r) = d.returning_clause() {
                return Err(fail(
                    "a batched `DELETE` cannot have `RETURNING`: each batch's rows would be thrown away",
                    range_of(&r),
                ));
            }
            let head_end = d
                .where_clause_or_current_of()
                .map(|w| range_of(&w).start)
                .unwrap_or(range.end);
            (
                d.relation_name(),
                d.alias(),
                d.where_clause_or_current_of(),
                head_end,
            )
        }
        _ => {
            return Err(fail(
                "only an `UPDATE` or a `DELETE` can run in batches",
                range,
            ));
        }
    };
    let condition = match where_clause {
        None => None,
        Some(ast::WhereClauseOrCurrentOf::WhereCurrentOf(c)) => {
            return Err(fail(
                "`WHERE CURRENT OF` names a cursor's row; it cannot run in batches",
                range_of(&c),
            ));
        }
        Some(ast::WhereClauseOrCurrentOf::WhereClause(w)) => match w.expr() {
            Some(e) => Some(text_of(sql, &e)),
            None => return Err(fail("the `WHERE` has no condition", range_of(&w))),
        },
    };
    let Some(relation) = relation else {
        return Err(fail("the statement names no table", range));
    };
    let table = text_of(sql, &relation);
    let alias_text = alias.as_ref().map(|a| text_of(sql, a)).unwrap_or_default();
    let alias_name = alias
        .and_then(|a| a.name())
        .map(|n| text_of(sql, &n))
        .unwrap_or_default();
    let head = sql
        .get(range.start..head_end)
        .unwrap_or("")
        .trim()
        .trim_end_matches(';')
        .trim_end()
        .to_string();
    Ok(Shape {
        head,
        condition,
        qualifier: if alias_name.is_empty() {
            table.clone()
        } else {
            alias_name
        },
        table,
        alias: alias_text,
    })
}

/// A key value as an SQL string literal; both databases convert it to the key's type when
/// they compare (PostgreSQL resolves an untyped literal to the column's type, SQLite applies
/// the column's affinity).
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

impl Shape {
    fn key(&self, key: &str) -> String {
        format!("{}.\"{}\"", self.qualifier, key.replace('"', "\"\""))
    }

    /// Rows of this batch: the condition, above `after` and up to `upto` (both optional).
    fn range_condition(&self, key: &str, after: Option<&str>, upto: Option<&str>) -> String {
        let k = self.key(key);
        let mut parts: Vec<String> = Vec::new();
        if let Some(c) = &self.condition {
            parts.push(format!("({c})"));
        }
        parts.push(format!("{k} IS NOT NULL"));
        if let Some(a) = after {
            parts.push(format!("{k} > {}", literal(a)));
        }
        if let Some(u) = upto {
            parts.push(format!("{k} <= {}", literal(u)));
        }
        parts.join(" AND ")
    }

    /// The query giving the key of the `size`-th row left to do (as text), or no row when
    /// fewer than `size` are left: the upper end of the next batch.
    pub fn bound_query(&self, key: &str, after: Option<&str>, size: u64) -> String {
        let k = self.key(key);
        format!(
            "SELECT CAST({k} AS TEXT) FROM {} {} WHERE {} ORDER BY {k} LIMIT 1 OFFSET {}",
            self.table,
            self.alias,
            self.range_condition(key, after, None),
            size.saturating_sub(1)
        )
    }

    /// The statement restricted to the keys above `after` and up to `upto` (none: the rest).
    pub fn batch_statement(&self, key: &str, after: Option<&str>, upto: Option<&str>) -> String {
        format!(
            "{} WHERE {}",
            self.head,
            self.range_condition(key, after, upto)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(sql: &str) -> String {
        shape(sql, "id").unwrap_err().reason
    }

    #[test]
    fn cuts_an_update_into_its_pieces() {
        let s = shape(
            "UPDATE users AS u SET email_address = lower(u.email) WHERE u.email_address IS NULL OR u.flag;",
            "id",
        )
        .unwrap();
        assert_eq!(
            s.head,
            "UPDATE users AS u SET email_address = lower(u.email)"
        );
        assert_eq!(s.table, "users");
        assert_eq!(s.qualifier, "u");
        assert_eq!(
            s.batch_statement("id", Some("10"), Some("it's")),
            "UPDATE users AS u SET email_address = lower(u.email) WHERE (u.email_address IS NULL OR u.flag) AND u.\"id\" IS NOT NULL AND u.\"id\" > '10' AND u.\"id\" <= 'it''s'"
        );
        assert_eq!(
            s.bound_query("id", None, 100),
            "SELECT CAST(u.\"id\" AS TEXT) FROM users AS u WHERE (u.email_address IS NULL OR u.flag) AND u.\"id\" IS NOT NULL ORDER BY u.\"id\" LIMIT 1 OFFSET 99"
        );
    }

    #[test]
    fn a_statement_without_where_walks_the_whole_table() {
        let s = shape("DELETE FROM public.events", "seq").unwrap();
        assert_eq!(s.condition, None);
        assert_eq!(
            s.batch_statement("seq", None, Some("5")),
            "DELETE FROM public.events WHERE public.events.\"seq\" IS NOT NULL AND public.events.\"seq\" <= '5'"
        );
    }

    #[test]
    fn refuses_what_a_key_range_cannot_restrict() {
        assert!(reason("UPDATE a SET x = 1; UPDATE b SET x = 1").contains("one statement"));
        assert!(reason("INSERT INTO a SELECT * FROM b").contains("only an `UPDATE`"));
        assert!(reason("UPDATE a SET x = b.x FROM b WHERE a.id = b.id").contains("`FROM`"));
        assert!(reason("DELETE FROM a USING b WHERE a.id = b.id").contains("`USING`"));
        assert!(reason("UPDATE a SET x = 1 RETURNING id").contains("`RETURNING`"));
        assert!(reason("WITH c AS (SELECT 1) UPDATE a SET x = 1").contains("`WITH`"));
        assert!(reason("UPDATE a SET id = id + 1000").contains("key `id`"));
        assert!(reason("UPDATE a SET (x, \"id\") = (1, 2)").contains("key `id`"));
        assert!(shape("UPDATE a SET id = 1", "seq").is_ok());
    }
}
