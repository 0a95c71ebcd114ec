//! The storage the use cases need, as role traits, one file each; `Store` joins them.
//! `crate::store` implements them per backend.

mod changes;
mod orgs;
mod outbox;
mod passkeys;
mod retention;
mod secrets;
mod sessions;
mod tokens;
mod users;

pub use changes::{
    Change, ChangeStore, Committed, Effect, MessageSent, NewMessage, NewPasskey, NewPasskeyCode,
    NewPasskeyRegistration, NewUser, Outcome, Rejection, StoredEvent,
};
pub use orgs::OrgStore;
pub use outbox::{MessageFailure, OutboxStore, StoredMessage};
pub use passkeys::{
    PasskeyStore, PendingPasskeyRegistration, StoredPasskeyCode, StoredPasskeyInfo,
};
pub use retention::{Disposable, RETENTION_LEASE, RetentionStore};
pub use secrets::SecretSealer;
pub use sessions::{
    NewSession, NewSessionChallenge, PendingChallenge, SessionChange, SessionEffect, SessionFilter,
    SessionPage, SessionQuery, SessionStore, SessionVisibility, StoredSignInKey, TimeComparison,
};
pub use tokens::{NewToken, TokenOwner, TokenStore};
pub use users::UserStore;

/// Persistent state of passlink: every role at once, as the use cases hold it
/// (`Arc<dyn Store>`). Anything implementing every role is a `Store`.
pub trait Store:
    ChangeStore
    + UserStore
    + OrgStore
    + TokenStore
    + PasskeyStore
    + OutboxStore
    + RetentionStore
    + SessionStore
{
}

impl<T> Store for T where
    T: ChangeStore
        + UserStore
        + OrgStore
        + TokenStore
        + PasskeyStore
        + OutboxStore
        + RetentionStore
        + SessionStore
{
}
