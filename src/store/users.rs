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

/// Users whose login name is `$1`: the username, or `$2@$3` (username at org domain), all in
/// lower case; two at most, to tell one from several.
pub(super) const FIND_USER_BY_LOGIN_NAME: &str = "SELECT u.* FROM users u \
     JOIN orgs o ON o.id = u.org_id WHERE u.state <> 3 \
     AND lower(u.username) IN ($1, $2) \
     AND (lower(u.username) = $1 OR lower(o.domain) = $3) LIMIT 2";

#[async_trait]
impl UserStore for SqlStore {
    async fn get_user(&self, user_id: &str) -> Result<Option<User>> {
        self.find_by_key::<UserRow, UserRow>(GET_USER, user_id, "STORE-Gu1sr")
            .await?
            .map(User::try_from)
            .transpose()
    }

    async fn get_user_to_change(&self, user_id: &str) -> Result<Option<User>> {
        if let Some(user) = self.users_to_change.get(user_id) {
            return Ok(Some(user));
        }
        let user = self.get_user(user_id).await?;
        if let Some(user) = &user {
            self.users_to_change.insert(user);
        }
        Ok(user)
    }

    async fn find_user_by_login_name(&self, login_name: &str) -> Result<Option<User>> {
        // `username@orgdomain` splits at the last `@`; usernames may hold an `@` themselves.
        let (name, domain) = login_name.rsplit_once('@').unwrap_or((login_name, ""));
        let rows = sqlx::query_as::<_, UserRow>(FIND_USER_BY_LOGIN_NAME)
            .bind(login_name)
            .bind(name)
            .bind(domain)
            .fetch_all(&self.pool)
            .await
            .map_err(internal("STORE-Gu3ln"))?;
        // Two users with one login name: the name says nobody in particular.
        match <[UserRow; 1]>::try_from(rows) {
            Ok([row]) => User::try_from(row).map(Some),
            Err(_) => Ok(None),
        }
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
