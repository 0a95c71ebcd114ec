//! gRPC-Web as a browser sends it: hand-built 5-byte-prefixed frames POSTed over HTTP/1.1,
//! answers split into data and trailer frames, in binary and `-text` (base64) mode, and the
//! CORS preflight. Every scenario of the user service runs over both modes in
//! `tests/scenarios`.

mod common;

use common::failure::error_detail_of_rpc_status;
use common::grpc_web::{decode_base64_lenient, percent_decode};
use common::http_clients::http_client;
use common::protocols::Protocol;
use common::requests::return_code;
use common::scene::{Scene, assert_well_formed_code};
use common::wire::ApiClient;
use passlink::pb::zitadel::user::v2 as user_pb;
use prost::Message;

const LINK_METHOD: &str = "CreatePasskeyRegistrationLink";

async fn admin_of(scene: &Scene, protocol: Protocol) -> ApiClient {
    scene.server.admin(protocol).await
}

#[tokio::test]
async fn success_is_one_data_frame_then_a_trailer_frame_with_status_0() {
    let scene = Scene::new(Protocol::GrpcWeb).await;
    for (protocol, content_type) in [
        (Protocol::GrpcWeb, "application/grpc-web+proto"),
        (Protocol::GrpcWebText, "application/grpc-web-text"),
    ] {
        let admin = admin_of(&scene, protocol).await;
        let (status, headers, frames) = admin
            .grpc_web_exchange(LINK_METHOD, &return_code(&scene.user_id).encode_to_vec())
            .await;

        assert_eq!(status, 200);
        let answer_type = headers["content-type"].to_str().unwrap();
        assert!(answer_type.starts_with(content_type), "{answer_type}");
        assert!(
            headers.get("grpc-status").is_none(),
            "a status after a message belongs in the trailer frame"
        );
        assert_eq!(frames.messages.len(), 1);
        let trailers = frames.trailers.expect("a trailer frame (flag 0x80)");
        assert_eq!(trailers.get("grpc-status").map(String::as_str), Some("0"));
        assert!(!frames.bytes_after_trailers);
        let answer =
            user_pb::CreatePasskeyRegistrationLinkResponse::decode(frames.messages[0].as_slice())
                .unwrap();
        assert_eq!(answer.details.unwrap().resource_owner, scene.org_id);
        assert_well_formed_code(&answer.code.unwrap());
    }
}

#[tokio::test]
async fn error_carries_grpc_status_message_and_error_detail() {
    let scene = Scene::new(Protocol::GrpcWeb).await;
    let admin = admin_of(&scene, Protocol::GrpcWeb).await;
    let (status, headers, frames) = admin
        .grpc_web_exchange(
            LINK_METHOD,
            &return_code("999999999999999999").encode_to_vec(),
        )
        .await;

    assert_eq!(status, 200);
    assert!(frames.messages.is_empty());
    // Trailers-only (in headers) and a trailer frame are both valid gRPC-Web.
    let value = |name: &str| {
        frames
            .trailers
            .as_ref()
            .and_then(|trailers| trailers.get(name).cloned())
            .or_else(|| Some(headers.get(name)?.to_str().unwrap().to_owned()))
            .unwrap_or_else(|| panic!("{name} in {headers:?} / {frames:?}"))
    };
    assert_eq!(value("grpc-status"), "5");
    assert!(percent_decode(&value("grpc-message")).starts_with("User could not be found ("));
    let detail =
        error_detail_of_rpc_status(&decode_base64_lenient(&value("grpc-status-details-bin")))
            .expect("a zitadel.v1.ErrorDetail");
    assert_eq!(detail.message, "User could not be found");
}

#[tokio::test]
async fn cors_preflight_allows_grpc_web_headers_and_answers_expose_the_status() {
    let server = common::TestServer::start().await;
    let url = server.url(&format!("/zitadel.user.v2.UserService/{LINK_METHOD}"));
    let origin = "http://app.example.com";
    let preflight = http_client()
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "x-grpc-web,content-type,authorization,x-user-agent,grpc-timeout",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{preflight:?}");
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_ascii_lowercase())
            .unwrap_or_default()
    };
    assert_eq!(header(&preflight, "access-control-allow-origin"), origin);
    assert!(header(&preflight, "access-control-allow-methods").contains("post"));
    let allowed = header(&preflight, "access-control-allow-headers");
    for name in [
        "x-grpc-web",
        "content-type",
        "authorization",
        "x-user-agent",
        "grpc-timeout",
        "connect-protocol-version",
        "connect-timeout-ms",
    ] {
        assert!(allowed.contains(name), "{name} missing from {allowed}");
    }

    let answer = http_client()
        .post(&url)
        .header("origin", origin)
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(common::grpc_web::grpc_web_frame(
            0,
            &return_code("1").encode_to_vec(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&answer, "access-control-allow-origin"), origin);
    let exposed = header(&answer, "access-control-expose-headers");
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        assert!(exposed.contains(name), "{name} missing from {exposed}");
    }
}

#[tokio::test]
async fn plain_grpc_web_content_type_is_served_like_grpc_web_proto() {
    let scene = Scene::new(Protocol::GrpcWeb).await;
    let answer = http_client()
        .post(
            scene
                .server
                .url(&format!("/zitadel.user.v2.UserService/{LINK_METHOD}")),
        )
        .header("content-type", "application/grpc-web")
        .header("x-grpc-web", "1")
        .bearer_auth(&scene.server.admin_token)
        .body(common::grpc_web::grpc_web_frame(
            0,
            &return_code(&scene.user_id).encode_to_vec(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let frames = common::grpc_web::parse_grpc_web_frames(&answer.bytes().await.unwrap());
    assert_eq!(
        frames.trailers.expect("a trailer frame")["grpc-status"],
        "0"
    );
    let decoded =
        user_pb::CreatePasskeyRegistrationLinkResponse::decode(frames.messages[0].as_slice())
            .unwrap();
    assert_well_formed_code(&decoded.code.unwrap());
}
