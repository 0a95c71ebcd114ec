//! The storage the use cases need, as a trait; `crate::store` implements it per backend.

use async_trait::async_trait;

use crate::domain::permission::RoleGrant;
use crate::domain::secret::Secret;
use crate::domain::time::Timestamp;
use crate::domain::user::{Org, User};
use crate::error::Result;

/// A change to one user: one event, the state changes it implies, and the messages it asks to
/// send. A store writes all of it in one transaction, or none of it.
#[derive(Debug)]
pub struct Change {
    pub user_id: String,
    pub event_type: &'static str,
    /// Facts about the change for the event log; never secrets.
    pub payload: serde_json::Value,
    /// The user id of whoever made the change, or `system`.
    pub actor: String,
    pub at: Timestamp,
    pub effects: Vec<Effect>,
}

/// A state change written together with a change's event.
#[derive(Debug)]
pub enum Effect {
    /// Inserts the user; must come first, and the change's event then gets sequence 1.
    InsertUser(Box<NewUser>),
    /// Marks the user deleted; the change fails with NotFound if it already is.
    DeleteUser,
    InsertPasskeyCode(NewPasskeyCode),
    EnqueueMessage(NewMessage),
    /// Marks a passkey code used by one conditional update; the change fails with
    /// InvalidArgument "Code is invalid" unless exactly one unused, live code changed.
    ConsumePasskeyCode {
        code_id: String,
    },
    /// Counts a failed attempt on a live passkey code (unused, under three failures, not
    /// expired at the change's time); the third one kills it. The change fails with
    /// FailedPrecondition, writing nothing, when the code is no longer live.
    RecordPasskeyCodeFailure {
        code_id: String,
    },
    /// Stores a started passkey registration.
    InsertPasskeyRegistration(NewPasskeyRegistration),
    /// Deletes the change's user's pending registration that has not expired at the change's
    /// time, by one conditional delete; the change fails with NotFound unless exactly one row
    /// went. Of two concurrent changes consuming one registration, one commits.
    ConsumePasskeyRegistration {
        passkey_id: String,
    },
    /// Stores a verified passkey; AlreadyExists when its credential id is registered already.
    InsertPasskey(NewPasskey),
    /// Removes a passkey of the change's user; NotFound when there is none with that id.
    RemovePasskey {
        passkey_id: String,
    },
    /// Marks an outbox message sent and replaces its payload with `scrubbed_payload` (the
    /// sealed code removed); the change fails with FailedPrecondition unless the message is still pending
    /// and leased by `lease_owner`, so the event is written only by the lease holder.
    MarkMessageSent(MessageSent),
}

/// A started WebAuthn registration, waiting for the browser's credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPasskeyRegistration {
    /// The `passkey_id` RegisterPasskey returns; the passkey keeps it.
    pub id: String,
    pub rp_id: String,
    /// The relying party library's state (challenge, user), as JSON.
    pub state: String,
    /// The registration code that started it; `None` when a token holder did.
    pub code_id: Option<String>,
    pub expires_at: Timestamp,
}

/// A pending registration as stored, waiting to be finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingPasskeyRegistration {
    pub user_id: String,
    pub created_at: Timestamp,
    pub registration: NewPasskeyRegistration,
}

/// A verified passkey to store, READY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPasskey {
    pub id: String,
    pub name: String,
    pub rp_id: String,
    pub credential_id: Vec<u8>,
    pub public_key: Vec<u8>,
    pub algorithm: i32,
    pub sign_count: u32,
    pub aaguid: Vec<u8>,
    /// JSON array of WebAuthn transport names.
    pub transports: String,
}

/// A stored passkey registration code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPasskeyCode {
    pub id: String,
    pub user_id: String,
    pub code_hash: Vec<u8>,
    pub expires_at: Timestamp,
    pub failures: i64,
    pub used: bool,
}

/// A READY passkey as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPasskeyInfo {
    pub id: String,
    pub name: String,
    pub credential_id: Vec<u8>,
    /// JSON array of WebAuthn transport names.
    pub transports: String,
}

/// The outcome of delivering an outbox message, written with its `sent` event.
#[derive(Clone, Debug)]
pub struct MessageSent {
    pub message_id: String,
    pub lease_owner: String,
    pub scrubbed_payload: String,
}

/// A failed delivery attempt of a leased outbox message.
#[derive(Debug)]
pub struct MessageFailure {
    pub message_id: String,
    pub lease_owner: String,
    pub error: String,
    /// When to try again; `None` marks the message dead.
    pub retry_at: Option<Timestamp>,
}

/// A user to insert, with what only new users carry.
#[derive(Debug)]
pub struct NewUser {
    pub user: User,
    pub metadata: Vec<(String, Vec<u8>)>,
    pub email_code_hash: Option<Vec<u8>>,
    pub phone_code_hash: Option<Vec<u8>>,
}

/// A passkey registration code, stored only as a hash.
#[derive(Debug)]
pub struct NewPasskeyCode {
    pub id: String,
    pub code_hash: Vec<u8>,
    pub expires_at: Timestamp,
}

/// A message for the outbox.
#[derive(Debug)]
pub struct NewMessage {
    pub id: String,
    pub kind: &'static str,
    /// JSON the notifier renders at send time. It holds the sealed code until the message is
    /// sent.
    pub payload: String,
}

/// What a committed change reports back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The user's event sequence after the change.
    pub sequence: u64,
    /// The organization owning the user.
    pub org_id: String,
    pub at: Timestamp,
}

/// The owner of a valid personal access token.
#[derive(Clone, Debug)]
pub struct TokenOwner {
    pub user_id: String,
    pub org_id: String,
    pub grants: Vec<RoleGrant>,
}

/// A personal access token to store, by hash.
#[derive(Debug)]
pub struct NewToken {
    pub id: String,
    pub user_id: String,
    pub token_hash: Vec<u8>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// A stored event, as the event log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub sequence: u64,
    pub event_type: String,
    pub payload: String,
    pub actor: String,
    pub at: Timestamp,
}

/// A stored outbox message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// Seals secrets that must be kept until they are used but never stored in plain text (the
/// code of a queued email): the store only ever sees the sealed form.
pub trait SecretSealer: Send + Sync + 'static {
    /// Seals `secret`, bound to `context` (the id it belongs to): it opens only with the same
    /// context, so a sealed value cannot be moved to another row.
    fn seal(&self, secret: &str, context: &str) -> Result<String>;

    /// Opens what `seal` made with the same context; the error says why it cannot (sealed with
    /// another key, altered, or meant for another context).
    fn open(&self, sealed: &str, context: &str) -> std::result::Result<Secret, String>;
}

/// Persistent state of passlink.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;

    /// Applies a change atomically and returns the user's new sequence.
    async fn commit(&self, change: Change) -> Result<Committed>;

    /// Queues a change and returns as soon as it is queued, before it is written; its outcome
    /// is only logged (a change that fails writes nothing, as with `commit`). Changes of one
    /// user are written in the order they were queued or committed, so a change committed
    /// after this one sees it.
    async fn queue(&self, change: Change) -> Result<()>;

    /// Returns a user in any state, deleted ones included.
    async fn get_user(&self, user_id: &str) -> Result<Option<User>>;

    /// Returns the owner of an unrevoked, unexpired token of an active user.
    async fn find_token_owner(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> Result<Option<TokenOwner>>;

    async fn get_org(&self, org_id: &str) -> Result<Option<Org>>;
    async fn find_org_by_domain(&self, domain: &str) -> Result<Option<Org>>;
    async fn list_orgs(&self) -> Result<Vec<Org>>;

    /// Inserts an organization; AlreadyExists when its name or domain is taken.
    async fn create_org(&self, org: &Org, at: Timestamp) -> Result<()>;
    async fn create_token(&self, token: NewToken) -> Result<()>;
    /// Revokes a token by id; NotFound when there is no such unrevoked token.
    async fn revoke_token(&self, token_id: &str, at: Timestamp) -> Result<()>;
    async fn grant_role(&self, user_id: &str, grant: &RoleGrant) -> Result<()>;

    /// The events of one user in sequence order.
    async fn list_events(&self, user_id: &str) -> Result<Vec<StoredEvent>>;
    /// Every outbox message, oldest first.
    async fn list_messages(&self) -> Result<Vec<StoredMessage>>;

    /// A passkey registration code by id.
    async fn get_passkey_code(&self, code_id: &str) -> Result<Option<StoredPasskeyCode>>;
    /// A pending registration of a user that has not expired at `now`, read without changing
    /// it (`Effect::ConsumePasskeyRegistration` takes it out).
    async fn get_passkey_registration(
        &self,
        passkey_id: &str,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Option<PendingPasskeyRegistration>>;
    /// The READY passkeys of a user, oldest first.
    async fn list_passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskeyInfo>>;
    /// Whether any passkey holds this credential id.
    async fn passkey_credential_exists(&self, credential_id: &[u8]) -> Result<bool>;
    /// Leases the oldest due pending message whose lease (if any) has expired to `owner` until
    /// `lease_until`, counts the attempt, and returns it. A conditional update: of several
    /// processes claiming at once, exactly one gets each message.
    async fn claim_message(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<StoredMessage>>;

    /// Records a failed attempt of a message leased by `failure.lease_owner` and releases the
    /// lease: back to pending at `retry_at`, or dead. False when the lease was lost.
    async fn record_message_failure(&self, failure: MessageFailure, now: Timestamp)
    -> Result<bool>;

    /// Marks a leased message sent without an event (for users deleted since it was queued).
    async fn mark_message_sent_without_event(
        &self,
        sent: MessageSent,
        now: Timestamp,
    ) -> Result<bool>;

    /// Re-queues a dead message for immediate delivery with a fresh attempt count; NotFound
    /// when there is no dead message with that id.
    async fn retry_message(&self, message_id: &str, now: Timestamp) -> Result<()>;

    /// The passkey registration codes of a user as (code id, code hash), oldest first.
    async fn list_passkey_code_hashes(&self, user_id: &str) -> Result<Vec<(String, Vec<u8>)>>;
}
