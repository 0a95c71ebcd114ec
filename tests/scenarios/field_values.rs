//! Values protobuf decoding lets through but passlink refuses, on both storage backends: enum
//! fields take defined values only, and text holds no NUL character (PostgreSQL cannot store
//! one). Each is InvalidArgument naming the field, protoc-gen-validate style, and nothing is
//! stored. (Unknown enum names in JSON are in `tests/json_bodies.rs`.)

use passlink::pb::zitadel::user::v2 as user_pb;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;

use crate::common::protocols::Protocol;
use crate::common::requests::{human_with_id, register_without_code};
use crate::common::scene::Scene;
use crate::common::{TestServer, unique_email, uuid_like};
use crate::every_protocol;

const GENDER_RULE: &str =
    "invalid SetHumanProfile.Gender: value must be one of the defined enum values";
const AUTHENTICATOR_RULE: &str =
    "invalid RegisterPasskeyRequest.Authenticator: value must be one of the defined enum values";
const NUL_RULE: &str = "value must not contain the NUL character";

async fn assert_not_stored(server: &TestServer, user_id: &str) {
    let stored = server.store().get_user(user_id).await.unwrap();
    assert!(stored.is_none(), "nothing is stored: {stored:?}");
}

#[apply(every_protocol)]
#[tokio::test]
async fn an_undefined_gender_number_is_invalid_argument(#[case] protocol: Protocol) {
    let server = TestServer::start().await;
    let admin = server.admin(protocol).await;
    let user_id = format!("gender-77-{}", uuid_like());
    let mut request = human_with_id("Gene", &unique_email("gene"), &user_id);
    request.profile.as_mut().unwrap().gender = Some(77);
    let failure = admin
        .add_human_user(request)
        .await
        .expect_err("gender 77 is not a Gender");
    failure.assert_error(Code::InvalidArgument, GENDER_RULE);
    assert_not_stored(&server, &user_id).await;
}

#[apply(every_protocol)]
#[tokio::test]
async fn an_undefined_authenticator_number_is_invalid_argument(#[case] protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let failure = scene
        .admin
        .register_passkey(user_pb::RegisterPasskeyRequest {
            authenticator: 99,
            ..register_without_code(&scene.user_id)
        })
        .await
        .expect_err("99 is not a PasskeyAuthenticator");
    failure.assert_error(Code::InvalidArgument, AUTHENTICATOR_RULE);
    assert_eq!(scene.server.pending_registrations().await, 0);
}

#[apply(every_protocol)]
#[tokio::test]
async fn text_with_a_nul_character_is_invalid_argument(#[case] protocol: Protocol) {
    let server = TestServer::start().await;
    let admin = server.admin(protocol).await;
    let failure = admin
        .get_user_by_id("123\u{0}456")
        .await
        .expect_err("a user id with a NUL character");
    failure.assert_error(
        Code::InvalidArgument,
        &format!("invalid GetUserByIDRequest.UserId: {NUL_RULE}"),
    );

    let user_id = format!("nul-{}", uuid_like());
    let mut request = human_with_id("Gene", &unique_email("gene"), &user_id);
    request.profile.as_mut().unwrap().given_name = "A\u{0}da".into();
    let failure = admin
        .add_human_user(request)
        .await
        .expect_err("a name with a NUL character");
    failure.assert_error(
        Code::InvalidArgument,
        &format!("invalid SetHumanProfile.GivenName: {NUL_RULE}"),
    );
    assert_not_stored(&server, &user_id).await;
}
