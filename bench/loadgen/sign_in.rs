//! The sign-in workload (`--sign-in`): each request is a passkey sign-in as a login UI drives
//! it, over gRPC: CreateSession with a user check by id and a WebAuthn challenge for
//! `localhost`, then SetSession with the assertion a software authenticator makes for that
//! challenge (the user's key from `bench/passkeys.rs`, which `bulkload --passkeys` registered).
//! A sign-in succeeds when both answers do and SetSession hands out a new session token.
//!
//! The assertion is what an authenticator returns: `authenticatorData` (SHA-256 of the RP id,
//! the flags user present and user verified, the sign counter), `clientDataJSON` (type
//! `webauthn.get`, the challenge, the origin) and an ECDSA P-256 signature over both (DER, by
//! passkey-crypto, the crypto of 1Password's passkey-authenticator that the tests use).
//!
//! passlink refuses a sign counter that does not rise, so each user signs in from one worker
//! only (the users are dealt out among the workers), one sign-in at a time, and its counter
//! starts at the generator's start time in seconds: a later run on the same database starts
//! above an earlier one's unless a user signed in more often than once a second.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use passkey_crypto::{AvailableSecretKey, SecretKeyT as _};
use sha2::{Digest as _, Sha256};

use passlink::api::convert::{json_to_struct, struct_to_json};
use passlink::domain::webauthn::user_handle;
use passlink::pb::zitadel::session::v2 as session_pb;

use super::passkeys;
use super::protocol::{Protocol, frame, grpc_message};

const CREATE_SESSION_PATH: &str = "/zitadel.session.v2.SessionService/CreateSession";
const SET_SESSION_PATH: &str = "/zitadel.session.v2.SessionService/SetSession";

/// The authenticator data flags of the assertion: user present (0x01) and verified (0x04).
const USER_PRESENT_AND_VERIFIED: u8 = 0x05;

/// A user the generator signs in as, with its passkey.
pub(crate) struct SignInUser {
    user_id: String,
    secret_key: AvailableSecretKey,
    /// The credential id, base64url.
    credential_id: String,
    /// The WebAuthn user handle passlink gave the user, base64url.
    user_handle: String,
    /// The last sign counter used.
    sign_count: u32,
}

impl SignInUser {
    /// The user and its derived passkey; `first_sign_count` is the counter of its first
    /// sign-in.
    pub(crate) fn new(user_id: &str, first_sign_count: u32) -> Result<SignInUser, String> {
        Ok(SignInUser {
            user_id: user_id.to_owned(),
            secret_key: passkeys::secret_key(user_id)?,
            credential_id: URL_SAFE_NO_PAD.encode(passkeys::credential_id(user_id)),
            user_handle: URL_SAFE_NO_PAD.encode(user_handle(user_id)),
            sign_count: first_sign_count.saturating_sub(1),
        })
    }

    /// The `PublicKeyCredential` JSON a browser sends back for `challenge` on `origin`.
    fn assertion(&mut self, challenge: &str, origin: &str) -> serde_json::Value {
        self.sign_count += 1;
        let client_data = serde_json::json!({
            "type": "webauthn.get",
            "challenge": challenge,
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string();
        let mut authenticator_data = Vec::with_capacity(37);
        authenticator_data.extend_from_slice(&Sha256::digest(passkeys::RP_ID.as_bytes()));
        authenticator_data.push(USER_PRESENT_AND_VERIFIED);
        authenticator_data.extend_from_slice(&self.sign_count.to_be_bytes());
        let mut signed = authenticator_data.clone();
        signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        let signature = self.secret_key.sign(&signed);
        serde_json::json!({
            "id": self.credential_id,
            "rawId": self.credential_id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "authenticatorData": URL_SAFE_NO_PAD.encode(authenticator_data),
                "signature": URL_SAFE_NO_PAD.encode(signature),
                "userHandle": self.user_handle,
            },
        })
    }
}

/// One worker's users and what it signs in on.
pub(crate) struct SignInWorker {
    users: Vec<SignInUser>,
    /// The origin the assertion's client data names: passlink's external URL.
    origin: String,
}

impl SignInWorker {
    pub(crate) fn new(users: Vec<SignInUser>, origin: String) -> SignInWorker {
        SignInWorker { users, origin }
    }

    /// How many users this worker signs in as.
    pub(crate) fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Signs in as user `index` of this worker: CreateSession, then SetSession with the
    /// assertion. `Ok` for a sign-in that succeeded, else what went wrong.
    pub(crate) async fn sign_in(
        &mut self,
        index: usize,
        sender: &h2::client::SendRequest<Bytes>,
        authority: &str,
        authorization: Option<&str>,
    ) -> Result<(), String> {
        let user = &mut self.users[index];
        let create = session_pb::CreateSessionRequest {
            checks: Some(session_pb::Checks {
                user: Some(session_pb::CheckUser {
                    search: Some(session_pb::check_user::Search::UserId(user.user_id.clone())),
                }),
                ..Default::default()
            }),
            challenges: Some(session_pb::RequestChallenges {
                web_auth_n: Some(session_pb::request_challenges::WebAuthN {
                    domain: passkeys::RP_ID.into(),
                    user_verification_requirement: session_pb::UserVerificationRequirement::Required
                        as i32,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created: session_pb::CreateSessionResponse = call(
            sender,
            CREATE_SESSION_PATH,
            &create,
            authority,
            authorization,
        )
        .await
        .map_err(|error| format!("CreateSession: {error}"))?;
        let options = created
            .challenges
            .and_then(|challenges| challenges.web_auth_n)
            .and_then(|challenge| challenge.public_key_credential_request_options)
            .map(struct_to_json)
            .ok_or("CreateSession: no WebAuthn challenge in the answer")?;
        let challenge = options
            .pointer("/publicKey/challenge")
            .and_then(serde_json::Value::as_str)
            .ok_or("CreateSession: no publicKey.challenge in the request options")?;
        let assertion = user.assertion(challenge, &self.origin);
        let set = session_pb::SetSessionRequest {
            session_id: created.session_id,
            session_token: created.session_token.clone(),
            checks: Some(session_pb::Checks {
                web_auth_n: Some(session_pb::CheckWebAuthN {
                    credential_assertion_data: Some(json_to_struct(assertion)),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let checked: session_pb::SetSessionResponse =
            call(sender, SET_SESSION_PATH, &set, authority, authorization)
                .await
                .map_err(|error| format!("SetSession: {error}"))?;
        if checked.session_token.is_empty() || checked.session_token == created.session_token {
            return Err("SetSession: no new session token in the answer".into());
        }
        Ok(())
    }
}

/// One unary gRPC call: sends `request`, judges the answer's status, decodes its message.
async fn call<Answer: prost::Message + Default>(
    sender: &h2::client::SendRequest<Bytes>,
    path: &str,
    request: &impl prost::Message,
    authority: &str,
    authorization: Option<&str>,
) -> Result<Answer, String> {
    let answer = super::send(
        sender.clone(),
        Protocol::Grpc,
        path,
        frame(request),
        authority,
        authorization,
    )
    .await?;
    let message = grpc_message(
        answer.status,
        &answer.headers,
        &answer.body,
        answer.trailers.as_ref(),
    )?;
    Answer::decode(message).map_err(|error| error.to_string())
}
