use deployc::runtime::db::{Applied, DbError, Migration, Reverted, Sqlite};

fn migration(name: &str, up: &str, down: Option<&str>) -> Migration {
    Migration {
        name: name.into(),
        release: "1.1.0".into(),
        phase: "expand".into(),
        up: up.into(),
        down: down.map(str::to_string),
        ..Migration::default()
    }
}

#[tokio::test]
async fn applies_once_across_reopen_and_detects_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let m = migration(
        "add_users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('a;b');",
        Some("DROP TABLE users;"),
    );
    {
        let db = Sqlite::open(&path).await.unwrap();
        let a = db.apply(&m).await.unwrap();
        assert_eq!(
            a,
            Applied::Now {
                transactional: true,
                attempts: 1
            }
        );
        // Dropped without any goodbye: the ledger row is durable with the statements.
    }
    let db = Sqlite::open(&path).await.unwrap();
    match db.apply(&m).await.unwrap() {
        Applied::Already(row) => {
            assert_eq!(row.name, "add_users");
            assert_eq!(row.checksum, m.checksum());
            assert_eq!(row.release, "1.1.0");
            assert!(row.reverted_at.is_none());
        }
        other => panic!("applied twice: {other:?}"),
    }
    let rows: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1, "the insert ran once");

    let mut changed = m.clone();
    changed
        .up
        .push_str(" INSERT INTO users (name) VALUES ('c');");
    match db.apply(&changed).await {
        Err(DbError::ChecksumMismatch { name, .. }) => assert_eq!(name, "add_users"),
        other => panic!("change not detected: {other:?}"),
    }
}

#[tokio::test]
async fn failing_migration_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Sqlite::open(dir.path().join("app.db")).await.unwrap();
    let m = migration(
        "broken",
        "CREATE TABLE t (a INTEGER); INSERT INTO nope VALUES (1);",
        None,
    );
    match db.apply(&m).await {
        Err(DbError::Statement {
            statement,
            committed,
            ..
        }) => {
            assert_eq!(statement, 2);
            assert_eq!(committed, 0);
        }
        other => panic!("expected a statement error: {other:?}"),
    }
    assert!(db.ledger().await.unwrap().is_empty());
    // The first statement was rolled back with the second.
    db.apply(&migration("again", "CREATE TABLE t (a INTEGER);", None))
        .await
        .unwrap();
}

#[tokio::test]
async fn revert_runs_down_and_reapply_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Sqlite::open(dir.path().join("app.db")).await.unwrap();
    let m = migration("t", "CREATE TABLE t (a INTEGER);", Some("DROP TABLE t;"));
    db.apply(&m).await.unwrap();
    assert!(matches!(
        db.revert(&m).await.unwrap(),
        Reverted::Now {
            transactional: true,
            ..
        }
    ));
    assert!(matches!(db.revert(&m).await.unwrap(), Reverted::Already(_)));
    let ledger = db.ledger().await.unwrap();
    assert!(ledger[0].reverted_at.is_some());
    assert!(matches!(db.apply(&m).await.unwrap(), Applied::Now { .. }));
    assert!(db.ledger().await.unwrap()[0].reverted_at.is_none());
    let irreversible = migration("x", "CREATE TABLE x (a INTEGER);", None);
    assert!(matches!(
        db.revert(&irreversible).await,
        Err(DbError::Irreversible { .. })
    ));
    assert_eq!(
        db.revert(&migration("never", "SELECT 1;", Some("SELECT 1;")))
            .await
            .unwrap(),
        Reverted::NotApplied
    );
}

#[tokio::test]
async fn vacuum_runs_outside_a_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Sqlite::open(dir.path().join("app.db")).await.unwrap();
    let m = migration("compact", "CREATE TABLE t (a INTEGER); VACUUM;", None);
    assert_eq!(
        db.apply(&m).await.unwrap(),
        Applied::Now {
            transactional: false,
            attempts: 1
        }
    );
    assert_eq!(db.ledger().await.unwrap().len(), 1);
}

#[tokio::test]
async fn backup_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let db = Sqlite::open(dir.path().join("app.db")).await.unwrap();
    db.apply(&migration(
        "seed",
        "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1), (2);",
        None,
    ))
    .await
    .unwrap();
    let backup = db
        .backup(&dir.path().join("run/backup.sqlite"))
        .await
        .unwrap();
    assert_eq!(backup.verified, "ok");
    assert!(backup.bytes > 0);
    db.apply(&migration("drop", "DROP TABLE t;", None))
        .await
        .unwrap();
    db.restore(&backup.path).await.unwrap();
    let ledger = db.ledger().await.unwrap();
    assert_eq!(ledger.len(), 1, "the ledger is restored with the data");
    let n: i64 = rusqlite::Connection::open(dir.path().join("app.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    assert!(matches!(
        db.restore(&dir.path().join("missing")).await,
        Err(DbError::Backup(_))
    ));
}
