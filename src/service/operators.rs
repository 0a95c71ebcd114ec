//! Operator use cases behind the CLI and the first start: organizations, machine users,
//! personal access tokens and role grants.

use std::time::Duration;

use serde_json::json;

use crate::domain::events;
use crate::domain::permission::{Role, RoleGrant};
use crate::domain::secret::{Secret, generate_token, hash_secret};
use crate::domain::user::{Org, User, UserKind, UserState};
use crate::error::{Code, Error, Result};

use super::Services;
use super::authentication::TOKEN_HASH_OWNER;
use super::ports::{Change, Effect, NewToken, NewUser};
use super::refusals::refused;

/// The actor recorded for changes made by passlink itself or an operator's CLI.
pub const SYSTEM_ACTOR: &str = "system";

/// What the first start creates.
#[derive(Debug)]
pub struct Bootstrapped {
    /// The default organization.
    pub org: Org,
    /// The IAM_OWNER machine user.
    pub admin_user_id: String,
    /// The admin's personal access token, shown once.
    pub admin_token: Secret,
}

/// A token just created; the secret is shown once and never stored.
#[derive(Debug)]
pub struct CreatedToken {
    /// The token's id, for revoking it.
    pub token_id: String,
    /// The token itself, shown once.
    pub token: Secret,
}

impl Services {
    /// On an empty database, creates the default organization and an IAM_OWNER machine user
    /// with a token. Returns `None` when any organization exists already.
    pub async fn bootstrap(&self) -> Result<Option<Bootstrapped>> {
        if !self.store.list_orgs().await?.is_empty() {
            return Ok(None);
        }
        let org = match self.create_org("Default", "default.localhost").await {
            Ok(org) => org,
            // Another process bootstrapped the same database at the same moment.
            Err(error) if error.code() == Code::AlreadyExists => return Ok(None),
            Err(error) => return Err(error),
        };
        let admin_user_id = self
            .create_machine_user(&org.id, "admin", "passlink administrator")
            .await?;
        self.store
            .grant_role(
                &admin_user_id,
                &RoleGrant {
                    role: Role::IamOwner,
                    org_id: None,
                },
            )
            .await?
            .map_err(refused)?;
        let token = self.create_token(&admin_user_id, None).await?;
        Ok(Some(Bootstrapped {
            org,
            admin_user_id,
            admin_token: token.token,
        }))
    }

    /// Creates an organization.
    pub async fn create_org(&self, name: &str, domain: &str) -> Result<Org> {
        if name.trim().is_empty() || domain.trim().is_empty() {
            return Err(Error::invalid_argument(
                "ADMIN-Og1em",
                "organization name and domain must not be empty",
            ));
        }
        let org = Org {
            id: self.ids.next_id(),
            name: name.to_owned(),
            domain: domain.to_lowercase(),
        };
        self.store
            .create_org(&org, self.now())
            .await?
            .map_err(refused)?;
        Ok(org)
    }

    /// All organizations.
    pub async fn list_orgs(&self) -> Result<Vec<Org>> {
        self.store.list_orgs().await
    }

    /// Creates a machine user in an organization and returns its id.
    pub async fn create_machine_user(
        &self,
        org_id: &str,
        username: &str,
        description: &str,
    ) -> Result<String> {
        if self.store.get_org(org_id).await?.is_none() {
            return Err(Error::not_found(
                "ADMIN-Og2nf",
                "Organization could not be found",
            ));
        }
        let now = self.now();
        let user_id = self.ids.next_id();
        self.commit(Change {
            user_id: user_id.clone(),
            event_type: events::MACHINE_USER_ADDED,
            payload: json!({ "username": username }),
            actor: SYSTEM_ACTOR.into(),
            at: now,
            effects: vec![Effect::InsertUser(Box::new(NewUser {
                user: User {
                    id: user_id.clone(),
                    org_id: org_id.to_owned(),
                    state: UserState::Active,
                    username: username.to_owned(),
                    sequence: 0,
                    created_at: now,
                    changed_at: now,
                    kind: UserKind::Machine {
                        name: username.to_owned(),
                        description: description.to_owned(),
                    },
                },
                metadata: Vec::new(),
                email_code_hash: None,
                phone_code_hash: None,
            }))],
        })
        .await?;
        Ok(user_id)
    }

    /// Creates a personal access token for a user; only its hash is stored.
    pub async fn create_token(
        &self,
        user_id: &str,
        lifetime: Option<Duration>,
    ) -> Result<CreatedToken> {
        let user = self
            .store
            .get_user(user_id)
            .await?
            .filter(|user| user.state != UserState::Deleted)
            .ok_or_else(|| Error::not_found("ADMIN-Us3nf", "User could not be found"))?;
        let now = self.now();
        let token = generate_token();
        let token_id = self.ids.next_id();
        self.store
            .create_token(NewToken {
                id: token_id.clone(),
                user_id: user.id,
                token_hash: hash_secret(TOKEN_HASH_OWNER, token.expose()),
                created_at: now,
                expires_at: lifetime.map(|lifetime| now.plus(lifetime)),
            })
            .await?;
        Ok(CreatedToken { token_id, token })
    }

    /// Revokes a personal access token.
    pub async fn revoke_token(&self, token_id: &str) -> Result<()> {
        self.store
            .revoke_token(token_id, self.now())
            .await?
            .map_err(refused)
    }

    /// Grants a role to a user; organization roles need the organization.
    pub async fn grant_role(&self, user_id: &str, role: Role, org_id: Option<&str>) -> Result<()> {
        let org_id = match (role.is_instance_wide(), org_id) {
            (true, None) => None,
            (true, Some(_)) => {
                return Err(Error::invalid_argument(
                    "ADMIN-Rl4io",
                    format!("{role} is instance-wide and takes no organization"),
                ));
            }
            (false, None) => {
                return Err(Error::invalid_argument(
                    "ADMIN-Rl5or",
                    format!("{role} needs the organization it applies to"),
                ));
            }
            (false, Some(org_id)) => {
                if self.store.get_org(org_id).await?.is_none() {
                    return Err(Error::not_found(
                        "ADMIN-Og6nf",
                        "Organization could not be found",
                    ));
                }
                Some(org_id.to_owned())
            }
        };
        if self.store.get_user(user_id).await?.is_none() {
            return Err(Error::not_found("ADMIN-Us7nf", "User could not be found"));
        }
        self.store
            .grant_role(user_id, &RoleGrant { role, org_id })
            .await?
            .map_err(refused)
    }
}
