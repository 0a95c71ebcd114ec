//! What only Connect unary shows (`POST /zitadel.user.v2.UserService/<Method>`): chunked
//! bodies, a proto body written by hand and the exact error body. Every scenario of the user
//! service runs over Connect JSON and proto in `tests/scenarios`; the exact JSON of answers is
//! in `tests/json_bodies.rs`.

mod common;

use std::collections::BTreeSet;

use base64::Engine;
use common::failure::ERROR_DETAIL_TYPE;
use common::http_clients::http_client;
use common::json_shape::{assert_return_code_answer, keys};
use common::protocols::Protocol;
use common::raw_http::chunked_request;
use common::requests::return_code;
use common::scene::{Scene, assert_well_formed_code};
use passlink::pb::zitadel::user::v2 as user_pb;
use passlink::pb::zitadel::v1::ErrorDetail;
use prost::Message;

const LINK_PATH: &str = "/zitadel.user.v2.UserService/CreatePasskeyRegistrationLink";

#[tokio::test]
async fn chunked_json_body_without_protocol_version_is_read_whole() {
    let scene = Scene::new(Protocol::ConnectJson).await;
    let authorization = format!("Bearer {}", scene.server.admin_token);
    let body = serde_json::json!({ "userId": scene.user_id, "returnCode": {} }).to_string();
    let (first, rest) = body.as_bytes().split_at(7);
    let (second, third) = rest.split_at(rest.len() / 2);

    let answer = chunked_request(
        scene.server.address,
        "POST",
        LINK_PATH,
        &[
            ("content-type", "application/json"),
            ("authorization", &authorization),
        ],
        &[first, second, third],
    )
    .await;

    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_return_code_answer(&answer.json(), 2, &scene.org_id);
}

#[tokio::test]
async fn chunked_proto_body_is_read_whole() {
    let scene = Scene::new(Protocol::ConnectProto).await;
    let authorization = format!("Bearer {}", scene.server.admin_token);
    let body = return_code(&scene.user_id).encode_to_vec();
    let chunks: Vec<&[u8]> = body.chunks(5).collect();

    let answer = chunked_request(
        scene.server.address,
        "POST",
        LINK_PATH,
        &[
            ("content-type", "application/proto"),
            ("connect-protocol-version", "1"),
            ("authorization", &authorization),
        ],
        &chunks,
    )
    .await;

    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/proto"));
    let decoded =
        user_pb::CreatePasskeyRegistrationLinkResponse::decode(answer.body.as_slice()).unwrap();
    assert_eq!(decoded.details.unwrap().sequence, 2);
    assert_well_formed_code(&decoded.code.unwrap());
}

#[tokio::test]
async fn empty_return_code_in_proto_counts_as_set() {
    let scene = Scene::new(Protocol::ConnectProto).await;
    let mut body = vec![0x0a, scene.user_id.len() as u8];
    body.extend_from_slice(scene.user_id.as_bytes());
    body.extend_from_slice(&[0x1a, 0x00]);
    let answer = http_client()
        .post(scene.server.url(LINK_PATH))
        .header("content-type", "application/proto")
        .bearer_auth(&scene.server.admin_token)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let decoded = user_pb::CreatePasskeyRegistrationLinkResponse::decode(
        answer.bytes().await.unwrap().as_ref(),
    )
    .unwrap();
    assert!(decoded.code.is_some(), "`1a 00` selects return_code");
}

#[tokio::test]
async fn error_body_has_the_connect_code_and_a_base64_error_detail() {
    let scene = Scene::new(Protocol::ConnectJson).await;
    let answer = scene
        .admin
        .raw_json(
            "CreatePasskeyRegistrationLink",
            serde_json::json!({ "userId": "999999999999999999", "returnCode": {} }),
        )
        .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.content_type, "application/json");
    let body = answer.body;
    assert_eq!(keys(&body), BTreeSet::from(["code", "details", "message"]));
    assert_eq!(body["code"], "not_found");
    let detail = &body["details"][0];
    assert_eq!(keys(detail), BTreeSet::from(["type", "value"]));
    assert_eq!(detail["type"], ERROR_DETAIL_TYPE);
    let value = detail["value"].as_str().unwrap();
    let decoded = ErrorDetail::decode(
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(value.trim_end_matches('='))
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(decoded.message, "User could not be found");
    assert_eq!(
        body["message"],
        format!("User could not be found ({})", decoded.id)
    );
}
