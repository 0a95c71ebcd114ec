//! Use cases on users: AddHumanUser, GetUserByID, DeleteUser.

use serde_json::json;

use crate::domain::events;
use crate::domain::permission::{Caller, Permission};
use crate::domain::secret::{Secret, generate_code, hash_secret};
use crate::domain::user::{Email, Phone, Profile, User, UserKind, UserState};
use crate::error::{Error, Result};

use super::ports::{Change, Effect, NewUser};
use super::{ChangeDetails, PERMISSION_DENIED, Services};

/// Which organization a new user goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrgSelector {
    /// The `x-zitadel-orgid` header, else the caller's own organization.
    Unspecified,
    /// An organization id.
    Id(String),
    /// An organization's primary domain.
    Domain(String),
}

/// How an email address or phone number of a new user is verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Left unverified.
    Unverified,
    /// Verified by the caller's word.
    Verified,
    /// Unverified, with a verification code returned in the answer.
    ReturnCode,
}

/// The email address of a new user, and how it is verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailInput {
    /// The address.
    pub address: String,
    /// How the address is verified.
    pub verification: Verification,
}

/// The phone number of a new user, and how it is verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneInput {
    /// The number.
    pub number: String,
    /// How the number is verified.
    pub verification: Verification,
}

/// A validated AddHumanUser request.
#[derive(Clone, Debug)]
pub struct AddHumanUser {
    /// The id to create the user with; a generated one when `None`.
    pub user_id: Option<String>,
    /// The login name; the email address when `None`.
    pub username: Option<String>,
    /// The organization the user goes to.
    pub org: OrgSelector,
    /// The person's names and preferences.
    pub profile: Profile,
    /// The email address.
    pub email: EmailInput,
    /// The phone number, if given.
    pub phone: Option<PhoneInput>,
    /// Metadata to store with the user, by key.
    pub metadata: Vec<(String, Vec<u8>)>,
}

/// The answer to AddHumanUser.
#[derive(Debug)]
pub struct AddedHumanUser {
    /// The new user's id.
    pub user_id: String,
    /// What the change reports.
    pub details: ChangeDetails,
    /// The email verification code, when the request asked for it back.
    pub email_code: Option<Secret>,
    /// The phone verification code, when the request asked for it back.
    pub phone_code: Option<Secret>,
}

impl Services {
    /// Creates a human user in the requested organization.
    pub async fn add_human_user(
        &self,
        caller: &Caller,
        request: AddHumanUser,
    ) -> Result<AddedHumanUser> {
        let org = match &request.org {
            OrgSelector::Id(org_id) => self.store.get_org(org_id).await?,
            OrgSelector::Domain(domain) => self.store.find_org_by_domain(domain).await?,
            OrgSelector::Unspecified => {
                let org_id = caller.org_hint.as_deref().unwrap_or(&caller.org_id);
                self.store.get_org(org_id).await?
            }
        }
        .ok_or_else(|| Error::not_found("COMMAND-Og4nf", "Organization could not be found"))?;
        if !caller.has_permission(Permission::UserWrite, &org.id) {
            return Err(Error::permission_denied("AUTHZ-Ad7hu", PERMISSION_DENIED));
        }
        let now = self.now();
        let user_id = request.user_id.unwrap_or_else(|| self.ids.next_id());
        let username = request
            .username
            .unwrap_or_else(|| request.email.address.clone());
        let email_code = self.verification_code(request.email.verification);
        let phone_code = request
            .phone
            .as_ref()
            .and_then(|phone| self.verification_code(phone.verification));
        let payload = json!({
            "username": username,
            "email_verified": request.email.verification == Verification::Verified,
            "has_phone": request.phone.is_some(),
            "metadata_keys": request.metadata.iter().map(|(key, _)| key).collect::<Vec<_>>(),
        });
        let user = User {
            id: user_id.clone(),
            org_id: org.id,
            state: UserState::Active,
            username,
            sequence: 0,
            created_at: now,
            changed_at: now,
            kind: UserKind::Human {
                profile: request.profile,
                email: Email {
                    address: request.email.address,
                    is_verified: request.email.verification == Verification::Verified,
                },
                phone: request.phone.map(|phone| Phone {
                    number: phone.number,
                    is_verified: phone.verification == Verification::Verified,
                }),
            },
        };
        let change = Change {
            user_id: user_id.clone(),
            event_type: events::HUMAN_USER_ADDED,
            payload,
            actor: caller.user_id.clone(),
            at: now,
            effects: vec![Effect::InsertUser(Box::new(NewUser {
                user,
                metadata: request.metadata,
                email_code_hash: email_code
                    .as_ref()
                    .map(|code| hash_secret(&user_id, code.expose())),
                phone_code_hash: phone_code
                    .as_ref()
                    .map(|code| hash_secret(&user_id, code.expose())),
            }))],
        };
        let committed = self.commit(change).await?;
        tracing::info!(user.id = %user_id, org.id = %committed.org_id, "human user added");
        Ok(AddedHumanUser {
            user_id,
            details: ChangeDetails {
                creation_date: Some(committed.at),
                ..committed.into()
            },
            email_code,
            phone_code,
        })
    }

    fn verification_code(&self, verification: Verification) -> Option<Secret> {
        (verification == Verification::ReturnCode)
            .then(|| generate_code(&self.settings.code_alphabet, self.settings.code_length))
    }

    /// Returns a user that is not deleted, to a caller that may read it.
    pub async fn get_user_by_id(&self, caller: &Caller, user_id: &str) -> Result<User> {
        self.load_target_user(caller, user_id, Permission::UserRead, true)
            .await
    }

    /// Marks a user deleted; its events stay.
    pub async fn delete_user(&self, caller: &Caller, user_id: &str) -> Result<ChangeDetails> {
        self.load_target_user(caller, user_id, Permission::UserDelete, true)
            .await?;
        let committed = self
            .commit(Change {
                user_id: user_id.to_owned(),
                event_type: events::USER_REMOVED,
                payload: json!({}),
                actor: caller.user_id.clone(),
                at: self.now(),
                effects: vec![Effect::DeleteUser, Effect::TerminateUserSessions],
            })
            .await?;
        tracing::info!(user.id = %user_id, "user deleted");
        Ok(committed.into())
    }
}
