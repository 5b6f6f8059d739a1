//! SQL statement rules: every squawk rule, reported as `sql/<name>`.
//!
//! squawk runs on the `up` of every migration (see `crate::sql::lint`); this module turns its
//! findings into deployc diagnostics with spans in the `.deploy` string or the `.sql` file,
//! and adds what squawk cannot know because it lacks the plan:
//!
//! * rules about locking or rewriting a live table stay silent for tables created earlier in
//!   the same release (or in the same migration): they are new and empty;
//! * rules about removing or renaming what running code uses stay silent in a `contract`
//!   migration, which runs after the application deploy by construction; in the other
//!   phases M203 reports drops and renames of tables, views, materialized views, foreign
//!   tables, their columns and composite type attributes with the plan's context, and the
//!   `sql/` rule only when M203 is turned off or for a statement M203 does not model (an
//!   index or a sequence renamed);
//! * dropping a constraint or an index is not such a rule: the new version loses the
//!   guarantee or the index too, so `ban-drop-constraint` and `ban-drop-index` are reported
//!   in contracts as well;
//! * `prefer-robust-stmts` stays silent when the migration has an SQL `down`: the runtime
//!   reverts a failed migration with it, which clears what a half-run attempt left;
//! * the `down` SQL is linted too: a `down` that breaks a rule about live tables is reported
//!   once, as M212 (`unsafe-down`), not as `sql/…`; rules about old code and style do not
//!   apply to a `down`, which runs after traffic is back on the previous version.
//!
//! On SQLite databases (every environment's `database` is `sqlite`, or `[sql] dialect =
//! "sqlite"`) these rules do not run: they describe PostgreSQL.
//!
//! The table below is generated from squawk's rule list. Rules squawk leaves off by default
//! (opt-in) are `allow` here too; the timeout rules are never run (the runtime sets
//! `lock_timeout` and `statement_timeout` for every migration).

use std::sync::LazyLock;

use crate::diagnostics::{Diagnostic, Label};
use crate::lint::{Category, Context, Findings, Level, Rule, finding};
use crate::sql::lint::{SqlAnalysis, SqlViolation};
use crate::syntax::ast::{Migration, Phase, SqlSource};

/// How a rule relates to the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Locks, rewrites or scans a live, populated table (or fails on one).
    Live,
    /// Removes or renames something running code uses.
    Compat,
    /// Everything else: correctness and style of the statement itself.
    Other,
}

struct Info {
    name: &'static str,
    class: Class,
    why: &'static str,
    bad: &'static str,
    good: &'static str,
}

/// Rules whose drops and renames M203 reports with the plan's context outside contracts,
/// for the statements whose effect M203 knows (see [`covered_by_m203`]).
pub(crate) const M203_COVERS: &[&str] = &[
    "ban-drop-column",
    "ban-drop-table",
    "ban-drop-view",
    "renaming-column",
    "renaming-table",
    "renaming-object",
];

/// Whether M203 reports the statement of violation `v` itself: it drops or renames a table,
/// a column, a view, a foreign table or a composite type's attribute. squawk's rules also
/// cover objects M203 does not know (an index, a sequence, a constraint renamed): their
/// findings are kept, so that turning a finding over to M203 never loses it.
fn covered_by_m203(a: &SqlAnalysis, v: &SqlViolation) -> bool {
    a.model.statement_at(v.range.start).is_some_and(|s| {
        s.effects
            .iter()
            .any(|e| super::m203_destructive_outside_contract::knows(&e.kind))
    })
}

macro_rules! sql_rules {
    ($($f:ident $name:literal $class:ident $level:ident $summary:literal $why:literal $bad:literal $good:literal;)*) => {
        $(fn $f(ctx: &Context<'_>, out: &mut Findings) { report(ctx, out, $name) })*

        /// Every SQL statement rule, in squawk's order.
        pub(super) static SQL_RULES: &[Rule] = &[$(Rule {
            code: concat!("sql/", $name),
            name: $name,
            level: Level::$level,
            category: Category::Sql,
            summary: $summary,
            file: concat!("sql/", $name),
            check: $f,
        }),*];

        static INFO: &[Info] = &[$(Info {
            name: $name,
            class: Class::$class,
            why: $why,
            bad: $bad,
            good: $good,
        }),*];
    };
}

sql_rules! {
    adding_field_with_default "adding-field-with-default" Live Warn
        "a column added with a volatile default, which rewrites the table"
        "On PostgreSQL 11 and later a constant default is stored in the catalog, but a volatile default (such as `uuid()` or `random()`) is computed for every existing row: the table is rewritten under an `ACCESS EXCLUSIVE` lock and reads and writes wait until it finishes."
        "ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid();"
        "ALTER TABLE t ADD COLUMN c uuid;";
    adding_foreign_key_constraint "adding-foreign-key-constraint" Live Warn
        "a foreign key added and validated in one statement"
        "Adding a validated foreign key scans the whole table while holding a `SHARE ROW EXCLUSIVE` lock on both tables: writes to either table wait for the scan."
        "ALTER TABLE email ADD CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES users (id);"
        "ALTER TABLE email ADD CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;";
    adding_not_nullable_field "adding-not-nullable-field" Live Warn
        "`SET NOT NULL` on an existing column, which scans the table under an exclusive lock"
        "`SET NOT NULL` checks every row while holding an `ACCESS EXCLUSIVE` lock: reads and writes wait for the scan. A validated `CHECK (c IS NOT NULL)` constraint lets PostgreSQL 12 and later skip the scan."
        "ALTER TABLE t ALTER COLUMN c SET NOT NULL;"
        "ALTER TABLE t ADD CONSTRAINT c_not_null CHECK (c IS NOT NULL) NOT VALID;";
    adding_serial_primary_key_field "adding-serial-primary-key-field" Live Warn
        "a primary key added to an existing table by building its index under an exclusive lock"
        "Adding a primary key builds a unique index while the table is locked `ACCESS EXCLUSIVE`: reads and writes wait for the whole build."
        "ALTER TABLE a ADD COLUMN b SERIAL PRIMARY KEY;"
        "ALTER TABLE items ADD CONSTRAINT items_pk PRIMARY KEY USING INDEX items_pk;";
    adding_required_field "adding-required-field" Live Warn
        "a `NOT NULL` column added without a default"
        "Adding a `NOT NULL` column without a default fails on a table that has rows, and once it exists every insert that does not name it fails, including those of the version still running."
        "ALTER TABLE recipe ADD COLUMN public boolean NOT NULL;"
        "ALTER TABLE recipe ADD COLUMN public boolean;";
    ban_alter_domain_with_add_constraint "ban-alter-domain-with-add-constraint" Other Warn
        "a constraint added to a domain"
        "PostgreSQL checks a new domain constraint against every column of that domain in every table, under locks that block writes, and the check cannot be deferred."
        "ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (value > 0);"
        "ALTER DOMAIN positive SET NOT NULL;";
    ban_alter_generated_expression "ban-alter-generated-expression" Compat Allow
        "the expression of a generated column changed"
        "Changing a generated column's expression rewrites the table under an `ACCESS EXCLUSIVE` lock, and readers of the column see different values."
        "ALTER TABLE t ALTER COLUMN c SET EXPRESSION AS (id + 1);"
        "ALTER TABLE t ADD COLUMN d int;";
    ban_alter_identity "ban-alter-identity" Other Warn
        "an identity column added, changed or dropped"
        "Changing a column's identity changes how inserts get their values; code that relies on the old behaviour breaks, and the change locks the table."
        "ALTER TABLE t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;"
        "ALTER TABLE t ADD COLUMN d int;";
    ban_char_field "ban-char-field" Other Warn
        "a `char(n)` column"
        "`char(n)` pads values with spaces and is no faster than `text` or `varchar`; comparisons and lengths surprise."
        "CREATE TABLE t (id bigint, code char(100));"
        "CREATE TABLE t (id bigint, code text);";
    ban_concurrent_index_creation_in_transaction "ban-concurrent-index-creation-in-transaction" Other Warn
        "`CREATE INDEX CONCURRENTLY` inside an explicit transaction"
        "A concurrent index build cannot run inside a transaction block: the statement fails. deployc already runs a migration with `CONCURRENTLY` outside a transaction; a `BEGIN` written in the SQL puts it back inside one."
        "BEGIN; CREATE INDEX CONCURRENTLY i ON t (a); COMMIT;"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);";
    ban_create_domain_with_constraint "ban-create-domain-with-constraint" Other Warn
        "a domain created with a constraint"
        "Constraints on domains cannot be changed later without checking every column of the domain, which blocks writes; a table `CHECK` constraint can be added `NOT VALID` and validated without blocking."
        "CREATE DOMAIN positive AS numeric(15,5) CHECK (value > 0);"
        "CREATE DOMAIN amount AS numeric(15,5);";
    ban_disable_trigger "ban-disable-trigger" Other Allow
        "a trigger disabled"
        "Disabling a trigger silently skips what it enforces (audit rows, denormalised copies, foreign keys) for every writer until it is enabled again."
        "ALTER TABLE t DISABLE TRIGGER audit;"
        "ALTER TABLE t ADD COLUMN d int;";
    ban_drop_column "ban-drop-column" Compat Warn
        "a column dropped"
        "Code that still reads or writes the column fails as soon as it is gone. In a `contract` migration, which runs after the deploy, this is expected and not reported; in other phases M203 reports it with the plan's context, and this rule only when M203 is turned off."
        "ALTER TABLE t DROP COLUMN c;"
        "ALTER TABLE t ADD COLUMN d text;";
    ban_drop_constraint "ban-drop-constraint" Other Warn
        "a constraint dropped"
        "Dropping a constraint lets invalid data in at once, and rows written meanwhile may not satisfy it when it is added back. It is reported in a `contract` migration too: the contract runs after the deploy, when the previous version is gone, but the guarantee is lost for the new version as well."
        "ALTER TABLE t DROP CONSTRAINT t_check;"
        "ALTER TABLE t ADD COLUMN d text;";
    ban_drop_database "ban-drop-database" Other Warn
        "a database dropped"
        "Dropping a database from a migration destroys everything in it; nothing a rollback runs can bring it back."
        "DROP DATABASE analytics;"
        "CREATE TABLE t (id bigint);";
    ban_drop_default "ban-drop-default" Compat Warn
        "a column default dropped"
        "Inserts that rely on the default (those of the version still running) start writing `NULL` or fail on a `NOT NULL` column."
        "ALTER TABLE t ALTER COLUMN c DROP DEFAULT;"
        "ALTER TABLE t ALTER COLUMN c SET DEFAULT 0;";
    ban_drop_domain "ban-drop-domain" Compat Warn
        "a domain dropped"
        "Columns and functions that use the domain break, or are dropped with it under `CASCADE`."
        "DROP DOMAIN positive;"
        "CREATE DOMAIN amount AS numeric(15,5);";
    ban_drop_extension "ban-drop-extension" Other Warn
        "an extension dropped"
        "Dropping an extension removes its types, functions and operators; columns and indexes that use them break or are dropped with it."
        "DROP EXTENSION hstore;"
        "CREATE TABLE t (id bigint);";
    ban_drop_function "ban-drop-function" Compat Warn
        "a function or procedure dropped"
        "Code, triggers and views that call the function fail as soon as it is gone."
        "DROP FUNCTION f(int);"
        "CREATE TABLE t (id bigint);";
    ban_drop_generated_expression "ban-drop-generated-expression" Compat Warn
        "the expression of a generated column dropped"
        "The column stops being computed: rows written afterwards keep whatever is inserted, and readers that rely on the computed value get stale data."
        "ALTER TABLE t ALTER COLUMN c DROP EXPRESSION;"
        "ALTER TABLE t ADD COLUMN d int;";
    ban_drop_index "ban-drop-index" Other Allow
        "an index dropped"
        "Queries that used the index fall back to scans, which can overload the database; rebuilding it takes long. When turned on, it is reported in a `contract` migration too (`DROP INDEX CONCURRENTLY` included): the new version's queries lose the index as well."
        "DROP INDEX CONCURRENTLY IF EXISTS i;"
        "CREATE TABLE t (id bigint);";
    ban_drop_not_null "ban-drop-not-null" Other Warn
        "`NOT NULL` dropped from a column"
        "Readers that assume the column always has a value (the version still running, reports, exports) break on the first `NULL` written."
        "ALTER TABLE t ALTER COLUMN c DROP NOT NULL;"
        "ALTER TABLE t ADD COLUMN d text;";
    ban_drop_policy "ban-drop-policy" Compat Allow
        "a row-level security policy dropped"
        "Dropping a policy changes which rows each role can see or write, at once."
        "DROP POLICY p ON t;"
        "CREATE TABLE t (id bigint);";
    ban_drop_schema "ban-drop-schema" Compat Warn
        "a schema dropped"
        "Everything in the schema goes with it (or the statement fails); code that uses it breaks."
        "DROP SCHEMA reporting;"
        "CREATE SCHEMA reporting;";
    ban_drop_sequence "ban-drop-sequence" Compat Warn
        "a sequence dropped"
        "Columns whose default takes values from the sequence fail on insert."
        "DROP SEQUENCE s;"
        "CREATE SEQUENCE s;";
    ban_drop_table "ban-drop-table" Compat Warn
        "a table dropped"
        "Code that still uses the table fails as soon as it is gone. In a `contract` migration, which runs after the deploy, this is expected and not reported; in other phases M203 reports it with the plan's context, and this rule only when M203 is turned off."
        "DROP TABLE t;"
        "CREATE TABLE t (id bigint);";
    ban_drop_trigger "ban-drop-trigger" Compat Allow
        "a trigger dropped"
        "What the trigger enforced (audit rows, denormalised copies) stops for every writer."
        "DROP TRIGGER audit ON t;"
        "CREATE TABLE t (id bigint);";
    ban_drop_type "ban-drop-type" Compat Warn
        "a type dropped"
        "Columns and functions that use the type break, or are dropped with it under `CASCADE`."
        "DROP TYPE mood;"
        "CREATE TYPE mood AS ENUM ('happy', 'sad');";
    ban_drop_view "ban-drop-view" Compat Warn
        "a view dropped"
        "Code and reports that query the view fail as soon as it is gone. In a `contract` migration this is expected and not reported; in other phases M203 reports it with the plan's context, and this rule only when M203 is turned off."
        "DROP VIEW v;"
        "CREATE TABLE t (id bigint);";
    ban_duplicate_column_assignments "ban-duplicate-column-assignments" Other Warn
        "one column assigned twice in an `UPDATE`"
        "PostgreSQL rejects an `UPDATE` that sets the same column twice: the migration fails."
        "UPDATE k SET a = 1, a = 2 WHERE b = 1;"
        "UPDATE k SET a = 1, b = 2 WHERE b = 1;";
    ban_replace_view_function "ban-replace-view-function" Other Allow
        "a view or function replaced in place"
        "`CREATE OR REPLACE` changes what every caller gets at once, including the version still running."
        "CREATE OR REPLACE VIEW v AS SELECT 1 AS a;"
        "CREATE VIEW v2 AS SELECT 1 AS a;";
    ban_replica_identity "ban-replica-identity" Other Allow
        "the replica identity of a table changed, or a publication dropped"
        "Logical replication and change-data-capture consumers depend on the replica identity; changing it breaks or silently changes what they receive."
        "DROP PUBLICATION p;"
        "CREATE TABLE t (id bigint);";
    ban_revoke "ban-revoke" Other Allow
        "a privilege revoked"
        "Roles the running application uses lose access at once."
        "REVOKE SELECT ON t FROM app;"
        "GRANT SELECT ON t TO app;";
    ban_set_default "ban-set-default" Other Allow
        "a column default set or changed"
        "Inserts that omit the column start getting a different value at once, including those of the version still running."
        "ALTER TABLE t ALTER COLUMN c SET DEFAULT 0;"
        "ALTER TABLE t ADD COLUMN d int;";
    ban_set_schema "ban-set-schema" Compat Warn
        "an object moved to another schema"
        "Code that names the object by its old schema, or relies on the search path, stops finding it."
        "ALTER TABLE t SET SCHEMA archive;"
        "CREATE TABLE t (id bigint);";
    ban_truncate_cascade "ban-truncate-cascade" Other Warn
        "`TRUNCATE … CASCADE`"
        "`CASCADE` also empties every table that references the truncated ones, which is rarely what was meant."
        "TRUNCATE a CASCADE;"
        "TRUNCATE a;";
    ban_uncommitted_transaction "ban-uncommitted-transaction" Other Warn
        "a `BEGIN` without a matching `COMMIT`"
        "The transaction is left open: the changes are lost or the locks are held until the connection ends."
        "BEGIN; CREATE TABLE t (id bigint);"
        "CREATE TABLE t (id bigint);";
    changing_column_type "changing-column-type" Live Warn
        "a column's type changed"
        "Most type changes rewrite the table and its indexes under an `ACCESS EXCLUSIVE` lock: reads and writes wait for the rewrite."
        "ALTER TABLE t ALTER COLUMN c TYPE bigint;"
        "ALTER TABLE t ADD COLUMN c_big bigint;";
    constraint_missing_not_valid "constraint-missing-not-valid" Live Warn
        "a constraint added without `NOT VALID`, or validated in the transaction that added it"
        "Adding a validated constraint scans the table while holding a lock that blocks writes. Adding it `NOT VALID` is instant, and `VALIDATE CONSTRAINT` in a later transaction scans without blocking writes."
        "ALTER TABLE t ADD CONSTRAINT positive CHECK (amount > 0);"
        "ALTER TABLE t ADD CONSTRAINT positive CHECK (amount > 0) NOT VALID;";
    disallowed_unique_constraint "disallowed-unique-constraint" Live Warn
        "a unique constraint added by building its index under an exclusive lock"
        "Adding a `UNIQUE` constraint builds its index while the table is locked `ACCESS EXCLUSIVE`: reads and writes wait for the build."
        "ALTER TABLE t ADD CONSTRAINT t_email_key UNIQUE (email);"
        "ALTER TABLE t ADD CONSTRAINT t_email_key UNIQUE USING INDEX t_email_idx;";
    identifier_too_long "identifier-too-long" Other Warn
        "an identifier longer than PostgreSQL keeps"
        "PostgreSQL truncates identifiers to 63 bytes, so the object gets a different name than written and later migrations that use the written name fail."
        "CREATE TABLE table_very_long_very_long_very_long_very_long_very_long_very_long (id bigint);"
        "CREATE TABLE short_name (id bigint);";
    prefer_bigint_over_int "prefer-bigint-over-int" Other Warn
        "an `integer` column where `bigint` avoids overflow"
        "A 32-bit key runs out at about two billion; changing the type later rewrites the table under an exclusive lock."
        "CREATE TABLE t (id int);"
        "CREATE TABLE t (id bigint);";
    prefer_bigint_over_smallint "prefer-bigint-over-smallint" Other Warn
        "a `smallint` column where `bigint` avoids overflow"
        "A 16-bit column runs out at 32,767; changing the type later rewrites the table under an exclusive lock."
        "CREATE TABLE t (id smallint);"
        "CREATE TABLE t (id bigint);";
    prefer_identity "prefer-identity" Other Warn
        "a `serial` column where an identity column is clearer"
        "`serial` creates a sequence with separate ownership and permissions; identity columns are the SQL-standard form and behave better on copy and restore."
        "CREATE TABLE t (id bigserial);"
        "CREATE TABLE t (id bigint GENERATED BY DEFAULT AS IDENTITY);";
    prefer_repack "prefer-repack" Other Warn
        "`VACUUM FULL` or `CLUSTER`, which rewrite a table under an exclusive lock"
        "Both rewrite the table while holding an `ACCESS EXCLUSIVE` lock for the whole rewrite. PostgreSQL 19's `REPACK (CONCURRENTLY)` does the same work without blocking reads and writes; the rule applies when `[sql] postgres_version` is 19 or later."
        "VACUUM FULL t;"
        "VACUUM t;";
    prefer_robust_stmts "prefer-robust-stmts" Other Warn
        "a statement that fails when run a second time, in a migration that runs outside a transaction"
        "A migration that runs outside a transaction (it has a statement PostgreSQL refuses inside a transaction block: `CONCURRENTLY`, `VACUUM`, `CLUSTER` without a table, `REINDEX SCHEMA`, `DATABASE` or `SYSTEM`; or it uses an enum value it adds) can fail half-way; running it again then fails on what the first attempt created. deployc reports this only when the migration has no SQL `down`: the runtime reverts a failed migration with its `down`, which clears what the first attempt left."
        "CREATE INDEX CONCURRENTLY i ON t (a);"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);";
    prefer_text_field "prefer-text-field" Other Warn
        "a `varchar(n)` column, whose length limit is costly to change"
        "Changing the length limit of a `varchar(n)` later rewrites or rescans the table under an `ACCESS EXCLUSIVE` lock; `text` with a `CHECK` constraint can be changed without one."
        "CREATE TABLE t (id bigint, name varchar(100));"
        "CREATE TABLE t (id bigint, name text);";
    prefer_timestamp_tz "prefer-timestamp-tz" Other Warn
        "a `timestamp` column without time zone"
        "`timestamp without time zone` stores wall-clock times whose meaning depends on the writer's time zone; comparisons across zones and daylight-saving changes go wrong."
        "CREATE TABLE t (id bigint, created_at timestamp);"
        "CREATE TABLE t (id bigint, created_at timestamptz);";
    renaming_column "renaming-column" Compat Warn
        "a column renamed"
        "Code that uses the old name fails as soon as the rename runs. In a `contract` migration this is expected and not reported; in other phases M203 reports it with the plan's context, and this rule only when M203 is turned off."
        "ALTER TABLE t RENAME COLUMN a TO b;"
        "ALTER TABLE t ADD COLUMN b text;";
    renaming_object "renaming-object" Compat Warn
        "an object other than a table or column renamed"
        "Code that uses the old name of the index, type, sequence or function fails as soon as the rename runs. In a `contract` migration this is expected and not reported; outside contracts, M203 reports views, materialized views and foreign tables renamed, and this rule the other objects (or all of them when M203 is turned off)."
        "ALTER SEQUENCE s RENAME TO s2;"
        "CREATE SEQUENCE s2;";
    renaming_table "renaming-table" Compat Warn
        "a table renamed"
        "Code that uses the old name fails as soon as the rename runs. In a `contract` migration this is expected and not reported; in other phases M203 reports it with the plan's context, and this rule only when M203 is turned off."
        "ALTER TABLE t RENAME TO u;"
        "CREATE TABLE u (id bigint);";
    require_concurrent_index_creation "require-concurrent-index-creation" Live Warn
        "an index built without `CONCURRENTLY` on a table that already exists"
        "A plain `CREATE INDEX` holds a `SHARE` lock for the whole build: every write to the table waits. Tables created earlier in the same release are new and empty, and are not reported."
        "CREATE INDEX i ON t (a);"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);";
    require_concurrent_index_deletion "require-concurrent-index-deletion" Live Warn
        "an index dropped without `CONCURRENTLY`"
        "A plain `DROP INDEX` takes an `ACCESS EXCLUSIVE` lock on the table: reads and writes wait, and so does everything queued behind them."
        "DROP INDEX i;"
        "DROP INDEX CONCURRENTLY IF EXISTS i;";
    require_concurrent_partition_detach "require-concurrent-partition-detach" Live Warn
        "a partition detached without `CONCURRENTLY`"
        "Detaching a partition without `CONCURRENTLY` takes an `ACCESS EXCLUSIVE` lock on the parent table."
        "ALTER TABLE measurements DETACH PARTITION measurements_2020;"
        "ALTER TABLE measurements DETACH PARTITION measurements_2020 CONCURRENTLY;";
    require_concurrent_reindex "require-concurrent-reindex" Live Warn
        "an index rebuilt without `CONCURRENTLY`"
        "`REINDEX` without `CONCURRENTLY` blocks writes to the table (and reads that use the index) for the whole rebuild."
        "REINDEX INDEX i;"
        "REINDEX INDEX CONCURRENTLY i;";
    require_enum_value_ordering "require-enum-value-ordering" Other Warn
        "an enum value added without `BEFORE` or `AFTER`"
        "The new value's position decides how the enum sorts; leaving it implicit puts it last, which is often not the order the code expects."
        "ALTER TYPE mood ADD VALUE 'calm';"
        "ALTER TYPE mood ADD VALUE 'calm' AFTER 'happy';";
    require_table_schema "require-table-schema" Other Allow
        "a table named without its schema"
        "An unqualified name resolves through the search path of whoever runs the migration; with several schemas the table may land in the wrong one."
        "CREATE TABLE t (id bigint);"
        "CREATE TABLE public.t (id bigint);";
    transaction_nesting "transaction-nesting" Other Warn
        "`BEGIN` or `COMMIT` inside a migration that already runs in a transaction"
        "deployc runs a migration without `CONCURRENTLY` in a transaction of its own; a `BEGIN` inside it only warns, and a `COMMIT` ends deployc's transaction early, so a failure after it can no longer be rolled back."
        "BEGIN; ALTER TABLE t ADD COLUMN c text; COMMIT;"
        "ALTER TABLE t ADD COLUMN c text;";
    ban_create_policy "ban-create-policy" Other Allow
        "a row-level security policy created"
        "A new policy changes which rows each role can see or write, at once, for the version still running too."
        "CREATE POLICY p ON t USING (true);"
        "CREATE TABLE t (id bigint);";
    ban_alter_policy_condition "ban-alter-policy-condition" Other Allow
        "the condition of a row-level security policy changed"
        "Changing a policy's condition changes which rows each role can see or write, at once."
        "ALTER POLICY p ON t USING (owner = current_user);"
        "CREATE TABLE t (id bigint);";
    ban_alter_policy_roles "ban-alter-policy-roles" Other Allow
        "the roles of a row-level security policy changed"
        "Changing a policy's roles changes who can see or write which rows, at once."
        "ALTER POLICY p ON t TO app;"
        "CREATE TABLE t (id bigint);";
    ban_alter_function_options "ban-alter-function-options" Other Allow
        "the options of a function or procedure changed"
        "Changing a function's volatility, security or configuration changes the behaviour of every caller at once."
        "ALTER FUNCTION f(int) SECURITY DEFINER;"
        "CREATE TABLE t (id bigint);";
    ban_alter_view_options "ban-alter-view-options" Other Allow
        "the options of a view changed"
        "Changing `security_barrier` or `check_option` changes what callers see or may write through the view, at once."
        "ALTER VIEW v SET (security_barrier = true);"
        "CREATE TABLE t (id bigint);";
    ban_alter_role_options "ban-alter-role-options" Other Allow
        "the options of a role changed"
        "Changing a role's attributes or settings changes what every session of that role may do, at once."
        "ALTER ROLE app NOSUPERUSER;"
        "CREATE TABLE t (id bigint);";
    ban_alter_database_options "ban-alter-database-options" Other Allow
        "the options of a database changed"
        "Database settings apply to every new session, including those of the version still running."
        "ALTER DATABASE app SET statement_timeout = '5s';"
        "CREATE TABLE t (id bigint);";
    ban_alter_system_options "ban-alter-system-options" Other Allow
        "a server setting changed with `ALTER SYSTEM`"
        "`ALTER SYSTEM` changes the whole server's configuration, outside any migration's rollback."
        "ALTER SYSTEM SET work_mem = '64MB';"
        "CREATE TABLE t (id bigint);";
    ban_alter_extension "ban-alter-extension" Other Allow
        "an extension updated or a member removed from it"
        "Updating an extension changes the functions and types every caller uses, at once, and is not undone by a rollback of the application."
        "ALTER EXTENSION hstore UPDATE TO '1.8';"
        "CREATE TABLE t (id bigint);";
    ban_alter_row_level_security "ban-alter-row-level-security" Other Allow
        "row-level security enabled, disabled or forced on a table"
        "Turning row-level security on or off changes which rows every role can see or write, at once."
        "ALTER TABLE t ENABLE ROW LEVEL SECURITY;"
        "CREATE TABLE t (id bigint);";
    ban_new_write_restriction "ban-new-write-restriction" Other Allow
        "a new restriction on what writers may store"
        "A new constraint or unique index rejects writes the version still running makes."
        "ALTER TABLE t ADD CONSTRAINT positive CHECK (amount > 0) NOT VALID;"
        "CREATE TABLE t (id bigint);";
    ban_add_enum_value "ban-add-enum-value" Other Allow
        "a value added to an existing enum"
        "Readers that switch over the enum's values (the version still running, consumers of exported data) may not handle the new one."
        "ALTER TYPE mood ADD VALUE 'calm' AFTER 'happy';"
        "CREATE TYPE mood AS ENUM ('happy', 'sad');";
    ban_add_composite_attribute "ban-add-composite-attribute" Other Allow
        "an attribute added to an existing composite type"
        "Code that reads the composite type positionally or serialises it breaks on the new attribute."
        "ALTER TYPE address ADD ATTRIBUTE zip text;"
        "CREATE TABLE t (id bigint);";
    ban_add_column "ban-add-column" Other Allow
        "a column added to an existing table"
        "Code that uses `SELECT *` or positional inserts changes behaviour when a column appears; this rule is for schemas that other systems read directly."
        "ALTER TABLE t ADD COLUMN c text;"
        "CREATE TABLE t (id bigint);";
    ban_detach_inheritance "ban-detach-inheritance" Other Allow
        "a table removed from its inheritance parent"
        "Queries on the parent stop seeing the child's rows at once."
        "ALTER TABLE child NO INHERIT parent;"
        "CREATE TABLE t (id bigint);";
    ban_alter_sequence_values "ban-alter-sequence-values" Other Allow
        "the values of an existing sequence changed"
        "Restarting or changing a sequence's increment or bounds can hand out values already used, or stop handing out values."
        "ALTER SEQUENCE s RESTART WITH 1;"
        "CREATE SEQUENCE s;";
}

fn info(name: &str) -> Option<&'static Info> {
    INFO.iter().find(|i| i.name == name)
}

/// The class of a squawk rule (`Other` for a name not in the table).
pub(crate) fn class(name: &str) -> Class {
    info(name).map_or(Class::Other, |i| i.class)
}

static DOCS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    SQL_RULES
        .iter()
        .filter_map(|r| {
            let i = info(r.name)?;
            Some((
                r.file.to_string(),
                format!(
                    "## What it does\nFlags {}.\n\n## Why is this bad?\n{}\n\nThis rule is squawk's \
                     [`{}`](https://squawkhq.com/docs/{}), run with the transaction mode the \
                     runtime uses for the migration.\n\n## Example\n```sql\n{}\n```\n\n## Use \
                     instead\n```sql\n{}\n```",
                    r.summary, i.why, r.name, r.name, i.bad, i.good
                ),
            ))
        })
        .collect()
});

/// The documentation of the SQL rule whose `file` is `file`.
pub(super) fn doc(file: &str) -> Option<&'static str> {
    DOCS.iter()
        .find(|(f, _)| f == file)
        .map(|(_, d)| d.as_str())
}

/// squawk's sentence in deployc's style: first letter lowercase (unless an acronym), no
/// final period.
pub(crate) fn styled(text: &str) -> String {
    let t = text.trim().trim_end_matches('.');
    let mut chars = t.chars();
    match (chars.next(), chars.clone().next()) {
        (Some(c), Some(n)) if !n.is_uppercase() => c.to_lowercase().chain(chars).collect(),
        _ => t.to_string(),
    }
}

/// squawk's message split into its first sentence (the finding) and the rest (a note).
pub(crate) fn split_message(text: &str) -> (String, Option<String>) {
    match text.trim().split_once(". ") {
        Some((first, rest)) => (styled(first), Some(styled(rest))),
        None => (styled(text), None),
    }
}

/// Where a violation's SQL runs, for [`on_new_table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The `up`: a table is new when the statements before the violation's created it.
    Up,
    /// The `down`: it runs after the whole `up`.
    Down,
}

/// Whether every table the statement at the violation touches is new in this release.
pub(crate) fn on_new_table(
    ctx: &Context<'_>,
    m: &Migration,
    a: &SqlAnalysis,
    v: &SqlViolation,
    side: Side,
) -> bool {
    let Some(index) = a.model.statement_index_at(v.range.start) else {
        return false;
    };
    let Some(stmt) = a.model.statements.get(index) else {
        return false;
    };
    let mut tables = stmt
        .effects
        .iter()
        .filter_map(|e| e.kind.table())
        .peekable();
    if tables.peek().is_none() {
        return false;
    }
    tables.all(|t| match side {
        Side::Up => ctx.is_new_at(m, index, t),
        Side::Down => ctx.is_new_after(m, t),
    })
}

/// The diagnostic for one squawk finding in `src`.
pub(crate) fn diagnostic(
    ctx: &Context<'_>,
    src: &SqlSource,
    v: &SqlViolation,
    message: String,
    label: String,
) -> Diagnostic {
    let (first, rest) = split_message(&message);
    let mut d = finding(first, ctx.sql_span(src, &v.range), label);
    if let Some(rest) = rest {
        d = d.with_note(rest);
    }
    if let Some(file_ref) = ctx.sql_file_ref(src) {
        d = d.with_label(Label::secondary(file_ref, "SQL from this file"));
    }
    if v.rule == "transaction-nesting" {
        // squawk's help names its own settings; deployc's transaction is not optional.
        d = d.with_help(
            "remove `BEGIN` and `COMMIT`: the runtime runs this migration in a transaction of its own",
        );
    } else if let Some(h) = &v.help {
        d = d.with_help(styled(h));
    }
    d
}

fn report(ctx: &Context<'_>, out: &mut Findings, name: &str) {
    let Some(info) = info(name) else { return };
    let m203_on =
        crate::lint::find_rule("M203").is_some_and(|r| ctx.config.level(r) != Level::Allow);
    // Only the texts of the release to ship are linted (see `Context::analysis`): the other
    // releases have no findings, and looking each of their texts up once per SQL rule was
    // most of these rules' cost on a long history.
    let to_ship = ctx.release_to_ship();
    for (_, release) in ctx
        .names
        .releases()
        .filter(|(_, r)| Some(&r.version.value) == to_ship.as_ref())
    {
        for m in &release.migrations {
            let Some((src, _)) = m.up.first() else {
                continue;
            };
            let Some(a) = ctx.analysis(src) else { continue };
            for v in a.violations.iter().filter(|v| v.rule == name) {
                let contract = m.phase.value == Phase::Contract;
                if info.class == Class::Compat && contract {
                    continue;
                }
                if !contract && m203_on && M203_COVERS.contains(&name) && covered_by_m203(a, v) {
                    continue;
                }
                if info.class == Class::Live && on_new_table(ctx, m, a, v, Side::Up) {
                    continue;
                }
                if name == "prefer-robust-stmts" && ctx.down(m).is_some() {
                    continue;
                }
                out.report(diagnostic(
                    ctx,
                    src,
                    v,
                    v.message.clone(),
                    format!("in the `up` of `{}`", m.name.name),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_covers_every_squawk_rule() {
        for r in enum_iterator::all::<squawk_linter::Rule>() {
            let name = r.to_string();
            if crate::sql::lint::NEVER.contains(&name.as_str()) {
                continue;
            }
            let rule = SQL_RULES
                .iter()
                .find(|x| x.name == name)
                .unwrap_or_else(|| panic!("squawk rule `{name}` is not in the table"));
            // squawk's opt-in rules are `allow` here; every other one is `warn`.
            let expected = if r.is_opt_in() {
                Level::Allow
            } else {
                Level::Warn
            };
            assert_eq!(rule.level, expected, "{name}");
        }
    }

    #[test]
    fn messages_in_deployc_style() {
        assert_eq!(
            styled("Dropping a column may break clients."),
            "dropping a column may break clients"
        );
        assert_eq!(styled("SQL is fine."), "SQL is fine");
    }
}
