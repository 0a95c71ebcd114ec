//! Operator use cases on the outbox: listing messages and re-queuing dead ones.

use crate::error::Result;

use super::Services;
use super::ports::StoredMessage;
use super::refusals::refused;

impl Services {
    /// Every outbox message, oldest first (payloads included: callers must not print them).
    pub async fn list_outbox_messages(&self) -> Result<Vec<StoredMessage>> {
        self.store.list_messages().await
    }

    /// Re-queues a dead outbox message for immediate delivery with a fresh attempt count.
    pub async fn retry_outbox_message(&self, message_id: &str) -> Result<()> {
        self.store
            .retry_message(message_id, self.now())
            .await?
            .map_err(refused)?;
        self.message_queued.notify_one();
        tracing::info!(message.id = %message_id, "dead outbox message re-queued");
        Ok(())
    }
}
