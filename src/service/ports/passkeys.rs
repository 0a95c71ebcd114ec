//! `PasskeyStore`: reading registration codes, pending registrations and passkeys. They are
//! written by changes (`Effect`).

use async_trait::async_trait;

use crate::domain::time::Timestamp;
use crate::error::Result;

use super::changes::NewPasskeyRegistration;

/// A pending registration as stored, waiting to be finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingPasskeyRegistration {
    /// The user registering the passkey.
    pub user_id: String,
    /// When the registration started.
    pub created_at: Timestamp,
    /// The registration as it was stored.
    pub registration: NewPasskeyRegistration,
}

/// A stored passkey registration code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPasskeyCode {
    /// The code's id.
    pub id: String,
    /// The user the code is for.
    pub user_id: String,
    /// The hash of the code.
    pub code_hash: Vec<u8>,
    /// When the code stops being accepted.
    pub expires_at: Timestamp,
    /// Failed attempts so far.
    pub failures: i64,
    /// Whether the code has been used.
    pub used: bool,
}

/// A READY passkey as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPasskeyInfo {
    /// The passkey id.
    pub id: String,
    /// The name the passkey is listed by.
    pub name: String,
    /// The RP id the passkey was registered for.
    pub rp_id: String,
    /// The authenticator's credential id.
    pub credential_id: Vec<u8>,
    /// JSON array of WebAuthn transport names.
    pub transports: String,
}

/// Registration codes, pending registrations and passkeys, read.
#[async_trait]
pub trait PasskeyStore: Send + Sync + 'static {
    /// A passkey registration code by id.
    async fn get_passkey_code(&self, code_id: &str) -> Result<Option<StoredPasskeyCode>>;

    /// The passkey registration codes of a user as (code id, code hash), oldest first.
    async fn list_passkey_code_hashes(&self, user_id: &str) -> Result<Vec<(String, Vec<u8>)>>;

    /// A pending registration of a user that has not expired at `now`, read without changing
    /// it (`Effect::ConsumePasskeyRegistration` takes it out).
    async fn get_passkey_registration(
        &self,
        passkey_id: &str,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Option<PendingPasskeyRegistration>>;

    /// The READY passkeys of a user, oldest first.
    async fn list_passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskeyInfo>>;

    /// Whether any passkey holds this credential id.
    async fn passkey_credential_exists(&self, credential_id: &[u8]) -> Result<bool>;
}
