//! Sessions as passlink keeps them (SESSIONS.md): who was checked, when, and until when the
//! session lasts, with the limits that bound what a client may store in one.

use std::collections::BTreeMap;

use super::time::Timestamp;
use super::user::{User, UserKind, UserState};

/// Pending WebAuthn challenges a session keeps; requesting another drops the oldest (§8 #7).
pub const MAX_PENDING_CHALLENGES: i64 = 3;
/// Failed checks after which a challenge is dead (§8 #6).
pub const CHALLENGE_FAILURE_LIMIT: i64 = 5;
/// The longest metadata key, in characters (§8 #17).
pub const MAX_METADATA_KEY_CHARS: usize = 200;
/// The largest metadata value, in bytes.
pub const MAX_METADATA_VALUE_BYTES: usize = 500_000;
/// The most metadata keys one session holds.
pub const MAX_METADATA_KEYS: usize = 50;
/// The most bytes a session's user agent headers may take (names and values).
pub const MAX_USER_AGENT_HEADER_BYTES: usize = 64 * 1024;

/// The user agent a session was created from, as the client described it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserAgent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub header: BTreeMap<String, Vec<String>>,
}

impl UserAgent {
    /// Whether the client described nothing at all.
    pub fn is_empty(&self) -> bool {
        self.fingerprint_id.is_none()
            && self.ip.is_none()
            && self.description.is_none()
            && self.header.is_empty()
    }
}

/// The user a session checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedUser {
    pub id: String,
    pub org_id: String,
    pub checked_at: Timestamp,
}

/// The last successful WebAuthn check of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebAuthnFactor {
    pub checked_at: Timestamp,
    pub user_verified: bool,
}

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    /// The change counter: the sequence of the last Create or Set.
    pub sequence: u64,
    /// The user id of whoever created it; empty for a public sign-in.
    pub creator_id: String,
    pub user: Option<CheckedUser>,
    pub web_authn: Option<WebAuthnFactor>,
    pub metadata: BTreeMap<String, Vec<u8>>,
    pub user_agent: UserAgent,
    pub expires_at: Option<Timestamp>,
    pub terminated_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub changed_at: Timestamp,
}

impl Session {
    /// Whether the session's lifetime is over at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|expires_at| expires_at <= now)
    }

    /// The user a session authenticates as when its token is used as a bearer token: a live
    /// session whose passkey check verified the user (§11.6).
    pub fn signed_in_user(&self, now: Timestamp) -> Option<&CheckedUser> {
        let verified = self.web_authn.is_some_and(|factor| factor.user_verified);
        (verified && self.terminated_at.is_none() && !self.is_expired(now))
            .then_some(self.user.as_ref())
            .flatten()
    }
}

impl User {
    /// Whether a session may check this user: ACTIVE or INITIAL, machines included.
    pub fn may_open_session(&self) -> bool {
        matches!(self.state, UserState::Active | UserState::Initial)
    }

    /// Whether this user may sign in with a passkey: an ACTIVE human.
    pub fn may_sign_in_with_passkey(&self) -> bool {
        self.state == UserState::Active && matches!(self.kind, UserKind::Human { .. })
    }

    /// The name a session shows for its user, as ZITADEL defaults it: the display name, else
    /// "given family", else the email address, else the username.
    pub fn session_display_name(&self) -> String {
        let UserKind::Human { profile, email, .. } = &self.kind else {
            return self.username.clone();
        };
        if let Some(name) = profile
            .display_name
            .as_ref()
            .filter(|name| !name.trim().is_empty())
        {
            return name.clone();
        }
        let full = format!("{} {}", profile.given_name, profile.family_name);
        if !full.trim().is_empty() {
            return full.trim().to_owned();
        }
        if !email.address.is_empty() {
            return email.address.clone();
        }
        self.username.clone()
    }
}
