//! `TokenStore`: personal access tokens, stored by hash, and the owners they authenticate.

use async_trait::async_trait;

use crate::domain::permission::RoleGrant;
use crate::domain::time::Timestamp;
use crate::error::Result;

use super::changes::Outcome;

/// The owner of a valid personal access token.
#[derive(Clone, Debug)]
pub struct TokenOwner {
    /// The token's user.
    pub user_id: String,
    /// The user's organization.
    pub org_id: String,
    /// The roles the user holds.
    pub grants: Vec<RoleGrant>,
}

/// A personal access token to store, by hash.
#[derive(Debug)]
pub struct NewToken {
    /// The token id.
    pub id: String,
    /// The machine user the token signs in.
    pub user_id: String,
    /// The hash of the token.
    pub token_hash: Vec<u8>,
    /// When the token was created.
    pub created_at: Timestamp,
    /// When the token stops working; `None`: never.
    pub expires_at: Option<Timestamp>,
}

/// Personal access tokens.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Returns the owner of an unrevoked, unexpired token of an active user.
    async fn find_token_owner(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> Result<Option<TokenOwner>>;

    /// Stores a new token.
    async fn create_token(&self, token: NewToken) -> Result<()>;

    /// Revokes a token by id; `Rejection::TokenNotFound` when there is no such unrevoked
    /// token.
    async fn revoke_token(&self, token_id: &str, at: Timestamp) -> Result<Outcome<()>>;
}
