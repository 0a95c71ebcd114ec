//! Every query passlink runs by key, on the request path and in its background work, finds its
//! rows through an index: the test asks each backend for the plan of each query
//! (`passlink::store::query_plans`, the constants the store itself runs) and fails on a full
//! table scan, SQLite's `SCAN <table>` and PostgreSQL's `Seq Scan` (with sequential scans
//! priced out, so that one shows only where no index can serve). A scan costs nothing on the
//! small databases of the other tests, and grows with every row: this is where it shows first.
//!
//! `every_query_uses_an_index_on_postgres` is ignored by a plain `cargo test` (it needs a
//! PostgreSQL server named by `PASSLINK_TEST_POSTGRES_URL`); `cargo test -- --include-ignored`
//! runs it, and it fails without one.

mod common;

use sqlx::{Connection, Row};

use passlink::store::query_plans::planned_queries;
use passlink::store::{Backend, SqlStore};

/// How many parameters (`$1` … `$n`) a statement takes.
fn parameter_count(sql: &str) -> usize {
    let mut highest = 0;
    let mut rest = sql;
    while let Some(position) = rest.find('$') {
        rest = &rest[position + 1..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(number) = digits.parse::<usize>() {
            highest = highest.max(number);
        }
    }
    highest
}

/// SQLite's plan of a statement, one line per step.
async fn sqlite_plan(connection: &mut sqlx::SqliteConnection, sql: &str) -> Vec<String> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
    for _ in 0..parameter_count(sql) {
        query = query.bind(Option::<i64>::None);
    }
    query
        .fetch_all(&mut *connection)
        .await
        .unwrap_or_else(|error| panic!("EXPLAIN QUERY PLAN {sql}: {error}"))
        .iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect()
}

/// The steps of a SQLite plan that read a whole table (`SCAN users`, also through an index
/// when no condition bounds it: `SCAN users USING INDEX …`); a one-row constant is no table.
fn sqlite_full_scans(plan: &[String]) -> Vec<String> {
    plan.iter()
        .filter(|step| step.starts_with("SCAN ") && !step.starts_with("SCAN CONSTANT ROW"))
        .cloned()
        .collect()
}

async fn sqlite_database() -> (tempfile::TempDir, sqlx::SqliteConnection) {
    let directory = tempfile::tempdir().unwrap();
    let url = passlink::store::sqlite_url_in(directory.path());
    let store = SqlStore::connect(&url).await.unwrap();
    store.close().await;
    let connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
    (directory, connection)
}

#[tokio::test]
async fn the_sqlite_plan_check_sees_a_full_scan() {
    let (_directory, mut connection) = sqlite_database().await;
    let plan = sqlite_plan(
        &mut connection,
        "SELECT id FROM passkey_codes WHERE failures = $1",
    )
    .await;
    assert_eq!(sqlite_full_scans(&plan), vec!["SCAN passkey_codes"]);
    let plan = sqlite_plan(&mut connection, "SELECT * FROM users WHERE id = $1").await;
    assert!(sqlite_full_scans(&plan).is_empty(), "{plan:?}");
}

#[tokio::test]
async fn every_query_uses_an_index_on_sqlite() {
    let (_directory, mut connection) = sqlite_database().await;
    let mut scanning = Vec::new();
    let queries = planned_queries(Backend::Sqlite);
    assert!(
        queries.len() >= 20,
        "the list lost queries: {}",
        queries.len()
    );
    for (name, sql) in queries {
        let plan = sqlite_plan(&mut connection, &sql).await;
        let scans = sqlite_full_scans(&plan);
        if !scans.is_empty() {
            scanning.push(format!("{name}: {scans:?} in {plan:?}\n  {sql}"));
        }
    }
    assert!(
        scanning.is_empty(),
        "queries that read a whole table:\n{}",
        scanning.join("\n")
    );
}

/// PostgreSQL's generic plan of a statement (as a prepared statement gets after a few runs),
/// with sequential scans priced out: a `Seq Scan` left in it has no index to use.
async fn postgres_plan(connection: &mut sqlx::PgConnection, index: usize, sql: &str) -> String {
    let name = format!("planned_{index}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("PREPARE {name} AS {sql}")))
        .execute(&mut *connection)
        .await
        .unwrap_or_else(|error| panic!("PREPARE {sql}: {error}"));
    let nulls = vec!["NULL"; parameter_count(sql)].join(", ");
    let execute = if nulls.is_empty() {
        format!("EXPLAIN EXECUTE {name}")
    } else {
        format!("EXPLAIN EXECUTE {name}({nulls})")
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(execute))
        .fetch_all(&mut *connection)
        .await
        .unwrap_or_else(|error| panic!("EXPLAIN EXECUTE {sql}: {error}"))
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
#[ignore = "needs PostgreSQL (PASSLINK_TEST_POSTGRES_URL)"]
async fn every_query_uses_an_index_on_postgres() {
    let url = common::fresh_postgres_database()
        .await
        .expect("this test needs PostgreSQL: set PASSLINK_TEST_POSTGRES_URL");
    let store = SqlStore::connect(&url).await.unwrap();
    store.close().await;
    let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan")
        .execute(&mut connection)
        .await
        .unwrap();
    // The check itself: a condition no index serves must show as a scan.
    let unindexed = postgres_plan(
        &mut connection,
        0,
        "SELECT id FROM passkey_codes WHERE failures = $1",
    )
    .await;
    assert!(
        unindexed.contains("Seq Scan on passkey_codes"),
        "{unindexed}"
    );
    let mut scanning = Vec::new();
    let queries = planned_queries(Backend::Postgres);
    assert!(
        queries.len() >= 20,
        "the list lost queries: {}",
        queries.len()
    );
    for (index, (name, sql)) in queries.into_iter().enumerate() {
        let plan = postgres_plan(&mut connection, index + 1, &sql).await;
        if plan.contains("Seq Scan") {
            scanning.push(format!("{name}:\n{plan}\n  {sql}"));
        }
    }
    connection.close().await.unwrap();
    common::drop_postgres_database(&url);
    assert!(
        scanning.is_empty(),
        "queries that read a whole table:\n{}",
        scanning.join("\n")
    );
}
