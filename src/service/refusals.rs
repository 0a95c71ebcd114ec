//! What the store's refusals (`ports::Rejection`) mean to a caller: each becomes the error
//! ZITADEL answers in its place, with the id and text passlink has always answered with.

use crate::error::{Error, Result};

use super::passkey_code::code_invalid;
use super::passkey_registration::{PASSKEY_NOT_FOUND, passkey_already_registered};
use super::ports::{Change, Committed, Rejection, SessionChange};
use super::session_errors::{
    no_webauthn_challenge, session_terminated, session_token_invalid, user_change_impossible,
};
use super::{Services, USER_NOT_FOUND};

/// The error a caller gets when the store refused its write.
pub(super) fn refused(rejection: Rejection) -> Error {
    match rejection {
        Rejection::UserNotFound => Error::not_found("STORE-Nf2us", USER_NOT_FOUND),
        Rejection::UserExists => Error::already_exists("STORE-Uq7xk", "User already exists"),
        // Used, dead, expired: to the presenter every such code is just not valid.
        Rejection::CodeNotConsumable => code_invalid(),
        Rejection::RegistrationNotConsumable => {
            Error::not_found("COMMAND-Pk6cs", PASSKEY_NOT_FOUND)
        }
        Rejection::CredentialExists => passkey_already_registered(),
        Rejection::PasskeyNotFound => Error::not_found("COMMAND-Pk4nf", PASSKEY_NOT_FOUND),
        Rejection::LeaseLost => Error::failed_precondition(
            "STORE-Ms3ls",
            "The message is no longer leased by this process",
        ),
        Rejection::OrgExists => Error::already_exists("STORE-Oq5ex", "Organization already exists"),
        Rejection::RoleHeld => {
            Error::already_exists("STORE-Rq2ex", "The user already holds this role")
        }
        Rejection::TokenNotFound => Error::not_found("STORE-Tr2nf", "Token could not be found"),
        Rejection::MessageNotDead => {
            Error::not_found("STORE-Mr2nf", "No dead outbox message has this id")
        }
        Rejection::SessionGone => session_terminated(),
        Rejection::SessionTokenStale => session_token_invalid(),
        Rejection::SessionUserChanged => user_change_impossible(),
        Rejection::ChallengeNotConsumable => no_webauthn_challenge(),
        // The use case reads the user again once; a second change meanwhile is a conflict.
        Rejection::UserChanged => {
            Error::aborted("STORE-Uc1ch", "The user changed meanwhile; try again")
        }
    }
}

impl Services {
    /// Commits a change and waits until it is durable; a refusal becomes the caller's error.
    pub(super) async fn commit(&self, change: Change) -> Result<Committed> {
        self.store.commit(change).await?.map_err(refused)
    }

    /// Commits a session change and waits until it is durable; a refusal becomes the
    /// caller's error.
    pub(super) async fn commit_session(&self, change: SessionChange) -> Result<Committed> {
        self.store.commit_session(change).await?.map_err(refused)
    }
}
