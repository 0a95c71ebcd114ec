//! Limits and lifecycle: bounded request bodies and messages on every protocol, deadlines from
//! `grpc-timeout` and `connect-timeout-ms`, and a graceful shutdown that finishes requests in
//! flight.

mod common;

use common::failure::{connect_failure, json_failure};
use common::grpc_web::grpc_web_frame;
use common::http_clients::{http_client, json_answer};
use common::protocols::Protocol;
use common::raw_http::ChunkedRequest;
use common::requests::{human, return_code};
use common::scene::Scene;
use common::{TestServer, add_human, unique_email};
use passlink::pb::zitadel::user::v2 as user_pb;
use prost::Message;
use tonic::Code;

const LIMIT: usize = 16 * 1024;
const LINK_PATH: &str = "/zitadel.user.v2.UserService/CreatePasskeyRegistrationLink";

async fn server_with_small_limit() -> TestServer {
    TestServer::start_with(|settings| settings.max_request_bytes = LIMIT).await
}

/// An AddHumanUserRequest with a metadata value of `bytes` bytes.
fn human_with_metadata(bytes: usize) -> user_pb::AddHumanUserRequest {
    let mut request = human("Big", &unique_email("big"));
    request.metadata.push(user_pb::SetMetadataEntry {
        key: "blob".into(),
        value: vec![b'x'; bytes],
    });
    request
}

#[tokio::test]
async fn too_large_rest_and_connect_bodies_get_a_clear_error_and_the_server_keeps_answering() {
    let server = server_with_small_limit().await;
    let user_id = add_human(&server, &server.admin_token, "Ada").await;
    let padding = "x".repeat(LIMIT * 2);
    let body = serde_json::json!({ "userId": user_id, "returnCode": {}, "padding": padding });

    for protocol in Protocol::json() {
        let client = server.admin(protocol).await;
        let answer = client
            .raw_json("CreatePasskeyRegistrationLink", body.clone())
            .await;
        json_failure(protocol, &answer).assert_error(
            Code::ResourceExhausted,
            &format!("the request body is larger than the limit of {LIMIT} bytes"),
        );

        let fine = client
            .create_passkey_registration_link(return_code(&user_id))
            .await
            .expect("the server still answers");
        assert!(fine.code.is_some());
    }

    // A chunked body has no length up front; it is cut off at the limit all the same.
    let authorization = format!("Bearer {}", server.admin_token);
    let mut request = ChunkedRequest::start(
        server.address,
        "POST",
        LINK_PATH,
        &[
            ("content-type", "application/json"),
            ("authorization", &authorization),
        ],
    )
    .await;
    request.send_chunk(body.to_string().as_bytes()).await;
    let answer = request.finish().await;
    connect_failure(Protocol::ConnectJson, answer.status, &answer.body)
        .assert_error(Code::ResourceExhausted, "larger than the limit");
}

#[tokio::test]
async fn grpc_and_grpc_web_messages_larger_than_the_limit_are_refused() {
    let server = server_with_small_limit().await;
    for protocol in [Protocol::Grpc, Protocol::GrpcWeb] {
        let client = server.admin(protocol).await;
        let failure = client
            .add_human_user(human_with_metadata(LIMIT * 2))
            .await
            .expect_err("a message over the limit");
        failure.assert_error(
            Code::ResourceExhausted,
            &format!("the request message is larger than the limit of {LIMIT} bytes"),
        );

        let fine = client
            .add_human_user(human_with_metadata(LIMIT / 2))
            .await
            .expect("a message under the limit");
        assert!(!fine.user_id.is_empty());
    }
}

#[tokio::test]
async fn expired_grpc_timeout_answers_deadline_exceeded() {
    let scene = Scene::new(Protocol::GrpcWeb).await;
    let frame = grpc_web_frame(0, &return_code(&scene.user_id).encode_to_vec());
    let send = |timeout: &'static str| {
        http_client()
            .post(scene.server.url(LINK_PATH))
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .header("grpc-timeout", timeout)
            .bearer_auth(&scene.server.admin_token)
            .body(frame.clone())
            .send()
    };
    // The handler waits on the database at least once, so a zero deadline has passed by then.
    let stored_before = scene.stored_counts().await;
    let expired = send("0n").await.unwrap();
    assert_eq!(scene.stored_counts().await, stored_before, "nothing ran");
    assert!(
        expired.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/grpc-web"),
        "a gRPC-Web answer, not a bare gRPC one: {expired:?}"
    );
    let grpc_status = |name: &str| expired.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(
        grpc_status("grpc-status"),
        (Code::DeadlineExceeded as i32).to_string()
    );
    let detail = common::failure::error_detail_of_rpc_status(
        &common::grpc_web::decode_base64_lenient(&grpc_status("grpc-status-details-bin")),
    )
    .expect("a zitadel.v1.ErrorDetail");
    assert!(detail.message.contains("grpc-timeout"), "{detail:?}");
    let generous = send("1M").await.unwrap();
    assert_eq!(generous.status().as_u16(), 200);
    let frames = common::grpc_web::parse_grpc_web_frames(&generous.bytes().await.unwrap());
    assert_eq!(frames.trailers.unwrap()["grpc-status"], "0");
}

#[tokio::test]
async fn expired_grpc_timeout_on_rest_answers_a_json_deadline_exceeded() {
    let scene = Scene::new(Protocol::Rest).await;
    let send = |timeout: &'static str| {
        http_client()
            .get(scene.server.url(&format!("/v2/users/{}", scene.user_id)))
            .header("grpc-timeout", timeout)
            .bearer_auth(&scene.server.admin_token)
            .send()
    };
    let expired = json_answer(send("0n").await.unwrap()).await;
    json_failure(Protocol::Rest, &expired).assert_error(Code::DeadlineExceeded, "grpc-timeout");
    assert_eq!(send("1M").await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn expired_connect_timeout_answers_deadline_exceeded() {
    let scene = Scene::new(Protocol::ConnectJson).await;
    let body = serde_json::json!({ "userId": scene.user_id, "returnCode": {} }).to_string();
    let send = |milliseconds: &'static str| {
        http_client()
            .post(scene.server.url(LINK_PATH))
            .header("content-type", "application/json")
            .header("connect-timeout-ms", milliseconds)
            .bearer_auth(&scene.server.admin_token)
            .body(body.clone())
            .send()
    };
    let stored_before = scene.stored_counts().await;
    let expired = send("0").await.unwrap();
    assert_eq!(scene.stored_counts().await, stored_before, "nothing ran");
    let status = expired.status().as_u16();
    connect_failure(
        Protocol::ConnectJson,
        status,
        &expired.bytes().await.unwrap(),
    )
    .assert_error(Code::DeadlineExceeded, "connect-timeout-ms");
    let generous = send("60000").await.unwrap();
    assert_eq!(generous.status().as_u16(), 200);
}

#[tokio::test]
async fn graceful_shutdown_finishes_a_request_in_flight() {
    let mut server = TestServer::start().await;
    let user_id = add_human(&server, &server.admin_token, "Ada").await;
    let org_id = server.default_org_id().await;
    let address = server.address;
    let authorization = format!("Bearer {}", server.admin_token);
    let body = serde_json::json!({ "userId": user_id, "returnCode": {} }).to_string();
    let (head, tail) = body.as_bytes().split_at(10);

    let mut request = ChunkedRequest::start(
        address,
        "POST",
        LINK_PATH,
        &[
            ("content-type", "application/json"),
            ("authorization", &authorization),
            ("expect", "100-continue"),
        ],
    )
    .await;
    request.wait_for_continue().await;
    request.send_chunk(head).await;

    let finished = server.begin_shutdown();
    // Once the listener is gone, the server is draining: new connections are refused.
    let mut attempts = 0;
    while tokio::net::TcpStream::connect(address).await.is_ok() {
        attempts += 1;
        assert!(attempts < 1000, "the listener should close on shutdown");
        tokio::task::yield_now().await;
    }

    request.send_chunk(tail).await;
    let answer = request.finish().await;
    assert_eq!(answer.status, 200, "{answer:?}");
    common::json_shape::assert_return_code_answer(&answer.json(), 2, &org_id);
    finished
        .await
        .unwrap()
        .expect("the server stops cleanly after the request");
}
