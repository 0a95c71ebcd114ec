//! Use cases on a user's passkeys: ListPasskeys and RemovePasskey.

use serde_json::json;

use crate::domain::events;
use crate::domain::permission::{Caller, Permission};
use crate::domain::time::Timestamp;
use crate::error::Result;

use super::ports::{Change, Effect};
use super::{ChangeDetails, Services};

/// A READY passkey as ListPasskeys shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyListing {
    /// The passkey id.
    pub id: String,
    /// The name given at verification.
    pub name: String,
}

/// The passkeys of a user and what the list reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyList {
    /// The user's READY passkeys.
    pub passkeys: Vec<PasskeyListing>,
    /// The user's event sequence the list reflects.
    pub processed_sequence: u64,
    /// When the list was read.
    pub timestamp: Timestamp,
}

impl Services {
    /// Lists the READY passkeys of a user.
    pub async fn list_passkeys(&self, caller: &Caller, user_id: &str) -> Result<PasskeyList> {
        let user = self
            .load_target_user(caller, user_id, Permission::UserRead, true)
            .await?;
        let passkeys = self
            .store
            .list_passkeys(&user.id)
            .await?
            .into_iter()
            .map(|passkey| PasskeyListing {
                id: passkey.id,
                name: passkey.name,
            })
            .collect();
        Ok(PasskeyList {
            passkeys,
            processed_sequence: user.sequence,
            timestamp: user.changed_at,
        })
    }

    /// Removes a passkey of a user.
    pub async fn remove_passkey(
        &self,
        caller: &Caller,
        user_id: &str,
        passkey_id: &str,
    ) -> Result<ChangeDetails> {
        let user = self
            .load_target_user(caller, user_id, Permission::UserWrite, true)
            .await?;
        let committed = self
            .commit(Change {
                user_id: user.id.clone(),
                event_type: events::PASSKEY_REMOVED,
                payload: json!({ "passkey_id": passkey_id }),
                actor: caller.user_id.clone(),
                at: self.now(),
                effects: vec![Effect::RemovePasskey {
                    passkey_id: passkey_id.to_owned(),
                }],
            })
            .await?;
        tracing::info!(user.id = %user.id, passkey.id = %passkey_id, "passkey removed");
        Ok(committed.into())
    }
}
