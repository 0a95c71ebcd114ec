//! What protobuf and JSON decoding let through but passlink refuses, on every protocol and both
//! storage backends: enum fields take defined values only (an unknown number on any protocol,
//! an unknown name in JSON), and text holds no NUL character (PostgreSQL cannot store one).
//! Each is InvalidArgument naming the field, protoc-gen-validate style, and nothing is stored.

mod common;

use common::suite::Scene;
use common::wire::{JsonAnswer, Protocol, connect_failure, rest_failure};
use common::{TestServer, human, unique_email};
use passlink::pb::zitadel::user::v2 as user_pb;
use tonic::Code;

const ALL_PROTOCOLS: [Protocol; 6] = [
    Protocol::Grpc,
    Protocol::GrpcWeb,
    Protocol::GrpcWebText,
    Protocol::ConnectJson,
    Protocol::ConnectProto,
    Protocol::Rest,
];
const JSON_PROTOCOLS: [Protocol; 2] = [Protocol::ConnectJson, Protocol::Rest];

const GENDER_RULE: &str =
    "invalid SetHumanProfile.Gender: value must be one of the defined enum values";
const AUTHENTICATOR_RULE: &str =
    "invalid RegisterPasskeyRequest.Authenticator: value must be one of the defined enum values";

fn json_failure(protocol: Protocol, answer: &JsonAnswer) -> common::wire::Failure {
    assert_ne!(answer.status, 200, "an error answer: {answer:?}");
    match protocol {
        Protocol::Rest => rest_failure(protocol, answer),
        _ => connect_failure(protocol, answer.status, answer.body.to_string().as_bytes()),
    }
}

/// An AddHumanUserRequest with a user id of its own, to look the user up afterwards.
fn human_with_id(user_id: &str) -> user_pb::AddHumanUserRequest {
    let mut request = human("Gene", &unique_email("gene"));
    request.user_id = Some(user_id.to_owned());
    request
}

async fn assert_not_stored(server: &TestServer, user_id: &str) {
    let stored = server.services.store().get_user(user_id).await.unwrap();
    assert!(stored.is_none(), "nothing is stored: {stored:?}");
}

#[tokio::test]
async fn an_undefined_gender_number_is_invalid_argument_on_every_protocol() {
    let server = TestServer::start().await;
    for protocol in ALL_PROTOCOLS {
        let admin = server
            .client(protocol)
            .await
            .with_token(&server.admin_token);
        let user_id = format!("gender-77-{}", common::uuid_like());
        let mut request = human_with_id(&user_id);
        request.profile.as_mut().unwrap().gender = Some(77);
        let failure = admin
            .add_human_user(request)
            .await
            .expect_err("gender 77 is not a Gender");
        assert_eq!(
            failure.code,
            Code::InvalidArgument,
            "{protocol:?}: {failure:#?}"
        );
        failure.assert_error(Code::InvalidArgument, GENDER_RULE);
        assert_not_stored(&server, &user_id).await;
    }
}

#[tokio::test]
async fn an_unknown_gender_name_in_json_is_invalid_argument() {
    let server = TestServer::start().await;
    for protocol in JSON_PROTOCOLS {
        let admin = server
            .client(protocol)
            .await
            .with_token(&server.admin_token);
        let user_id = format!("gender-nope-{}", common::uuid_like());
        let answer = admin
            .raw_json(
                "AddHumanUser",
                serde_json::json!({
                    "userId": user_id,
                    "profile": {
                        "givenName": "Gene",
                        "familyName": "Tester",
                        "gender": "GENDER_NOPE",
                    },
                    "email": { "email": unique_email("gene"), "isVerified": true },
                }),
            )
            .await;
        json_failure(protocol, &answer).assert_error(Code::InvalidArgument, GENDER_RULE);
        assert_not_stored(&server, &user_id).await;

        // A defined name and a defined number are both fine.
        for gender in [serde_json::json!("GENDER_DIVERSE"), serde_json::json!(3)] {
            let answer = admin
                .raw_json(
                    "AddHumanUser",
                    serde_json::json!({
                        "profile": { "givenName": "Gene", "familyName": "Tester", "gender": gender },
                        "email": { "email": unique_email("gene"), "isVerified": true },
                    }),
                )
                .await;
            assert_eq!(answer.status, 200, "{answer:?}");
        }
    }
}

/// How many registrations wait to be verified.
async fn pending_registrations(server: &TestServer) -> i64 {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&server.database_url())
        .await
        .expect("open the test database");
    let row = sqlx::query("SELECT COUNT(*) FROM passkey_registrations")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    row.get::<i64, _>(0)
}

#[tokio::test]
async fn an_undefined_authenticator_number_is_invalid_argument_on_every_protocol() {
    let scene = Scene::new(Protocol::Grpc).await;
    for protocol in ALL_PROTOCOLS {
        let admin = scene
            .server
            .client(protocol)
            .await
            .with_token(&scene.server.admin_token);
        let failure = admin
            .register_passkey(user_pb::RegisterPasskeyRequest {
                user_id: scene.user_id.clone(),
                authenticator: 99,
                ..Default::default()
            })
            .await
            .expect_err("99 is not a PasskeyAuthenticator");
        failure.assert_error(Code::InvalidArgument, AUTHENTICATOR_RULE);
        assert_eq!(pending_registrations(&scene.server).await, 0);
    }
}

#[tokio::test]
async fn an_unknown_authenticator_name_in_json_is_invalid_argument() {
    let scene = Scene::new(Protocol::Rest).await;
    for protocol in JSON_PROTOCOLS {
        let admin = scene
            .server
            .client(protocol)
            .await
            .with_token(&scene.server.admin_token);
        let answer = admin
            .raw_json(
                "RegisterPasskey",
                serde_json::json!({
                    "userId": scene.user_id,
                    "authenticator": "PASSKEY_AUTHENTICATOR_NOPE",
                }),
            )
            .await;
        json_failure(protocol, &answer).assert_error(Code::InvalidArgument, AUTHENTICATOR_RULE);
        assert_eq!(pending_registrations(&scene.server).await, 0);
    }
    // A defined name starts a registration.
    let answer = scene
        .admin
        .raw_json(
            "RegisterPasskey",
            serde_json::json!({
                "userId": scene.user_id,
                "authenticator": "PASSKEY_AUTHENTICATOR_PLATFORM",
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(pending_registrations(&scene.server).await, 1);
}

const NUL_RULE: &str = "value must not contain the NUL character";

#[tokio::test]
async fn text_with_a_nul_character_is_invalid_argument_on_every_protocol() {
    let server = TestServer::start().await;
    for protocol in ALL_PROTOCOLS {
        let admin = server
            .client(protocol)
            .await
            .with_token(&server.admin_token);
        let failure = admin
            .get_user_by_id("123\u{0}456")
            .await
            .expect_err("a user id with a NUL character");
        assert_eq!(
            failure.code,
            Code::InvalidArgument,
            "{protocol:?}: {failure:#?}"
        );
        failure.assert_error(
            Code::InvalidArgument,
            &format!("invalid GetUserByIDRequest.UserId: {NUL_RULE}"),
        );

        let user_id = format!("nul-{}", common::uuid_like());
        let mut request = human_with_id(&user_id);
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
    // A NUL in a REST path parameter is the same field.
    let answer = common::wire::http_client()
        .get(server.url("/v2/users/123%00456"))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap();
    let answer = JsonAnswer {
        status: answer.status().as_u16(),
        content_type: answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned(),
        body: answer.json().await.unwrap(),
    };
    json_failure(Protocol::Rest, &answer).assert_error(
        Code::InvalidArgument,
        &format!("invalid GetUserByIDRequest.UserId: {NUL_RULE}"),
    );
}
