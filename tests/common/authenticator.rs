//! A software authenticator standing in for the browser in passkey tests: 1Password's
//! `passkey-client` + `passkey-authenticator` with a user who is always present and verified,
//! and helpers that start and finish registrations with it.

use base64::Engine;
use passkey_authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
use passkey_client::Client;
use passkey_types::Passkey;
use passkey_types::ctap2::{Aaguid, Ctap2Error};
use passlink::api::convert::struct_to_json;
use passlink::pb::zitadel::user::v2 as user_pb;
use serde_json::Value;

use super::requests::{register_with_code, verify_request};
use super::wire::ApiClient;
use super::{TestServer, create_code};

/// A user who is always present and verified.
pub struct VerifiedUser;

#[async_trait::async_trait]
impl UserValidationMethod for VerifiedUser {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        _presence: bool,
        _verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence: true,
            verification: true,
        })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

/// A WebAuthn client over one software authenticator.
pub type SoftwareClient = Client<
    Option<Passkey>,
    VerifiedUser,
    passkey_crypto::AvailableBackend,
    public_suffix::PublicSuffixList,
    (),
>;

/// A fresh authenticator holding no credential.
pub fn software_authenticator() -> SoftwareClient {
    let authenticator = Authenticator::new(
        Aaguid::new_empty(),
        None,
        VerifiedUser,
        passkey_crypto::AvailableBackend,
    );
    Client::new(authenticator).allows_insecure_localhost(true)
}

/// Runs `navigator.credentials.create` on `origin` with the server's options and returns the
/// credential as the browser's `PublicKeyCredential.toJSON()` would.
pub async fn create_credential(
    authenticator: &mut SoftwareClient,
    origin: &str,
    options: &Value,
) -> Value {
    let request = serde_json::from_value(options.clone()).expect("options the client reads");
    let origin = url::Url::parse(origin).unwrap();
    let created = authenticator
        .register(&origin, request, passkey_client::DefaultClientData)
        .await
        .unwrap_or_else(|error| panic!("the authenticator refused: {error:?}"));
    serde_json::to_value(&created).unwrap()
}

/// Base64url without padding, as WebAuthn writes bytes in JSON.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// The creation options of a started registration, as JSON.
pub fn options_of(started: &user_pb::RegisterPasskeyResponse) -> Value {
    struct_to_json(
        started
            .public_key_credential_creation_options
            .clone()
            .expect("creation options"),
    )
}

/// The origin the default test server allows (its external URL).
pub const ORIGIN: &str = "http://localhost:8080";

/// Starts a registration with a fresh code and returns the answer.
pub async fn start_with_code(
    server: &TestServer,
    api: &ApiClient,
    user_id: &str,
) -> user_pb::RegisterPasskeyResponse {
    let code = create_code(server, user_id).await;
    api.register_passkey(register_with_code(user_id, &code))
        .await
        .expect("RegisterPasskey with a code")
}

/// Registers a passkey for a user with a fresh code; returns the passkey id and credential.
pub async fn register_passkey_for(
    server: &TestServer,
    api: &ApiClient,
    user_id: &str,
    authenticator: &mut SoftwareClient,
) -> (String, Value) {
    let started = start_with_code(server, api, user_id).await;
    let credential = create_credential(authenticator, ORIGIN, &options_of(&started)).await;
    api.verify_passkey_registration(verify_request(
        user_id,
        &started.passkey_id,
        &credential,
        "laptop",
    ))
    .await
    .expect("VerifyPasskeyRegistration");
    (started.passkey_id, credential)
}
