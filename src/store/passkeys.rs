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

#[async_trait]
impl PasskeyStore for SqlStore {
    async fn get_passkey_code(&self, code_id: &str) -> Result<Option<StoredPasskeyCode>> {
        let sql = "SELECT id, user_id, code_hash, expires_at, failures, used_at \
                   FROM passkey_codes WHERE id = $1";
        self.find_by_key::<PasskeyCodeRow, _>(sql, code_id, "STORE-Pc1sr")
            .await
    }

    async fn list_passkey_code_hashes(&self, user_id: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let sql = "SELECT id, code_hash FROM passkey_codes WHERE user_id = $1 \
                   ORDER BY created_at, id";
        self.list_by_key::<CodeHashRow, _>(sql, user_id, "STORE-Pl1sr")
            .await
    }

    async fn get_passkey_registration(
        &self,
        passkey_id: &str,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Option<PendingPasskeyRegistration>> {
        let row = sqlx::query_as::<_, PasskeyRegistrationRow>(
            "SELECT id, user_id, rp_id, state, code_id, created_at, expires_at \
             FROM passkey_registrations WHERE id = $1 AND user_id = $2 AND expires_at > $3",
        )
        .bind(passkey_id)
        .bind(user_id)
        .bind(now.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal("STORE-Pr3sr"))?;
        Ok(row.map(PendingPasskeyRegistration::from))
    }

    async fn list_passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskeyInfo>> {
        let sql = "SELECT id, name, rp_id, credential_id, transports FROM passkeys WHERE user_id = $1 \
                   ORDER BY created_at, id";
        self.list_by_key::<PasskeyInfoRow, _>(sql, user_id, "STORE-Pk5sr")
            .await
    }

    async fn passkey_credential_exists(&self, credential_id: &[u8]) -> Result<bool> {
        let row = sqlx::query("SELECT id FROM passkeys WHERE credential_id = $1")
            .bind(credential_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Pk7sr"))?;
        Ok(row.is_some())
    }
}
