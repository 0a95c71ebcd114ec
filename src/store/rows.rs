//! Rows as the queries read them (`#[derive(sqlx::FromRow)]`), and their conversion into the
//! domain and port types: a plain `From` where every row is valid, `TryFrom` where a stored
//! value may not be (an unknown user state or role).

use std::str::FromStr;

use crate::domain::permission::{Role, RoleGrant};
use crate::domain::time::Timestamp;
use crate::domain::user::{Email, Org, Phone, Profile, User, UserKind, UserState};
use crate::error::Error;
use crate::service::ports::{
    NewPasskeyRegistration, PendingPasskeyRegistration, StoredEvent, StoredMessage,
    StoredPasskeyCode, StoredPasskeyInfo,
};

/// A row of `users`.
#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: String,
    org_id: String,
    kind: String,
    state: i64,
    username: String,
    sequence: i64,
    created_at: i64,
    changed_at: i64,
    given_name: Option<String>,
    family_name: Option<String>,
    nick_name: Option<String>,
    display_name: Option<String>,
    preferred_language: Option<String>,
    gender: Option<i64>,
    email: Option<String>,
    email_verified: i64,
    phone: Option<String>,
    phone_verified: i64,
    machine_name: Option<String>,
    machine_description: Option<String>,
}

impl TryFrom<UserRow> for User {
    type Error = Error;

    fn try_from(row: UserRow) -> Result<User, Error> {
        let state = UserState::from_number(row.state).ok_or_else(|| {
            Error::internal("STORE-Gu2dc", format!("unknown user state {}", row.state))
        })?;
        let kind = if row.kind == "machine" {
            UserKind::Machine {
                name: row.machine_name.unwrap_or_default(),
                description: row.machine_description.unwrap_or_default(),
            }
        } else {
            UserKind::Human {
                profile: Profile {
                    given_name: row.given_name.unwrap_or_default(),
                    family_name: row.family_name.unwrap_or_default(),
                    nick_name: row.nick_name,
                    display_name: row.display_name,
                    preferred_language: row.preferred_language,
                    gender: row.gender.map(|number| number as i32),
                },
                email: Email {
                    address: row.email.unwrap_or_default(),
                    is_verified: row.email_verified != 0,
                },
                phone: row.phone.map(|number| Phone {
                    number,
                    is_verified: row.phone_verified != 0,
                }),
            }
        };
        Ok(User {
            id: row.id,
            org_id: row.org_id,
            state,
            username: row.username,
            sequence: row.sequence as u64,
            created_at: Timestamp(row.created_at),
            changed_at: Timestamp(row.changed_at),
            kind,
        })
    }
}

/// A row of `orgs`.
#[derive(sqlx::FromRow)]
pub(super) struct OrgRow {
    id: String,
    name: String,
    domain: String,
}

impl From<OrgRow> for Org {
    fn from(row: OrgRow) -> Org {
        Org {
            id: row.id,
            name: row.name,
            domain: row.domain,
        }
    }
}

/// A row of `role_grants`.
#[derive(sqlx::FromRow)]
pub(super) struct RoleGrantRow {
    role: String,
    /// Empty for an instance-wide role.
    org_id: String,
}

impl TryFrom<RoleGrantRow> for RoleGrant {
    type Error = Error;

    fn try_from(row: RoleGrantRow) -> Result<RoleGrant, Error> {
        let role =
            Role::from_str(&row.role).map_err(|error| Error::internal("STORE-Rg4dc", error))?;
        Ok(RoleGrant {
            role,
            org_id: (!row.org_id.is_empty()).then_some(row.org_id),
        })
    }
}

/// The user and expiry a valid token leads to.
#[derive(sqlx::FromRow)]
pub(super) struct TokenOwnerRow {
    /// The owner's user id.
    pub(super) id: String,
    pub(super) org_id: String,
    /// When the token expires, if ever.
    pub(super) expires_at: Option<i64>,
}

/// A row of `events`.
#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    sequence: i64,
    event_type: String,
    payload: String,
    actor: String,
    created_at: i64,
}

impl From<EventRow> for StoredEvent {
    fn from(row: EventRow) -> StoredEvent {
        StoredEvent {
            sequence: row.sequence as u64,
            event_type: row.event_type,
            payload: row.payload,
            actor: row.actor,
            at: Timestamp(row.created_at),
        }
    }
}

/// The user's sequence after a change bumped it, and its organization.
#[derive(sqlx::FromRow)]
pub(super) struct BumpedRow {
    pub(super) sequence: i64,
    pub(super) org_id: String,
}

/// A row of `outbox`.
#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    id: String,
    user_id: String,
    kind: String,
    payload: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
}

impl From<MessageRow> for StoredMessage {
    fn from(row: MessageRow) -> StoredMessage {
        StoredMessage {
            id: row.id,
            user_id: row.user_id,
            kind: row.kind,
            payload: row.payload,
            state: row.state,
            attempts: row.attempts,
            last_error: row.last_error,
        }
    }
}

/// A row of `passkey_codes`.
#[derive(sqlx::FromRow)]
pub(super) struct PasskeyCodeRow {
    id: String,
    user_id: String,
    code_hash: Vec<u8>,
    expires_at: i64,
    failures: i64,
    used_at: Option<i64>,
}

impl From<PasskeyCodeRow> for StoredPasskeyCode {
    fn from(row: PasskeyCodeRow) -> StoredPasskeyCode {
        StoredPasskeyCode {
            id: row.id,
            user_id: row.user_id,
            code_hash: row.code_hash,
            expires_at: Timestamp(row.expires_at),
            failures: row.failures,
            used: row.used_at.is_some(),
        }
    }
}

/// A code's id and hash.
#[derive(sqlx::FromRow)]
pub(super) struct CodeHashRow {
    id: String,
    code_hash: Vec<u8>,
}

impl From<CodeHashRow> for (String, Vec<u8>) {
    fn from(row: CodeHashRow) -> (String, Vec<u8>) {
        (row.id, row.code_hash)
    }
}

/// A row of `passkey_registrations`.
#[derive(sqlx::FromRow)]
pub(super) struct PasskeyRegistrationRow {
    id: String,
    user_id: String,
    rp_id: String,
    state: String,
    code_id: Option<String>,
    created_at: i64,
    expires_at: i64,
}

impl From<PasskeyRegistrationRow> for PendingPasskeyRegistration {
    fn from(row: PasskeyRegistrationRow) -> PendingPasskeyRegistration {
        PendingPasskeyRegistration {
            user_id: row.user_id,
            created_at: Timestamp(row.created_at),
            registration: NewPasskeyRegistration {
                id: row.id,
                rp_id: row.rp_id,
                state: row.state,
                code_id: row.code_id,
                expires_at: Timestamp(row.expires_at),
            },
        }
    }
}

/// A READY passkey as listed.
#[derive(sqlx::FromRow)]
pub(super) struct PasskeyInfoRow {
    id: String,
    name: String,
    rp_id: String,
    credential_id: Vec<u8>,
    transports: String,
}

impl From<PasskeyInfoRow> for StoredPasskeyInfo {
    fn from(row: PasskeyInfoRow) -> StoredPasskeyInfo {
        StoredPasskeyInfo {
            id: row.id,
            name: row.name,
            rp_id: row.rp_id,
            credential_id: row.credential_id,
            transports: row.transports,
        }
    }
}
