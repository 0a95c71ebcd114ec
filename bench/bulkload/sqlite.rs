//! The SQLite sink: one connection, the journal off and a large cache for the load, the whole
//! load in one transaction of multi-row `INSERT`s; WAL again at the end, as passlink sets it.

use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments as _, Connection, Executor, SqliteConnection};

use super::Sink;
use super::rows::{Chunk, Value};

/// SQLite's limit on the parameters of one statement.
const MAX_PARAMETERS: usize = 32_000;

pub(crate) struct SqliteSink {
    connection: SqliteConnection,
    pub(crate) admin_user_id: String,
    pub(crate) id_node: u16,
}

impl SqliteSink {
    pub(crate) async fn open(url: &str) -> Result<SqliteSink, Box<dyn std::error::Error>> {
        let mut connection = SqliteConnection::connect(url).await?;
        let admin_user_id: String = sqlx::query_scalar(super::postgres::ADMIN_SQL)
            .fetch_one(&mut connection)
            .await
            .map_err(|error| format!("no administrator (start passlink once first): {error}"))?;
        let next: i64 = sqlx::query_scalar(super::postgres::LEASE_NODE_SQL)
            .fetch_one(&mut connection)
            .await?;
        let id_node = (next - 1).rem_euclid(1024) as u16;
        connection
            .execute(
                "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; \
                 PRAGMA cache_size = -1000000; PRAGMA locking_mode = EXCLUSIVE; \
                 PRAGMA foreign_keys = ON; BEGIN",
            )
            .await?;
        Ok(SqliteSink {
            connection,
            admin_user_id,
            id_node,
        })
    }
}

impl Sink for SqliteSink {
    async fn write(&mut self, chunk: &Chunk) -> Result<(), Box<dyn std::error::Error>> {
        for table in &chunk.tables {
            let per_statement = (MAX_PARAMETERS / table.columns.len()).max(1);
            for rows in table.rows.chunks(per_statement) {
                let row_placeholder = format!("({})", vec!["?"; table.columns.len()].join(","));
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES {}",
                    table.name,
                    table.columns.join(", "),
                    vec![row_placeholder.as_str(); rows.len()].join(",")
                );
                let mut arguments = SqliteArguments::default();
                for row in rows {
                    for value in row {
                        let added = match value {
                            Value::Text(text) => arguments.add(text.clone()),
                            Value::Int(number) => arguments.add(*number),
                            Value::Blob(bytes) => arguments.add(bytes.clone()),
                            Value::Null => arguments.add(Option::<String>::None),
                        };
                        added.map_err(|error| error.to_string())?;
                    }
                }
                sqlx::query_with(sqlx::AssertSqlSafe(sql), arguments)
                    .execute(&mut self.connection)
                    .await?;
            }
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<(), Box<dyn std::error::Error>> {
        self.connection.execute("COMMIT").await?;
        self.connection
            .execute("PRAGMA locking_mode = NORMAL; PRAGMA journal_mode = WAL")
            .await?;
        self.connection.close().await?;
        Ok(())
    }
}
