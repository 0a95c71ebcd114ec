//! WebAuthn sign-in as a relying party, on the `passki` crate: request options for
//! `navigator.credentials.get`, and the checks on the assertion the browser returns. Pure
//! computation, no IO.
//!
//! passki checks the allowed list, the client data (type, challenge, origin), the RP id hash,
//! user presence and verification, the signature and the sign counter. What it leaves to its
//! caller is done by the caller (the session use cases): finding the passkey by the
//! assertion's credential id, checking the user handle against the passkey's owner, storing
//! the new counter, and making challenges single-use and expiring.

use serde_json::{Value, json};

use super::webauthn::{ExistingCredential, RelyingParty, passki, stored_passkeys};

/// A stored passkey, as a sign-in checks an assertion against it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInKey {
    /// The credential id the browser answers with.
    pub credential_id: Vec<u8>,
    /// The public key, COSE-encoded.
    pub public_key: Vec<u8>,
    /// The COSE algorithm of the key.
    pub algorithm: i32,
    /// The last signature counter seen, to spot cloned authenticators.
    pub sign_count: u32,
}

/// Request options for the browser, and what the server keeps to check the answer.
#[derive(Debug)]
pub struct StartedSignIn {
    /// `{"publicKey": {...}}` for `navigator.credentials.get`.
    pub options: Value,
    /// passki's authentication state (challenge, allowed credentials), as JSON.
    pub state: String,
}

/// A browser's assertion, read but not yet verified.
pub struct Assertion {
    /// The credential the browser used (`rawId`).
    pub credential_id: Vec<u8>,
    /// The user handle the authenticator returned, if any.
    pub user_handle: Option<Vec<u8>>,
    credential: passki::AuthenticationCredential,
}

/// Why an assertion was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignInFailure {
    /// The sign counter did not increase: the authenticator may have been cloned.
    CounterRegression,
    /// Any other failed check, with the reason for the log.
    Invalid(String),
}

/// A verified assertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedSignIn {
    /// The counter to store.
    pub sign_count: u32,
    /// Whether the user was verified (always, since passlink asks for verification).
    pub user_verified: bool,
}

/// Starts a sign-in on `relying_party`: a fresh random challenge, `userVerification:
/// required`, the given credentials allowed (none: any discoverable credential, so no user
/// needs to be named first).
pub fn start_sign_in(
    relying_party: &RelyingParty,
    allowed: &[ExistingCredential],
    timeout_millis: u64,
) -> Result<StartedSignIn, String> {
    let passkeys = stored_passkeys(allowed);
    let mut options = passki::AuthenticationOptions::default();
    options.timeout = timeout_millis;
    options.user_verification = passki::UserVerificationRequirement::Required;
    let (challenge, state) = passki(relying_party)
        .start_passkey_authentication(&passkeys, options)
        .map_err(|error| error.to_string())?;
    let public_key = serde_json::to_value(&challenge).map_err(|error| error.to_string())?;
    let state = serde_json::to_string(&state).map_err(|error| error.to_string())?;
    Ok(StartedSignIn {
        options: json!({ "publicKey": public_key }),
        state,
    })
}

/// Reads the browser's `PublicKeyCredential` (JSON with base64url fields, padded or not; a
/// `userHandle` of `null` or `""` counts as absent), or says why it cannot be read.
pub fn read_assertion(mut value: Value) -> Result<Assertion, String> {
    if !value.is_object() {
        return Err("the assertion is not a JSON object".into());
    }
    match value.get("type").and_then(Value::as_str) {
        Some("public-key") => {}
        Some(kind) => return Err(format!("credential type {kind:?} is not public-key")),
        None => return Err("the assertion has no type".into()),
    }
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if id.is_empty() {
        return Err("the assertion has no id".into());
    }
    if value.get("rawId").is_none() {
        value["rawId"] = Value::String(id.clone());
    }
    strip_padding(&mut value["rawId"]);
    let response = value
        .get_mut("response")
        .filter(|response| response.is_object())
        .ok_or("the assertion has no response")?;
    for field in ["clientDataJSON", "authenticatorData", "signature"] {
        strip_padding(&mut response[field]);
    }
    match response.get("userHandle") {
        Some(Value::String(handle)) if !handle.is_empty() => {
            strip_padding(&mut response["userHandle"])
        }
        Some(_) => {
            response
                .as_object_mut()
                .map(|fields| fields.remove("userHandle"));
        }
        None => {}
    }
    let credential: passki::AuthenticationCredential = serde_json::from_value(value)
        .map_err(|error| format!("the assertion is malformed: {error}"))?;
    let decode = |text: &str, what: &str| {
        passki::Passki::base64_decode(text)
            .map_err(|error| format!("{what} is not base64url: {error}"))
    };
    let credential_id = decode(&credential.raw_id, "rawId")?;
    if decode(id.trim_end_matches('='), "id")? != credential_id {
        return Err("id and rawId differ".into());
    }
    let client_data = decode(&credential.response.client_data_json, "clientDataJSON")?;
    if !serde_json::from_slice::<Value>(&client_data).is_ok_and(|data| data.is_object()) {
        return Err("clientDataJSON is not a JSON object".into());
    }
    // RP id hash (32 bytes), flags (1) and sign counter (4) at least.
    if decode(&credential.response.authenticator_data, "authenticatorData")?.len() < 37 {
        return Err("authenticatorData is shorter than 37 bytes".into());
    }
    decode(&credential.response.signature, "signature")?;
    let user_handle = match credential.response.user_handle.as_deref() {
        Some(handle) => Some(decode(handle, "userHandle")?),
        None => None,
    };
    Ok(Assertion {
        credential_id,
        user_handle,
        credential,
    })
}

/// Removes base64 padding from a JSON string, in place.
fn strip_padding(value: &mut Value) {
    if let Value::String(text) = value {
        let trimmed = text.trim_end_matches('=').len();
        text.truncate(trimmed);
    }
}

/// Checks an assertion against the state of the challenge it answers and the passkey it names.
pub fn finish_sign_in(
    relying_party: &RelyingParty,
    state: &str,
    assertion: &Assertion,
    key: &SignInKey,
) -> Result<VerifiedSignIn, SignInFailure> {
    let state: passki::AuthenticationState = serde_json::from_str(state).map_err(|error| {
        SignInFailure::Invalid(format!("the stored challenge is unreadable: {error}"))
    })?;
    let mut stored = passki::StoredPasskey::default();
    stored.credential_id = key.credential_id.clone();
    stored.public_key = key.public_key.clone();
    stored.algorithm = key.algorithm;
    stored.counter = key.sign_count;
    match passki(relying_party).finish_passkey_authentication(
        &assertion.credential,
        &state,
        &stored,
    ) {
        Ok(result) => Ok(VerifiedSignIn {
            sign_count: result.counter,
            user_verified: true,
        }),
        Err(passki::PasskiError::CounterRegression) => Err(SignInFailure::CounterRegression),
        Err(error) => Err(SignInFailure::Invalid(error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::webauthn::tests::relying_party;

    #[test]
    fn a_discoverable_challenge_allows_no_credential_and_requires_verification() {
        let started = start_sign_in(&relying_party(), &[], 300_000).unwrap();
        let public_key = &started.options["publicKey"];
        assert_eq!(public_key["allowCredentials"], json!([]));
        assert_eq!(public_key["userVerification"], "required");
        assert_eq!(public_key["rpId"], "localhost");
        assert_eq!(public_key["timeout"], 300_000);
        assert!(public_key["challenge"].as_str().unwrap().len() >= 43);
    }

    #[test]
    fn assertions_are_read_with_or_without_padding_and_refused_when_malformed() {
        let authenticator_data = "A".repeat(50);
        let assertion = json!({
            "id": "AQI", "rawId": "AQI=", "type": "public-key",
            "response": {"clientDataJSON": "e30=", "authenticatorData": authenticator_data,
                "signature": "AA", "userHandle": ""}
        });
        let read = read_assertion(assertion).unwrap();
        assert_eq!(read.credential_id, [1, 2]);
        assert_eq!(read.user_handle, None);
        assert!(read_assertion(json!({"type": "public-key", "response": {}})).is_err());
        assert!(read_assertion(json!({"id": "AQI", "type": "other", "response": {}})).is_err());
        let malformed = |client_data: &str, authenticator_data: &str| {
            read_assertion(json!({"id": "AQI", "type": "public-key", "response": {
                "clientDataJSON": client_data, "authenticatorData": authenticator_data,
                "signature": "AA"}}))
            .err()
            .unwrap_or_default()
        };
        assert!(malformed("!!", &authenticator_data).contains("base64url"));
        assert!(malformed("AA", &authenticator_data).contains("JSON"));
        assert!(malformed("e30", "AA").contains("37 bytes"));
    }
}
