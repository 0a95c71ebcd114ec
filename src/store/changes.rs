//! `ChangeStore` on `SqlStore`: changes go to the group commit; the event log is read from
//! the pool.

use async_trait::async_trait;

use crate::error::Result;
use crate::service::ports::{
    Change, ChangeStore, Committed, Effect, Outcome, Rejection, StoredEvent,
};

use super::SqlStore;
use super::errors::internal;
use super::rows::EventRow;

/// A user's events in order.
pub(super) const LIST_EVENTS: &str = "SELECT sequence, event_type, payload, actor, created_at \
     FROM events WHERE user_id = $1 ORDER BY sequence";

/// Whether a change deletes its user: the one change that makes a cached copy of the user
/// wrong (`user_cache`).
fn deletes_the_user(change: &Change) -> bool {
    change
        .effects
        .iter()
        .any(|effect| matches!(effect, Effect::DeleteUser))
}

#[async_trait]
impl ChangeStore for SqlStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(internal("STORE-Pg1nq"))?;
        Ok(())
    }

    async fn commit(&self, change: Change) -> Result<Outcome<Committed>> {
        let user_id = change.user_id.clone();
        let deletes = deletes_the_user(&change);
        let committed = self.group_commit.commit(change).await;
        // A change to a token owner (its deletion, say) takes effect at once in this process.
        self.token_owners.forget_user(&user_id);
        // A change refused because its user is gone or changed shows the cached copy stale.
        let stale = matches!(
            committed,
            Ok(Err(Rejection::UserNotFound | Rejection::UserChanged))
        );
        if deletes || stale {
            self.users_to_change.forget(&user_id);
        }
        committed
    }

    async fn queue(&self, change: Change) -> Result<()> {
        let user_id = change.user_id.clone();
        let deletes = deletes_the_user(&change);
        self.group_commit.queue(change).await?;
        // Forgotten before the change is written: a token request in between reads the
        // owner as it is now, and may cache it for at most the cache's bound.
        self.token_owners.forget_user(&user_id);
        if deletes {
            self.users_to_change.forget(&user_id);
        }
        Ok(())
    }

    async fn list_events(&self, user_id: &str) -> Result<Vec<StoredEvent>> {
        self.list_by_key::<EventRow, _>(LIST_EVENTS, user_id, "STORE-El1sr")
            .await
    }
}
