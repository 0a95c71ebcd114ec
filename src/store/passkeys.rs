//! `PasskeyStore` on `SqlStore`: registration codes, pending registrations and passkeys, read.

use async_trait::async_trait;

use crate::domain::time::Timestamp;
use crate::error::Result;
use crate::service::ports::{
    PasskeyStore, PendingPasskeyRegistration, StoredPasskeyCode, StoredPasskeyInfo,
};

use super::SqlStore;
use super::errors::internal;
use super::rows::{CodeHashRow, PasskeyCodeRow, PasskeyInfoRow, PasskeyRegistrationRow};

/// A code by id.
pub(super) const GET_PASSKEY_CODE: &str = "SELECT id, user_id, code_hash, expires_at, failures, \
     used_at FROM passkey_codes WHERE id = $1";

/// A user's codes, oldest first.
pub(super) const LIST_PASSKEY_CODE_HASHES: &str =
    "SELECT id, code_hash FROM passkey_codes WHERE user_id = $1 ORDER BY created_at, id";

/// A user's unexpired registration by id.
pub(super) const GET_PASSKEY_REGISTRATION: &str = "SELECT id, user_id, rp_id, state, code_id, \
     created_at, expires_at FROM passkey_registrations \
     WHERE id = $1 AND user_id = $2 AND expires_at > $3";

/// A user's passkeys, oldest first.
pub(super) const LIST_PASSKEYS: &str = "SELECT id, name, rp_id, credential_id, transports FROM passkeys \
     WHERE user_id = $1 ORDER BY created_at, id";

/// Whether a credential id is registered.
pub(super) const PASSKEY_CREDENTIAL_EXISTS: &str =
    "SELECT id FROM passkeys WHERE credential_id = $1";

#[async_trait]
impl PasskeyStore for SqlStore {
    async fn get_passkey_code(&self, code_id: &str) -> Result<Option<StoredPasskeyCode>> {
        self.find_by_key::<PasskeyCodeRow, _>(GET_PASSKEY_CODE, code_id, "STORE-Pc1sr")
            .await
    }

    async fn list_passkey_code_hashes(&self, user_id: &str) -> Result<Vec<(String, Vec<u8>)>> {
        self.list_by_key::<CodeHashRow, _>(LIST_PASSKEY_CODE_HASHES, user_id, "STORE-Pl1sr")
            .await
    }

    async fn get_passkey_registration(
        &self,
        passkey_id: &str,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Option<PendingPasskeyRegistration>> {
        let row = sqlx::query_as::<_, PasskeyRegistrationRow>(GET_PASSKEY_REGISTRATION)
            .bind(passkey_id)
            .bind(user_id)
            .bind(now.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Pr3sr"))?;
        Ok(row.map(PendingPasskeyRegistration::from))
    }

    async fn list_passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskeyInfo>> {
        self.list_by_key::<PasskeyInfoRow, _>(LIST_PASSKEYS, user_id, "STORE-Pk5sr")
            .await
    }

    async fn passkey_credential_exists(&self, credential_id: &[u8]) -> Result<bool> {
        let row = sqlx::query(PASSKEY_CREDENTIAL_EXISTS)
            .bind(credential_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Pk7sr"))?;
        Ok(row.is_some())
    }
}
