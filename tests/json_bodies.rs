//! What only JSON bodies can say, over both JSON protocols (Connect JSON and REST): the exact
//! JSON of answers, a body naming both members of a oneof, fields the schema does not know,
//! and enum values given by an unknown name.

mod common;

use std::collections::BTreeSet;

use common::failure::json_failure;
use common::http_clients::JsonAnswer;
use common::json_shape::{assert_details, assert_return_code_answer, keys};
use common::protocols::Protocol;
use common::scene::Scene;
use common::{TestServer, unique_email, uuid_like};
use rstest::rstest;
use rstest_reuse::{apply, template};
use serde_json::json;
use tonic::Code;

protocol_template! {
    /// Runs a test over every protocol whose bodies are JSON.
    every_json_protocol, EVERY_JSON_PROTOCOL:
        connect_json => ConnectJson,
        rest => Rest,
}

#[test]
fn the_template_runs_over_every_protocol_that_carries_json() {
    assert_eq!(EVERY_JSON_PROTOCOL, Protocol::json());
}

/// Sends CreatePasskeyRegistrationLink for the scene's user (its `userId` added to `body`).
async fn create_link_json(scene: &Scene, mut body: serde_json::Value) -> JsonAnswer {
    body["userId"] = json!(scene.user_id);
    scene
        .admin
        .raw_json("CreatePasskeyRegistrationLink", body)
        .await
}

const GENDER_RULE: &str =
    "invalid SetHumanProfile.Gender: value must be one of the defined enum values";
const AUTHENTICATOR_RULE: &str =
    "invalid RegisterPasskeyRequest.Authenticator: value must be one of the defined enum values";

#[apply(every_json_protocol)]
#[tokio::test]
async fn return_code_answer_is_canonical_json(#[case] protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let answer = create_link_json(&scene, json!({ "returnCode": {} })).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, "application/json");
    assert_return_code_answer(&answer.body, 2, &scene.org_id);
}

#[apply(every_json_protocol)]
#[tokio::test]
async fn send_link_answer_carries_details_only(#[case] protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let answer = create_link_json(
        &scene,
        json!({
            "sendLink": { "urlTemplate": "https://example.com/r?c={{.Code}}&i={{.CodeID}}" },
        }),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(keys(&answer.body), BTreeSet::from(["details"]));
    assert_details(&answer.body["details"], 2, &scene.org_id);
    assert_eq!(scene.stored_counts().await, (2, 1));
}

#[apply(every_json_protocol)]
#[tokio::test]
async fn both_oneof_members_in_one_body_are_invalid_argument(#[case] protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let stored_before = scene.stored_counts().await;
    let answer = create_link_json(
        &scene,
        json!({
            "sendLink": { "urlTemplate": "https://example.com/{{.Code}}" },
            "returnCode": {},
        }),
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    json_failure(protocol, &answer).assert_error(Code::InvalidArgument, "invalid JSON body");
    assert_eq!(scene.stored_counts().await, stored_before);
}

#[apply(every_json_protocol)]
#[tokio::test]
async fn unknown_json_fields_are_ignored(#[case] protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let answer = create_link_json(
        &scene,
        json!({
            "returnCode": { "fieldOfAFutureVersion": 1 },
            "someOtherField": { "nested": [true] },
        }),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_return_code_answer(&answer.body, 2, &scene.org_id);
}

#[apply(every_json_protocol)]
#[tokio::test]
async fn an_unknown_gender_name_is_invalid_argument(#[case] protocol: Protocol) {
    let server = TestServer::start().await;
    let admin = server.admin(protocol).await;
    let user_id = format!("gender-nope-{}", uuid_like());
    let answer = admin
        .raw_json(
            "AddHumanUser",
            json!({
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
    let stored = server.store().get_user(&user_id).await.unwrap();
    assert!(stored.is_none(), "nothing is stored: {stored:?}");

    // A defined name and a defined number are both fine.
    for gender in [json!("GENDER_DIVERSE"), json!(3)] {
        let answer = admin
            .raw_json(
                "AddHumanUser",
                json!({
                    "profile": { "givenName": "Gene", "familyName": "Tester", "gender": gender },
                    "email": { "email": unique_email("gene"), "isVerified": true },
                }),
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
}

#[apply(every_json_protocol)]
#[tokio::test]
async fn an_unknown_authenticator_name_is_invalid_argument(#[case] protocol: Protocol) {
    let scene = Scene::new(protocol).await;
    let answer = scene
        .admin
        .raw_json(
            "RegisterPasskey",
            json!({
                "userId": scene.user_id,
                "authenticator": "PASSKEY_AUTHENTICATOR_NOPE",
            }),
        )
        .await;
    json_failure(protocol, &answer).assert_error(Code::InvalidArgument, AUTHENTICATOR_RULE);
    assert_eq!(scene.server.pending_registrations().await, 0);
    // A defined name starts a registration.
    let answer = scene
        .admin
        .raw_json(
            "RegisterPasskey",
            json!({
                "userId": scene.user_id,
                "authenticator": "PASSKEY_AUTHENTICATOR_PLATFORM",
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(scene.server.pending_registrations().await, 1);
}
