//! `TokenStore` on `SqlStore`: token owners are read through the short-lived cache
//! (`token_cache`), which revocations clear.

use async_trait::async_trait;

use crate::domain::permission::RoleGrant;
use crate::domain::time::Timestamp;
use crate::domain::user::UserState;
use crate::error::Result;
use crate::service::ports::{NewToken, Outcome, Rejection, TokenOwner, TokenStore};

use super::SqlStore;
use super::errors::internal;
use super::rows::{RoleGrantRow, TokenOwnerRow};
use super::write::change_one_row;

/// The active owner of a live token, by the token's hash.
pub(super) const FIND_TOKEN_OWNER: &str = "SELECT users.id, users.org_id, tokens.expires_at \
     FROM personal_access_tokens AS tokens JOIN users ON users.id = tokens.user_id \
     WHERE tokens.token_hash = $1 AND tokens.revoked_at IS NULL \
     AND (tokens.expires_at IS NULL OR tokens.expires_at > $2) AND users.state = $3";

/// A user's role grants.
pub(super) const LIST_ROLE_GRANTS: &str = "SELECT role, org_id FROM role_grants WHERE user_id = $1";

#[async_trait]
impl TokenStore for SqlStore {
    async fn find_token_owner(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> Result<Option<TokenOwner>> {
        if let Some(owner) = self.token_owners.get(token_hash, now) {
            return Ok(Some(owner));
        }
        let owner = sqlx::query_as::<_, TokenOwnerRow>(FIND_TOKEN_OWNER)
            .bind(token_hash)
            .bind(now.0)
            .bind(UserState::Active as i64)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Tk1sr"))?;
        let Some(owner) = owner else {
            return Ok(None);
        };
        let grants = self
            .list_by_key::<RoleGrantRow, RoleGrantRow>(LIST_ROLE_GRANTS, &owner.id, "STORE-Rg1sr")
            .await?
            .into_iter()
            .map(RoleGrant::try_from)
            .collect::<Result<_>>()?;
        let token_expires_at = owner.expires_at.map(Timestamp);
        let owner = TokenOwner {
            user_id: owner.id,
            org_id: owner.org_id,
            grants,
        };
        self.token_owners
            .insert(token_hash, owner.clone(), token_expires_at);
        Ok(Some(owner))
    }

    async fn create_token(&self, token: NewToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO personal_access_tokens (id, user_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token.id)
        .bind(&token.user_id)
        .bind(token.token_hash)
        .bind(token.created_at.0)
        .bind(token.expires_at.map(|at| at.0))
        .execute(&self.pool)
        .await
        .map_err(internal("STORE-Tc1in"))?;
        Ok(())
    }

    async fn revoke_token(&self, token_id: &str, at: Timestamp) -> Result<Outcome<()>> {
        let revoke = sqlx::query(
            "UPDATE personal_access_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(token_id)
        .bind(at.0);
        let revoked = change_one_row(
            &self.pool,
            revoke,
            Rejection::TokenNotFound,
            internal("STORE-Tr1up"),
        )
        .await;
        self.token_owners.clear();
        revoked
    }
}
