//! Authentication: turns a bearer token into the caller behind it.

use crate::domain::permission::Caller;
use crate::domain::secret::hash_secret;
use crate::error::{Error, Result};

use super::Services;

/// The owner id personal access tokens are hashed with (`hash_secret(TOKEN_HASH_OWNER, token)`).
pub const TOKEN_HASH_OWNER: &str = "personal-access-token";

/// The error for a call that needs a bearer token and came without one.
pub(crate) fn missing_authorization() -> Error {
    Error::unauthenticated("AUTH-7skfu", "Authorization header is missing")
}

impl Services {
    /// Authenticates a bearer token. A missing token and an unknown, revoked or expired one are
    /// both Unauthenticated, with different messages.
    pub async fn authenticate(
        &self,
        token: Option<&str>,
        org_hint: Option<String>,
    ) -> Result<Caller> {
        let token = token.ok_or_else(missing_authorization)?;
        let owner = self
            .store
            .find_token_owner(&hash_secret(TOKEN_HASH_OWNER, token), self.now())
            .await?;
        let Some(owner) = owner else {
            // Not a personal access token: perhaps a signed-in session's (§11.6).
            return self
                .session_caller(token, org_hint)
                .await?
                .ok_or_else(|| Error::unauthenticated("AUTH-Ttk3s", "Token is invalid"));
        };
        Ok(Caller {
            user_id: owner.user_id,
            org_id: owner.org_id,
            grants: owner.grants,
            org_hint,
            session_id: None,
        })
    }
}
