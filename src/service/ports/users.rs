//! `UserStore`: reading users and granting them roles. Users are written by changes
//! (`ChangeStore::commit`).

use async_trait::async_trait;

use crate::domain::permission::RoleGrant;
use crate::domain::user::User;
use crate::error::Result;

use super::changes::Outcome;

/// Users and the roles they hold.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Returns a user in any state, deleted ones included.
    async fn get_user(&self, user_id: &str) -> Result<Option<User>>;

    /// Returns a user as `get_user` does, possibly as read a few seconds ago (deleted
    /// meanwhile by another process, at most): only for building a change, which the store
    /// refuses at commit when its user is gone or deleted. Never for an answer that shows the
    /// user.
    async fn get_user_to_change(&self, user_id: &str) -> Result<Option<User>> {
        self.get_user(user_id).await
    }

    /// The user, not deleted, whose login name (its username, or `username@orgdomain`)
    /// equals `login_name` (lower case) case-insensitively; `None` when nobody or more than
    /// one user has it.
    async fn find_user_by_login_name(&self, login_name: &str) -> Result<Option<User>>;

    /// Grants a role; `Rejection::RoleHeld` when the user holds it already.
    async fn grant_role(&self, user_id: &str, grant: &RoleGrant) -> Result<Outcome<()>>;
}
