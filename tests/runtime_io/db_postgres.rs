//! Against the machine's PostgreSQL server (`DEPLOYC_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`). Each test works in its own schema. Without a
//! server the tests skip, unless `DEPLOYC_REQUIRE_POSTGRES=1`.

use deployc::runtime::db::{
    Applied, DbError, Migration, Postgres, PostgresOptions, Retry, Reverted,
};
use std::time::Duration;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

struct Pg {
    url: String,
    schema: String,
    admin: tokio_postgres::Client,
}

impl Pg {
    async fn db(&self) -> Postgres {
        self.db_with(PostgresOptions::default()).await
    }

    async fn db_with(&self, options: PostgresOptions) -> Postgres {
        Postgres::connect_with(
            &self.url,
            PostgresOptions {
                schema: Some(self.schema.clone()),
                ..options
            },
        )
        .await
        .unwrap()
    }

    async fn count(&self, sql: &str) -> i64 {
        let sql = sql.replace("S.", &format!("{}.", self.schema));
        self.admin.query_one(&sql, &[]).await.unwrap().get(0)
    }

    async fn drop_schema(&self) {
        let _ = self
            .admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .await;
    }
}

/// Connects and creates a fresh schema for `test`, or says why the test is skipped.
async fn pg(test: &str) -> Option<Pg> {
    let url = std::env::var("DEPLOYC_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.into());
    let required = std::env::var("DEPLOYC_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let connect = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_postgres::connect(&url, tokio_postgres::NoTls),
    )
    .await;
    let (admin, connection) = match connect {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return skip(required, &format!("cannot connect to {url}: {e}")),
        Err(_) => return skip(required, &format!("no answer from {url}")),
    };
    tokio::spawn(async move {
        let _ = connection.await;
    });
    // Per process: two checkouts testing against one server at once must not meet.
    let schema = format!("deployc_test_{test}_{}", std::process::id());
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await
        .unwrap();
    Some(Pg { url, schema, admin })
}

fn skip<T>(required: bool, why: &str) -> Option<T> {
    assert!(!required, "DEPLOYC_REQUIRE_POSTGRES=1 but {why}");
    eprintln!("skipped: {why} (set DEPLOYC_REQUIRE_POSTGRES=1 to make this an error)");
    None
}

fn migration(name: &str, up: &str, down: Option<&str>) -> Migration {
    Migration {
        name: name.into(),
        release: "2.0.0".into(),
        phase: "expand".into(),
        up: up.into(),
        down: down.map(str::to_string),
        ..Migration::default()
    }
}

#[tokio::test]
async fn pg_exactly_once_across_a_dropped_connection() {
    let Some(pg) = pg("once").await else { return };
    let m = migration(
        "create_orders",
        "CREATE TABLE orders (id serial PRIMARY KEY, note text DEFAULT 'a;b');\nINSERT INTO orders (note) VALUES ($$x; y$$);",
        Some("DROP TABLE orders;"),
    );
    {
        let db = pg.db().await;
        assert_eq!(
            db.apply(&m).await.unwrap(),
            Applied::Now {
                transactional: true,
                attempts: 1
            }
        );
        // The connection goes away here, as in a crash right after the commit.
    }
    let db = pg.db().await;
    assert!(matches!(db.apply(&m).await.unwrap(), Applied::Already(_)));
    assert_eq!(pg.count("SELECT count(*) FROM S.orders").await, 1);
    let ledger = db.ledger().await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].checksum, m.checksum());
    assert!(ledger[0].applied_at.ends_with('Z'));

    let mut changed = m.clone();
    changed.up = changed.up.replace("x; y", "z");
    assert!(matches!(
        db.apply(&changed).await,
        Err(DbError::ChecksumMismatch { .. })
    ));
    assert_eq!(pg.count("SELECT count(*) FROM S.orders").await, 1);
    pg.drop_schema().await;
}

#[tokio::test]
async fn pg_failing_migration_is_rolled_back_without_ledger_row() {
    let Some(pg) = pg("fail").await else { return };
    let db = pg.db().await;
    let m = migration(
        "broken",
        "CREATE TABLE half (a int);\nINSERT INTO missing_table VALUES (1);",
        None,
    );
    match db.apply(&m).await {
        Err(DbError::Statement {
            statement,
            committed,
            message,
            ..
        }) => {
            assert_eq!((statement, committed), (2, 0));
            assert!(message.contains("missing_table"), "{message}");
        }
        other => panic!("expected a statement error: {other:?}"),
    }
    assert!(db.ledger().await.unwrap().is_empty());
    assert_eq!(
        pg.count(&format!(
            "SELECT count(*) FROM pg_tables WHERE schemaname = '{}' AND tablename = 'half'",
            pg.schema
        ))
        .await,
        0
    );
    pg.drop_schema().await;
}

#[tokio::test]
async fn pg_concurrent_index_runs_outside_a_transaction() {
    let Some(pg) = pg("concurrently").await else {
        return;
    };
    let db = pg.db().await;
    db.apply(&migration(
        "t",
        "CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 100);",
        None,
    ))
    .await
    .unwrap();
    let m = migration(
        "index_t",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a ON t (a);",
        Some("DROP INDEX CONCURRENTLY IF EXISTS t_a;"),
    );
    assert_eq!(
        db.apply(&m).await.unwrap(),
        Applied::Now {
            transactional: false,
            attempts: 1
        }
    );
    let valid = format!(
        "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relname = 't_a' AND n.nspname = '{}' AND i.indisvalid",
        pg.schema
    );
    assert_eq!(pg.count(&valid).await, 1);
    assert!(matches!(db.apply(&m).await.unwrap(), Applied::Already(_)));
    assert!(matches!(
        db.revert(&m).await.unwrap(),
        Reverted::Now {
            transactional: false,
            ..
        }
    ));
    assert_eq!(pg.count(&valid).await, 0);
    // The session settings were reset and the advisory lock released: a transactional
    // migration still works on the same connection.
    db.apply(&migration("u", "CREATE TABLE u (a int);", None))
        .await
        .unwrap();
    pg.drop_schema().await;
}

#[tokio::test]
async fn pg_revert_sets_reverted_at() {
    let Some(pg) = pg("revert").await else { return };
    let db = pg.db().await;
    let m = migration("col", "CREATE TABLE r (a int);", Some("DROP TABLE r;"));
    db.apply(&m).await.unwrap();
    assert!(matches!(
        db.revert(&m).await.unwrap(),
        Reverted::Now {
            transactional: true,
            ..
        }
    ));
    let ledger = db.ledger().await.unwrap();
    assert!(ledger[0].reverted_at.is_some());
    assert!(matches!(db.revert(&m).await.unwrap(), Reverted::Already(_)));
    assert!(matches!(db.apply(&m).await.unwrap(), Applied::Now { .. }));
    assert!(db.ledger().await.unwrap()[0].reverted_at.is_none());
    pg.drop_schema().await;
}

#[tokio::test]
async fn pg_lock_timeout_is_retried_then_reported() {
    let Some(pg) = pg("locks").await else { return };
    let options = PostgresOptions {
        lock_timeout: Duration::from_millis(100),
        retry: Retry {
            attempts: 20,
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
        },
        ..PostgresOptions::default()
    };
    let db = pg.db_with(options.clone()).await;
    db.apply(&migration("t", "CREATE TABLE l (a int);", None))
        .await
        .unwrap();

    // Another session holds the table for a while.
    let (holder, connection) = tokio_postgres::connect(&pg.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    holder
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE {}.l IN ACCESS EXCLUSIVE MODE",
            pg.schema
        ))
        .await
        .unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        holder.batch_execute("COMMIT").await.unwrap();
        holder
    });
    match db
        .apply(&migration("add_b", "ALTER TABLE l ADD COLUMN b int;", None))
        .await
        .unwrap()
    {
        Applied::Now { attempts, .. } => assert!(attempts > 1, "attempts {attempts}"),
        other => panic!("{other:?}"),
    }
    let holder = release.await.unwrap();

    // Held for good: the attempts run out.
    holder
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE {}.l IN ACCESS EXCLUSIVE MODE",
            pg.schema
        ))
        .await
        .unwrap();
    let short = pg
        .db_with(PostgresOptions {
            retry: Retry {
                attempts: 2,
                ..options.retry
            },
            ..options
        })
        .await;
    match short
        .apply(&migration("add_c", "ALTER TABLE l ADD COLUMN c int;", None))
        .await
    {
        Err(DbError::LockTimeout { attempts, .. }) => assert_eq!(attempts, 2),
        other => panic!("expected a lock timeout: {other:?}"),
    }
    holder.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(short.ledger().await.unwrap().len(), 2);
    pg.drop_schema().await;
}

#[tokio::test]
async fn pg_statement_timeout() {
    let Some(pg) = pg("stmt_timeout").await else {
        return;
    };
    let db = pg
        .db_with(PostgresOptions {
            statement_timeout: Duration::from_millis(200),
            ..PostgresOptions::default()
        })
        .await;
    let m = migration("slow", "CREATE TABLE s (a int);\nSELECT pg_sleep(5);", None);
    match db.apply(&m).await {
        Err(DbError::StatementTimeout { statement, .. }) => assert_eq!(statement, 2),
        other => panic!("expected a statement timeout: {other:?}"),
    }
    assert!(db.ledger().await.unwrap().is_empty());
    pg.drop_schema().await;
}

#[tokio::test]
async fn pg_dump_backup_is_verified_and_restores() {
    let Some(pg) = pg("backup").await else { return };
    let db = pg.db().await;
    db.apply(&migration(
        "seed",
        "CREATE TABLE b (a int); INSERT INTO b VALUES (1), (2), (3);",
        None,
    ))
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backup = match db
        .backup(&dir.path().join("run/before-contract.dump"))
        .await
    {
        Ok(b) => b,
        Err(e @ DbError::ToolMissing { .. }) => {
            assert!(
                std::env::var("DEPLOYC_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "{e}"
            );
            eprintln!("skipped: {e}");
            pg.drop_schema().await;
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert!(backup.bytes > 0);
    assert!(backup.verified.ends_with("entries"), "{}", backup.verified);
    db.apply(&migration("contract", "DROP TABLE b;", None))
        .await
        .unwrap();
    db.restore(&backup.path).await.unwrap();
    assert_eq!(pg.count("SELECT count(*) FROM S.b").await, 3);
    pg.drop_schema().await;
}

#[tokio::test]
async fn pg_unreachable_server_is_a_connect_error_without_password() {
    let err = Postgres::connect_with(
        "postgres://app:hunter2secret@127.0.0.1:1/none",
        PostgresOptions {
            connect_timeout: Duration::from_secs(2),
            ..PostgresOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DbError::Connect(_)));
    assert!(!err.to_string().contains("hunter2secret"), "{err}");
}

/// The objects the statements below work on, in the test's schema.
const REFUSED_SETUP: &str = "CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 100);
     CREATE INDEX i ON t (a);
     CREATE TABLE p (a int) PARTITION BY RANGE (a);
     CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);
     CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (10) TO (20);
     CREATE TYPE mood AS ENUM ('sad', 'happy');
     CREATE TABLE feelings (m mood);";

/// Every statement kind PostgreSQL refuses inside a transaction block, applied through the
/// runtime's migration path: each must succeed, statement by statement. `REINDEX DATABASE`
/// and `REINDEX SYSTEM` are not run for real (they reindex every schema of the shared test
/// database, other runs' included, and lock their tables); the model check below covers them.
#[tokio::test]
async fn pg_statements_refused_in_a_transaction_block_are_applied() {
    let Some(pg) = pg("refused").await else {
        return;
    };
    let db = pg.db().await;
    db.apply(&migration("setup", REFUSED_SETUP, None))
        .await
        .unwrap();
    let cases = [
        ("create_index", "CREATE INDEX CONCURRENTLY i2 ON t (a);"),
        ("drop_index", "DROP INDEX CONCURRENTLY i2;"),
        ("reindex_index", "REINDEX INDEX CONCURRENTLY i;"),
        ("reindex_table", "REINDEX (CONCURRENTLY) TABLE t;"),
        ("reindex_schema", "REINDEX SCHEMA {schema};"),
        ("detach", "ALTER TABLE p DETACH PARTITION p2 CONCURRENTLY;"),
        ("vacuum", "VACUUM t;"),
        ("cluster_all", "CLUSTER t USING i;\nCLUSTER;"),
        (
            "enum_value",
            "ALTER TYPE mood ADD VALUE 'calm' AFTER 'sad';\nINSERT INTO feelings VALUES ('calm');",
        ),
    ];
    for (name, up) in cases {
        let up = up.replace("{schema}", &pg.schema);
        match db.apply(&migration(name, &up, None)).await {
            Ok(applied) => assert_eq!(
                applied,
                Applied::Now {
                    transactional: false,
                    attempts: 1
                },
                "{up}"
            ),
            Err(e) => panic!("{up}: {e}"),
        }
    }
    assert_eq!(
        pg.count("SELECT count(*) FROM S.feelings WHERE m = 'calm'")
            .await,
        1
    );
    assert_eq!(
        pg.count("SELECT count(*) FROM pg_inherits WHERE inhparent = 'S.p'::regclass")
            .await,
        1
    );
    pg.drop_schema().await;
}

/// The model's `outside_transaction` agrees with the server: each statement is run after
/// `BEGIN`, and PostgreSQL refuses it exactly when the model says it cannot run in a
/// transaction.
#[tokio::test]
async fn pg_model_agrees_with_the_server_on_transaction_blocks() {
    let Some(pg) = pg("tx_model").await else {
        return;
    };
    pg.admin
        .batch_execute(&format!("SET search_path = {}; {REFUSED_SETUP}", pg.schema))
        .await
        .unwrap();
    let statements = [
        "CREATE INDEX CONCURRENTLY i2 ON t (a)",
        "CREATE INDEX i3 ON t (a)",
        "DROP INDEX CONCURRENTLY i",
        "DROP INDEX i",
        "REINDEX INDEX CONCURRENTLY i",
        "REINDEX TABLE CONCURRENTLY t",
        "REINDEX (CONCURRENTLY) TABLE t",
        "REINDEX (CONCURRENTLY false) TABLE t",
        "REINDEX TABLE t",
        "REINDEX INDEX i",
        "REINDEX SCHEMA {schema}",
        "REINDEX DATABASE {database}",
        "REINDEX SYSTEM {database}",
        "ALTER TABLE p DETACH PARTITION p2 CONCURRENTLY",
        "ALTER TABLE p DETACH PARTITION p2",
        "VACUUM t",
        "VACUUM",
        "ANALYZE t",
        "CLUSTER",
        "CLUSTER VERBOSE",
        "CLUSTER t USING i",
        "ALTER TYPE mood ADD VALUE 'calm'",
    ];
    let database: String = pg
        .admin
        .query_one("SELECT current_database()::text", &[])
        .await
        .unwrap()
        .get(0);
    for sql in statements {
        let sql = sql
            .replace("{schema}", &pg.schema)
            .replace("{database}", &database);
        let model = deployc::sql::model::of_text(&sql);
        let outside = model.statements.first().unwrap().outside_transaction;
        pg.admin.batch_execute("BEGIN").await.unwrap();
        let answer = pg.admin.batch_execute(&sql).await;
        pg.admin.batch_execute("ROLLBACK").await.unwrap();
        let refused = match &answer {
            Ok(()) => false,
            Err(e) => {
                let message = e.as_db_error().map(|d| d.message().to_string());
                let refused = message
                    .as_deref()
                    .is_some_and(|m| m.contains("cannot run inside a transaction block"));
                assert!(refused, "{sql}: {e:?}");
                refused
            }
        };
        assert_eq!(refused, outside, "{sql}: the server and the model disagree");
        assert_eq!(model.transactional, !outside, "{sql}");
    }
    // Adding an enum value runs in a transaction, but using it there does not: the model
    // runs such a text statement by statement.
    let text = "ALTER TYPE mood ADD VALUE 'calm'; INSERT INTO feelings VALUES ('calm')";
    pg.admin.batch_execute("BEGIN").await.unwrap();
    let answer = pg.admin.batch_execute(text).await;
    pg.admin.batch_execute("ROLLBACK").await.unwrap();
    let message = answer
        .err()
        .and_then(|e| e.as_db_error().map(|d| d.message().to_string()))
        .unwrap_or_default();
    assert!(message.contains("unsafe use of new value"), "{message}");
    assert!(!deployc::sql::model::of_text(text).transactional);
    pg.drop_schema().await;
}
