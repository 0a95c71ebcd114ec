//! Requests that cannot be decoded — structs nested past protobuf's limit, bytes that are not
//! protobuf, broken gRPC frames, gRPC-Web text that is not base64, JSON nested past its limit —
//! answer InvalidArgument with passlink's error shape on every protocol, and log no error:
//! Internal means a bug in passlink, never a bad request.

mod common;

use common::TestServer;
use common::descriptors::SERVICE;
use common::failure::{Failure, error_detail_of_rpc_status, json_failure};
use common::grpc_web::{
    decode_base64_lenient, decode_grpc_web_text, parse_grpc_web_frames, percent_decode,
};
use common::http_clients::{http_client, json_answer};
use common::log_capture::LogCapture;
use common::protocols::Protocol;
use common::raw_grpc::RawGrpcConnection;
use passlink::pb::zitadel::user::v2 as user_pb;
use prost::Message;
use tonic::Code;

const VERIFY: &str = "VerifyPasskeyRegistration";

/// A `google.protobuf.Struct` with `levels` Structs nested in one another.
fn deep_struct(levels: usize) -> prost_types::Struct {
    let mut nested = prost_types::Struct::default();
    for _ in 1..levels {
        nested = prost_types::Struct {
            fields: [(
                "a".to_owned(),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::StructValue(nested)),
                },
            )]
            .into(),
        };
    }
    nested
}

/// The same as JSON: `levels` objects nested in one another.
fn deep_json_object(levels: usize) -> serde_json::Value {
    let mut nested = serde_json::json!({});
    for _ in 1..levels {
        nested = serde_json::json!({ "a": nested });
    }
    nested
}

fn verify_request(credential: prost_types::Struct) -> user_pb::VerifyPasskeyRegistrationRequest {
    user_pb::VerifyPasskeyRegistrationRequest {
        user_id: "123".into(),
        passkey_id: "456".into(),
        public_key_credential: Some(credential),
        passkey_name: "deep".into(),
    }
}

fn verify_json(credential: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "userId": "123",
        "passkeyId": "456",
        "publicKeyCredential": credential,
        "passkeyName": "deep",
    })
}

#[tokio::test]
async fn structs_nested_past_the_protobuf_limit_are_invalid_argument_on_every_protocol() {
    let logs = LogCapture::start();
    let server = TestServer::start().await;
    // 35 levels are past prost's recursion limit of 100 (a request, then two messages per
    // level); prost-reflect's JSON reading gives up from 52 levels, serde_json's from 127.
    for levels in [35, 42, 50, 51, 52, 64, 100, 126] {
        for protocol in Protocol::binary() {
            let client = server.admin(protocol).await;
            let failure = client
                .verify_passkey_registration(verify_request(deep_struct(levels)))
                .await
                .expect_err("a struct nested too deep");
            assert_eq!(failure.code, Code::InvalidArgument, "{levels} levels");
            failure.assert_error(Code::InvalidArgument, "invalid protobuf message");
        }
        for protocol in Protocol::json() {
            let client = server.admin(protocol).await;
            let answer = client
                .raw_json(VERIFY, verify_json(deep_json_object(levels)))
                .await;
            let failure = json_failure(protocol, &answer);
            assert_eq!(failure.code, Code::InvalidArgument, "{levels} levels");
            failure.assert_error(Code::InvalidArgument, "invalid JSON body");
        }
    }
    // 34 levels decode and reach the handler, which finds no such registration.
    for protocol in Protocol::binary() {
        let failure = server
            .client(protocol)
            .await
            .verify_passkey_registration(verify_request(deep_struct(34)))
            .await
            .expect_err("no such registration");
        failure.assert_error(Code::NotFound, "WebAuthN Token could not be found");
    }
    assert!(logs.line_count() > 0, "the capture sees the server's log");
    logs.assert_no_errors();
}

#[tokio::test]
async fn json_nested_past_the_parser_limit_is_invalid_argument() {
    let logs = LogCapture::start();
    let server = TestServer::start().await;
    for levels in [129, 500, 50_000] {
        // Written by hand: a serde_json::Value this deep would overflow the test's own stack.
        let credential = format!(
            "{}{{}}{}",
            "{\"a\":".repeat(levels - 1),
            "}".repeat(levels - 1)
        );
        let body = format!(
            r#"{{"userId":"123","passkeyId":"456","passkeyName":"deep","publicKeyCredential":{credential}}}"#
        );
        for (protocol, path) in [
            (Protocol::ConnectJson, format!("/{SERVICE}/{VERIFY}")),
            (Protocol::Rest, "/v2/users/123/passkeys/456".to_owned()),
        ] {
            let answer = http_client()
                .post(server.url(&path))
                .header("content-type", "application/json")
                .bearer_auth(&server.admin_token)
                .body(body.clone())
                .send()
                .await
                .expect("an answer");
            let answer = json_answer(answer).await;
            let failure = json_failure(protocol, &answer);
            assert_eq!(
                failure.code,
                Code::InvalidArgument,
                "{levels} levels: {failure:#?}"
            );
            failure.assert_error(Code::InvalidArgument, "invalid JSON body");
        }
    }
    logs.assert_no_errors();
}

/// Bodies that are not protobuf messages of any kind.
fn malformed_messages() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("a length past the end", vec![0x0a, 0x7f, b'x']),
        ("an unterminated varint", vec![0x08, 0xff, 0xff, 0xff]),
        (
            "a varint of eleven bytes",
            [vec![0x08], vec![0xff; 10], vec![0x01]].concat(),
        ),
        ("field number 0", vec![0x00, 0x01]),
        ("wire type 7", vec![0x0f, 0x01]),
        ("an end group without a start", vec![0x0c]),
        ("a string that is not UTF-8", vec![0x0a, 0x02, 0xc3, 0x28]),
        ("a message field with a varint", vec![0x1a, 0x01]),
    ]
}

#[tokio::test]
async fn malformed_protobuf_is_invalid_argument_on_every_binary_protocol() {
    let logs = LogCapture::start();
    let server = TestServer::start().await;
    for protocol in Protocol::binary() {
        let client = server.admin(protocol).await;
        for (what, bytes) in malformed_messages() {
            let failure = client
                .call::<RawMessage, user_pb::VerifyPasskeyRegistrationResponse>(
                    VERIFY,
                    &RawMessage(bytes),
                )
                .await
                .expect_err(what);
            assert_eq!(failure.code, Code::InvalidArgument, "{what}: {failure:#?}");
            failure.assert_error(Code::InvalidArgument, "invalid protobuf message");
        }
    }
    logs.assert_no_errors();
}

/// A message that encodes to bytes given as they are, to send what no encoder writes.
#[derive(Clone, Debug, Default, PartialEq)]
struct RawMessage(Vec<u8>);

impl Message for RawMessage {
    fn encode_raw(&self, buffer: &mut impl bytes::BufMut) {
        buffer.put_slice(&self.0);
    }

    fn merge_field(
        &mut self,
        _tag: u32,
        _wire_type: prost::encoding::WireType,
        _buffer: &mut impl bytes::Buf,
        _context: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        unreachable!("only ever encoded")
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// gRPC bodies whose framing is broken, each with what makes it so.
fn broken_frames() -> Vec<(&'static str, Vec<u8>)> {
    let message = verify_request(deep_struct(2)).encode_to_vec();
    let frame = |flag: u8, length: u32, payload: &[u8]| {
        let mut frame = vec![flag];
        frame.extend_from_slice(&length.to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    };
    vec![
        ("an empty body", Vec::new()),
        ("a header of three bytes", vec![0, 0, 0]),
        (
            "a length prefix longer than the body",
            frame(0, message.len() as u32 + 10, &message),
        ),
        (
            "a frame cut in the middle",
            frame(0, message.len() as u32, &message[..message.len() / 2]),
        ),
        (
            "the compressed flag without grpc-encoding",
            frame(1, message.len() as u32, &message),
        ),
        (
            "a flag that is neither 0 nor 1",
            frame(7, message.len() as u32, &message),
        ),
    ]
}

#[tokio::test]
async fn broken_grpc_frames_are_invalid_argument_over_grpc_and_grpc_web() {
    let logs = LogCapture::start();
    let server = TestServer::start().await;
    let connection = RawGrpcConnection::connect(server.address).await;
    let path = format!("/{SERVICE}/{VERIFY}");
    let authorization = format!("Bearer {}", server.admin_token);
    for (what, body) in broken_frames() {
        let answer = connection
            .call("POST", &path, &[("authorization", &authorization)], &body)
            .await
            .expect("an answer");
        let failure = answer.failure();
        assert_eq!(
            failure.code,
            Code::InvalidArgument,
            "gRPC, {what}: {answer:#?}"
        );
        failure.assert_error(Code::InvalidArgument, "");
        for text in [false, true] {
            let failure = grpc_web_raw(&server, text, &body).await;
            assert_eq!(
                failure.code,
                Code::InvalidArgument,
                "gRPC-Web (text: {text}), {what}: {failure:#?}"
            );
            failure.assert_error(Code::InvalidArgument, "");
        }
    }
    logs.assert_no_errors();
}

#[tokio::test]
async fn malformed_protobuf_for_the_health_service_is_invalid_argument() {
    // The health and reflection services decode with tonic's own codec, not passlink's.
    let logs = LogCapture::start();
    let server = TestServer::start().await;
    let connection = RawGrpcConnection::connect(server.address).await;
    let answer = connection
        .call(
            "POST",
            "/grpc.health.v1.Health/Check",
            &[("content-type", "application/grpc")],
            &[0, 0, 0, 0, 3, 0x0a, 0x7f, b'x'],
        )
        .await
        .expect("an answer");
    let failure = answer.failure();
    assert_eq!(failure.code, Code::InvalidArgument, "{answer:#?}");
    failure.assert_error(Code::InvalidArgument, "failed to decode Protobuf message");
    logs.assert_no_errors();
}

#[tokio::test]
async fn grpc_web_text_that_is_not_base64_is_invalid_argument() {
    let logs = LogCapture::start();
    let server = TestServer::start().await;
    for body in [
        &b"!!!!"[..],
        b"AAAAAA",
        b"AAAAAAA*",
        b"AAAAAQ==AAA",
        "ÄÖÜß".as_bytes(),
    ] {
        let failure = grpc_web_text_raw(&server, body).await;
        assert_eq!(
            failure.code,
            Code::InvalidArgument,
            "{body:?}: {failure:#?}"
        );
        failure.assert_error(Code::InvalidArgument, "");
    }
    logs.assert_no_errors();
}

/// Posts a gRPC-Web body, framed by the caller, and reads the failure it answers.
async fn grpc_web_raw(server: &TestServer, text: bool, framed_body: &[u8]) -> Failure {
    if text {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(framed_body);
        grpc_web_text_raw(server, encoded.as_bytes()).await
    } else {
        grpc_web_post(server, "application/grpc-web+proto", framed_body).await
    }
}

async fn grpc_web_text_raw(server: &TestServer, body: &[u8]) -> Failure {
    grpc_web_post(server, "application/grpc-web-text", body).await
}

async fn grpc_web_post(server: &TestServer, content_type: &str, body: &[u8]) -> Failure {
    let answer = http_client()
        .post(server.url(&format!("/{SERVICE}/{VERIFY}")))
        .header("content-type", content_type)
        .header("accept", content_type)
        .header("x-grpc-web", "1")
        .bearer_auth(&server.admin_token)
        .body(body.to_vec())
        .send()
        .await
        .expect("a gRPC-Web answer");
    let status = answer.status().as_u16();
    assert_eq!(status, 200, "gRPC-Web answers HTTP 200 and a grpc-status");
    let headers = answer.headers().clone();
    let body = answer.bytes().await.unwrap();
    let body = if content_type.ends_with("-text") {
        decode_grpc_web_text(&body)
    } else {
        body.to_vec()
    };
    let frames = parse_grpc_web_frames(&body);
    assert!(frames.messages.is_empty(), "no message in an error answer");
    let field = |name: &str| -> Option<String> {
        frames
            .trailers
            .as_ref()
            .and_then(|trailers| trailers.get(name).cloned())
            .or_else(|| Some(headers.get(name)?.to_str().unwrap().to_owned()))
    };
    let code: i32 = field("grpc-status")
        .expect("a grpc-status")
        .parse()
        .unwrap();
    Failure {
        protocol: Protocol::GrpcWeb,
        code: Code::from_i32(code),
        http_status: Some(status),
        message: percent_decode(&field("grpc-message").unwrap_or_default()),
        detail: field("grpc-status-details-bin")
            .and_then(|value| error_detail_of_rpc_status(&decode_base64_lenient(&value))),
    }
}
