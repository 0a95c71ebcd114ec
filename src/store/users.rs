//! `UserStore` on `SqlStore`: users and their role grants.

use async_trait::async_trait;

use crate::domain::permission::RoleGrant;
use crate::domain::user::User;
use crate::error::Result;
use crate::service::ports::{Outcome, Rejection, UserStore};

use super::SqlStore;
use super::errors::{internal, refused_when_unique};
use super::rows::UserRow;

/// A user by id (the target of most requests).
pub(super) const GET_USER: &str = "SELECT * FROM users WHERE id = $1";

#[async_trait]
impl UserStore for SqlStore {
    async fn get_user(&self, user_id: &str) -> Result<Option<User>> {
        self.find_by_key::<UserRow, UserRow>(GET_USER, user_id, "STORE-Gu1sr")
            .await?
            .map(User::try_from)
            .transpose()
    }

    async fn grant_role(&self, user_id: &str, grant: &RoleGrant) -> Result<Outcome<()>> {
        self.token_owners.forget_user(user_id);
        let inserted =
            sqlx::query("INSERT INTO role_grants (user_id, role, org_id) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(grant.role.as_str())
                .bind(grant.org_id.clone().unwrap_or_default())
                .execute(&self.pool)
                .await;
        refused_when_unique(inserted, Rejection::RoleHeld, internal("STORE-Rg5in"))
    }
}
