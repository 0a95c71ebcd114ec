//! Checking a presented registration code, the credential of RegisterPasskey: only a wrong
//! code for a live code is recorded (the third kills it), attempts against a used, dead or
//! expired code write nothing, and no refusal's timing tells whether the user or the code
//! exists.

use std::time::Duration;

use serde_json::json;

use crate::domain::events;
use crate::domain::secret::secret_matches;
use crate::domain::user::{User, UserState};
use crate::error::{Error, Result};

use super::Services;
use super::passkey_registration::{MAX_CODE_FAILURES, PresentedCode};
use super::ports::{Change, Effect};

const CODE_INVALID: &str = "Code is invalid";
const CODE_INVALID_ID: &str = "COMMAND-Eeb2a";
/// What a presented code is compared with when there is no code to compare it with, so that
/// an unknown code costs the same hash as a known one.
const NO_CODE_HASH: [u8; 32] = [0; 32];
/// The least time a refused code takes to answer: well above the reads and the hash (about a
/// millisecond), so that every kind of refusal answers after the same time.
const CODE_REFUSAL_FLOOR: Duration = Duration::from_millis(10);

/// The error for every refused registration code, whatever the reason.
pub(super) fn code_invalid() -> Error {
    Error::invalid_argument(CODE_INVALID_ID, CODE_INVALID)
}

impl Services {
    /// Counts a wrong code presented for a live code. The change is queued, not awaited: the
    /// answer must not take longer than for a code that does not exist (no write) or a dead
    /// one (none either). A later redemption of the same user is written after it, so the
    /// third failure still kills the code for every attempt that follows it. When a racing
    /// guess or redemption got there first, the code is no longer live and nothing is written.
    async fn record_code_failure(&self, user_id: &str, code_id: &str) {
        let queued = self
            .store
            .queue(Change {
                user_id: user_id.to_owned(),
                event_type: events::PASSKEY_CODE_CHECK_FAILED,
                payload: json!({ "code_id": code_id, "reason": "wrong" }),
                actor: user_id.to_owned(),
                at: self.now(),
                effects: vec![Effect::RecordPasskeyCodeFailure {
                    code_id: code_id.to_owned(),
                    failure_limit: MAX_CODE_FAILURES,
                }],
            })
            .await;
        if let Err(error) = queued {
            tracing::warn!(%error, "could not count a failed passkey code attempt");
        }
    }

    /// Checks a presented code and returns the user it belongs to. Only a wrong code for a
    /// live code is recorded; attempts against a used, dead or expired code write nothing.
    ///
    /// A refusal's timing tells nothing about the user or the code. Every refusal does the
    /// same work: both reads run whether or not the user exists, the hash is compared once on
    /// every path (against a stand-in when there is no code), and the one write (a live
    /// code's failure count) is queued, not awaited. What is left (that write's share of the
    /// machine while the answer goes out) is hidden under a floor every refusal waits for.
    pub(super) async fn check_presented_code(
        &self,
        user_id: &str,
        presented: &PresentedCode,
    ) -> Result<User> {
        let started = tokio::time::Instant::now();
        let checked = self.compare_presented_code(user_id, presented).await;
        if checked.is_err() {
            tokio::time::sleep_until(started + CODE_REFUSAL_FLOOR).await;
        }
        checked
    }

    async fn compare_presented_code(
        &self,
        user_id: &str,
        presented: &PresentedCode,
    ) -> Result<User> {
        let (user, code) = tokio::join!(
            self.store.get_user(user_id),
            self.store.get_passkey_code(&presented.id)
        );
        let user = user?.filter(|user| user.state != UserState::Deleted);
        let code = code?.filter(|code| user.as_ref().is_some_and(|user| code.user_id == user.id));
        let matches = match &code {
            Some(code) => secret_matches(&code.id, presented.code.expose(), &code.code_hash),
            None => {
                std::hint::black_box(secret_matches(
                    &presented.id,
                    presented.code.expose(),
                    &NO_CODE_HASH,
                ));
                false
            }
        };
        let reason = match (&user, &code) {
            (None, _) => "unknown user",
            (Some(_), None) => "unknown code",
            (Some(_), Some(code)) if code.used => "used",
            (Some(_), Some(code)) if code.failures >= MAX_CODE_FAILURES => "dead",
            (Some(_), Some(code)) if code.expires_at <= self.now() => "expired",
            (Some(_), Some(_)) if !matches => "wrong",
            (Some(user), Some(_)) => return Ok(user.clone()),
        };
        tracing::info!(user.id = %user_id, code.id = %presented.id, reason, "passkey code rejected");
        if let (Some(user), Some(code), "wrong") = (&user, &code, reason) {
            self.record_code_failure(&user.id, &code.id).await;
        }
        Err(code_invalid())
    }
}
