//! `SessionStore`: sessions, their challenges and their events. A session changes through a
//! `SessionChange`, written by the group commit like a user's change (one transaction with its
//! event, numbered per session); the reads are here.

use async_trait::async_trait;

use crate::domain::session::{Session, UserAgent};
use crate::domain::time::Timestamp;
use crate::error::Result;

use super::changes::{Committed, Outcome};

/// A change to one session: one event, the state it implies, and the session's new token.
/// A store writes all of it in one transaction, or none of it.
#[derive(Debug)]
pub struct SessionChange {
    /// The session the change is about.
    pub session_id: String,
    /// The event's type name.
    pub event_type: &'static str,
    /// Facts about the change for the event log; never secrets.
    pub payload: serde_json::Value,
    /// The user id of whoever made the change; empty for a public sign-in.
    pub actor: String,
    /// When the change is made; conditions on expiry are checked at this time.
    pub at: Timestamp,
    /// The hash of the token the session has after the change; the old token dies with it.
    /// `None` keeps no token (a terminated session).
    pub new_token_hash: Option<Vec<u8>>,
    /// When set, the change is written only while this is the hash of the session's current
    /// token (`Rejection::SessionTokenStale` otherwise): a public SetSession proves
    /// possession with the token, and of two changes made with one token only one commits.
    pub expected_token_hash: Option<Vec<u8>>,
    /// The state changes, applied in order.
    pub effects: Vec<SessionEffect>,
}

/// A state change written together with a session change.
#[derive(Debug)]
pub enum SessionEffect {
    /// Inserts the session; must come first, and the change's event then gets sequence 1.
    InsertSession(NewSession),
    /// Sets the checked user, conditionally: `Rejection::SessionUserChanged` when the session
    /// has another user.
    CheckUser {
        /// The user checked.
        user_id: String,
        /// The user's organization.
        org_id: String,
    },
    /// Takes a pending challenge by one conditional delete (unexpired, under the failure
    /// limit) and drops the session's other challenges: `Rejection::ChallengeNotConsumable`
    /// unless exactly one challenge went, so of two checks of one challenge one commits.
    ConsumeChallenge {
        /// The challenge to take.
        challenge_id: String,
        /// The failures after which a challenge is dead.
        failure_limit: i64,
    },
    /// Records a successful WebAuthn check, and the passkey's new sign counter.
    CheckWebAuthn {
        /// Whether the authenticator verified the user.
        user_verified: bool,
        /// The passkey that signed.
        passkey_id: String,
        /// The signature counter the assertion carried.
        sign_count: u32,
    },
    /// Stores a new challenge, dropping expired and dead ones and the oldest beyond
    /// `keep` pending ones.
    InsertChallenge {
        /// The challenge to store.
        challenge: NewSessionChallenge,
        /// How many pending challenges a session keeps at most.
        keep: i64,
        /// The failures after which a challenge is dead.
        failure_limit: i64,
    },
    /// Sets a metadata key, or deletes it when `value` is `None`.
    SetMetadata {
        /// The metadata key.
        key: String,
        /// The new value; `None` deletes the key.
        value: Option<Vec<u8>>,
    },
    /// Sets when the session expires (`None`: never).
    SetExpiration(Option<Timestamp>),
    /// Terminates the session: its token and challenges are gone; it stays, terminated,
    /// until the retention sweep.
    Terminate,
}

/// A session to insert.
#[derive(Debug)]
pub struct NewSession {
    /// The session id.
    pub id: String,
    /// The user id of whoever created it; empty for a public sign-in.
    pub creator_id: String,
    /// Created without a bearer token (public sign-in): swept when it expires unchecked.
    pub public: bool,
    /// The user agent the session was created from.
    pub user_agent: UserAgent,
    /// When the session expires; `None`: never.
    pub expires_at: Option<Timestamp>,
}

/// A WebAuthn challenge to store with a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSessionChallenge {
    /// The challenge id.
    pub id: String,
    /// The RP id the challenge is for.
    pub rp_id: String,
    /// The relying party library's state (challenge, allowed credentials), as JSON.
    pub state: String,
    /// When the challenge can no longer be answered.
    pub expires_at: Timestamp,
}

/// A pending challenge as stored: unexpired and under the failure limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingChallenge {
    /// The challenge id.
    pub id: String,
    /// The RP id the challenge is for.
    pub rp_id: String,
    /// The relying party library's state, as JSON.
    pub state: String,
}

/// How a timestamp query compares (`zitadel.v1.TimestampQueryMethod`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeComparison {
    /// Exactly at the time.
    Equals,
    /// After the time.
    Greater,
    /// At or after the time.
    GreaterOrEquals,
    /// Before the time.
    Less,
    /// At or before the time.
    LessOrEquals,
}

/// One condition of ListSessions; conditions combine with AND.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionFilter {
    /// Sessions with one of these ids.
    Ids(Vec<String>),
    /// Sessions that checked this user.
    UserId(String),
    /// Sessions created as compared.
    CreatedAt(TimeComparison, Timestamp),
    /// Sessions expiring as compared; GREATER and GREATER_OR_EQUALS also match sessions that
    /// never expire.
    ExpiresAt(TimeComparison, Timestamp),
    /// Sessions created by this user.
    CreatorId(String),
    /// Sessions of this user agent fingerprint.
    FingerprintId(String),
}

/// Who may see which sessions: a row is visible when any of these holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionVisibility {
    /// Every session (instance-wide `session.read`).
    pub all: bool,
    /// Sessions whose checked user is in one of these organizations.
    pub user_orgs: Vec<String>,
    /// Sessions created by, or checking, this user.
    pub own_user_id: Option<String>,
}

/// A ListSessions query, run by the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionQuery {
    /// The conditions, all of which must hold.
    pub filters: Vec<SessionFilter>,
    /// Which sessions the caller may see.
    pub visibility: SessionVisibility,
    /// Order by creation date (ascending when `ascending`); by id otherwise.
    pub by_creation_date: bool,
    /// Oldest (or lowest id) first when set.
    pub ascending: bool,
    /// How many matching sessions to skip.
    pub offset: u64,
    /// How many sessions to return at most.
    pub limit: u64,
}

/// A page of sessions and how many match in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionPage {
    /// How many sessions match, before offset and limit.
    pub total: u64,
    /// The sessions of this page.
    pub sessions: Vec<Session>,
}

/// A passkey as a sign-in needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSignInKey {
    /// The passkey id.
    pub passkey_id: String,
    /// The passkey's owner.
    pub user_id: String,
    /// The RP id the passkey was registered for.
    pub rp_id: String,
    /// The credential id the browser answers with.
    pub credential_id: Vec<u8>,
    /// The public key, COSE-encoded.
    pub public_key: Vec<u8>,
    /// The COSE algorithm of the key.
    pub algorithm: i32,
    /// The last signature counter seen.
    pub sign_count: u32,
}

/// Sessions, read; and the few writes that are not session changes.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Writes a session change atomically, through the same writer as users' changes.
    async fn commit_session(&self, change: SessionChange) -> Result<Outcome<Committed>>;

    /// A session by id, terminated ones included.
    async fn get_session(&self, session_id: &str) -> Result<Option<Session>>;

    /// The session whose current token has this hash.
    async fn session_by_token(&self, token_hash: &[u8]) -> Result<Option<Session>>;

    /// Whether this is the hash of the session's current token.
    async fn session_token_matches(&self, session_id: &str, token_hash: &[u8]) -> Result<bool>;

    /// The session's challenges that are unexpired at `now` and under `failure_limit`.
    async fn pending_challenges(
        &self,
        session_id: &str,
        now: Timestamp,
        failure_limit: i64,
    ) -> Result<Vec<PendingChallenge>>;

    /// Counts a failed check against every pending challenge of the session (one statement;
    /// a failure is bookkeeping, not a change of the session, so it writes no event).
    async fn record_challenge_failure(
        &self,
        session_id: &str,
        now: Timestamp,
        failure_limit: i64,
    ) -> Result<()>;

    /// The sessions a query selects.
    async fn list_sessions(&self, query: &SessionQuery) -> Result<SessionPage>;

    /// The passkey holding a credential id.
    async fn sign_in_key(&self, credential_id: &[u8]) -> Result<Option<StoredSignInKey>>;

    /// The instance's id: the one stored, or `candidate` stored as it at the first call.
    async fn instance_id(&self, candidate: &str) -> Result<String>;
}
