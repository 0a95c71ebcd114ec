//! CreatePasskeyRegistrationLink: what `return_code` and `send_link` answer and store, who may
//! call it, and what it refuses before storing anything.

use passlink::domain::permission::Role;
use passlink::domain::time::Clock;
use passlink::pb::zitadel::object::v2 as object_pb;
use passlink::pb::zitadel::user::v2 as user_pb;
use passlink::service::{PASSKEY_LINK_MESSAGE_KIND, PasskeyLinkMessage};
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;

use crate::common::protocols::Protocol;
use crate::common::requests::{human, no_medium, return_code, send_link};
use crate::common::scene::{Scene, assert_well_formed_code, micros};
use crate::common::{TestServer, unique_email};
use crate::every_protocol;

#[apply(every_protocol)]
#[tokio::test]
async fn add_get_and_return_code_answer_details_and_a_fresh_code(#[case] protocol: Protocol) {
    let server = TestServer::start().await;
    let admin = server.admin(protocol).await;
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

    // The outbox size after the three codes above, then after each further call: return_code
    // queues nothing, while send_link on the same server queues exactly one message (so the
    // count is seen to move when something is queued).
    let mut outbox_sizes = vec![server.outbox().await.len()];
    for request in [
        send_link(&added.user_id, None),
        return_code(&added.user_id),
        return_code(&other_user),
    ] {
        admin
            .create_passkey_registration_link(request)
            .await
            .expect("CreatePasskeyRegistrationLink");
        outbox_sizes.push(server.outbox().await.len());
    }
    assert_eq!(
        outbox_sizes,
        [0, 1, 1, 1],
        "return_code queues nothing, send_link one message"
    );
}

/// The one outbox message of a scene's user, decoded.
async fn only_message(scene: &Scene) -> PasskeyLinkMessage {
    let messages = scene.server.outbox().await;
    assert_eq!(messages.len(), 1, "exactly one outbox row: {messages:?}");
    let message = &messages[0];
    assert_eq!(message.user_id, scene.user_id);
    assert_eq!(message.kind, PASSKEY_LINK_MESSAGE_KIND);
    assert_eq!(message.state, "pending");
    serde_json::from_str(&message.payload).expect("a registration link payload")
}

#[apply(every_protocol)]
#[tokio::test]
async fn send_link_with_template_queues_one_email_and_returns_no_code(#[case] protocol: Protocol) {
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

#[apply(every_protocol)]
#[tokio::test]
async fn send_link_without_template_and_no_medium_queue_the_default_link(
    #[case] protocol: Protocol,
) {
    let scene = Scene::new(protocol).await;
    let default_link = format!(
        "{}/ui/passkey/register?userID={{{{.UserID}}}}&orgID={{{{.OrgID}}}}&codeID={{{{.CodeID}}}}&code={{{{.Code}}}}",
        scene.server.external_url.trim_end_matches('/')
    );

    let no_medium = scene
        .admin
        .create_passkey_registration_link(no_medium(&scene.user_id))
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
    let messages = scene.server.outbox().await;
    assert_eq!(messages.len(), 2, "one more outbox row");
    let last: PasskeyLinkMessage = serde_json::from_str(&messages[1].payload).unwrap();
    assert_eq!(last.url_template, default_link);
}

#[apply(every_protocol)]
#[tokio::test]
async fn missing_token_is_unauthenticated(#[case] protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let failure = scene
        .admin
        .without_token()
        .create_passkey_registration_link(return_code(&scene.user_id))
        .await
        .expect_err("no token");
    failure.assert_error(Code::Unauthenticated, "Authorization header is missing");
}

#[apply(every_protocol)]
#[tokio::test]
async fn unknown_token_is_unauthenticated_token_is_invalid(#[case] protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let failure = scene
        .admin
        .with_token("not-a-token-passlink-issued")
        .create_passkey_registration_link(return_code(&scene.user_id))
        .await
        .expect_err("an unknown token");
    failure.assert_error(Code::Unauthenticated, "Token is invalid");
}

#[apply(every_protocol)]
#[tokio::test]
async fn caller_without_roles_is_permission_denied(#[case] protocol: Protocol) {
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

#[apply(every_protocol)]
#[tokio::test]
async fn org_owner_of_another_org_is_permission_denied(#[case] protocol: Protocol) {
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

#[apply(every_protocol)]
#[tokio::test]
async fn unknown_user_is_not_found_with_error_detail(#[case] protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let failure = scene
        .admin
        .create_passkey_registration_link(return_code("999999999999999999"))
        .await
        .expect_err("an unknown user");
    failure.assert_error(Code::NotFound, "User could not be found");
    assert!(scene.server.outbox().await.is_empty());
}

#[apply(every_protocol)]
#[tokio::test]
async fn user_id_must_have_1_to_200_runes(#[case] protocol: Protocol) {
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

#[apply(every_protocol)]
#[tokio::test]
async fn invalid_url_templates_are_rejected_before_anything_is_stored(#[case] protocol: Protocol) {
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

#[apply(every_protocol)]
#[tokio::test]
async fn deleted_user_is_not_found(#[case] protocol: Protocol) {
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

#[apply(every_protocol)]
#[tokio::test]
async fn locked_or_inactive_user_is_failed_precondition(#[case] protocol: Protocol) {
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

/// The user a link was just made for is remembered for a few seconds; a lock that happens
/// meanwhile outside this process (here: in the database) still stops the next link.
#[apply(every_protocol)]
#[tokio::test]
async fn a_user_locked_after_a_link_gets_no_further_link(#[case] protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    scene
        .admin
        .create_passkey_registration_link(return_code(&scene.user_id))
        .await
        .expect("a link for an active user");
    scene
        .server
        .set_user_state_in_database(&scene.user_id, user_pb::UserState::Locked as i64)
        .await;
    let stored_before = scene.stored_counts().await;
    let failure = scene
        .admin
        .create_passkey_registration_link(return_code(&scene.user_id))
        .await
        .expect_err("a user locked since the last link");
    failure.assert_error(Code::FailedPrecondition, "User is locked");
    assert_eq!(scene.stored_counts().await, stored_before);
}

#[apply(every_protocol)]
#[tokio::test]
async fn authentication_runs_before_validation(#[case] protocol: Protocol) {
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

#[apply(every_protocol)]
#[tokio::test]
async fn without_smtp_settings_send_link_is_failed_precondition_and_stores_nothing(
    #[case] protocol: Protocol,
) {
    let scene = Scene::start_with(protocol, |settings| settings.mail.dir = None).await;
    let user_id = &scene.user_id;
    for request in [
        send_link(user_id, Some("https://x.test/{{.Code}}")),
        send_link(user_id, None),
        no_medium(user_id),
    ] {
        let failure = scene
            .admin
            .create_passkey_registration_link(request)
            .await
            .expect_err("no way to send email");
        failure.assert_error(Code::FailedPrecondition, "smtp.host");
        assert!(
            failure.message.contains("PASSLINK_SMTP_HOST"),
            "{failure:#?}"
        );
    }
    assert!(scene.server.outbox().await.is_empty(), "no outbox row");
    assert!(
        scene
            .server
            .store()
            .list_passkey_code_hashes(user_id)
            .await
            .unwrap()
            .is_empty(),
        "no code"
    );
    assert_eq!(
        scene.server.events(user_id).await.len(),
        1,
        "no event beyond user.added"
    );
    // Returning the code needs no email.
    let answer = scene
        .admin
        .create_passkey_registration_link(return_code(user_id))
        .await
        .expect("return_code");
    assert!(answer.code.is_some());
}
