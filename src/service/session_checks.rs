//! The passkey half of sessions: WebAuthn challenges (for a user's passkeys, or discoverable,
//! §9) and the check of the browser's assertion against them (§6.2, §8 #3–#8, §11.10).

use serde_json::json;

use crate::domain::session::{CHALLENGE_FAILURE_LIMIT, MAX_PENDING_CHALLENGES, Session};
use crate::domain::time::Timestamp;
use crate::domain::user::User;
use crate::domain::webauthn::{self, ExistingCredential};
use crate::domain::webauthn_sign_in::{self, SignInFailure, SignInKey};
use crate::error::{Error, Result};

use super::Services;
use super::ports::{NewSessionChallenge, SessionEffect};
use super::session_errors::{
    assertion_invalid, assertion_unreadable, challenge_user_not_found, challenge_without_user,
    credentials_cloned, no_credentials, no_webauthn_challenge, u2f_not_served,
};
use super::sessions::{ChallengeRequest, UserVerification};

/// A passkey check that verified: who signed in, and the effects that record it.
pub(super) struct SignedIn {
    pub(super) owner: User,
    pub(super) effects: Vec<SessionEffect>,
}

impl Services {
    /// Adds a WebAuthn challenge to a change being assembled and returns the request options
    /// for the browser. With a user, its passkeys for the domain are allowed; without one, any
    /// discoverable credential (when `sessions.discoverable_login` is on).
    pub(super) async fn add_challenge(
        &self,
        draft: &mut super::sessions::Draft,
        user: Option<&User>,
        request: &ChallengeRequest,
        now: Timestamp,
    ) -> Result<serde_json::Value> {
        if request.user_verification != UserVerification::Required {
            return Err(u2f_not_served());
        }
        let domain = request.domain.trim().to_ascii_lowercase();
        webauthn::check_rp_id(&domain).map_err(|problem| {
            Error::invalid_argument("SESSION-Dm4rp", format!("domain {domain:?} {problem}"))
        })?;
        let relying_party = self.relying_party(&domain);
        if relying_party.origins.is_empty() {
            return Err(Error::invalid_argument(
                "SESSION-Dm5rp",
                format!("domain {domain:?} fits none of the allowed origins"),
            ));
        }
        let allowed = match user {
            Some(user) => {
                if !user.may_sign_in_with_passkey() {
                    return Err(challenge_user_not_found());
                }
                let passkeys = self.store.list_passkeys(&user.id).await?;
                let allowed: Vec<ExistingCredential> = passkeys
                    .into_iter()
                    .filter(|passkey| passkey.rp_id == domain)
                    .map(|passkey| ExistingCredential {
                        credential_id: passkey.credential_id,
                        transports: serde_json::from_str(&passkey.transports).unwrap_or_default(),
                    })
                    .collect();
                if allowed.is_empty() {
                    return Err(no_credentials());
                }
                allowed
            }
            None if self.settings.sessions.discoverable_login => Vec::new(),
            None => return Err(challenge_without_user()),
        };
        let timeout = self.settings.sessions.challenge_timeout;
        let started = webauthn_sign_in::start_sign_in(
            &relying_party,
            &allowed,
            timeout.as_millis().min(u128::from(u32::MAX)) as u64,
        )
        .map_err(|error| Error::internal("SESSION-Ch1st", error))?;
        let challenge_id = self.ids.next_id();
        draft.payload.insert(
            "web_authn_challenge".into(),
            json!({"id": challenge_id, "rp_id": domain, "discoverable": user.is_none()}),
        );
        draft.effects.push(SessionEffect::InsertChallenge {
            challenge: NewSessionChallenge {
                id: challenge_id,
                rp_id: domain,
                state: started.state,
                expires_at: now.plus(timeout),
            },
            keep: MAX_PENDING_CHALLENGES,
            failure_limit: CHALLENGE_FAILURE_LIMIT,
        });
        Ok(started.options)
    }

    /// Checks a browser's assertion against the session's pending challenges. The passkey is
    /// found by its credential id; it must belong to the session's user, or (discoverable
    /// sign-in) its owner becomes the session's user, with the user handle to prove it. Any
    /// failure counts against every pending challenge (5 kill one) and writes nothing else.
    pub(super) async fn check_passkey(
        &self,
        session: &Session,
        user: Option<&User>,
        assertion: serde_json::Value,
        now: Timestamp,
    ) -> Result<SignedIn> {
        let pending = self
            .store
            .pending_challenges(&session.id, now, CHALLENGE_FAILURE_LIMIT)
            .await?;
        if pending.is_empty() {
            return Err(no_webauthn_challenge());
        }
        let outcome = self.verify_assertion(&pending, user, assertion).await;
        match outcome {
            Ok(Ok(signed_in)) => Ok(signed_in),
            Ok(Err(failure)) => {
                self.store
                    .record_challenge_failure(&session.id, now, CHALLENGE_FAILURE_LIMIT)
                    .await?;
                tracing::info!(session.id = %session.id, reason = %failure.reason, "passkey check failed");
                Err(failure.error)
            }
            Err(error) => Err(error),
        }
    }

    /// The assertion's verdict: `Ok(Err(_))` for a failed check (which counts), `Err(_)` for
    /// anything else.
    async fn verify_assertion(
        &self,
        pending: &[super::ports::PendingChallenge],
        user: Option<&User>,
        assertion: serde_json::Value,
    ) -> Result<std::result::Result<SignedIn, CheckFailure>> {
        let assertion = match webauthn_sign_in::read_assertion(assertion) {
            Ok(assertion) => assertion,
            Err(reason) => return Ok(Err(CheckFailure::new(assertion_unreadable(), reason))),
        };
        let Some(key) = self.store.sign_in_key(&assertion.credential_id).await? else {
            return Ok(Err(CheckFailure::invalid("unknown credential")));
        };
        // The user handle is not signed: when given it must name the passkey's owner, and a
        // discoverable sign-in, which learns the user from it, needs it.
        let expected = webauthn::user_handle(&key.user_id);
        match assertion.user_handle.as_deref() {
            Some(handle) if handle != expected.as_slice() => {
                return Ok(Err(CheckFailure::invalid(
                    "the user handle is not the owner's",
                )));
            }
            None if user.is_none() => {
                return Ok(Err(CheckFailure::invalid(
                    "no user handle for a discoverable sign-in",
                )));
            }
            _ => {}
        }
        let owner = match user {
            Some(user) if user.id != key.user_id => {
                return Ok(Err(CheckFailure::invalid(
                    "the credential is another user's",
                )));
            }
            Some(user) => user.clone(),
            None => self
                .store
                .get_user(&key.user_id)
                .await?
                .ok_or_else(challenge_user_not_found)?,
        };
        if !owner.may_sign_in_with_passkey() {
            return Err(challenge_user_not_found());
        }
        let sign_in_key = SignInKey {
            credential_id: key.credential_id.clone(),
            public_key: key.public_key.clone(),
            algorithm: key.algorithm,
            sign_count: key.sign_count,
        };
        let mut reason = format!("no pending challenge for RP id {:?}", key.rp_id);
        for challenge in pending
            .iter()
            .filter(|challenge| challenge.rp_id == key.rp_id)
        {
            let relying_party = self.relying_party(&challenge.rp_id);
            match webauthn_sign_in::finish_sign_in(
                &relying_party,
                &challenge.state,
                &assertion,
                &sign_in_key,
            ) {
                Ok(verified) => {
                    return Ok(Ok(SignedIn {
                        owner,
                        effects: vec![
                            SessionEffect::ConsumeChallenge {
                                challenge_id: challenge.id.clone(),
                                failure_limit: CHALLENGE_FAILURE_LIMIT,
                            },
                            SessionEffect::CheckWebAuthn {
                                user_verified: verified.user_verified,
                                passkey_id: key.passkey_id.clone(),
                                sign_count: verified.sign_count,
                            },
                        ],
                    }));
                }
                Err(SignInFailure::CounterRegression) => {
                    return Ok(Err(CheckFailure::new(
                        credentials_cloned(),
                        "the sign counter did not increase".into(),
                    )));
                }
                Err(SignInFailure::Invalid(why)) => reason = why,
            }
        }
        Ok(Err(CheckFailure::invalid(&reason)))
    }
}

/// A failed check: the caller's error and the reason for the log.
struct CheckFailure {
    error: Error,
    reason: String,
}

impl CheckFailure {
    fn new(error: Error, reason: String) -> CheckFailure {
        CheckFailure { error, reason }
    }

    fn invalid(reason: &str) -> CheckFailure {
        CheckFailure::new(assertion_invalid(), reason.to_owned())
    }
}
