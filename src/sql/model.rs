//! The schema-effect model: what one `up` or `down` does to the schema, read from the
//! squawk syntax tree.
//!
//! Each statement becomes zero or more [`Effect`]s (a table created, a column dropped, an
//! index built concurrently, an `UPDATE` without `WHERE`…) and at most one lock per table it
//! touches. Names are normalised as PostgreSQL does: unquoted identifiers are folded to
//! lower case, quoted ones are kept as written, and a schema qualifier is dropped (the
//! model compares tables by name). Every effect keeps the byte range of the statement part
//! that causes it, in the SQL text; callers map it into the `.deploy` string or the `.sql`
//! file.
//!
//! Statements the model does not know are kept as [`EffectKind::Other`] with no lock, so
//! rules that read the model stay silent about them rather than guess.

use std::ops::Range;

use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SyntaxKind, SyntaxNode};

/// A table-level lock mode, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lock {
    /// `INSERT`, `UPDATE`, `DELETE`: conflicts with `SHARE` and above.
    RowExclusive,
    /// `CREATE INDEX CONCURRENTLY`, `VALIDATE CONSTRAINT`: reads and writes continue.
    ShareUpdateExclusive,
    /// `CREATE INDEX`: blocks writes, allows reads.
    Share,
    /// Adding a foreign key: blocks writes, allows reads.
    ShareRowExclusive,
    /// Most `ALTER TABLE`, `DROP TABLE`, `TRUNCATE`, `DROP INDEX`: blocks reads and writes.
    AccessExclusive,
}

impl Lock {
    /// The PostgreSQL name of the lock mode.
    pub fn name(self) -> &'static str {
        match self {
            Lock::RowExclusive => "ROW EXCLUSIVE",
            Lock::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            Lock::Share => "SHARE",
            Lock::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            Lock::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }
}

/// What kind of constraint is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    Check,
    ForeignKey,
    Unique,
    PrimaryKey,
    NotNull,
    Exclude,
    Other,
}

/// A relation-like object other than a table that migrations drop or rename, with the
/// name PostgreSQL gives its parts (columns or attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    ForeignTable,
    View,
    MaterializedView,
    /// A composite type (`CREATE TYPE address AS (street text, …)`).
    CompositeType,
}

impl ObjectKind {
    /// The object's noun in messages.
    pub fn noun(self) -> &'static str {
        match self {
            ObjectKind::ForeignTable => "foreign table",
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::CompositeType => "type",
        }
    }

    /// What the object's parts are called.
    pub fn member(self) -> &'static str {
        match self {
            ObjectKind::CompositeType => "attribute",
            _ => "column",
        }
    }
}

/// Which data statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmlKind {
    Insert,
    Update,
    Delete,
    Merge,
    Truncate,
}

impl DmlKind {
    pub fn keyword(self) -> &'static str {
        match self {
            DmlKind::Insert => "INSERT",
            DmlKind::Update => "UPDATE",
            DmlKind::Delete => "DELETE",
            DmlKind::Merge => "MERGE",
            DmlKind::Truncate => "TRUNCATE",
        }
    }
}

/// One change a statement makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectKind {
    CreateTable {
        table: String,
        /// Columns with their type (normalised text).
        columns: Vec<(String, String)>,
    },
    DropTable {
        table: String,
    },
    RenameTable {
        from: String,
        to: String,
    },
    AddColumn {
        table: String,
        column: String,
        ty: String,
        not_null: bool,
        default: bool,
    },
    DropColumn {
        table: String,
        column: String,
    },
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    AlterColumnType {
        table: String,
        column: String,
        ty: String,
    },
    SetNotNull {
        table: String,
        column: String,
    },
    DropNotNull {
        table: String,
        column: String,
    },
    SetDefault {
        table: String,
        column: String,
    },
    DropDefault {
        table: String,
        column: String,
    },
    AddConstraint {
        table: String,
        name: Option<String>,
        kind: ConstraintKind,
        not_valid: bool,
    },
    ValidateConstraint {
        table: String,
        name: String,
    },
    DropConstraint {
        table: String,
        name: String,
    },
    RenameConstraint {
        table: String,
        from: String,
        to: String,
    },
    CreateIndex {
        table: String,
        name: Option<String>,
        columns: Vec<String>,
        unique: bool,
        concurrently: bool,
    },
    DropIndex {
        name: String,
        concurrently: bool,
    },
    RenameIndex {
        from: String,
        to: String,
    },
    CreateType {
        name: String,
        /// The values, for an enum.
        values: Vec<String>,
    },
    DropType {
        name: String,
    },
    AddEnumValue {
        ty: String,
        value: String,
    },
    RenameEnumValue {
        ty: String,
        from: String,
        to: String,
    },
    Dml {
        kind: DmlKind,
        table: String,
        /// Whether the statement restricts the rows it touches (`WHERE`; always false for
        /// `TRUNCATE`, true for `INSERT`, which adds rows rather than touching them).
        has_where: bool,
        /// Columns an `UPDATE` sets.
        sets: Vec<String>,
        /// Names read by the `SET` expressions of an `UPDATE`.
        reads: Vec<String>,
    },
    /// A view, materialized view or foreign table created (composite types are
    /// [`EffectKind::CreateType`]).
    CreateObject {
        kind: ObjectKind,
        name: String,
    },
    /// A view, materialized view or foreign table dropped.
    DropObject {
        kind: ObjectKind,
        name: String,
    },
    /// A view, materialized view or foreign table renamed.
    RenameObject {
        kind: ObjectKind,
        from: String,
        to: String,
    },
    /// A column of a foreign table or an attribute of a composite type dropped.
    DropMember {
        kind: ObjectKind,
        object: String,
        member: String,
    },
    /// A column of a view, materialized view or foreign table, or an attribute of a
    /// composite type, renamed.
    RenameMember {
        kind: ObjectKind,
        object: String,
        from: String,
        to: String,
    },
    /// A statement the model does not describe (a `SELECT`, a function, a grant…).
    Other,
}

impl EffectKind {
    /// Whether the effect changes the schema (as opposed to data, or nothing the model knows).
    pub fn is_ddl(&self) -> bool {
        !matches!(self, EffectKind::Dml { .. } | EffectKind::Other)
    }

    /// The table the effect is on, if any.
    pub fn table(&self) -> Option<&str> {
        match self {
            EffectKind::CreateTable { table, .. }
            | EffectKind::DropTable { table }
            | EffectKind::AddColumn { table, .. }
            | EffectKind::DropColumn { table, .. }
            | EffectKind::RenameColumn { table, .. }
            | EffectKind::AlterColumnType { table, .. }
            | EffectKind::SetNotNull { table, .. }
            | EffectKind::DropNotNull { table, .. }
            | EffectKind::SetDefault { table, .. }
            | EffectKind::DropDefault { table, .. }
            | EffectKind::AddConstraint { table, .. }
            | EffectKind::ValidateConstraint { table, .. }
            | EffectKind::DropConstraint { table, .. }
            | EffectKind::RenameConstraint { table, .. }
            | EffectKind::CreateIndex { table, .. }
            | EffectKind::Dml { table, .. } => Some(table),
            EffectKind::RenameTable { from, .. } => Some(from),
            _ => None,
        }
    }

    /// The relation the effect is on, in PostgreSQL's shared namespace of tables, views,
    /// foreign tables and types (each table and view also names a row type): the table, or
    /// the view, foreign table or type. For a rename, the old name.
    pub fn relation(&self) -> Option<&str> {
        match self {
            EffectKind::CreateObject { name, .. }
            | EffectKind::DropObject { name, .. }
            | EffectKind::CreateType { name, .. }
            | EffectKind::DropType { name }
            | EffectKind::RenameObject { from: name, .. }
            | EffectKind::DropMember { object: name, .. }
            | EffectKind::RenameMember { object: name, .. } => Some(name),
            other => other.table(),
        }
    }
}

impl EffectKind {
    /// What the effect does, in words, for messages: `drops column `users.email``.
    pub fn describe(&self) -> String {
        match self {
            EffectKind::CreateTable { table, .. } => format!("creates table `{table}`"),
            EffectKind::DropTable { table } => format!("drops table `{table}`"),
            EffectKind::RenameTable { from, to } => format!("renames table `{from}` to `{to}`"),
            EffectKind::AddColumn { table, column, .. } => {
                format!("adds column `{table}.{column}`")
            }
            EffectKind::DropColumn { table, column } => format!("drops column `{table}.{column}`"),
            EffectKind::RenameColumn { table, from, to } => {
                format!("renames column `{table}.{from}` to `{to}`")
            }
            EffectKind::AlterColumnType { table, column, ty } => {
                format!("changes the type of `{table}.{column}` to `{ty}`")
            }
            EffectKind::SetNotNull { table, column } => {
                format!("makes `{table}.{column}` `NOT NULL`")
            }
            EffectKind::DropNotNull { table, column } => {
                format!("drops `NOT NULL` from `{table}.{column}`")
            }
            EffectKind::SetDefault { table, column } => {
                format!("sets the default of `{table}.{column}`")
            }
            EffectKind::DropDefault { table, column } => {
                format!("drops the default of `{table}.{column}`")
            }
            EffectKind::AddConstraint { table, name, .. } => match name {
                Some(n) => format!("adds constraint `{n}` to `{table}`"),
                None => format!("adds a constraint to `{table}`"),
            },
            EffectKind::ValidateConstraint { table, name } => {
                format!("validates constraint `{name}` of `{table}`")
            }
            EffectKind::DropConstraint { table, name } => {
                format!("drops constraint `{name}` of `{table}`")
            }
            EffectKind::RenameConstraint { table, from, to } => {
                format!("renames constraint `{from}` of `{table}` to `{to}`")
            }
            EffectKind::CreateIndex { table, name, .. } => match name {
                Some(n) => format!("creates index `{n}` on `{table}`"),
                None => format!("creates an index on `{table}`"),
            },
            EffectKind::DropIndex { name, .. } => format!("drops index `{name}`"),
            EffectKind::RenameIndex { from, to } => format!("renames index `{from}` to `{to}`"),
            EffectKind::CreateType { name, .. } => format!("creates type `{name}`"),
            EffectKind::DropType { name } => format!("drops type `{name}`"),
            EffectKind::AddEnumValue { ty, value } => format!("adds value `{value}` to `{ty}`"),
            EffectKind::RenameEnumValue { ty, from, to } => {
                format!("renames value `{from}` of `{ty}` to `{to}`")
            }
            EffectKind::Dml {
                kind,
                table,
                has_where,
                ..
            } => match (kind, has_where) {
                (DmlKind::Insert, _) => format!("inserts into `{table}`"),
                (DmlKind::Truncate, _) => format!("empties `{table}`"),
                (k, true) => format!("runs `{}` on `{table}`", k.keyword()),
                (k, false) => format!("runs `{}` on every row of `{table}`", k.keyword()),
            },
            EffectKind::CreateObject { kind, name } => format!("creates {} `{name}`", kind.noun()),
            EffectKind::DropObject { kind, name } => format!("drops {} `{name}`", kind.noun()),
            EffectKind::RenameObject { kind, from, to } => {
                format!("renames {} `{from}` to `{to}`", kind.noun())
            }
            EffectKind::DropMember {
                kind,
                object,
                member,
            } => format!(
                "drops {} `{object}.{member}` of {} `{object}`",
                kind.member(),
                kind.noun()
            ),
            EffectKind::RenameMember {
                kind,
                object,
                from,
                to,
            } => format!(
                "renames {} `{object}.{from}` of {} `{object}` to `{to}`",
                kind.member(),
                kind.noun()
            ),
            EffectKind::Other => "runs a statement".to_string(),
        }
    }

    /// Whether the effect removes or renames something existing code may use, or loses
    /// data: what a `down = noop` cannot undo.
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            EffectKind::DropTable { .. }
                | EffectKind::DropColumn { .. }
                | EffectKind::RenameTable { .. }
                | EffectKind::RenameColumn { .. }
                | EffectKind::AlterColumnType { .. }
                | EffectKind::DropType { .. }
                | EffectKind::RenameEnumValue { .. }
                | EffectKind::DropObject { .. }
                | EffectKind::RenameObject { .. }
                | EffectKind::DropMember { .. }
                | EffectKind::RenameMember { .. }
                | EffectKind::Dml {
                    kind: DmlKind::Delete | DmlKind::Truncate,
                    ..
                }
        )
    }
}

/// Whether changing a column from type `old` to `new` keeps every value and every reader
/// working: the same type, a longer `varchar`, `varchar` to `text`, a wider integer or
/// float, a `numeric` with more digits and the same scale. Anything else narrows or
/// changes the type's meaning.
pub fn is_widening(old: &str, new: &str) -> bool {
    fn canon(t: &str) -> (String, Vec<u64>) {
        let t = t.trim().to_lowercase();
        let (base, args) = match t.split_once('(') {
            Some((b, rest)) => (
                b.trim().to_string(),
                rest.trim_end_matches(')')
                    .split(',')
                    .filter_map(|a| a.trim().parse().ok())
                    .collect(),
            ),
            None => (t.clone(), Vec::new()),
        };
        let base = match base.as_str() {
            "character varying" | "varchar" => "varchar",
            "int2" | "smallint" => "smallint",
            "int" | "int4" | "integer" => "integer",
            "int8" | "bigint" => "bigint",
            "float4" | "real" => "real",
            "float8" | "double precision" => "double precision",
            "decimal" | "numeric" => "numeric",
            "timestamp with time zone" => "timestamptz",
            "timestamp without time zone" => "timestamp",
            other => other,
        };
        (base.to_string(), args)
    }
    let (ob, oa) = canon(old);
    let (nb, na) = canon(new);
    let rank = |b: &str| match b {
        "smallint" => Some(1),
        "integer" => Some(2),
        "bigint" => Some(3),
        _ => None,
    };
    match (ob.as_str(), nb.as_str()) {
        (o, n) if o == n => match (oa.first(), na.first()) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => {
                b >= a
                    && (o != "numeric"
                        || oa.get(1).copied().unwrap_or(0) == na.get(1).copied().unwrap_or(0))
            }
        },
        ("varchar" | "char" | "character", "text") => true,
        ("real", "double precision") => true,
        (o, n) => matches!((rank(o), rank(n)), (Some(a), Some(b)) if b > a),
    }
}

/// One effect and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub kind: EffectKind,
    /// In the SQL text.
    pub range: Range<usize>,
}

/// One statement of a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// In the SQL text, without leading comments.
    pub range: Range<usize>,
    pub effects: Vec<Effect>,
    /// The locks it takes: `(table, mode)`; for `DROP INDEX` the table is the index name.
    pub locks: Vec<(String, Lock)>,
    /// `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`, `REINDEX CONCURRENTLY`,
    /// `REINDEX SCHEMA`, `DATABASE` and `SYSTEM`, `DETACH PARTITION … CONCURRENTLY`,
    /// `CLUSTER` without a table, `VACUUM`, `CREATE`/`DROP DATABASE` and `TABLESPACE`,
    /// `ALTER SYSTEM`: PostgreSQL refuses it inside a transaction block.
    ///
    /// Read from the syntax tree alone: `CLUSTER t` and `REINDEX TABLE t` on a partitioned
    /// table are refused too, which the text does not say.
    pub outside_transaction: bool,
}

/// The model of one `up` or `down`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SqlModel {
    pub statements: Vec<Statement>,
    /// Whether the runtime runs it in one transaction: not when a statement cannot run in
    /// one (`CONCURRENTLY`, `VACUUM`…), nor when a statement uses an enum value that an
    /// earlier one added (it must be committed first).
    pub transactional: bool,
}

impl SqlModel {
    /// Every effect, in statement order.
    pub fn effects(&self) -> impl Iterator<Item = &Effect> {
        self.statements.iter().flat_map(|s| s.effects.iter())
    }

    /// The statement that contains byte `offset`.
    pub fn statement_at(&self, offset: usize) -> Option<&Statement> {
        self.statements
            .iter()
            .find(|s| s.range.start <= offset && offset < s.range.end.max(s.range.start + 1))
    }

    /// The index of the statement that contains byte `offset`.
    pub fn statement_index_at(&self, offset: usize) -> Option<usize> {
        self.statements
            .iter()
            .position(|s| s.range.start <= offset && offset < s.range.end.max(s.range.start + 1))
    }

    /// The strongest lock taken on `table`, with the statement taking it.
    pub fn strongest_lock(&self, table: &str) -> Option<(Lock, &Statement)> {
        self.statements
            .iter()
            .flat_map(|s| s.locks.iter().map(move |(t, l)| (t, *l, s)))
            .filter(|(t, _, _)| *t == table)
            .max_by_key(|(_, l, _)| *l)
            .map(|(_, l, s)| (l, s))
    }
}

/// Builds the model from an already parsed file.
pub fn build(file: &ast::SourceFile) -> SqlModel {
    let stmts: Vec<ast::Stmt> = file.stmts().collect();
    let statements: Vec<Statement> = stmts.iter().map(statement).collect();
    let transactional = !statements.iter().any(|s| s.outside_transaction)
        && !uses_new_enum_value(&stmts, &statements);
    SqlModel {
        statements,
        transactional,
    }
}

/// Whether a statement uses an enum value an earlier statement of the same text added.
/// PostgreSQL 12 and later run `ALTER TYPE … ADD VALUE` inside a transaction block, but
/// refuse to use the value before that transaction commits ("unsafe use of new value"): such
/// a text only succeeds statement by statement. A value is used when a later statement has
/// the same string literal (a cast, an insert, a comparison).
fn uses_new_enum_value(stmts: &[ast::Stmt], statements: &[Statement]) -> bool {
    statements.iter().enumerate().any(|(i, s)| {
        s.effects.iter().any(|e| {
            let EffectKind::AddEnumValue { value, .. } = &e.kind else {
                return false;
            };
            stmts.iter().skip(i + 1).any(|later| {
                later
                    .syntax()
                    .descendants_with_tokens()
                    .filter_map(|t| t.into_token())
                    .any(|t| t.kind() == SyntaxKind::STRING && t.text().trim_matches('\'') == value)
            })
        })
    })
}

/// Parses `text` and builds its model; text that does not parse gives the model of what
/// the parser recovered. Never panics: the parser runs under the guard of [`super::guard`].
pub fn of_text(text: &str) -> SqlModel {
    super::guard(|| build(&squawk_syntax::SourceFile::parse(text).tree())).unwrap_or_default()
}

fn range(node: &SyntaxNode) -> Range<usize> {
    // Leading trivia (comments) belong to the statement node; point past them.
    let r = node.text_range();
    let start = node
        .children_with_tokens()
        .find(|x| !x.kind().is_trivia())
        .map(|x| x.text_range().start())
        .unwrap_or(r.start());
    usize::from(start)..usize::from(r.end())
}

/// A name as PostgreSQL compares it: unquoted folded to lower case, quoted kept.
pub fn normalize(text: &str) -> String {
    let t = text.trim();
    match t.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => t.to_lowercase(),
    }
}

fn name(node: &SyntaxNode) -> String {
    normalize(&node.text().to_string())
}

/// The last segment of a possibly qualified path (`public.users` → `users`).
fn path_ref_name(p: Option<ast::PathRef>) -> Option<String> {
    p?.segment().map(|s| name(s.syntax()))
}

fn path_name(p: Option<ast::Path>) -> Option<String> {
    p?.segment().map(|s| name(s.syntax()))
}

fn table_relation(t: Option<ast::TableRelationName>) -> Option<String> {
    path_ref_name(t?.table_name_ref()?.path_ref())
}

fn relation(r: Option<ast::RelationName>) -> Option<String> {
    path_ref_name(r?.relation_name_ref()?.path_ref())
}

/// A type as normalised text: lower case, single spaces.
fn type_text(ty: Option<ast::Type>) -> String {
    ty.map(|t| {
        t.syntax()
            .text()
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    })
    .unwrap_or_default()
}

fn constraint_kind(c: &ast::Constraint) -> ConstraintKind {
    match c {
        ast::Constraint::CheckConstraint(_) => ConstraintKind::Check,
        ast::Constraint::ForeignKeyConstraint(_) | ast::Constraint::ReferencesConstraint(_) => {
            ConstraintKind::ForeignKey
        }
        ast::Constraint::UniqueConstraint(_) => ConstraintKind::Unique,
        ast::Constraint::PrimaryKeyConstraint(_) => ConstraintKind::PrimaryKey,
        ast::Constraint::NotNullConstraint(_) => ConstraintKind::NotNull,
        ast::Constraint::ExcludeConstraint(_) => ConstraintKind::Exclude,
        _ => ConstraintKind::Other,
    }
}

/// Every name referenced below `node` (column references in an expression).
fn names_in(node: &SyntaxNode) -> Vec<String> {
    node.descendants()
        .filter(|n| n.kind() == SyntaxKind::NAME_REF)
        .map(|n| name(&n))
        .collect()
}

fn statement(stmt: &ast::Stmt) -> Statement {
    let mut s = Statement {
        range: range(stmt.syntax()),
        effects: Vec::new(),
        locks: Vec::new(),
        outside_transaction: false,
    };
    let whole = s.range.clone();
    let push = |s: &mut Statement, kind: EffectKind, node: &SyntaxNode| {
        s.effects.push(Effect {
            kind,
            range: range(node),
        });
    };
    match stmt {
        ast::Stmt::CreateTable(ct) => {
            let Some(table) = path_name(ct.table_name().and_then(|t| t.path())) else {
                return s;
            };
            let mut columns = Vec::new();
            for arg in ct.table_arg_list().into_iter().flat_map(|l| l.args()) {
                if let ast::TableArg::Column(c) = arg
                    && let Some(n) = c.name()
                {
                    columns.push((name(n.syntax()), type_text(c.ty())));
                }
            }
            push(
                &mut s,
                EffectKind::CreateTable { table, columns },
                stmt.syntax(),
            );
        }
        ast::Stmt::DropTable(dt) => {
            for t in dt.table_name_refs() {
                if let Some(table) = path_ref_name(t.path_ref()) {
                    s.locks.push((table.clone(), Lock::AccessExclusive));
                    push(&mut s, EffectKind::DropTable { table }, t.syntax());
                }
            }
        }
        ast::Stmt::AlterTable(at) => {
            let Some(table) = table_relation(at.table_relation_name()) else {
                return s;
            };
            let mut lock = None;
            for action in at.actions() {
                let (kind, l) = alter_table_action(&table, &action);
                lock = lock.max(Some(l));
                if let Some(kind) = kind {
                    push(&mut s, kind, action.syntax());
                }
                if let ast::AlterTableAction::AddConstraint(ac) = &action
                    && let Some(ast::Constraint::ForeignKeyConstraint(fk)) = ac.constraint()
                    && let Some(other) =
                        path_ref_name(fk.table_name_ref().and_then(|t| t.path_ref()))
                {
                    s.locks.push((other, Lock::ShareRowExclusive));
                }
                // `CONCURRENTLY` is a child of the detach option node, not of the action.
                if let ast::AlterTableAction::DetachPartition(d) = &action
                    && let Some(ast::DetachPartitionOption::DetachConcurrently(_)) =
                        d.detach_partition_option()
                {
                    s.outside_transaction = true;
                }
            }
            if let Some(l) = lock {
                s.locks.insert(0, (table, l));
            }
        }
        ast::Stmt::CreateIndex(ci) => {
            let Some(table) = table_relation(ci.table_relation_name()) else {
                return s;
            };
            let concurrently = ci.concurrently_token().is_some();
            s.outside_transaction = concurrently;
            let columns = ci
                .partition_item_list()
                .map(|l| names_in(l.syntax()))
                .unwrap_or_default();
            s.locks.push((
                table.clone(),
                if concurrently {
                    Lock::ShareUpdateExclusive
                } else {
                    Lock::Share
                },
            ));
            push(
                &mut s,
                EffectKind::CreateIndex {
                    table,
                    name: path_name(ci.index().and_then(|i| i.path())),
                    columns,
                    unique: ci.unique_token().is_some(),
                    concurrently,
                },
                stmt.syntax(),
            );
        }
        ast::Stmt::DropIndex(di) => {
            let concurrently = di.concurrently_token().is_some();
            s.outside_transaction = concurrently;
            for i in di.index_refs() {
                if let Some(n) = path_ref_name(i.path_ref()) {
                    s.locks.push((
                        n.clone(),
                        if concurrently {
                            Lock::ShareUpdateExclusive
                        } else {
                            Lock::AccessExclusive
                        },
                    ));
                    push(
                        &mut s,
                        EffectKind::DropIndex {
                            name: n,
                            concurrently,
                        },
                        i.syntax(),
                    );
                }
            }
        }
        ast::Stmt::AlterIndex(ai) => {
            if let (Some(from), Some(ast::AlterIndexAction::IndexRenameTo(r))) = (
                path_ref_name(ai.index_ref().and_then(|i| i.path_ref())),
                ai.action(),
            ) && let Some(to) = path_name(r.index().and_then(|i| i.path()))
            {
                push(&mut s, EffectKind::RenameIndex { from, to }, stmt.syntax());
            }
        }
        ast::Stmt::Vacuum(_)
        | ast::Stmt::CreateDatabase(_)
        | ast::Stmt::DropDatabase(_)
        | ast::Stmt::CreateTablespace(_)
        | ast::Stmt::DropTablespace(_)
        | ast::Stmt::AlterSystem(_) => {
            s.outside_transaction = true;
            push(&mut s, EffectKind::Other, stmt.syntax());
        }
        ast::Stmt::Reindex(r) => {
            s.outside_transaction = reindex_outside_transaction(r);
            push(&mut s, EffectKind::Other, stmt.syntax());
        }
        ast::Stmt::Cluster(c) => {
            // With no table, `CLUSTER` reclusters every table clustered before, each in a
            // transaction of its own, which PostgreSQL refuses inside a transaction block.
            s.outside_transaction = c.table_name_ref().is_none() && c.cluster_legacy().is_none();
            push(&mut s, EffectKind::Other, stmt.syntax());
        }
        ast::Stmt::CreateView(cv) => {
            // `OR REPLACE` may replace a view that exists: nothing says it is new.
            if cv.or_replace().is_none()
                && let Some(name) = path_name(cv.view().and_then(|v| v.path()))
            {
                push(
                    &mut s,
                    EffectKind::CreateObject {
                        kind: ObjectKind::View,
                        name,
                    },
                    stmt.syntax(),
                );
            }
        }
        ast::Stmt::CreateMaterializedView(cv) => {
            if let Some(name) = path_name(cv.view().and_then(|v| v.path())) {
                push(
                    &mut s,
                    EffectKind::CreateObject {
                        kind: ObjectKind::MaterializedView,
                        name,
                    },
                    stmt.syntax(),
                );
            }
        }
        ast::Stmt::CreateForeignTable(cf) => {
            if let Some(name) = path_name(cf.table_name().and_then(|t| t.path())) {
                push(
                    &mut s,
                    EffectKind::CreateObject {
                        kind: ObjectKind::ForeignTable,
                        name,
                    },
                    stmt.syntax(),
                );
            }
        }
        ast::Stmt::DropView(dv) => {
            for v in dv.view_refs() {
                if let Some(name) = path_ref_name(v.path_ref()) {
                    let kind = ObjectKind::View;
                    push(&mut s, EffectKind::DropObject { kind, name }, v.syntax());
                }
            }
        }
        ast::Stmt::DropMaterializedView(dv) => {
            for v in dv.view_refs() {
                if let Some(name) = path_ref_name(v.path_ref()) {
                    let kind = ObjectKind::MaterializedView;
                    push(&mut s, EffectKind::DropObject { kind, name }, v.syntax());
                }
            }
        }
        ast::Stmt::DropForeignTable(df) => {
            for t in df.table_name_refs() {
                if let Some(name) = path_ref_name(t.path_ref()) {
                    let kind = ObjectKind::ForeignTable;
                    push(&mut s, EffectKind::DropObject { kind, name }, t.syntax());
                }
            }
        }
        ast::Stmt::AlterForeignTable(af) => {
            let Some(object) = table_relation(af.table_relation_name()) else {
                return s;
            };
            for action in af.actions() {
                let kind = object_action(ObjectKind::ForeignTable, &object, &action);
                push(&mut s, kind, action.syntax());
            }
        }
        ast::Stmt::AlterView(av) => {
            if let (Some(object), Some(action)) = (
                path_ref_name(av.view_ref().and_then(|v| v.path_ref())),
                av.action(),
            ) {
                let kind = match &action {
                    ast::AlterViewAction::RenameColumn(rc) => {
                        rename_member(ObjectKind::View, &object, rc)
                    }
                    ast::AlterViewAction::ViewRenameTo(r) => {
                        rename_object(ObjectKind::View, &object, r)
                    }
                    _ => EffectKind::Other,
                };
                push(&mut s, kind, action.syntax());
            }
        }
        ast::Stmt::AlterMaterializedView(av) => {
            let Some(object) = path_ref_name(av.view_ref().and_then(|v| v.path_ref())) else {
                return s;
            };
            for action in av.action() {
                let kind = match &action {
                    ast::AlterMaterializedViewAction::RenameColumn(rc) => {
                        rename_member(ObjectKind::MaterializedView, &object, rc)
                    }
                    ast::AlterMaterializedViewAction::ViewRenameTo(r) => {
                        rename_object(ObjectKind::MaterializedView, &object, r)
                    }
                    _ => EffectKind::Other,
                };
                push(&mut s, kind, action.syntax());
            }
        }
        ast::Stmt::CreateType(ct) => {
            let Some(ty) = path_name(ct.type_name().and_then(|t| t.path())) else {
                return s;
            };
            let values = match ct.kind() {
                Some(ast::CreateTypeKind::EnumType(e)) => e
                    .syntax()
                    .descendants_with_tokens()
                    .filter_map(|t| t.into_token())
                    .filter(|t| t.kind() == SyntaxKind::STRING)
                    .map(|t| t.text().trim_matches('\'').to_string())
                    .collect(),
                _ => Vec::new(),
            };
            push(
                &mut s,
                EffectKind::CreateType { name: ty, values },
                stmt.syntax(),
            );
        }
        ast::Stmt::DropType(dt) => {
            for t in dt.type_name_refs() {
                if let Some(n) = path_ref_name(t.path_ref()) {
                    push(&mut s, EffectKind::DropType { name: n }, t.syntax());
                }
            }
        }
        ast::Stmt::AlterType(at) => {
            let Some(ty) = path_ref_name(at.type_name_ref().and_then(|t| t.path_ref())) else {
                return s;
            };
            let strings = |n: &SyntaxNode| -> Vec<String> {
                n.descendants_with_tokens()
                    .filter_map(|t| t.into_token())
                    .filter(|t| t.kind() == SyntaxKind::STRING)
                    .map(|t| t.text().trim_matches('\'').to_string())
                    .collect()
            };
            match at.action() {
                Some(ast::AlterTypeAction::AddValue(v)) => {
                    if let Some(value) = strings(v.syntax()).into_iter().next() {
                        push(&mut s, EffectKind::AddEnumValue { ty, value }, v.syntax());
                    }
                }
                Some(ast::AlterTypeAction::AlterTypeAttributeActionList(l)) => {
                    for a in l.actions() {
                        match &a {
                            ast::AlterTypeAttributeAction::DropAttribute(d) => {
                                if let Some(member) =
                                    d.composite_field_ref().map(|f| name(f.syntax()))
                                {
                                    push(
                                        &mut s,
                                        EffectKind::DropMember {
                                            kind: ObjectKind::CompositeType,
                                            object: ty.clone(),
                                            member,
                                        },
                                        a.syntax(),
                                    );
                                }
                            }
                            _ => push(&mut s, EffectKind::Other, a.syntax()),
                        }
                    }
                }
                Some(ast::AlterTypeAction::RenameAttribute(r)) => {
                    if let (Some(from), Some(to)) = (r.composite_field_ref(), r.composite_field()) {
                        push(
                            &mut s,
                            EffectKind::RenameMember {
                                kind: ObjectKind::CompositeType,
                                object: ty,
                                from: name(from.syntax()),
                                to: name(to.syntax()),
                            },
                            r.syntax(),
                        );
                    }
                }
                Some(ast::AlterTypeAction::RenameValue(v)) => {
                    let mut it = strings(v.syntax()).into_iter();
                    if let (Some(from), Some(to)) = (it.next(), it.next()) {
                        push(
                            &mut s,
                            EffectKind::RenameEnumValue { ty, from, to },
                            v.syntax(),
                        );
                    }
                }
                _ => push(&mut s, EffectKind::Other, stmt.syntax()),
            }
        }
        ast::Stmt::Update(u) => {
            if let Some(table) = relation(u.relation_name()) {
                let mut sets = Vec::new();
                let mut reads = Vec::new();
                for c in u
                    .set_clause()
                    .and_then(|c| c.set_column_list())
                    .into_iter()
                    .flat_map(|l| l.set_columns())
                {
                    match c {
                        ast::SetColumn::SetSingleColumn(c) => {
                            if let Some(n) = c.column_target().and_then(|t| t.name()) {
                                sets.push(name(n.syntax()));
                            }
                            if let Some(e) = c.set_expr() {
                                reads.extend(names_in(e.syntax()));
                            }
                        }
                        ast::SetColumn::SetMultipleColumns(c) => {
                            for t in c.syntax().descendants().filter_map(ast::ColumnTarget::cast) {
                                if let Some(n) = t.name() {
                                    sets.push(name(n.syntax()));
                                }
                            }
                        }
                    }
                }
                s.locks.push((table.clone(), Lock::RowExclusive));
                push(
                    &mut s,
                    EffectKind::Dml {
                        kind: DmlKind::Update,
                        table,
                        has_where: u.where_clause_or_current_of().is_some(),
                        sets,
                        reads,
                    },
                    stmt.syntax(),
                );
            }
        }
        ast::Stmt::Delete(d) => {
            if let Some(table) = relation(d.relation_name()) {
                s.locks.push((table.clone(), Lock::RowExclusive));
                push(
                    &mut s,
                    EffectKind::Dml {
                        kind: DmlKind::Delete,
                        table,
                        has_where: d.where_clause_or_current_of().is_some(),
                        sets: Vec::new(),
                        reads: Vec::new(),
                    },
                    stmt.syntax(),
                );
            }
        }
        ast::Stmt::Insert(i) => {
            if let Some(table) = path_ref_name(i.relation_name_ref().and_then(|r| r.path_ref())) {
                s.locks.push((table.clone(), Lock::RowExclusive));
                push(
                    &mut s,
                    EffectKind::Dml {
                        kind: DmlKind::Insert,
                        table,
                        has_where: true,
                        sets: Vec::new(),
                        reads: Vec::new(),
                    },
                    stmt.syntax(),
                );
            }
        }
        ast::Stmt::Merge(m) => {
            if let Some(table) = table_relation(m.table_relation_name()) {
                s.locks.push((table.clone(), Lock::RowExclusive));
                push(
                    &mut s,
                    EffectKind::Dml {
                        kind: DmlKind::Merge,
                        table,
                        has_where: true,
                        sets: Vec::new(),
                        reads: Vec::new(),
                    },
                    stmt.syntax(),
                );
            }
        }
        ast::Stmt::Truncate(t) => {
            for r in t
                .table_list()
                .into_iter()
                .flat_map(|l| l.table_relation_names())
            {
                if let Some(table) = table_relation(Some(r.clone())) {
                    s.locks.push((table.clone(), Lock::AccessExclusive));
                    push(
                        &mut s,
                        EffectKind::Dml {
                            kind: DmlKind::Truncate,
                            table,
                            has_where: false,
                            sets: Vec::new(),
                            reads: Vec::new(),
                        },
                        r.syntax(),
                    );
                }
            }
        }
        _ => push(&mut s, EffectKind::Other, stmt.syntax()),
    }
    if s.effects.is_empty() {
        s.effects.push(Effect {
            kind: EffectKind::Other,
            range: whole,
        });
    }
    s
}

/// Whether a `REINDEX` cannot run inside a transaction block: `CONCURRENTLY` (after the
/// target keyword, or as an option that is not turned off), or a target that spans many
/// tables (`SCHEMA`, `DATABASE`, `SYSTEM`), which PostgreSQL reindexes one transaction per
/// table.
fn reindex_outside_transaction(r: &ast::Reindex) -> bool {
    let option = r.reindex_option_list().is_some_and(|l| {
        l.syntax()
            .children()
            .filter_map(ast::ReindexOptionConcurrently::cast)
            .any(|o| {
                // `CONCURRENTLY`, `CONCURRENTLY true|on|1|yes`; not `false`, `off`, `0`, `no`.
                let value = o
                    .syntax()
                    .children_with_tokens()
                    .filter(|t| t.kind() != SyntaxKind::CONCURRENTLY_KW && !t.kind().is_trivia())
                    .map(|t| normalize(&t.to_string()).trim_matches('\'').to_string())
                    .collect::<String>();
                !matches!(value.as_str(), "false" | "off" | "0" | "no")
            })
    });
    let target = match r.reindex_target() {
        Some(ast::ReindexTarget::ReindexTargetSchema(_))
        | Some(ast::ReindexTarget::ReindexTargetDatabase(_))
        | Some(ast::ReindexTarget::ReindexTargetSystem(_)) => true,
        Some(ast::ReindexTarget::ReindexTargetIndex(t)) => t.concurrently_token().is_some(),
        Some(ast::ReindexTarget::ReindexTargetTable(t)) => t.concurrently_token().is_some(),
        None => false,
    };
    option || target
}

/// `RENAME COLUMN` of a view, materialized view or foreign table.
fn rename_member(kind: ObjectKind, object: &str, rc: &ast::RenameColumn) -> EffectKind {
    match (rc.column_name_ref(), rc.column_name()) {
        (Some(from), Some(to)) => EffectKind::RenameMember {
            kind,
            object: object.to_string(),
            from: name(from.syntax()),
            to: name(to.syntax()),
        },
        _ => EffectKind::Other,
    }
}

/// `RENAME TO` of a view or materialized view.
fn rename_object(kind: ObjectKind, from: &str, r: &ast::ViewRenameTo) -> EffectKind {
    match path_name(r.view().and_then(|v| v.path())) {
        Some(to) => EffectKind::RenameObject {
            kind,
            from: from.to_string(),
            to,
        },
        None => EffectKind::Other,
    }
}

/// The effect of one `ALTER FOREIGN TABLE` action: its drops and renames; the rest is
/// [`EffectKind::Other`] (a foreign table holds no local rows, so no lock is modelled).
fn object_action(kind: ObjectKind, object: &str, action: &ast::AlterTableAction) -> EffectKind {
    match action {
        ast::AlterTableAction::DropColumn(dc) => match dc.column_name_ref() {
            Some(c) => EffectKind::DropMember {
                kind,
                object: object.to_string(),
                member: name(c.syntax()),
            },
            None => EffectKind::Other,
        },
        ast::AlterTableAction::RenameColumn(rc) => rename_member(kind, object, rc),
        ast::AlterTableAction::TableRenameTo(r) => {
            match path_name(r.table_name().and_then(|n| n.path())) {
                Some(to) => EffectKind::RenameObject {
                    kind,
                    from: object.to_string(),
                    to,
                },
                None => EffectKind::Other,
            }
        }
        _ => EffectKind::Other,
    }
}

/// The effect of one `ALTER TABLE` action and the lock it needs.
fn alter_table_action(table: &str, action: &ast::AlterTableAction) -> (Option<EffectKind>, Lock) {
    let t = || table.to_string();
    match action {
        ast::AlterTableAction::AddColumn(ac) => {
            let column = ac
                .column_name()
                .map(|c| name(c.syntax()))
                .unwrap_or_default();
            let mut not_null = false;
            let mut default = false;
            for c in ac.constraints() {
                match c {
                    ast::Constraint::NotNullConstraint(_)
                    | ast::Constraint::PrimaryKeyConstraint(_) => not_null = true,
                    ast::Constraint::DefaultConstraint(_)
                    | ast::Constraint::GeneratedConstraint(_) => default = true,
                    _ => {}
                }
            }
            (
                Some(EffectKind::AddColumn {
                    table: t(),
                    column,
                    ty: type_text(ac.ty()),
                    not_null,
                    default,
                }),
                Lock::AccessExclusive,
            )
        }
        ast::AlterTableAction::DropColumn(dc) => (
            dc.column_name_ref().map(|c| EffectKind::DropColumn {
                table: t(),
                column: name(c.syntax()),
            }),
            Lock::AccessExclusive,
        ),
        ast::AlterTableAction::RenameColumn(rc) => (
            match (rc.column_name_ref(), rc.column_name()) {
                (Some(from), Some(to)) => Some(EffectKind::RenameColumn {
                    table: t(),
                    from: name(from.syntax()),
                    to: name(to.syntax()),
                }),
                _ => None,
            },
            Lock::AccessExclusive,
        ),
        ast::AlterTableAction::TableRenameTo(r) => (
            path_name(r.table_name().and_then(|n| n.path()))
                .map(|to| EffectKind::RenameTable { from: t(), to }),
            Lock::AccessExclusive,
        ),
        ast::AlterTableAction::AlterColumn(ac) => {
            let Some(column) = ac.column_name_ref().map(|c| name(c.syntax())) else {
                return (None, Lock::AccessExclusive);
            };
            let table = t();
            let kind = match ac.option() {
                Some(ast::AlterColumnOption::SetType(st)) => Some(EffectKind::AlterColumnType {
                    table,
                    column,
                    ty: type_text(st.ty()),
                }),
                Some(ast::AlterColumnOption::SetNotNull(_)) => {
                    Some(EffectKind::SetNotNull { table, column })
                }
                Some(ast::AlterColumnOption::DropNotNull(_)) => {
                    Some(EffectKind::DropNotNull { table, column })
                }
                Some(ast::AlterColumnOption::SetDefault(_)) => {
                    Some(EffectKind::SetDefault { table, column })
                }
                Some(ast::AlterColumnOption::DropDefault(_)) => {
                    Some(EffectKind::DropDefault { table, column })
                }
                Some(ast::AlterColumnOption::SetStatistics(_)) => {
                    return (None, Lock::ShareUpdateExclusive);
                }
                _ => None,
            };
            (kind, Lock::AccessExclusive)
        }
        ast::AlterTableAction::AddConstraint(ac) => {
            let Some(c) = ac.constraint() else {
                return (None, Lock::AccessExclusive);
            };
            let kind = constraint_kind(&c);
            let lock = if kind == ConstraintKind::ForeignKey {
                Lock::ShareRowExclusive
            } else {
                Lock::AccessExclusive
            };
            (
                Some(EffectKind::AddConstraint {
                    table: t(),
                    name: c.constraint_name().map(|n| name(n.syntax())),
                    kind,
                    not_valid: c.is_not_valid(),
                }),
                lock,
            )
        }
        ast::AlterTableAction::ValidateConstraint(vc) => (
            path_ref_name(vc.constraint_name_ref().and_then(|n| n.path_ref())).map(|n| {
                EffectKind::ValidateConstraint {
                    table: t(),
                    name: n,
                }
            }),
            Lock::ShareUpdateExclusive,
        ),
        ast::AlterTableAction::DropConstraint(dc) => (
            path_ref_name(dc.constraint_name_ref().and_then(|n| n.path_ref())).map(|n| {
                EffectKind::DropConstraint {
                    table: t(),
                    name: n,
                }
            }),
            Lock::AccessExclusive,
        ),
        ast::AlterTableAction::RenameConstraint(rc) => (
            match (
                path_ref_name(rc.constraint_name_ref().and_then(|n| n.path_ref())),
                rc.constraint_name(),
            ) {
                (Some(from), Some(to)) => Some(EffectKind::RenameConstraint {
                    table: t(),
                    from,
                    to: name(to.syntax()),
                }),
                _ => None,
            },
            Lock::AccessExclusive,
        ),
        ast::AlterTableAction::SetOptions(_) | ast::AlterTableAction::ResetOptions(_) => {
            (None, Lock::ShareUpdateExclusive)
        }
        ast::AlterTableAction::AttachPartition(_) | ast::AlterTableAction::DetachPartition(_) => {
            (None, Lock::ShareUpdateExclusive)
        }
        ast::AlterTableAction::EnableTrigger(_)
        | ast::AlterTableAction::DisableTrigger(_)
        | ast::AlterTableAction::EnableAlwaysTrigger(_)
        | ast::AlterTableAction::EnableReplicaTrigger(_) => (None, Lock::ShareRowExclusive),
        _ => (None, Lock::AccessExclusive),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<EffectKind> {
        of_text(sql).effects().map(|e| e.kind.clone()).collect()
    }

    #[test]
    fn alter_table_effects_and_locks() {
        let m = of_text(
            "ALTER TABLE public.Users ADD COLUMN email TEXT NOT NULL DEFAULT '', DROP COLUMN \"Old\";",
        );
        assert!(m.transactional);
        let s = &m.statements[0];
        assert_eq!(s.locks, vec![("users".to_string(), Lock::AccessExclusive)]);
        assert_eq!(
            kinds(
                "ALTER TABLE public.Users ADD COLUMN email TEXT NOT NULL DEFAULT '', DROP COLUMN \"Old\""
            ),
            vec![
                EffectKind::AddColumn {
                    table: "users".into(),
                    column: "email".into(),
                    ty: "text".into(),
                    not_null: true,
                    default: true
                },
                EffectKind::DropColumn {
                    table: "users".into(),
                    column: "Old".into()
                }
            ]
        );
    }

    #[test]
    fn indexes_and_transactions() {
        let m = of_text("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a, lower(b))");
        assert!(!m.transactional);
        assert_eq!(
            m.statements[0].locks,
            vec![("t".to_string(), Lock::ShareUpdateExclusive)]
        );
        match &m.statements[0].effects[0].kind {
            EffectKind::CreateIndex {
                columns,
                unique,
                concurrently,
                name,
                ..
            } => {
                assert_eq!(columns, &vec!["a".to_string(), "lower".into(), "b".into()]);
                assert!(*unique && *concurrently);
                assert_eq!(name.as_deref(), Some("i"));
            }
            k => panic!("{k:?}"),
        }
        assert!(!of_text("DROP INDEX CONCURRENTLY i").transactional);
        assert_eq!(
            of_text("CREATE INDEX i ON t (a)").statements[0].locks,
            vec![("t".to_string(), Lock::Share)]
        );
        // A comment or a string that says CONCURRENTLY is not a concurrent statement.
        assert!(of_text("-- CONCURRENTLY\nUPDATE t SET a = 'CONCURRENTLY'").transactional);
    }

    /// Each statement PostgreSQL refuses inside a transaction block, and the forms next to
    /// them it accepts (checked against a server in `tests/runtime_io/db_postgres.rs`).
    #[test]
    fn statements_refused_in_a_transaction_block() {
        for sql in [
            "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY",
            "ALTER TABLE ONLY public.p DETACH PARTITION p1 CONCURRENTLY",
            "CLUSTER",
            "CLUSTER VERBOSE",
            "CLUSTER (VERBOSE)",
            "REINDEX SCHEMA app",
            "REINDEX DATABASE app",
            "REINDEX SYSTEM app",
            "REINDEX SYSTEM",
            "REINDEX INDEX CONCURRENTLY i",
            "REINDEX TABLE CONCURRENTLY t",
            "REINDEX (CONCURRENTLY) TABLE t",
            "REINDEX (VERBOSE, CONCURRENTLY true) INDEX i",
            "CREATE INDEX CONCURRENTLY i ON t (a)",
            "DROP INDEX CONCURRENTLY i",
            "VACUUM t",
        ] {
            let m = of_text(sql);
            assert!(!m.transactional, "{sql}");
            assert!(m.statements[0].outside_transaction, "{sql}");
        }
        for sql in [
            "ALTER TABLE p DETACH PARTITION p1",
            "ALTER TABLE p DETACH PARTITION p1 FINALIZE",
            "CLUSTER t",
            "CLUSTER t USING i",
            "CLUSTER VERBOSE t USING i",
            "REINDEX TABLE t",
            "REINDEX INDEX i",
            "REINDEX (CONCURRENTLY false) TABLE t",
            "REINDEX (CONCURRENTLY off) INDEX i",
            "ANALYZE t",
            "ALTER TYPE mood ADD VALUE 'calm'",
        ] {
            let m = of_text(sql);
            assert!(m.transactional, "{sql}");
            assert!(!m.statements[0].outside_transaction, "{sql}");
        }
    }

    #[test]
    fn a_new_enum_value_used_in_the_same_text_needs_a_commit_first() {
        assert!(
            !of_text("ALTER TYPE mood ADD VALUE 'calm'; UPDATE t SET m = 'calm' WHERE m = 'sad'")
                .transactional
        );
        // Adding the value alone, or using another value, runs in a transaction.
        assert!(of_text("ALTER TYPE mood ADD VALUE 'calm'; UPDATE t SET m = 'sad'").transactional);
        assert!(of_text("UPDATE t SET m = 'calm'; ALTER TYPE mood ADD VALUE 'calm'").transactional);
    }

    #[test]
    fn constraints() {
        assert_eq!(
            kinds("ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id) NOT VALID"),
            vec![EffectKind::AddConstraint {
                table: "t".into(),
                name: Some("fk".into()),
                kind: ConstraintKind::ForeignKey,
                not_valid: true
            }]
        );
        let m = of_text("ALTER TABLE t VALIDATE CONSTRAINT fk");
        assert_eq!(
            m.statements[0].locks,
            vec![("t".to_string(), Lock::ShareUpdateExclusive)]
        );
    }

    #[test]
    fn dml() {
        assert_eq!(
            kinds("UPDATE users SET email_address = email WHERE email_address IS NULL"),
            vec![EffectKind::Dml {
                kind: DmlKind::Update,
                table: "users".into(),
                has_where: true,
                sets: vec!["email_address".into()],
                reads: vec!["email".into()],
            }]
        );
        assert!(matches!(
            &kinds("DELETE FROM t")[0],
            EffectKind::Dml {
                has_where: false,
                ..
            }
        ));
    }

    #[test]
    fn renames_and_types() {
        assert_eq!(
            kinds(
                "ALTER TABLE t RENAME COLUMN a TO b; ALTER TABLE t RENAME TO u; \
                 ALTER TABLE u ALTER COLUMN b TYPE varchar(10); \
                 ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'; CREATE TYPE e AS ENUM ('x', 'y')"
            ),
            vec![
                EffectKind::RenameColumn {
                    table: "t".into(),
                    from: "a".into(),
                    to: "b".into()
                },
                EffectKind::RenameTable {
                    from: "t".into(),
                    to: "u".into()
                },
                EffectKind::AlterColumnType {
                    table: "u".into(),
                    column: "b".into(),
                    ty: "varchar(10)".into()
                },
                EffectKind::RenameEnumValue {
                    ty: "mood".into(),
                    from: "sad".into(),
                    to: "blue".into()
                },
                EffectKind::CreateType {
                    name: "e".into(),
                    values: vec!["x".into(), "y".into()]
                },
            ]
        );
    }

    #[test]
    fn drops_and_renames_of_objects_other_than_tables() {
        use ObjectKind::*;
        assert_eq!(
            kinds(
                "ALTER TYPE address DROP ATTRIBUTE street; \
                 ALTER TYPE address RENAME ATTRIBUTE zip TO postal_code; \
                 ALTER FOREIGN TABLE ft DROP COLUMN a; DROP FOREIGN TABLE ft; \
                 ALTER VIEW v RENAME COLUMN a TO b; ALTER VIEW v RENAME TO w; \
                 ALTER MATERIALIZED VIEW mv RENAME COLUMN total TO amount; \
                 DROP VIEW w; DROP MATERIALIZED VIEW mv; \
                 CREATE VIEW v2 AS SELECT 1; CREATE OR REPLACE VIEW v3 AS SELECT 1"
            ),
            vec![
                EffectKind::DropMember {
                    kind: CompositeType,
                    object: "address".into(),
                    member: "street".into()
                },
                EffectKind::RenameMember {
                    kind: CompositeType,
                    object: "address".into(),
                    from: "zip".into(),
                    to: "postal_code".into()
                },
                EffectKind::DropMember {
                    kind: ForeignTable,
                    object: "ft".into(),
                    member: "a".into()
                },
                EffectKind::DropObject {
                    kind: ForeignTable,
                    name: "ft".into()
                },
                EffectKind::RenameMember {
                    kind: View,
                    object: "v".into(),
                    from: "a".into(),
                    to: "b".into()
                },
                EffectKind::RenameObject {
                    kind: View,
                    from: "v".into(),
                    to: "w".into()
                },
                EffectKind::RenameMember {
                    kind: MaterializedView,
                    object: "mv".into(),
                    from: "total".into(),
                    to: "amount".into()
                },
                EffectKind::DropObject {
                    kind: View,
                    name: "w".into()
                },
                EffectKind::DropObject {
                    kind: MaterializedView,
                    name: "mv".into()
                },
                EffectKind::CreateObject {
                    kind: View,
                    name: "v2".into()
                },
                // `OR REPLACE` may replace a view that exists: not known to be new.
                EffectKind::Other,
            ]
        );
    }

    #[test]
    fn widening() {
        assert!(is_widening("varchar(100)", "varchar(255)"));
        assert!(is_widening("varchar(100)", "text"));
        assert!(is_widening("int", "bigint"));
        assert!(!is_widening("varchar(255)", "varchar(100)"));
        assert!(!is_widening("bigint", "integer"));
        assert!(!is_widening("text", "varchar(10)"));
        assert!(!is_widening("numeric(10,2)", "numeric(12,3)"));
    }

    #[test]
    fn garbage_does_not_panic() {
        for sql in [
            "",
            ";;;",
            "ALTER TABLE",
            "CREATE INDEX ON",
            "UPDATE SET",
            "\u{0}",
        ] {
            let _ = of_text(sql);
        }
    }
}
