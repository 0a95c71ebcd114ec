//! `OutboxStore` on `SqlStore`: leasing messages to one process at a time, and recording what
//! became of them.

use async_trait::async_trait;

use crate::domain::time::Timestamp;
use crate::error::Result;
use crate::service::ports::{
    MessageFailure, MessageSent, OutboxStore, Outcome, Rejection, StoredMessage,
};

use super::errors::internal;
use super::rows::MessageRow;
use super::write::{change_one_row, mark_message_sent};
use super::{Backend, SqlStore};

/// Leases the next due message (PostgreSQL: skipping those other processes are claiming).
pub(super) const CLAIM_MESSAGE_POSTGRES: &str = "UPDATE outbox SET lease_owner = $1, lease_until = $3, attempts = attempts + 1 \
     WHERE id = (SELECT id FROM outbox WHERE state = 'pending' \
     AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2) \
     ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
     AND state = 'pending' AND (lease_until IS NULL OR lease_until < $2) \
     RETURNING id, user_id, kind, payload, state, attempts, last_error";

/// Leases the next due message (SQLite runs one writer at a time).
pub(super) const CLAIM_MESSAGE_SQLITE: &str = "UPDATE outbox SET lease_owner = $1, lease_until = $3, attempts = attempts + 1 \
     WHERE id = (SELECT id FROM outbox WHERE state = 'pending' \
     AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2) \
     ORDER BY next_attempt_at, id LIMIT 1) \
     AND state = 'pending' AND (lease_until IS NULL OR lease_until < $2) \
     RETURNING id, user_id, kind, payload, state, attempts, last_error";

#[async_trait]
impl OutboxStore for SqlStore {
    async fn list_messages(&self) -> Result<Vec<StoredMessage>> {
        let rows = sqlx::query_as::<_, MessageRow>(
            "SELECT id, user_id, kind, payload, state, attempts, last_error FROM outbox \
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(internal("STORE-Ml1sr"))?;
        Ok(rows.into_iter().map(StoredMessage::from).collect())
    }

    async fn claim_message(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<StoredMessage>> {
        // The outer WHERE repeats the conditions: PostgreSQL re-checks them on a row another
        // transaction changed meanwhile, so two claimers never both get it; SKIP LOCKED lets
        // them pass each other's candidates. SQLite runs one writer at a time.
        let sql = match self.backend {
            Backend::Postgres => CLAIM_MESSAGE_POSTGRES,
            Backend::Sqlite => CLAIM_MESSAGE_SQLITE,
        };
        let row = sqlx::query_as::<_, MessageRow>(sql)
            .bind(owner)
            .bind(now.0)
            .bind(lease_until.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Mc1up"))?;
        Ok(row.map(StoredMessage::from))
    }

    async fn record_message_failure(
        &self,
        failure: MessageFailure,
        now: Timestamp,
    ) -> Result<Outcome<()>> {
        let (state, next_attempt_at) = match failure.retry_at {
            Some(at) => ("pending", at.0),
            None => ("dead", now.0),
        };
        let record = sqlx::query(
            "UPDATE outbox SET state = $3, next_attempt_at = $4, last_error = $5, \
             lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
        )
        .bind(&failure.message_id)
        .bind(&failure.lease_owner)
        .bind(state)
        .bind(next_attempt_at)
        .bind(&failure.error);
        change_one_row(
            &self.pool,
            record,
            Rejection::LeaseLost,
            internal("STORE-Mf1up"),
        )
        .await
    }

    async fn mark_message_sent_without_event(
        &self,
        sent: MessageSent,
        now: Timestamp,
    ) -> Result<Outcome<()>> {
        mark_message_sent(&self.pool, &sent, now).await
    }

    async fn retry_message(&self, message_id: &str, now: Timestamp) -> Result<Outcome<()>> {
        let retry = sqlx::query(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $2, \
             lease_owner = NULL, lease_until = NULL WHERE id = $1 AND state = 'dead'",
        )
        .bind(message_id)
        .bind(now.0);
        change_one_row(
            &self.pool,
            retry,
            Rejection::MessageNotDead,
            internal("STORE-Mr1up"),
        )
        .await
    }
}
