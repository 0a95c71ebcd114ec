//! The write path: a change to one user (its event, the state it implies, the messages it
//! queues), what the store reports back, the refusals it may answer with, and `ChangeStore`,
//! which writes changes atomically.

use async_trait::async_trait;

use crate::domain::time::Timestamp;
use crate::domain::user::{User, UserState};
use crate::error::Result;

/// A change to one user: one event, the state changes it implies, and the messages it asks to
/// send. A store writes all of it in one transaction, or none of it.
#[derive(Debug)]
pub struct Change {
    /// The user the change is about.
    pub user_id: String,
    /// The event's type name.
    pub event_type: &'static str,
    /// Facts about the change for the event log; never secrets.
    pub payload: serde_json::Value,
    /// The user id of whoever made the change, or `system`.
    pub actor: String,
    /// When the change is made; conditions on expiry are checked at this time.
    pub at: Timestamp,
    /// The state changes, applied in order.
    pub effects: Vec<Effect>,
}

/// A state change written together with a change's event. Each effect that can be refused
/// names its `Rejection`; a refused effect writes nothing of the change.
#[derive(Debug)]
pub enum Effect {
    /// Inserts the user; must come first, and the change's event then gets sequence 1.
    /// `Rejection::UserExists` when its id or (among users not deleted) its username is taken.
    InsertUser(Box<NewUser>),
    /// Marks the user deleted; `Rejection::UserNotFound` if it already is (as for every change
    /// to a deleted user).
    DeleteUser,
    /// Refuses the change with `Rejection::UserChanged` unless the user is in this state when
    /// the change commits: for a change decided on a copy of the user that may be stale.
    RequireUserState(UserState),
    /// Stores a new passkey registration code for the change's user.
    InsertPasskeyCode(NewPasskeyCode),
    /// Queues a message for the outbox worker.
    EnqueueMessage(NewMessage),
    /// Marks a passkey code used by one conditional update: `Rejection::CodeNotConsumable`
    /// unless exactly one live code changed (unused, fewer than `failure_limit` failures, not
    /// expired at the change's time).
    ConsumePasskeyCode {
        /// The code to consume.
        code_id: String,
        /// The failures after which a code is dead.
        failure_limit: i64,
    },
    /// Counts a failed attempt on a live passkey code (as for `ConsumePasskeyCode`); the
    /// `failure_limit`th one kills it. `Rejection::CodeNotConsumable`, writing nothing, when
    /// the code is no longer live.
    RecordPasskeyCodeFailure {
        /// The code that failed.
        code_id: String,
        /// The failures after which a code is dead.
        failure_limit: i64,
    },
    /// Stores a started passkey registration.
    InsertPasskeyRegistration(NewPasskeyRegistration),
    /// Deletes the change's user's pending registration that has not expired at the change's
    /// time, by one conditional delete: `Rejection::RegistrationNotConsumable` unless exactly
    /// one row went. Of two concurrent changes consuming one registration, one commits.
    ConsumePasskeyRegistration {
        /// The id of the registration to consume.
        passkey_id: String,
    },
    /// Stores a verified passkey; `Rejection::CredentialExists` when its credential id is
    /// registered already.
    InsertPasskey(NewPasskey),
    /// Terminates every live session that checked the change's user.
    TerminateUserSessions,
    /// Removes a passkey of the change's user; `Rejection::PasskeyNotFound` when there is none
    /// with that id.
    RemovePasskey {
        /// The id of the passkey to remove.
        passkey_id: String,
    },
    /// Marks an outbox message sent and replaces its payload with `scrubbed_payload` (the
    /// sealed code removed): `Rejection::LeaseLost` unless the message is still pending and
    /// leased by `lease_owner`, so the event is written only by the lease holder.
    MarkMessageSent(MessageSent),
}

/// A user to insert, with what only new users carry.
#[derive(Debug)]
pub struct NewUser {
    /// The user and its initial state.
    pub user: User,
    /// Metadata given at creation, by key.
    pub metadata: Vec<(String, Vec<u8>)>,
    /// The hash of the email verification code, when one was made.
    pub email_code_hash: Option<Vec<u8>>,
    /// The hash of the phone verification code, when one was made.
    pub phone_code_hash: Option<Vec<u8>>,
}

/// A passkey registration code, stored only as a hash.
#[derive(Debug)]
pub struct NewPasskeyCode {
    /// The code's id, which the link carries next to the code.
    pub id: String,
    /// The hash of the code.
    pub code_hash: Vec<u8>,
    /// When the code stops being accepted.
    pub expires_at: Timestamp,
}

/// A message for the outbox.
#[derive(Debug)]
pub struct NewMessage {
    /// The message id; the email's Message-ID is made from it.
    pub id: String,
    /// What the message is, for the notifier to render.
    pub kind: &'static str,
    /// JSON the notifier renders at send time. It holds the sealed code until the message is
    /// sent.
    pub payload: String,
}

/// A started WebAuthn registration, waiting for the browser's credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPasskeyRegistration {
    /// The `passkey_id` RegisterPasskey returns; the passkey keeps it.
    pub id: String,
    /// The RP id the registration is bound to.
    pub rp_id: String,
    /// The relying party library's state (challenge, user), as JSON.
    pub state: String,
    /// The registration code that started it; `None` when a token holder did.
    pub code_id: Option<String>,
    /// When the registration can no longer be finished.
    pub expires_at: Timestamp,
}

/// A verified passkey to store, READY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPasskey {
    /// The passkey id (the registration's).
    pub id: String,
    /// The name the passkey is listed by.
    pub name: String,
    /// The RP id the credential is bound to.
    pub rp_id: String,
    /// The authenticator's credential id, unique among passkeys.
    pub credential_id: Vec<u8>,
    /// The public key, COSE-encoded.
    pub public_key: Vec<u8>,
    /// The COSE algorithm of the key.
    pub algorithm: i32,
    /// The signature counter at registration.
    pub sign_count: u32,
    /// The authenticator model's id (16 bytes).
    pub aaguid: Vec<u8>,
    /// JSON array of WebAuthn transport names.
    pub transports: String,
}

/// The outcome of delivering an outbox message, written with its `sent` event.
#[derive(Clone, Debug)]
pub struct MessageSent {
    /// The message delivered.
    pub message_id: String,
    /// The worker whose lease the delivery ran under.
    pub lease_owner: String,
    /// The payload to keep, without the sealed code.
    pub scrubbed_payload: String,
}

/// What a committed change reports back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The user's event sequence after the change.
    pub sequence: u64,
    /// The organization owning the user.
    pub org_id: String,
    /// When the change was written.
    pub at: Timestamp,
}

/// A stored event, as the event log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    /// The event's number within its user.
    pub sequence: u64,
    /// The event's type name.
    pub event_type: String,
    /// The event's facts, as JSON.
    pub payload: String,
    /// Who made the change.
    pub actor: String,
    /// When the change was made.
    pub at: Timestamp,
}

/// Why the store refused a write that the state it found does not allow: an expected outcome,
/// named after what happened. The service decides what each means to its caller; a refused
/// write wrote nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The change's user does not exist or is deleted.
    UserNotFound,
    /// A user with the new user's id, or (among users not deleted) its username, exists.
    UserExists,
    /// The passkey code is used, dead (at its failure limit), expired or not the user's.
    CodeNotConsumable,
    /// The user has no pending registration with that id that has not expired (another
    /// verification may have consumed it).
    RegistrationNotConsumable,
    /// A passkey holds the credential id already.
    CredentialExists,
    /// The user has no passkey with that id.
    PasskeyNotFound,
    /// The outbox message is no longer pending and leased by this lease owner.
    LeaseLost,
    /// An organization with that name or domain exists.
    OrgExists,
    /// The user holds the role already.
    RoleHeld,
    /// There is no unrevoked token with that id.
    TokenNotFound,
    /// There is no dead outbox message with that id.
    MessageNotDead,
    /// The session does not exist or is terminated.
    SessionGone,
    /// The session's current token is not the one the change was made with.
    SessionTokenStale,
    /// The session has checked another user.
    SessionUserChanged,
    /// The challenge is used, expired, dead (at its failure limit) or not the session's.
    ChallengeNotConsumable,
    /// A change that required the user's state (`Effect::RequireUserState`) found the user in
    /// another state, deleted or gone.
    UserChanged,
}

/// A write the store may refuse: done, or refused with the `Rejection` that says why.
pub type Outcome<T> = std::result::Result<T, Rejection>;

/// Writes changes, each in one transaction with its event, and reads the event log.
///
/// The outer `Result` of a write is a failure of the store (the database is gone, a conflict
/// that retries did not resolve); the inner one is the store's refusal of this write.
#[async_trait]
pub trait ChangeStore: Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;

    /// Applies a change atomically and returns the user's new sequence.
    async fn commit(&self, change: Change) -> Result<Outcome<Committed>>;

    /// Queues a change and returns as soon as it is queued, before it is written; its outcome
    /// is only logged (a change that fails writes nothing, as with `commit`). Changes of one
    /// user are written in the order they were queued or committed, so a change committed
    /// after this one sees it.
    async fn queue(&self, change: Change) -> Result<()>;

    /// The events of one user in sequence order.
    async fn list_events(&self, user_id: &str) -> Result<Vec<StoredEvent>>;
}
