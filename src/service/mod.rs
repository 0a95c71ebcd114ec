//! The use cases of passlink, one function per RPC, named like it. They check permissions and
//! rules and describe each change for the store; they know nothing of transports or SQL.

mod authentication;
pub mod operators;
mod outbox;
mod passkey_code;
mod passkey_registration;
mod passkeys;
pub mod ports;
mod refusals;
mod registration_links;
mod retention;
mod session_checks;
mod session_errors;
mod session_queries;
mod sessions;
mod users;

use std::sync::Arc;
use std::time::Duration;

use crate::domain::id::IdGenerator;
use crate::domain::passkey::PasskeyRefusal;
use crate::domain::permission::{Caller, Permission};
use crate::domain::time::{Clock, Timestamp};
use crate::domain::user::{User, UserState};
use crate::error::{Error, Result};

pub use authentication::TOKEN_HASH_OWNER;
pub use passkey_registration::{
    MAX_CODE_FAILURES, PasskeySettings, PresentedCode, RegisterPasskey, StartedPasskeyRegistration,
    VerifyPasskeyRegistration,
};
pub use passkeys::{PasskeyList, PasskeyListing};
pub use registration_links::{
    IssuedCode, LinkMedium, PASSKEY_LINK_MESSAGE_KIND, PasskeyLinkMessage,
};
pub use retention::{
    RetentionPolicy, RetentionRule, RetentionSweeper, RunningSweeper, SweepReport,
};
pub use session_queries::{
    ListFilter, ListSessions, MAX_LISTED_SESSIONS, OwnFilter, SessionList, SessionView,
};
pub use sessions::{
    ChallengeRequest, CreateSession, SessionRequest, SessionSettings, SessionWritten, SetSession,
    UserCheck, UserVerification,
};
pub use users::{AddHumanUser, AddedHumanUser, EmailInput, OrgSelector, PhoneInput, Verification};

/// Settings the use cases read, resolved from passlink's settings by `config` (no defaults
/// of their own, so that they cannot drift from the settings').
#[derive(Clone, Debug)]
pub struct ServiceSettings {
    /// Characters registration codes are drawn from.
    pub code_alphabet: Vec<char>,
    /// Length of a registration code.
    pub code_length: usize,
    /// How long a registration code stays valid after it is created.
    pub code_lifetime: Duration,
    /// Where passlink is reached from outside; the default link points at its page there.
    pub external_url: String,
    /// The WebAuthn relying party.
    pub passkeys: PasskeySettings,
    /// Why email cannot be sent (the missing setting), or `None` when it can. Requests that
    /// need an email answer FailedPrecondition with this text and store nothing.
    pub email_unavailable: Option<String>,
    /// The node number in generated ids, leased from the database so that processes sharing
    /// it differ; a random one when `None`.
    pub id_node: Option<u16>,
    /// What the retention sweep deletes, and how often it runs.
    pub retention: RetentionPolicy,
    /// Sign-in with sessions.
    pub sessions: SessionSettings,
}

/// What a change reports to the client, as `zitadel.object.v2.Details`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeDetails {
    /// The target's event sequence after the change.
    pub sequence: u64,
    /// When the change was made.
    pub change_date: Timestamp,
    /// The organization owning the target.
    pub resource_owner: String,
    /// When the target was created, for answers that report it.
    pub creation_date: Option<Timestamp>,
}

impl From<ports::Committed> for ChangeDetails {
    fn from(committed: ports::Committed) -> Self {
        ChangeDetails {
            sequence: committed.sequence,
            change_date: committed.at,
            resource_owner: committed.org_id,
            creation_date: None,
        }
    }
}

/// The use cases, with what they need injected.
pub struct Services {
    store: Arc<dyn ports::Store>,
    clock: Arc<dyn Clock>,
    /// Seals the codes queued emails carry, so that the store never holds them in plain text.
    sealer: Arc<dyn ports::SecretSealer>,
    ids: IdGenerator,
    settings: ServiceSettings,
    /// Signalled after a commit that queued a message, so the outbox worker starts at once.
    message_queued: Arc<tokio::sync::Notify>,
    /// The instance's id, read (or made) at its first use.
    instance_id: tokio::sync::OnceCell<String>,
}

/// The error for a user who may not get a passkey (`User::may_get_passkey`).
fn passkey_refused(refusal: PasskeyRefusal) -> Error {
    match refusal {
        PasskeyRefusal::Locked => Error::failed_precondition("COMMAND-Lk8sd", "User is locked"),
        PasskeyRefusal::Inactive => Error::failed_precondition("COMMAND-In3ac", "User is inactive"),
        PasskeyRefusal::NotHuman => Error::failed_precondition(
            "COMMAND-Mh2pk",
            "Passkeys can only be registered for human users",
        ),
    }
}

const USER_NOT_FOUND: &str = "User could not be found";
const PERMISSION_DENIED: &str = "Permission denied";

impl Services {
    /// Creates the use cases over a store, a clock and a sealer of secrets at rest.
    pub fn new(
        store: Arc<dyn ports::Store>,
        clock: Arc<dyn Clock>,
        sealer: Arc<dyn ports::SecretSealer>,
        settings: ServiceSettings,
    ) -> Services {
        let ids = match settings.id_node {
            Some(node) => IdGenerator::with_node(clock.clone(), node),
            None => IdGenerator::new(clock.clone()),
        };
        Services {
            store,
            clock,
            sealer,
            ids,
            settings,
            message_queued: Arc::new(tokio::sync::Notify::new()),
            instance_id: tokio::sync::OnceCell::new(),
        }
    }

    /// Signalled (`notify_one`) whenever a request queued an outbox message.
    pub fn message_queued(&self) -> Arc<tokio::sync::Notify> {
        self.message_queued.clone()
    }

    /// The clock the use cases run on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Whether the store answers: the readiness probe's question.
    pub async fn ready(&self) -> Result<()> {
        self.store.ping().await
    }

    /// The sealer of secrets at rest; the outbox worker opens sealed codes with it.
    pub fn sealer(&self) -> &Arc<dyn ports::SecretSealer> {
        &self.sealer
    }

    /// The settings the use cases run with.
    pub fn settings(&self) -> &ServiceSettings {
        &self.settings
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Loads a user that is not deleted and checks that the caller may act on it with
    /// `permission` (or as itself, when `self_allowed`).
    async fn load_target_user(
        &self,
        caller: &Caller,
        user_id: &str,
        permission: Permission,
        self_allowed: bool,
    ) -> Result<User> {
        let read = self.store.get_user(user_id);
        self.authorized_target(caller, user_id, permission, self_allowed, read)
            .await
    }

    /// `load_target_user` for a use case that only builds a change from the user: it may be
    /// a copy read a few seconds ago (`UserStore::get_user_to_change`), as the commit refuses
    /// a change to a user deleted meanwhile.
    async fn load_user_to_change(
        &self,
        caller: &Caller,
        user_id: &str,
        permission: Permission,
    ) -> Result<User> {
        let read = self.store.get_user_to_change(user_id);
        self.authorized_target(caller, user_id, permission, false, read)
            .await
    }

    /// Checks the caller's right before `read` runs (so that a caller without any right
    /// learns nothing about the user), then that the user read is not deleted and the caller
    /// may act on it.
    async fn authorized_target(
        &self,
        caller: &Caller,
        user_id: &str,
        permission: Permission,
        self_allowed: bool,
        read: impl Future<Output = Result<Option<User>>>,
    ) -> Result<User> {
        let acting_on_itself = self_allowed && caller.may_act_on_itself(permission, user_id);
        if !acting_on_itself && !caller.has_permission_anywhere(permission) {
            return Err(Error::permission_denied("AUTHZ-Hw3p9", PERMISSION_DENIED));
        }
        let user = read
            .await?
            .filter(|user| user.state != UserState::Deleted)
            .ok_or_else(|| Error::not_found("COMMAND-Lo9vd", USER_NOT_FOUND))?;
        if !acting_on_itself && !caller.has_permission(permission, &user.org_id) {
            return Err(Error::permission_denied("AUTHZ-Tq8mr", PERMISSION_DENIED));
        }
        Ok(user)
    }
}
