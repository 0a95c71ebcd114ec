//! Use cases that create and change sessions: CreateSession and SetSession (SESSIONS.md §6.1,
//! §6.2, §9, §11). A session checks a user and a passkey; each change is one session change
//! (its event, its effects and a new token, the old one dead in the same transaction).
//!
//! Who may: a caller with `session.write` (only instance-wide roles hold it), checked before
//! any user is looked up (§8 #1). Without a bearer token (public sign-in, §11.7) only a
//! discoverable challenge may be requested, and only a passkey check made with the session's
//! current token; everything else needs a token.

use std::time::Duration;

use serde_json::{Value, json};

use crate::domain::events;
use crate::domain::permission::{Caller, Permission};
use crate::domain::secret::{generate_session_token, hash_secret};
use crate::domain::session::{Session, UserAgent};
use crate::domain::time::Timestamp;
use crate::domain::user::User;
use crate::error::{Error, Result};

use super::authentication::missing_authorization;
use super::ports::{NewSession, SessionChange, SessionEffect};
use super::session_errors::{
    check_user_not_found, permission_denied, session_expired, session_not_found,
    session_terminated, session_token_invalid, user_change_impossible, user_not_active,
};
use super::{ChangeDetails, Services};

/// The owner id session tokens are hashed with.
pub(crate) const SESSION_TOKEN_HASH_OWNER: &str = "session-token";

/// What the session use cases read from passlink's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSettings {
    /// A WebAuthn challenge without a user gives a discoverable challenge (§9).
    pub discoverable_login: bool,
    /// Sign-in without a bearer token (§11.7).
    pub public_sign_in: bool,
    /// Public sign-in may name a user (telling strangers which login names exist).
    pub public_login_name: bool,
    /// How long a WebAuthn challenge can be answered.
    pub challenge_timeout: Duration,
}

/// How a check names its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserCheck {
    /// A user id.
    Id(String),
    /// A login name, matched case-insensitively.
    LoginName(String),
}

/// The user verification a challenge asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserVerification {
    /// The authenticator must verify the user.
    Required,
    /// The authenticator should verify the user if it can.
    Preferred,
    /// The authenticator should not verify the user.
    Discouraged,
}

/// A requested WebAuthn challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeRequest {
    /// The RP id the passkey was registered for.
    pub domain: String,
    /// Whether the authenticator must verify the user.
    pub user_verification: UserVerification,
}

/// The checks and requests of a CreateSession or SetSession, validated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionRequest {
    /// The user to check, if the request names one.
    pub user: Option<UserCheck>,
    /// The browser's `PublicKeyCredential` of a `get()`, as JSON.
    pub web_authn: Option<Value>,
    /// Metadata to set; an empty value deletes its key (on SetSession).
    pub metadata: Vec<(String, Vec<u8>)>,
    /// Whether `challenges` was set at all: the answer then carries `challenges`, even empty.
    pub challenges_requested: bool,
    /// The WebAuthn challenge to start, if one was requested.
    pub challenge: Option<ChallengeRequest>,
    /// How long the session stays valid from now, if the request sets it.
    pub lifetime: Option<Duration>,
}

/// What CreateSession asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreateSession {
    /// The checks and requests.
    pub request: SessionRequest,
    /// The user agent the client described.
    pub user_agent: UserAgent,
}

/// What SetSession asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SetSession {
    /// The session to change.
    pub session_id: String,
    /// The session's current token, which proves possession for a public SetSession (ignored
    /// with a bearer token holding `session.write`).
    pub session_token: Option<String>,
    /// The checks and requests.
    pub request: SessionRequest,
}

/// The answer of CreateSession and SetSession.
#[derive(Debug)]
pub struct SessionWritten {
    /// What the change reports.
    pub details: ChangeDetails,
    /// The session id.
    pub session_id: String,
    /// The session's new token; the previous one no longer works.
    pub session_token: String,
    /// `Some` when challenges were requested: the WebAuthn request options, if one was.
    pub challenges: Option<Option<Value>>,
}

/// A change being assembled: its effects and what its event records.
pub(super) struct Draft {
    pub(super) effects: Vec<SessionEffect>,
    pub(super) payload: serde_json::Map<String, Value>,
    options: Option<Value>,
}

impl SessionRequest {
    /// Whether a caller without a token may send this (§11.7): only a discoverable WebAuthn
    /// challenge with `REQUIRED` (and a user check when `login_name_allowed`), or only a
    /// WebAuthn check; a lifetime either way.
    fn is_public(&self, login_name_allowed: bool) -> bool {
        let user_allowed = self.user.is_none() || login_name_allowed;
        let challenge_only = self.web_authn.is_none()
            && user_allowed
            && self.metadata.is_empty()
            && self
                .challenge
                .as_ref()
                .is_some_and(|challenge| challenge.user_verification == UserVerification::Required);
        let check_only = self.web_authn.is_some()
            && self.user.is_none()
            && self.metadata.is_empty()
            && self.challenge.is_none()
            && !self.challenges_requested;
        challenge_only || check_only
    }
}

impl Services {
    /// The settings of the session use cases.
    fn session_settings(&self) -> &SessionSettings {
        &self.settings.sessions
    }

    /// Creates a session: the user check, a WebAuthn challenge, metadata and a lifetime.
    pub async fn create_session(
        &self,
        caller: Option<&Caller>,
        create: CreateSession,
    ) -> Result<SessionWritten> {
        let settings = self.session_settings();
        match caller {
            Some(caller) if caller.has_instance_permission(Permission::SessionWrite) => {}
            Some(_) => return Err(permission_denied()),
            None if settings.public_sign_in
                && create.request.web_authn.is_none()
                && create.request.is_public(settings.public_login_name) => {}
            None => return Err(missing_authorization()),
        }
        let request = create.request;
        check_metadata_count(&Session::empty_metadata(), &request.metadata)?;
        let now = self.now();
        let user = match &request.user {
            Some(check) => Some(self.find_checked_user(check).await?),
            None => None,
        };
        let session_id = self.ids.next_id();
        let public = caller.is_none();
        let expires_at = if public {
            // Unless a check succeeds, a public session lives as long as its challenge.
            Some(now.plus(settings.challenge_timeout))
        } else {
            request.lifetime.map(|lifetime| now.plus(lifetime))
        };
        let mut draft = Draft {
            effects: vec![SessionEffect::InsertSession(NewSession {
                id: session_id.clone(),
                creator_id: caller
                    .map(|caller| caller.user_id.clone())
                    .unwrap_or_default(),
                public,
                user_agent: create.user_agent,
                expires_at,
            })],
            payload: serde_json::Map::new(),
            options: None,
        };
        if let Some(user) = &user {
            draft.check_user(user);
        }
        if let Some(challenge) = &request.challenge {
            let options = self
                .add_challenge(&mut draft, user.as_ref(), challenge, now)
                .await?;
            draft.options = Some(options);
        }
        draft.set_metadata(&request.metadata, &Session::empty_metadata());
        let token = generate_session_token();
        let committed = self
            .commit_session(SessionChange {
                session_id: session_id.clone(),
                event_type: events::SESSION_ADDED,
                payload: Value::Object(draft.payload),
                actor: caller
                    .map(|caller| caller.user_id.clone())
                    .unwrap_or_default(),
                at: now,
                new_token_hash: Some(hash_secret(SESSION_TOKEN_HASH_OWNER, token.expose())),
                expected_token_hash: None,
                effects: draft.effects,
            })
            .await?;
        tracing::info!(session.id = %session_id, public, "session created");
        Ok(SessionWritten {
            details: self.session_details(committed.sequence, now).await?,
            session_id,
            session_token: token.expose().to_owned(),
            challenges: request.challenges_requested.then_some(draft.options),
        })
    }

    /// Changes a session: checks (user, passkey), a new challenge, metadata and lifetime.
    /// Every successful change rotates the token (§8 #9).
    pub async fn set_session(
        &self,
        caller: Option<&Caller>,
        set: SetSession,
    ) -> Result<SessionWritten> {
        let settings = self.session_settings();
        let session = self
            .store
            .get_session(&set.session_id)
            .await?
            .ok_or_else(session_not_found)?;
        let request = set.request;
        let mut expected_token_hash = None;
        match caller {
            Some(caller) => {
                let org = session.user.as_ref().map(|user| user.org_id.as_str());
                let allowed = match org {
                    Some(org) => caller.has_permission(Permission::SessionWrite, org),
                    None => caller.has_instance_permission(Permission::SessionWrite),
                };
                if !allowed {
                    return Err(permission_denied());
                }
            }
            None if settings.public_sign_in
                && request.is_public(false)
                && request.web_authn.is_some() =>
            {
                let token = set.session_token.as_deref().unwrap_or_default();
                let token_hash = hash_secret(SESSION_TOKEN_HASH_OWNER, token);
                if token.is_empty()
                    || !self
                        .store
                        .session_token_matches(&session.id, &token_hash)
                        .await?
                {
                    return Err(session_token_invalid());
                }
                expected_token_hash = Some(token_hash);
            }
            None => return Err(missing_authorization()),
        }
        if session.terminated_at.is_some() {
            return Err(session_terminated());
        }
        check_metadata_count(&session.metadata, &request.metadata)?;
        let now = self.now();
        if session.is_expired(now) {
            return Err(session_expired());
        }
        let mut draft = Draft {
            effects: Vec::new(),
            payload: serde_json::Map::new(),
            options: None,
        };
        let mut user = match &request.user {
            Some(check) => {
                let user = self.find_checked_user(check).await?;
                if session
                    .user
                    .as_ref()
                    .is_some_and(|checked| checked.id != user.id)
                {
                    return Err(user_change_impossible());
                }
                draft.check_user(&user);
                Some(user)
            }
            None => match &session.user {
                Some(checked) => self.store.get_user(&checked.id).await?,
                None => None,
            },
        };
        if let Some(assertion) = &request.web_authn {
            let signed_in = self
                .check_passkey(&session, user.as_ref(), assertion.clone(), now)
                .await?;
            if user.is_none() {
                draft.check_user(&signed_in.owner);
            }
            draft.effects.extend(signed_in.effects);
            draft
                .payload
                .insert("web_authn_checked".into(), json!(true));
            if caller.is_none() {
                // A public session now lasts as long as its lifetime says, not its challenge.
                let expires_at = request.lifetime.map(|lifetime| now.plus(lifetime));
                draft.effects.push(SessionEffect::SetExpiration(expires_at));
            }
            user = Some(signed_in.owner);
        }
        if let Some(challenge) = &request.challenge {
            let options = self
                .add_challenge(&mut draft, user.as_ref(), challenge, now)
                .await?;
            draft.options = Some(options);
        }
        draft.set_metadata(&request.metadata, &session.metadata);
        if let Some(lifetime) = request.lifetime {
            draft
                .payload
                .insert("lifetime_seconds".into(), json!(lifetime.as_secs_f64()));
            draft
                .effects
                .push(SessionEffect::SetExpiration(Some(now.plus(lifetime))));
        }
        let token = generate_session_token();
        let committed = self
            .commit_session(SessionChange {
                session_id: session.id.clone(),
                event_type: events::SESSION_SET,
                payload: Value::Object(draft.payload),
                actor: caller
                    .map(|caller| caller.user_id.clone())
                    .unwrap_or_default(),
                at: now,
                new_token_hash: Some(hash_secret(SESSION_TOKEN_HASH_OWNER, token.expose())),
                expected_token_hash,
                effects: draft.effects,
            })
            .await?;
        tracing::info!(session.id = %session.id, "session changed");
        Ok(SessionWritten {
            details: self.session_details(committed.sequence, now).await?,
            session_id: session.id,
            session_token: token.expose().to_owned(),
            challenges: request.challenges_requested.then_some(draft.options),
        })
    }

    /// The user a check names: by id, or by login name (the username, or
    /// `username@orgdomain`, case-insensitively). NotFound when nobody or more than one user
    /// matches; `Errors.User.NotActive` for a user that may not open a session.
    async fn find_checked_user(&self, check: &UserCheck) -> Result<User> {
        let user = match check {
            UserCheck::Id(user_id) => self.store.get_user(user_id).await?,
            UserCheck::LoginName(login_name) => {
                self.store
                    .find_user_by_login_name(&login_name.to_lowercase())
                    .await?
            }
        };
        let user = user
            .filter(|user| user.state != crate::domain::user::UserState::Deleted)
            .ok_or_else(check_user_not_found)?;
        if !user.may_open_session() {
            return Err(user_not_active());
        }
        Ok(user)
    }

    /// The details of a session answer: its sequence, the time, and the instance as owner.
    pub(super) async fn session_details(
        &self,
        sequence: u64,
        at: Timestamp,
    ) -> Result<ChangeDetails> {
        Ok(ChangeDetails {
            sequence,
            change_date: at,
            resource_owner: self.instance_id().await?,
            creation_date: None,
        })
    }

    /// The instance's id, made at the first start and stored (§11.1).
    pub(super) async fn instance_id(&self) -> Result<String> {
        self.instance_id
            .get_or_try_init(|| async { self.store.instance_id(&self.ids.next_id()).await })
            .await
            .cloned()
    }
}

impl Session {
    /// The metadata of a session not yet stored.
    fn empty_metadata() -> std::collections::BTreeMap<String, Vec<u8>> {
        std::collections::BTreeMap::new()
    }
}

impl Draft {
    fn check_user(&mut self, user: &User) {
        self.effects.push(SessionEffect::CheckUser {
            user_id: user.id.clone(),
            org_id: user.org_id.clone(),
        });
        self.payload.insert("user_id".into(), json!(user.id));
    }

    /// Sets the metadata that changes: a non-empty value sets its key, an empty one deletes
    /// it; keys already holding that value are left alone.
    fn set_metadata(
        &mut self,
        entries: &[(String, Vec<u8>)],
        current: &std::collections::BTreeMap<String, Vec<u8>>,
    ) {
        let mut changed = Vec::new();
        for (key, value) in entries {
            let value = (!value.is_empty()).then(|| value.clone());
            if current.get(key) == value.as_ref() {
                continue;
            }
            changed.push(key.clone());
            self.effects.push(SessionEffect::SetMetadata {
                key: key.clone(),
                value,
            });
        }
        if !changed.is_empty() {
            self.payload.insert("metadata_keys".into(), json!(changed));
        }
    }
}

/// Checks that a session with `current` metadata may take `entries` within the bound on
/// keys (§8 #17); the per-entry bounds are checked with the request.
pub(super) fn check_metadata_count(
    current: &std::collections::BTreeMap<String, Vec<u8>>,
    entries: &[(String, Vec<u8>)],
) -> Result<()> {
    let mut keys: std::collections::BTreeSet<&String> = current.keys().collect();
    for (key, value) in entries {
        if value.is_empty() {
            keys.remove(key);
        } else {
            keys.insert(key);
        }
    }
    if keys.len() > crate::domain::session::MAX_METADATA_KEYS {
        return Err(Error::invalid_argument(
            "SESSION-Md5cp",
            format!(
                "metadata: a session holds at most {} keys",
                crate::domain::session::MAX_METADATA_KEYS
            ),
        ));
    }
    Ok(())
}
