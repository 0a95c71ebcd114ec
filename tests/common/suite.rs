//! The acceptance scenarios of the user service, written once and run over every protocol:
//! `user_service_suite!(Protocol::GrpcWeb)` in a test file turns each into a `#[tokio::test]`.

use passlink::domain::permission::Role;
use passlink::domain::time::Clock;
use passlink::pb::zitadel::object::v2 as object_pb;
use passlink::pb::zitadel::user::v2 as user_pb;
use passlink::service::{PASSKEY_LINK_MESSAGE_KIND, PasskeyLinkMessage};
use tonic::Code;

use super::wire::{ApiClient, Protocol};
use super::{TestServer, human, unique_email};

/// Declares one `#[tokio::test]` per scenario of this module, run over `$protocol`.
#[macro_export]
macro_rules! user_service_suite {
    ($protocol:expr) => {
        $crate::user_service_suite!(
            $protocol;
            add_get_and_return_code_answer_details_and_a_fresh_code,
            send_link_with_template_queues_one_email_and_returns_no_code,
            send_link_without_template_and_no_medium_queue_the_default_link,
            missing_token_is_unauthenticated,
            unknown_token_is_unauthenticated_token_is_invalid,
            caller_without_roles_is_permission_denied,
            org_owner_of_another_org_is_permission_denied,
            unknown_user_is_not_found_with_error_detail,
            user_id_must_have_1_to_200_runes,
            invalid_url_templates_are_rejected_before_anything_is_stored,
            deleted_user_is_not_found,
            locked_or_inactive_user_is_failed_precondition,
            authentication_runs_before_validation,
        );
    };
    ($protocol:expr; $($scenario:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $scenario() {
                common::suite::$scenario($protocol).await;
            }
        )*
    };
}

/// A CreatePasskeyRegistrationLinkRequest with `return_code`.
pub fn return_code(user_id: &str) -> user_pb::CreatePasskeyRegistrationLinkRequest {
    user_pb::CreatePasskeyRegistrationLinkRequest {
        user_id: user_id.into(),
        medium: Some(
            user_pb::create_passkey_registration_link_request::Medium::ReturnCode(
                user_pb::ReturnPasskeyRegistrationCode {},
            ),
        ),
    }
}

/// A CreatePasskeyRegistrationLinkRequest with `send_link` and an optional template.
pub fn send_link(
    user_id: &str,
    url_template: Option<&str>,
) -> user_pb::CreatePasskeyRegistrationLinkRequest {
    user_pb::CreatePasskeyRegistrationLinkRequest {
        user_id: user_id.into(),
        medium: Some(
            user_pb::create_passkey_registration_link_request::Medium::SendLink(
                user_pb::SendPasskeyRegistrationLink {
                    url_template: url_template.map(str::to_owned),
                },
            ),
        ),
    }
}

/// Microseconds since the Unix epoch of a wire timestamp.
pub fn micros(timestamp: &prost_types::Timestamp) -> i64 {
    timestamp.seconds * 1_000_000 + i64::from(timestamp.nanos) / 1_000
}

/// Asserts a code looks as the contract says: 12 characters from a–z, A–Z, 0–9, and an id
/// that is a decimal number.
pub fn assert_well_formed_code(code: &user_pb::PasskeyRegistrationCode) {
    assert_eq!(code.code.chars().count(), 12, "{code:?}");
    assert!(code.code.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(!code.id.is_empty() && code.id.chars().all(|c| c.is_ascii_digit()));
}

/// A server, a client of `protocol` acting as the IAM_OWNER admin, and a new human user in
/// the default organization.
pub struct Scene {
    pub server: TestServer,
    pub admin: ApiClient,
    pub org_id: String,
    pub user_id: String,
}

impl Scene {
    pub async fn new(protocol: Protocol) -> Scene {
        let server = TestServer::start().await;
        let admin = server
            .client(protocol)
            .await
            .with_token(&server.admin_token);
        let org_id = server.default_org_id().await;
        let user_id = admin
            .add_human_user(human("Ada", &unique_email("ada")))
            .await
            .expect("AddHumanUser")
            .user_id;
        Scene {
            server,
            admin,
            org_id,
            user_id,
        }
    }

    /// How many events the user has and how many messages wait in the outbox.
    pub async fn stored_counts(&self) -> (usize, usize) {
        let store = self.server.services.store();
        (
            store.list_events(&self.user_id).await.unwrap().len(),
            store.list_messages().await.unwrap().len(),
        )
    }

    /// A client of the same protocol with a token of a new machine user in `org_id`.
    pub async fn caller(&self, org_id: &str, role: Option<Role>) -> ApiClient {
        let (_, token) = self.server.machine_user_with_role(org_id, role).await;
        self.admin.with_token(&token)
    }
}

pub async fn add_get_and_return_code_answer_details_and_a_fresh_code(protocol: Protocol) {
    let server = TestServer::start().await;
    let admin = server
        .client(protocol)
        .await
        .with_token(&server.admin_token);
    let org_id = server.default_org_id().await;
    let email = unique_email("ada");

    let added = admin
        .add_human_user(human("Ada", &email))
        .await
        .expect("AddHumanUser");
    let added_details = added.details.expect("details");
    assert_eq!(added_details.sequence, 1);
    assert_eq!(added_details.resource_owner, org_id);

    let fetched = admin
        .get_user_by_id(&added.user_id)
        .await
        .expect("GetUserByID");
    let user = fetched.user.expect("a user");
    assert_eq!(user.user_id, added.user_id);
    assert_eq!(user.state, user_pb::UserState::Active as i32);
    let Some(user_pb::user::Type::Human(person)) = user.r#type else {
        panic!("a human user: {user:?}");
    };
    assert_eq!(person.profile.expect("a profile").given_name, "Ada");
    let stored_email = person.email.expect("an email");
    assert_eq!(stored_email.email, email);
    assert!(stored_email.is_verified);
    let fetched_details = fetched.details.expect("details");
    assert_eq!(fetched_details.resource_owner, org_id);
    assert_eq!(fetched_details.sequence, 1);

    let before = server.clock.now().0;
    let answer = admin
        .create_passkey_registration_link(return_code(&added.user_id))
        .await
        .expect("CreatePasskeyRegistrationLink");
    let after = server.clock.now().0;
    let details: object_pb::Details = answer.details.expect("details");
    assert_eq!(details.sequence, 2, "the user's second event");
    assert_eq!(details.resource_owner, org_id);
    assert!(
        details.creation_date.is_none(),
        "passkey RPCs leave it unset"
    );
    let changed_at = micros(details.change_date.as_ref().expect("a change date"));
    assert!((before..=after).contains(&changed_at), "{details:?}");
    let first_code = answer.code.expect("return_code answers with the code");
    assert_well_formed_code(&first_code);

    let second = admin
        .create_passkey_registration_link(return_code(&added.user_id))
        .await
        .expect("a second code");
    assert_eq!(second.details.unwrap().sequence, 3, "counted per user");
    let second_code = second.code.unwrap();
    assert_ne!(second_code.id, first_code.id);
    assert_ne!(second_code.code, first_code.code);

    let other_user = admin
        .add_human_user(human("Grace", &unique_email("grace")))
        .await
        .unwrap()
        .user_id;
    let other = admin
        .create_passkey_registration_link(return_code(&other_user))
        .await
        .unwrap();
    assert_eq!(
        other.details.unwrap().sequence,
        2,
        "another user's sequence is its own, not a global counter"
    );
    assert!(
        server
            .services
            .store()
            .list_messages()
            .await
            .unwrap()
            .is_empty(),
        "return_code sends nothing"
    );
}

/// The one outbox message of a scene's user, decoded.
async fn only_message(scene: &Scene) -> PasskeyLinkMessage {
    let messages = scene.server.services.store().list_messages().await.unwrap();
    assert_eq!(messages.len(), 1, "exactly one outbox row: {messages:?}");
    let message = &messages[0];
    assert_eq!(message.user_id, scene.user_id);
    assert_eq!(message.kind, PASSKEY_LINK_MESSAGE_KIND);
    assert_eq!(message.state, "pending");
    serde_json::from_str(&message.payload).expect("a registration link payload")
}

pub async fn send_link_with_template_queues_one_email_and_returns_no_code(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let template = "https://app.example.com/passkey?user={{.UserID}}&org={{ .OrgID }}&id={{.CodeID}}&code={{.Code}}";

    let answer = scene
        .admin
        .create_passkey_registration_link(send_link(&scene.user_id, Some(template)))
        .await
        .expect("CreatePasskeyRegistrationLink");

    assert!(answer.code.is_none(), "send_link answers without the code");
    let details = answer.details.expect("details");
    assert_eq!(details.sequence, 2);
    assert_eq!(details.resource_owner, scene.org_id);
    let message = only_message(&scene).await;
    assert_eq!(message.url_template, template);
    assert_eq!(message.user_id, scene.user_id);
    assert_eq!(message.org_id, scene.org_id);
    assert!(message.email.starts_with("ada-"), "{message:?}");
    let code = scene
        .server
        .services
        .sealer()
        .open(&message.sealed_code, &message.code_id)
        .expect("the sealed code opens");
    assert_well_formed_code(&user_pb::PasskeyRegistrationCode {
        id: message.code_id,
        code: code.expose().to_owned(),
    });
}

pub async fn send_link_without_template_and_no_medium_queue_the_default_link(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let default_link = format!(
        "{}/ui/passkey/register?userID={{{{.UserID}}}}&orgID={{{{.OrgID}}}}&codeID={{{{.CodeID}}}}&code={{{{.Code}}}}",
        scene.server.settings.external_url.trim_end_matches('/')
    );

    let no_medium = scene
        .admin
        .create_passkey_registration_link(user_pb::CreatePasskeyRegistrationLinkRequest {
            user_id: scene.user_id.clone(),
            medium: None,
        })
        .await
        .expect("no medium");
    assert!(no_medium.code.is_none());
    assert_eq!(no_medium.details.unwrap().sequence, 2);
    assert_eq!(only_message(&scene).await.url_template, default_link);

    let without_template = scene
        .admin
        .create_passkey_registration_link(send_link(&scene.user_id, None))
        .await
        .expect("send_link without a template");
    assert!(without_template.code.is_none());
    assert_eq!(without_template.details.unwrap().sequence, 3);
    let messages = scene.server.services.store().list_messages().await.unwrap();
    assert_eq!(messages.len(), 2, "one more outbox row");
    let last: PasskeyLinkMessage = serde_json::from_str(&messages[1].payload).unwrap();
    assert_eq!(last.url_template, default_link);
}

pub async fn missing_token_is_unauthenticated(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let failure = scene
        .admin
        .without_token()
        .create_passkey_registration_link(return_code(&scene.user_id))
        .await
        .expect_err("no token");
    failure.assert_error(Code::Unauthenticated, "Authorization header is missing");
}

pub async fn unknown_token_is_unauthenticated_token_is_invalid(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let failure = scene
        .admin
        .with_token("not-a-token-passlink-issued")
        .create_passkey_registration_link(return_code(&scene.user_id))
        .await
        .expect_err("an unknown token");
    failure.assert_error(Code::Unauthenticated, "Token is invalid");
}

pub async fn caller_without_roles_is_permission_denied(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let stored_before = scene.stored_counts().await;
    let nobody = scene.caller(&scene.org_id, None).await;

    let failure = nobody
        .create_passkey_registration_link(return_code(&scene.user_id))
        .await
        .expect_err("a caller without roles");

    failure.assert_error(Code::PermissionDenied, "Permission denied");
    assert_eq!(scene.stored_counts().await, stored_before);
}

pub async fn org_owner_of_another_org_is_permission_denied(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let other_org = scene.server.create_org("Other").await;
    let stranger = scene.caller(&other_org, Some(Role::OrgOwner)).await;
    let owner = scene.caller(&scene.org_id, Some(Role::OrgOwner)).await;

    let failure = stranger
        .create_passkey_registration_link(return_code(&scene.user_id))
        .await
        .expect_err("an owner of another org");
    failure.assert_error(Code::PermissionDenied, "Permission denied");

    let allowed = owner
        .create_passkey_registration_link(return_code(&scene.user_id))
        .await
        .expect("the owner of the user's own org may");
    assert_eq!(
        allowed.details.unwrap().sequence,
        2,
        "the refusal stored nothing"
    );
}

pub async fn unknown_user_is_not_found_with_error_detail(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let failure = scene
        .admin
        .create_passkey_registration_link(return_code("999999999999999999"))
        .await
        .expect_err("an unknown user");
    failure.assert_error(Code::NotFound, "User could not be found");
    assert!(
        scene
            .server
            .services
            .store()
            .list_messages()
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn user_id_must_have_1_to_200_runes(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let rule = "invalid CreatePasskeyRegistrationLinkRequest.UserId: value length must be between 1 and 200 runes, inclusive";
    for user_id in [String::new(), "7".repeat(201), "ü".repeat(201)] {
        let failure = scene
            .admin
            .create_passkey_registration_link(return_code(&user_id))
            .await
            .expect_err("a user id of the wrong length");
        failure.assert_error(Code::InvalidArgument, rule);
    }
    // 200 two-byte runes are 400 bytes: valid, because the rule counts runes.
    let failure = scene
        .admin
        .create_passkey_registration_link(return_code(&"ü".repeat(200)))
        .await
        .expect_err("no such user");
    failure.assert_error(Code::NotFound, "User could not be found");
}

pub async fn invalid_url_templates_are_rejected_before_anything_is_stored(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let stored_before = scene.stored_counts().await;
    let length_rule = "invalid SendPasskeyRegistrationLink.UrlTemplate: value length must be between 1 and 200 runes, inclusive";
    let long_template = format!("https://example.com/{}", "x".repeat(181));
    assert_eq!(long_template.chars().count(), 201);
    let cases = [
        ("", length_rule),
        (long_template.as_str(), length_rule),
        (
            "https://example.com/register?code={{.Code",
            "URL Template is invalid",
        ),
        (
            "https://example.com/register?secret={{.Password}}",
            "URL Template is invalid",
        ),
        // The rendered link must be an absolute URL with a scheme that is not a script.
        (
            "/ui/passkey/register?code={{.Code}}",
            "URL Template is invalid",
        ),
        ("javascript:alert('{{.Code}}')", "URL Template is invalid"),
        ("data:text/html,{{.Code}}", "URL Template is invalid"),
    ];
    for (template, text) in cases {
        let failure = scene
            .admin
            .create_passkey_registration_link(send_link(&scene.user_id, Some(template)))
            .await
            .expect_err(template);
        failure.assert_error(Code::InvalidArgument, text);
    }
    assert_eq!(
        scene.stored_counts().await,
        stored_before,
        "no event and no outbox row"
    );
    let user = scene.admin.get_user_by_id(&scene.user_id).await.unwrap();
    assert_eq!(
        user.details.unwrap().sequence,
        1,
        "the sequence is unchanged"
    );
}

pub async fn deleted_user_is_not_found(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let deleted = scene
        .admin
        .delete_user(&scene.user_id)
        .await
        .expect("DeleteUser");
    assert_eq!(deleted.details.unwrap().sequence, 2);

    let failure = scene
        .admin
        .create_passkey_registration_link(return_code(&scene.user_id))
        .await
        .expect_err("a deleted user");
    failure.assert_error(Code::NotFound, "User could not be found");
    let failure = scene
        .admin
        .get_user_by_id(&scene.user_id)
        .await
        .expect_err("a deleted user");
    failure.assert_error(Code::NotFound, "User could not be found");
}

pub async fn locked_or_inactive_user_is_failed_precondition(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    // No RPC locks or deactivates a user yet, so the state is set in the database.
    for (state, text) in [
        (user_pb::UserState::Locked, "User is locked"),
        (user_pb::UserState::Inactive, "User is inactive"),
    ] {
        scene
            .server
            .set_user_state_in_database(&scene.user_id, state as i64)
            .await;
        let stored_before = scene.stored_counts().await;
        let failure = scene
            .admin
            .create_passkey_registration_link(return_code(&scene.user_id))
            .await
            .expect_err("a locked or inactive user");
        failure.assert_error(Code::FailedPrecondition, text);
        assert_eq!(scene.stored_counts().await, stored_before);
    }
}

pub async fn authentication_runs_before_validation(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let failure = scene
        .admin
        .without_token()
        .create_passkey_registration_link(return_code(""))
        .await
        .expect_err("no token and an empty user id");
    failure.assert_error(Code::Unauthenticated, "Authorization header is missing");
    let failure = scene
        .admin
        .with_token("not-a-token-passlink-issued")
        .create_passkey_registration_link(send_link(&"7".repeat(201), Some("{{.Password}}")))
        .await
        .expect_err("a bad token and invalid fields");
    failure.assert_error(Code::Unauthenticated, "Token is invalid");
}

/// Declares one `#[tokio::test]` per JSON scenario, run over `$protocol` (REST or Connect JSON).
#[macro_export]
macro_rules! json_suite {
    ($protocol:expr) => {
        $crate::user_service_suite!(
            $protocol;
            return_code_answer_is_canonical_json,
            send_link_answer_carries_details_only,
            both_oneof_members_in_one_body_are_invalid_argument,
            unknown_json_fields_are_ignored,
        );
    };
}

pub async fn return_code_answer_is_canonical_json(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let answer = scene
        .admin
        .raw_json(
            "CreatePasskeyRegistrationLink",
            serde_json::json!({ "userId": scene.user_id, "returnCode": {} }),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, "application/json");
    super::json_shape::assert_return_code_answer(&answer.body, 2, &scene.org_id);
}

pub async fn send_link_answer_carries_details_only(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let answer = scene
        .admin
        .raw_json(
            "CreatePasskeyRegistrationLink",
            serde_json::json!({
                "userId": scene.user_id,
                "sendLink": { "urlTemplate": "https://example.com/r?c={{.Code}}&i={{.CodeID}}" },
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        super::json_shape::keys(&answer.body),
        std::collections::BTreeSet::from(["details"])
    );
    super::json_shape::assert_details(&answer.body["details"], 2, &scene.org_id);
    assert_eq!(scene.stored_counts().await, (2, 1));
}

pub async fn both_oneof_members_in_one_body_are_invalid_argument(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let stored_before = scene.stored_counts().await;
    let answer = scene
        .admin
        .raw_json(
            "CreatePasskeyRegistrationLink",
            serde_json::json!({
                "userId": scene.user_id,
                "sendLink": { "urlTemplate": "https://example.com/{{.Code}}" },
                "returnCode": {},
            }),
        )
        .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    let failure = match protocol {
        Protocol::Rest => super::wire::rest_failure(protocol, &answer),
        _ => super::wire::connect_failure(
            protocol,
            answer.status,
            answer.body.to_string().as_bytes(),
        ),
    };
    failure.assert_error(Code::InvalidArgument, "invalid JSON body");
    assert_eq!(scene.stored_counts().await, stored_before);
}

pub async fn unknown_json_fields_are_ignored(protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let answer = scene
        .admin
        .raw_json(
            "CreatePasskeyRegistrationLink",
            serde_json::json!({
                "userId": scene.user_id,
                "returnCode": { "fieldOfAFutureVersion": 1 },
                "someOtherField": { "nested": [true] },
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    super::json_shape::assert_return_code_answer(&answer.body, 2, &scene.org_id);
}
