//! Signing in with the software authenticator: `navigator.credentials.get` on the server's
//! request options, giving the browser's `PublicKeyCredential.toJSON()`; and assertions forged
//! the way a broken or hostile client could send them (another challenge, origin, RP ID hash,
//! flags or sign counter, re-signed with the credential's own private key so that only the
//! edited part is wrong; or a signature that does not verify).

use passkey_crypto::SecretKeyT;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::authenticator::{ORIGIN, SoftwareClient, b64, unb64};

/// Runs `navigator.credentials.get` on `origin` with the server's
/// `publicKeyCredentialRequestOptions` (`{"publicKey": {…}}`) and returns the credential as the
/// browser's `PublicKeyCredential.toJSON()` would.
pub async fn get_assertion_at(
    authenticator: &mut SoftwareClient,
    origin: &str,
    options: &Value,
) -> Value {
    let request = serde_json::from_value(options.clone())
        .unwrap_or_else(|error| panic!("request options the client reads: {error}: {options}"));
    let origin = url::Url::parse(origin).unwrap();
    let asserted = authenticator
        .authenticate(&origin, request, passkey_client::DefaultClientData)
        .await
        .unwrap_or_else(|error| panic!("the authenticator refused: {error:?}"));
    serde_json::to_value(&asserted).unwrap()
}

/// `get_assertion_at` on the default test server's allowed origin.
pub async fn get_assertion(authenticator: &mut SoftwareClient, options: &Value) -> Value {
    get_assertion_at(authenticator, ORIGIN, options).await
}

/// The flag bits of authenticatorData (byte 32).
pub const FLAG_UP: u8 = 0x01;
pub const FLAG_UV: u8 = 0x04;

/// What to change in an assertion before it is signed again.
#[derive(Default)]
pub struct Forgery {
    /// Replaces `clientDataJSON.challenge` (base64url text).
    pub challenge: Option<String>,
    /// Replaces `clientDataJSON.origin`.
    pub origin: Option<String>,
    /// Replaces `clientDataJSON.type`.
    pub client_data_type: Option<String>,
    /// Replaces the RP ID hash with SHA-256 of this RP ID.
    pub rp_id: Option<String>,
    /// Clears these flag bits.
    pub clear_flags: u8,
    /// Sets the signature counter.
    pub sign_count: Option<u32>,
}

/// The authenticator data of an assertion.
pub fn authenticator_data(assertion: &Value) -> Vec<u8> {
    unb64(assertion["response"]["authenticatorData"].as_str().unwrap())
}

/// The decoded `clientDataJSON` of an assertion.
pub fn client_data(assertion: &Value) -> Value {
    let bytes = unb64(assertion["response"]["clientDataJSON"].as_str().unwrap());
    serde_json::from_slice(&bytes).unwrap()
}

/// The sign counter an assertion carries (authenticatorData bytes 33..37, big-endian).
pub fn sign_count(assertion: &Value) -> u32 {
    let data = authenticator_data(assertion);
    u32::from_be_bytes(data[33..37].try_into().unwrap())
}

/// Applies `forgery` to a genuine assertion of `authenticator` and signs it again with the
/// credential's private key: the result verifies cryptographically, and only what was edited
/// is wrong.
pub fn forge(authenticator: &SoftwareClient, assertion: &Value, forgery: Forgery) -> Value {
    let mut client_data = client_data(assertion);
    if let Some(challenge) = forgery.challenge {
        client_data["challenge"] = Value::String(challenge);
    }
    if let Some(origin) = forgery.origin {
        client_data["origin"] = Value::String(origin);
    }
    if let Some(kind) = forgery.client_data_type {
        client_data["type"] = Value::String(kind);
    }
    let client_data_json = serde_json::to_vec(&client_data).unwrap();
    let mut data = authenticator_data(assertion);
    if let Some(rp_id) = forgery.rp_id {
        data[..32].copy_from_slice(&Sha256::digest(rp_id.as_bytes()));
    }
    data[32] &= !forgery.clear_flags;
    if let Some(count) = forgery.sign_count {
        data[33..37].copy_from_slice(&count.to_be_bytes());
    }
    let mut forged = assertion.clone();
    forged["response"]["clientDataJSON"] = Value::String(b64(&client_data_json));
    forged["response"]["authenticatorData"] = Value::String(b64(&data));
    forged["response"]["signature"] =
        Value::String(b64(&sign(authenticator, &data, &client_data_json)));
    forged
}

/// Signs authenticatorData ‖ SHA-256(clientDataJSON) with the authenticator's one credential.
fn sign(authenticator: &SoftwareClient, data: &[u8], client_data_json: &[u8]) -> Vec<u8> {
    let passkey = authenticator
        .authenticator()
        .store()
        .as_ref()
        .expect("the authenticator holds a credential");
    let mut key = passkey_crypto::AvailableSecretKey::from_cose_key(&passkey.key)
        .expect("the credential's private key");
    let mut target = data.to_vec();
    target.extend_from_slice(&Sha256::digest(client_data_json));
    key.sign(&target)
}

/// The assertion with one bit of its signature flipped.
pub fn with_bad_signature(assertion: &Value) -> Value {
    let mut signature = unb64(assertion["response"]["signature"].as_str().unwrap());
    let last = signature.len() - 1;
    signature[last / 2] ^= 0x01;
    let mut broken = assertion.clone();
    broken["response"]["signature"] = Value::String(b64(&signature));
    broken
}

/// A credential id in an assertion, as base64url.
pub fn raw_id(assertion: &Value) -> String {
    assertion["rawId"].as_str().unwrap().to_owned()
}
