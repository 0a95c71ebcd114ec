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
    /// The client's fingerprint of the agent (a device or browser id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint_id: Option<String>,
    /// The agent's IP address as the client gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// A free description, such as the browser's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// HTTP headers the client chose to record, by name.
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
    /// The user's id.
    pub id: String,
    /// The user's organization.
    pub org_id: String,
    /// When the user was checked.
    pub checked_at: Timestamp,
}

/// The last successful WebAuthn check of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebAuthnFactor {
    /// When the check succeeded.
    pub checked_at: Timestamp,
    /// Whether the authenticator verified the user (PIN, biometrics).
    pub user_verified: bool,
}

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The session id.
    pub id: String,
    /// The change counter: the sequence of the last Create or Set.
    pub sequence: u64,
    /// The user id of whoever created it; empty for a public sign-in.
    pub creator_id: String,
    /// The user checked, once a check named one.
    pub user: Option<CheckedUser>,
    /// The last WebAuthn check, once one succeeded.
    pub web_authn: Option<WebAuthnFactor>,
    /// Metadata set on the session, by key.
    pub metadata: BTreeMap<String, Vec<u8>>,
    /// The user agent the session was created from.
    pub user_agent: UserAgent,
    /// When the session stops being valid; `None`: never.
    pub expires_at: Option<Timestamp>,
    /// When the session was terminated, if it was.
    pub terminated_at: Option<Timestamp>,
    /// When the session was created.
    pub created_at: Timestamp,
    /// When the session last changed.
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
