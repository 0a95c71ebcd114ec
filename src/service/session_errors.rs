//! The errors of the session use cases, with ZITADEL's texts and ids (SESSIONS.md §4, §7);
//! some texts are sent raw because clients compare them byte for byte.

use crate::error::Error;

/// The raw text ZITADEL's login UI compares against (`lib/server/loginname.ts`).
pub(super) fn user_not_active() -> Error {
    Error::failed_precondition("SESSION-Gj4ko", "Errors.User.NotActive")
}

/// GetSession with a token that is not the session's current one.
pub(super) fn session_read_denied() -> Error {
    Error::permission_denied("QUERY-dsfr3", "Errors.PermissionDenied")
}

pub(super) fn session_not_found() -> Error {
    Error::not_found("QUERY-SFeaa", "Session does not exist")
}

pub(super) fn session_terminated() -> Error {
    Error::failed_precondition("COMMAND-Hewfq", "Session already terminated")
}

pub(super) fn session_expired() -> Error {
    Error::failed_precondition("COMMAND-Hkl3d", "Session has expired")
}

pub(super) fn session_token_invalid() -> Error {
    Error::permission_denied("COMMAND-sGr42", "Session Token is invalid")
}

/// A session token that is not base64url at all.
pub(super) fn session_token_malformed() -> Error {
    Error::invalid_argument("COMMAND-hi6Ph", "Session Token is invalid")
}

/// ZITADEL answers this with an empty id; passlink gives it one (§8 #13).
pub(super) fn user_change_impossible() -> Error {
    Error::invalid_argument("SESSION-Uc4ng", "user change not possible")
}

pub(super) fn no_webauthn_challenge() -> Error {
    Error::failed_precondition("COMMAND-Ioqu5", "Session without WebAuthN challenge")
}

/// A user who cannot sign in with a passkey: not an ACTIVE human.
pub(super) fn challenge_user_not_found() -> Error {
    Error::failed_precondition("COMMAND-Df4b3", "User could not be found")
}

pub(super) fn challenge_without_user() -> Error {
    Error::failed_precondition("COMMAND-eeR2e", "User ID missing")
}

/// No passkey to sign in with (ZITADEL: Internal; passlink: FailedPrecondition, §8 #4).
pub(super) fn no_credentials() -> Error {
    Error::failed_precondition("WEBAU-4G8sw", "WebAuthN begin login failed")
}

/// U2F (PREFERRED/DISCOURAGED), which passlink does not serve (§8 #15).
pub(super) fn u2f_not_served() -> Error {
    Error::failed_precondition(
        "WEBAU-4G8sw",
        "WebAuthN begin login failed: passlink serves only USER_VERIFICATION_REQUIREMENT_REQUIRED (passkeys), not U2F",
    )
}

/// An assertion that cannot be read (ZITADEL: Internal; passlink: InvalidArgument, §8 #3).
pub(super) fn assertion_unreadable() -> Error {
    Error::invalid_argument("WEBAU-ADgv4", "Error on validate login credentials")
}

/// An assertion that does not verify, whatever failed.
pub(super) fn assertion_invalid() -> Error {
    Error::invalid_argument("WEBAU-3M9si", "Error on validate login credentials")
}

pub(super) fn credentials_cloned() -> Error {
    Error::failed_precondition("WEBAU-4M90s", "Credentials may be cloned")
}

/// A user lookup of a check that found nobody, or more than one user.
pub(super) fn check_user_not_found() -> Error {
    Error::not_found("QUERY-Dfbg2", "User could not be found")
}

pub(super) fn permission_denied() -> Error {
    Error::permission_denied("AUTH-AWfge", "No matching permissions found")
}
