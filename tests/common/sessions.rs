//! The session service in tests: typed calls on `ApiClient` for every protocol, request
//! builders, and the sign-in steps scenarios share (a session with a user check and a passkey
//! challenge, the browser's assertion, the check).

use passlink::api::convert::{json_to_struct, struct_to_json};
use passlink::pb::zitadel::session::v2 as session_pb;
use serde_json::Value;

use super::TestServer;
use super::assertion::get_assertion;
use super::authenticator::{SoftwareClient, register_passkey_for, software_authenticator};
use super::failure::Failure;
use super::wire::ApiClient;

pub use session_pb::UserVerificationRequirement as Uv;

/// The RP ID (and challenge domain) of the default test server.
pub const DOMAIN: &str = "localhost";

impl ApiClient {
    pub async fn create_session(
        &self,
        request: session_pb::CreateSessionRequest,
    ) -> Result<session_pb::CreateSessionResponse, Failure> {
        self.call("CreateSession", &request).await
    }

    pub async fn set_session(
        &self,
        request: session_pb::SetSessionRequest,
    ) -> Result<session_pb::SetSessionResponse, Failure> {
        self.call("SetSession", &request).await
    }

    /// GetSession; `token` is the `session_token` field (None leaves it absent).
    pub async fn get_session(
        &self,
        session_id: &str,
        token: Option<&str>,
    ) -> Result<session_pb::Session, Failure> {
        let request = session_pb::GetSessionRequest {
            session_id: session_id.into(),
            session_token: token.map(str::to_owned),
        };
        let answer: session_pb::GetSessionResponse = self.call("GetSession", &request).await?;
        Ok(answer.session.expect("GetSession answers a session"))
    }

    pub async fn list_sessions(
        &self,
        request: session_pb::ListSessionsRequest,
    ) -> Result<session_pb::ListSessionsResponse, Failure> {
        self.call("ListSessions", &request).await
    }

    /// DeleteSession; `token` is the `session_token` field.
    pub async fn delete_session(
        &self,
        session_id: &str,
        token: Option<&str>,
    ) -> Result<session_pb::DeleteSessionResponse, Failure> {
        let request = session_pb::DeleteSessionRequest {
            session_id: session_id.into(),
            session_token: token.map(str::to_owned),
        };
        self.call("DeleteSession", &request).await
    }

    /// SetSession with a WebAuthn check the test expects refused: its failure.
    pub async fn webauthn_refused(&self, session_id: &str, assertion: &Value) -> Failure {
        self.set_session(set_webauthn(session_id, assertion))
            .await
            .expect_err("the WebAuthn check is refused")
    }
}

/// `checks.user` by id.
pub fn user_check(user_id: &str) -> session_pb::CheckUser {
    session_pb::CheckUser {
        search: Some(session_pb::check_user::Search::UserId(user_id.into())),
    }
}

/// `checks.user` by login name.
pub fn login_name_check(login_name: &str) -> session_pb::CheckUser {
    session_pb::CheckUser {
        search: Some(session_pb::check_user::Search::LoginName(login_name.into())),
    }
}

/// Checks with only a user check.
pub fn user_checks(user_id: &str) -> session_pb::Checks {
    session_pb::Checks {
        user: Some(user_check(user_id)),
        ..Default::default()
    }
}

/// Challenges with one WebAuthn challenge for `domain` with `uv`.
pub fn challenge_with(domain: &str, uv: Uv) -> session_pb::RequestChallenges {
    session_pb::RequestChallenges {
        web_auth_n: Some(session_pb::request_challenges::WebAuthN {
            domain: domain.into(),
            user_verification_requirement: uv as i32,
        }),
        ..Default::default()
    }
}

/// Challenges with one passkey challenge (`REQUIRED`) for the default domain.
pub fn passkey_challenge() -> session_pb::RequestChallenges {
    challenge_with(DOMAIN, Uv::Required)
}

/// CreateSession with only a user check.
pub fn create_checking(user_id: &str) -> session_pb::CreateSessionRequest {
    session_pb::CreateSessionRequest {
        checks: Some(user_checks(user_id)),
        ..Default::default()
    }
}

/// CreateSession with a user check and a passkey challenge.
pub fn create_for(user_id: &str) -> session_pb::CreateSessionRequest {
    session_pb::CreateSessionRequest {
        checks: Some(user_checks(user_id)),
        challenges: Some(passkey_challenge()),
        ..Default::default()
    }
}

/// CreateSession with only a passkey challenge (discoverable sign-in).
pub fn create_discoverable() -> session_pb::CreateSessionRequest {
    session_pb::CreateSessionRequest {
        challenges: Some(passkey_challenge()),
        ..Default::default()
    }
}

/// SetSession of `session_id` with `checks`.
pub fn set_checks(session_id: &str, checks: session_pb::Checks) -> session_pb::SetSessionRequest {
    session_pb::SetSessionRequest {
        session_id: session_id.into(),
        checks: Some(checks),
        ..Default::default()
    }
}

/// SetSession of `session_id` with a WebAuthn check of `assertion`.
pub fn set_webauthn(session_id: &str, assertion: &Value) -> session_pb::SetSessionRequest {
    set_checks(session_id, webauthn_checks(assertion))
}

/// Checks with only a WebAuthn check of `assertion`.
pub fn webauthn_checks(assertion: &Value) -> session_pb::Checks {
    session_pb::Checks {
        web_auth_n: Some(session_pb::CheckWebAuthN {
            credential_assertion_data: Some(json_to_struct(assertion.clone())),
        }),
        ..Default::default()
    }
}

/// SetSession of `session_id` requesting one more passkey challenge.
pub fn set_challenge(session_id: &str) -> session_pb::SetSessionRequest {
    session_pb::SetSessionRequest {
        session_id: session_id.into(),
        challenges: Some(passkey_challenge()),
        ..Default::default()
    }
}

/// A ListSessions request for these ids.
pub fn list_ids(ids: &[&str]) -> session_pb::ListSessionsRequest {
    session_pb::ListSessionsRequest {
        queries: vec![query(session_pb::search_query::Query::IdsQuery(
            session_pb::IDsQuery {
                ids: ids.iter().map(|id| id.to_string()).collect(),
            },
        ))],
        ..Default::default()
    }
}

/// One search query.
pub fn query(kind: session_pb::search_query::Query) -> session_pb::SearchQuery {
    session_pb::SearchQuery { query: Some(kind) }
}

/// The `publicKeyCredentialRequestOptions` of an answer's challenges, as JSON.
pub fn request_options(challenges: &Option<session_pb::Challenges>) -> Value {
    struct_to_json(
        challenges
            .as_ref()
            .expect("the answer has challenges")
            .web_auth_n
            .as_ref()
            .expect("a WebAuthn challenge")
            .public_key_credential_request_options
            .clone()
            .expect("request options"),
    )
}

/// A session waiting for its passkey check: the id, the token and the request options.
pub struct Started {
    pub session_id: String,
    pub token: String,
    pub options: Value,
    pub created: session_pb::CreateSessionResponse,
}

/// CreateSession with a user check and a passkey challenge, as `api`.
pub async fn start_sign_in(api: &ApiClient, user_id: &str) -> Started {
    let created = api
        .create_session(create_for(user_id))
        .await
        .expect("CreateSession with a user check and a passkey challenge");
    started(created)
}

/// The parts of a CreateSession answer with a challenge.
pub fn started(created: session_pb::CreateSessionResponse) -> Started {
    Started {
        session_id: created.session_id.clone(),
        token: created.session_token.clone(),
        options: request_options(&created.challenges),
        created,
    }
}

/// A user with one registered passkey, and the authenticator holding it.
pub struct PasskeyUser {
    pub user_id: String,
    pub passkey_id: String,
    pub authenticator: SoftwareClient,
}

/// Registers a passkey for `user_id` (through a code, as `api`'s protocol) and returns the
/// user with its authenticator.
pub async fn with_passkey(server: &TestServer, api: &ApiClient, user_id: &str) -> PasskeyUser {
    let mut authenticator = software_authenticator();
    let (passkey_id, _) = register_passkey_for(server, api, user_id, &mut authenticator).await;
    PasskeyUser {
        user_id: user_id.to_owned(),
        passkey_id,
        authenticator,
    }
}

/// A signed-in session: id, current token and the SetSession answer of the check.
pub struct SignedIn {
    pub session_id: String,
    pub token: String,
    pub checked: session_pb::SetSessionResponse,
}

/// The whole passkey sign-in as `api`: CreateSession with the user and a challenge, the
/// authenticator's assertion, SetSession with the check.
pub async fn sign_in(api: &ApiClient, user: &mut PasskeyUser) -> SignedIn {
    let started = start_sign_in(api, &user.user_id).await;
    let assertion = get_assertion(&mut user.authenticator, &started.options).await;
    let checked = api
        .set_session(set_webauthn(&started.session_id, &assertion))
        .await
        .expect("SetSession with a genuine assertion");
    SignedIn {
        session_id: started.session_id,
        token: checked.session_token.clone(),
        checked,
    }
}

/// Asserts a session token looks as passlink makes them: 32 random bytes, base64url, unpadded.
pub fn assert_session_token(token: &str) {
    assert_eq!(token.len(), 43, "{token:?}");
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{token:?}"
    );
}
