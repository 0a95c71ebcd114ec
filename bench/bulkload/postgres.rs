//! The PostgreSQL sink: one transaction of `COPY … FROM STDIN` (text format), one per table and
//! chunk, then `ANALYZE` (what autovacuum would do soon after such a load). Also the two reads
//! both sinks start with.

use sqlx::{Connection, Executor, PgConnection};

use super::Sink;
use super::rows::{Chunk, Value};

pub(crate) struct PostgresSink {
    connection: PgConnection,
    pub(crate) admin_user_id: String,
    pub(crate) id_node: u16,
}

/// The SQL of the two reads both sinks start with: the bootstrap administrator (the actor of
/// AddHumanUser and CreatePasskeyRegistrationLink), and an id node number leased as
/// `SqlStore::connect` leases one.
pub(crate) const ADMIN_SQL: &str =
    "SELECT user_id FROM role_grants WHERE role = 'IAM_OWNER' ORDER BY user_id LIMIT 1";
pub(crate) const LEASE_NODE_SQL: &str =
    "UPDATE id_node_counter SET next_node = next_node + 1 RETURNING next_node";

impl PostgresSink {
    pub(crate) async fn open(url: &str) -> Result<PostgresSink, Box<dyn std::error::Error>> {
        let mut connection = PgConnection::connect(url).await?;
        let admin_user_id: String = sqlx::query_scalar(ADMIN_SQL)
            .fetch_one(&mut connection)
            .await
            .map_err(|error| format!("no administrator (start passlink once first): {error}"))?;
        let next: i64 = sqlx::query_scalar(LEASE_NODE_SQL)
            .fetch_one(&mut connection)
            .await?;
        let id_node = (next - 1).rem_euclid(1024) as u16;
        connection.execute("BEGIN").await?;
        Ok(PostgresSink {
            connection,
            admin_user_id,
            id_node,
        })
    }
}

/// A text-format COPY field: `\N` for NULL, bytea as `\\x…`, backslash, tab and newlines
/// escaped.
fn copy_field(out: &mut String, value: &Value) {
    use std::fmt::Write as _;
    match value {
        Value::Null => out.push_str("\\N"),
        Value::Int(number) => {
            let _ = write!(out, "{number}");
        }
        Value::Blob(bytes) => {
            out.push_str("\\\\x");
            for byte in bytes {
                let _ = write!(out, "{byte:02x}");
            }
        }
        Value::Text(text) => {
            for character in text.chars() {
                match character {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    other => out.push(other),
                }
            }
        }
    }
}

impl Sink for PostgresSink {
    async fn write(&mut self, chunk: &Chunk) -> Result<(), Box<dyn std::error::Error>> {
        for table in &chunk.tables {
            if table.rows.is_empty() {
                continue;
            }
            let mut data = String::with_capacity(table.rows.len() * 160);
            for row in &table.rows {
                for (index, value) in row.iter().enumerate() {
                    if index > 0 {
                        data.push('\t');
                    }
                    copy_field(&mut data, value);
                }
                data.push('\n');
            }
            let statement = format!(
                "COPY {} ({}) FROM STDIN",
                table.name,
                table.columns.join(", ")
            );
            let mut copy = self.connection.copy_in_raw(&statement).await?;
            copy.send(data.into_bytes()).await?;
            copy.finish().await?;
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<(), Box<dyn std::error::Error>> {
        self.connection.execute("COMMIT").await?;
        self.connection.execute("ANALYZE").await?;
        self.connection.close().await?;
        Ok(())
    }
}
