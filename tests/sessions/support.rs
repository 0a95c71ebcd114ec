//! What the session scenarios share: a scene with a login backend's client (IAM_LOGIN_CLIENT)
//! and a user holding a passkey, and the contract's error shapes.

use passlink::config::Settings;
use passlink::domain::permission::Role;
use passlink::pb::zitadel::object::v2 as object_pb;
use passlink::pb::zitadel::user::v2 as user_pb;
use tonic::Code;

use crate::common::failure::Failure;
use crate::common::protocols::Protocol;
use crate::common::scene::{Scene, micros};
use crate::common::sessions::{PasskeyUser, with_passkey};
use crate::common::wire::ApiClient;

/// A scene for sign-in: the server, its admin, a client holding IAM_LOGIN_CLIENT (as a login
/// backend would) and a user with one registered passkey.
pub struct SignInScene {
    pub scene: Scene,
    pub login: ApiClient,
    pub user: PasskeyUser,
}

impl SignInScene {
    pub async fn new(protocol: Protocol) -> SignInScene {
        SignInScene::start_with(protocol, |_| {}).await
    }

    pub async fn start_with(
        protocol: Protocol,
        configure: impl FnOnce(&mut Settings),
    ) -> SignInScene {
        let scene = Scene::start_with(protocol, configure).await;
        let login = scene
            .caller(&scene.org_id, Some(Role::IamLoginClient))
            .await;
        let user = with_passkey(&scene.server, &scene.admin, &scene.user_id).await;
        SignInScene { scene, login, user }
    }

    /// The user's username (its preferred login name).
    pub async fn username(&self) -> String {
        user_of(&self.scene.admin, &self.user.user_id)
            .await
            .username
    }

    /// A client of the same protocol without any credentials.
    pub fn anonymous(&self) -> ApiClient {
        self.login.without_token()
    }

    /// A client of the same protocol with a personal token of the user itself.
    pub async fn user_itself(&self) -> ApiClient {
        self.as_user(&self.user.user_id).await
    }

    /// A client of the same protocol with a personal token of `user_id`.
    pub async fn as_user(&self, user_id: &str) -> ApiClient {
        let token = self
            .scene
            .server
            .services
            .create_token(user_id, None)
            .await
            .unwrap();
        self.login.with_token(token.token.expose())
    }

    /// Asserts that the login client's WebAuthn check of `session_id` with `assertion` fails
    /// as any failed check does (WEBAU-3M9si).
    pub async fn assert_check_fails(&self, session_id: &str, assertion: &serde_json::Value) {
        let failure = self.login.webauthn_refused(session_id, assertion).await;
        assert_check_failed(&failure);
    }

    /// Another human user of the default org, with a passkey of its own.
    pub async fn another_user(&self, name: &str) -> PasskeyUser {
        let user_id =
            crate::common::add_human(&self.scene.server, &self.scene.server.admin_token, name)
                .await;
        with_passkey(&self.scene.server, &self.scene.admin, &user_id).await
    }
}

/// The user as GetUserByID shows it.
pub async fn user_of(admin: &ApiClient, user_id: &str) -> user_pb::User {
    admin
        .get_user_by_id(user_id)
        .await
        .expect("GetUserByID")
        .user
        .expect("a user")
}

/// Asserts an error with its exact message (`"<text> (<ID>)"`), code, HTTP status and detail.
pub fn assert_exact(failure: &Failure, code: Code, message: &str) {
    let text = message.rsplit_once(" (").map_or(message, |(text, _)| text);
    failure.assert_error(code, text);
    assert_eq!(failure.message, message, "{failure:#?}");
}

/// Asserts a protoc-gen-validate refusal: bare InvalidArgument whose message contains `text`.
pub fn assert_validation(failure: &Failure, text: &str) {
    assert_eq!(failure.code, Code::InvalidArgument, "{failure:#?}");
    assert!(
        failure.message.contains(text),
        "the message should contain {text:?}: {failure:#?}"
    );
}

/// Asserts the refusal of an empty `session_id`: validation; over REST the path
/// `/v2/sessions/` names no route at all, so NotFound.
pub fn assert_empty_id_refused(failure: &Failure) {
    match failure.protocol {
        Protocol::Rest => assert_eq!(failure.code, Code::NotFound, "{failure:#?}"),
        _ => assert_validation(failure, "SessionId"),
    }
}

/// Asserts an InvalidArgument whose message names `field`.
pub fn assert_names_field(failure: &Failure, field: &str) {
    assert_eq!(failure.code, Code::InvalidArgument, "{failure:#?}");
    assert!(
        failure.message.contains(field),
        "the message should name {field:?}: {failure:#?}"
    );
}

/// The refusal of a failed WebAuthn check.
pub fn assert_check_failed(failure: &Failure) {
    assert_exact(
        failure,
        Code::InvalidArgument,
        "Error on validate login credentials (WEBAU-3M9si)",
    );
}

/// The refusal of a check whose user is gone or no longer active.
pub fn assert_user_not_found(failure: &Failure) {
    assert_exact(
        failure,
        Code::FailedPrecondition,
        "User could not be found (COMMAND-Df4b3)",
    );
}

/// The refusal of a check without a usable challenge.
pub fn assert_no_challenge(failure: &Failure) {
    assert_exact(
        failure,
        Code::FailedPrecondition,
        "Session without WebAuthN challenge (COMMAND-Ioqu5)",
    );
}

/// The refusal of a session token where a bearer token goes.
pub fn assert_token_invalid(failure: &Failure) {
    assert_eq!(failure.code, Code::Unauthenticated, "{failure:#?}");
    assert!(
        failure.message.starts_with("Token is invalid"),
        "{failure:#?}"
    );
}

/// GetSession with a wrong, old or garbage token.
pub fn assert_get_token_refused(failure: &Failure) {
    assert_exact(
        failure,
        Code::PermissionDenied,
        "Errors.PermissionDenied (QUERY-dsfr3)",
    );
}

/// An unknown (or terminated) session.
pub fn assert_session_not_found(failure: &Failure) {
    assert_exact(
        failure,
        Code::NotFound,
        "Session does not exist (QUERY-SFeaa)",
    );
}

/// The details of a session answer: a sequence, a change date and the instance id as the
/// resource owner (a non-empty decimal string).
pub fn assert_details(details: &Option<object_pb::Details>) -> &object_pb::Details {
    let details = details.as_ref().expect("details");
    assert!(details.sequence > 0, "{details:?}");
    assert!(details.change_date.is_some(), "{details:?}");
    assert!(
        !details.resource_owner.is_empty()
            && details.resource_owner.chars().all(|c| c.is_ascii_digit()),
        "the resource owner is the instance id: {details:?}"
    );
    details
}

/// Microseconds of a details' change date.
pub fn change_micros(details: &Option<object_pb::Details>) -> i64 {
    micros(details.as_ref().unwrap().change_date.as_ref().unwrap())
}
