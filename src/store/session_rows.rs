//! Rows of the session tables as the queries read them, and their conversion into sessions.

use std::collections::BTreeMap;

use crate::domain::session::{CheckedUser, Session, WebAuthnFactor};
use crate::domain::time::Timestamp;
use crate::service::ports::{PendingChallenge, StoredSignInKey};

/// The columns of `sessions` a session is read from.
pub(super) const SESSION_COLUMNS: &str = "s.id, s.sequence, s.creator_id, s.user_id, \
     s.user_org_id, s.user_checked_at, s.webauthn_checked_at, s.webauthn_user_verified, \
     s.user_agent, s.expires_at, s.terminated_at, s.created_at, s.changed_at";

/// A row of `sessions`.
#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    id: String,
    sequence: i64,
    creator_id: String,
    user_id: Option<String>,
    user_org_id: Option<String>,
    user_checked_at: Option<i64>,
    webauthn_checked_at: Option<i64>,
    webauthn_user_verified: i64,
    user_agent: String,
    expires_at: Option<i64>,
    terminated_at: Option<i64>,
    created_at: i64,
    changed_at: i64,
}

impl SessionRow {
    /// The session, with its metadata.
    pub(super) fn into_session(self, metadata: BTreeMap<String, Vec<u8>>) -> Session {
        let user = match (self.user_id, self.user_org_id, self.user_checked_at) {
            (Some(id), Some(org_id), Some(checked_at)) => Some(CheckedUser {
                id,
                org_id,
                checked_at: Timestamp(checked_at),
            }),
            _ => None,
        };
        Session {
            id: self.id,
            sequence: self.sequence as u64,
            creator_id: self.creator_id,
            user,
            web_authn: self.webauthn_checked_at.map(|checked_at| WebAuthnFactor {
                checked_at: Timestamp(checked_at),
                user_verified: self.webauthn_user_verified != 0,
            }),
            metadata,
            // Written by passlink from the same type; an unreadable one shows as empty.
            user_agent: serde_json::from_str(&self.user_agent).unwrap_or_default(),
            expires_at: self.expires_at.map(Timestamp),
            terminated_at: self.terminated_at.map(Timestamp),
            created_at: Timestamp(self.created_at),
            changed_at: Timestamp(self.changed_at),
        }
    }

    /// The session's id.
    pub(super) fn id(&self) -> &str {
        &self.id
    }
}

/// A row of `session_metadata`.
#[derive(sqlx::FromRow)]
pub(super) struct MetadataRow {
    pub(super) session_id: String,
    pub(super) key: String,
    pub(super) value: Vec<u8>,
}

/// A row of `session_challenges`.
#[derive(sqlx::FromRow)]
pub(super) struct ChallengeRow {
    id: String,
    rp_id: String,
    state: String,
}

impl From<ChallengeRow> for PendingChallenge {
    fn from(row: ChallengeRow) -> PendingChallenge {
        PendingChallenge {
            id: row.id,
            rp_id: row.rp_id,
            state: row.state,
        }
    }
}

/// A passkey as a sign-in reads it.
#[derive(sqlx::FromRow)]
pub(super) struct SignInKeyRow {
    id: String,
    user_id: String,
    rp_id: String,
    credential_id: Vec<u8>,
    public_key: Vec<u8>,
    algorithm: i64,
    sign_count: i64,
}

impl From<SignInKeyRow> for StoredSignInKey {
    fn from(row: SignInKeyRow) -> StoredSignInKey {
        StoredSignInKey {
            passkey_id: row.id,
            user_id: row.user_id,
            rp_id: row.rp_id,
            credential_id: row.credential_id,
            public_key: row.public_key,
            algorithm: row.algorithm as i32,
            sign_count: row.sign_count.clamp(0, i64::from(u32::MAX)) as u32,
        }
    }
}
