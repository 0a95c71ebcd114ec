//! `OutboxStore`: the messages changes queued (`Effect::EnqueueMessage`), leased to one
//! process at a time for delivery.

use async_trait::async_trait;

use crate::domain::time::Timestamp;
use crate::error::Result;

use super::changes::{MessageSent, Outcome};

/// A stored outbox message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    /// The message id.
    pub id: String,
    /// The user the message is about.
    pub user_id: String,
    /// What the message is, for the notifier to render.
    pub kind: String,
    /// The JSON the notifier renders.
    pub payload: String,
    /// `pending`, `sent` or `dead`.
    pub state: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
}

/// A failed delivery attempt of a leased outbox message.
#[derive(Debug)]
pub struct MessageFailure {
    /// The message that failed.
    pub message_id: String,
    /// The worker whose lease the attempt ran under.
    pub lease_owner: String,
    /// Why delivery failed.
    pub error: String,
    /// When to try again; `None` marks the message dead.
    pub retry_at: Option<Timestamp>,
}

/// The outbox: leasing, delivery outcomes, and the operator's view.
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Every outbox message, oldest first.
    async fn list_messages(&self) -> Result<Vec<StoredMessage>>;

    /// Leases the oldest due pending message whose lease (if any) has expired to `owner` until
    /// `lease_until`, counts the attempt, and returns it. A conditional update: of several
    /// processes claiming at once, exactly one gets each message.
    async fn claim_message(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<StoredMessage>>;

    /// Records a failed attempt of a message leased by `failure.lease_owner` and releases the
    /// lease: back to pending at `retry_at`, or dead. `Rejection::LeaseLost` when the lease
    /// was lost.
    async fn record_message_failure(
        &self,
        failure: MessageFailure,
        now: Timestamp,
    ) -> Result<Outcome<()>>;

    /// Marks a leased message sent without an event (for users deleted since it was queued);
    /// `Rejection::LeaseLost` when the lease was lost.
    async fn mark_message_sent_without_event(
        &self,
        sent: MessageSent,
        now: Timestamp,
    ) -> Result<Outcome<()>>;

    /// Re-queues a dead message for immediate delivery with a fresh attempt count;
    /// `Rejection::MessageNotDead` when there is no dead message with that id.
    async fn retry_message(&self, message_id: &str, now: Timestamp) -> Result<Outcome<()>>;
}
