//! Reads on the pool by one key (an id, a domain), the shape most role reads have: rows come
//! back as `rows` types converted into what the role returns, a database error as an
//! internal error under the caller's id.

use sqlx::any::AnyRow;

use crate::error::Result;

use super::SqlStore;
use super::errors::internal;

impl SqlStore {
    /// The row `sql` finds for `key` (its `$1`), if any, as an `Item`.
    pub(super) async fn find_by_key<Row, Item>(
        &self,
        sql: &'static str,
        key: &str,
        error_id: &'static str,
    ) -> Result<Option<Item>>
    where
        Row: for<'row> sqlx::FromRow<'row, AnyRow> + Send + Unpin + Into<Item>,
    {
        let row = sqlx::query_as::<_, Row>(sql)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal(error_id))?;
        Ok(row.map(Row::into))
    }

    /// Every row `sql` finds for `key` (its `$1`), in the order it asks for, as `Item`s.
    pub(super) async fn list_by_key<Row, Item>(
        &self,
        sql: &'static str,
        key: &str,
        error_id: &'static str,
    ) -> Result<Vec<Item>>
    where
        Row: for<'row> sqlx::FromRow<'row, AnyRow> + Send + Unpin + Into<Item>,
    {
        let rows = sqlx::query_as::<_, Row>(sql)
            .bind(key)
            .fetch_all(&self.pool)
            .await
            .map_err(internal(error_id))?;
        Ok(rows.into_iter().map(Row::into).collect())
    }
}
