//! What only the REST routes show: the exact JSON the contract names (field names,
//! string-encoded 64-bit numbers, `…Z` timestamps, error bodies), path parameters and unknown
//! paths. Every scenario of the user service runs over REST in `tests/scenarios`.

mod common;

use std::collections::BTreeSet;

use common::failure::{ERROR_DETAIL_TYPE_URL, json_failure};
use common::http_clients::{http_client, json_answer};
use common::json_shape::{assert_details, assert_return_code_answer, assert_rfc3339_utc, keys};
use common::protocols::Protocol;
use common::scene::Scene;
use serde_json::json;

async fn post_json(url: &str, token: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let answer = http_client()
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

#[tokio::test]
async fn get_user_by_id_answer_uses_json_names_and_enum_names() {
    let scene = Scene::new(Protocol::Rest).await;
    let answer = scene
        .admin
        .raw_json("GetUserByID", json!({ "userId": scene.user_id }))
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let body = answer.body;
    assert_eq!(keys(&body), BTreeSet::from(["details", "user"]));
    let details = &body["details"];
    assert_eq!(details["sequence"], "1");
    assert_eq!(details["resourceOwner"], scene.org_id.as_str());
    assert_rfc3339_utc(&details["changeDate"]);
    assert_rfc3339_utc(&details["creationDate"]);
    let user = &body["user"];
    assert_eq!(user["userId"], scene.user_id.as_str());
    assert_eq!(user["state"], "USER_STATE_ACTIVE");
    assert_eq!(user["human"]["profile"]["givenName"], "Ada");
    assert_eq!(user["human"]["email"]["isVerified"], true);
    assert!(user["preferredLoginName"].is_string());
}

#[tokio::test]
async fn error_body_is_a_google_rpc_status_with_the_error_detail() {
    let scene = Scene::new(Protocol::Rest).await;
    let answer = scene
        .admin
        .raw_json(
            "CreatePasskeyRegistrationLink",
            json!({ "userId": "999999999999999999", "returnCode": {} }),
        )
        .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.content_type, "application/json");
    let body = answer.body;
    assert_eq!(keys(&body), BTreeSet::from(["code", "details", "message"]));
    assert_eq!(body["code"], 5, "the gRPC code as a number");
    let details = body["details"].as_array().unwrap();
    assert_eq!(details.len(), 1);
    let detail = &details[0];
    assert_eq!(keys(detail), BTreeSet::from(["@type", "id", "message"]));
    assert_eq!(detail["@type"], ERROR_DETAIL_TYPE_URL);
    assert_eq!(detail["message"], "User could not be found");
    assert_eq!(
        body["message"],
        format!(
            "User could not be found ({})",
            detail["id"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn path_user_id_overrides_the_body() {
    let scene = Scene::new(Protocol::Rest).await;
    let token = &scene.server.admin_token;
    let path = |user_id: &str| {
        scene
            .server
            .url(&format!("/v2/users/{user_id}/passkeys/registration_link"))
    };

    let (status, body) = post_json(
        &path(&scene.user_id),
        token,
        json!({ "userId": "999999999999999999", "returnCode": {} }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_return_code_answer(&body, 2, &scene.org_id);

    let (status, body) = post_json(
        &path("999999999999999999"),
        token,
        json!({ "user_id": scene.user_id, "returnCode": {} }),
    )
    .await;
    assert_eq!(status, 404, "the path names an unknown user: {body}");
    assert_eq!(scene.stored_counts().await.0, 2, "one event only");
}

#[tokio::test]
async fn unknown_path_is_a_json_not_found() {
    let server = common::TestServer::start().await;
    let answer = http_client()
        .get(server.url("/v2/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 404);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["code"], 5);
}

#[tokio::test]
async fn send_link_with_template_answers_details_only_and_queues_one_row() {
    let scene = Scene::new(Protocol::Rest).await;
    let (status, body) = post_json(
        &scene.server.url(&format!(
            "/v2/users/{}/passkeys/registration_link",
            scene.user_id
        )),
        &scene.server.admin_token,
        json!({ "sendLink": { "urlTemplate": "https://example.com/{{.UserID}}/{{.Code}}" } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_details(&body["details"], 2, &scene.org_id);
    assert!(body.get("code").is_none());
    assert_eq!(scene.stored_counts().await, (2, 1));
}

#[tokio::test]
async fn a_nul_character_in_a_path_parameter_is_invalid_argument_naming_the_field() {
    let server = common::TestServer::start().await;
    let answer = http_client()
        .get(server.url("/v2/users/123%00456"))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap();
    json_failure(Protocol::Rest, &json_answer(answer).await).assert_error(
        tonic::Code::InvalidArgument,
        "invalid GetUserByIDRequest.UserId: value must not contain the NUL character",
    );
}
