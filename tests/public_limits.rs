//! The rate limit on public calls (RegisterPasskey with a code, VerifyPasskeyRegistration
//! without a token): a token bucket per client address, the same over every protocol; over it,
//! ResourceExhausted with `retry-after`. Calls with a bearer token are not counted, and behind
//! a trusted proxy each forwarded client has its own bucket.

mod common;

use common::authenticator::register_with_code;
use common::wire::{Failure, Protocol, http_client};
use common::{TestServer, add_human, create_code};
use passlink::pb::zitadel::user::v2 as user_pb;
use prost::Message;
use tonic::Code;

const EVERY_PROTOCOL: [Protocol; 6] = [
    Protocol::Grpc,
    Protocol::GrpcWeb,
    Protocol::GrpcWebText,
    Protocol::ConnectJson,
    Protocol::ConnectProto,
    Protocol::Rest,
];

/// A server allowing `burst` public calls per address, refilled at one a minute (so nothing
/// refills while a test runs), with these trusted proxies.
async fn server_with_limit(burst: u32, trusted_proxies: &[&str]) -> TestServer {
    TestServer::start_with(|settings| {
        settings.limits.public_per_minute = 1;
        settings.limits.public_burst = burst;
        settings.limits.trusted_proxies = trusted_proxies.iter().map(|t| t.to_string()).collect();
    })
    .await
}

/// A RegisterPasskeyRequest with a wrong code for a real code id: a public call that fails.
async fn wrong_code_request(server: &TestServer) -> user_pb::RegisterPasskeyRequest {
    let user_id = add_human(server, &server.admin_token, "Ada").await;
    let code = create_code(server, &user_id).await;
    register_with_code(
        &user_id,
        &user_pb::PasskeyRegistrationCode {
            code: "wrongwrong12".into(),
            ..code
        },
    )
}

fn assert_over_the_limit(failure: &Failure) {
    failure.assert_error(Code::ResourceExhausted, "Too many requests");
}

/// The `retry-after` of a public call over `protocol` that is over the limit, read from that
/// protocol's answer: gRPC metadata, gRPC-Web headers, the HTTP header of REST and Connect.
async fn retry_after(
    server: &TestServer,
    protocol: Protocol,
    request: &user_pb::RegisterPasskeyRequest,
) -> u64 {
    let text = match protocol {
        Protocol::Grpc => {
            let status = server
                .grpc_client()
                .await
                .register_passkey(request.clone())
                .await
                .expect_err("over the limit");
            assert_eq!(status.code(), Code::ResourceExhausted);
            status
                .metadata()
                .get("retry-after")
                .expect("retry-after in the status metadata")
                .to_str()
                .unwrap()
                .to_owned()
        }
        Protocol::GrpcWeb | Protocol::GrpcWebText => {
            let (_, headers, _) = server
                .client(protocol)
                .await
                .grpc_web_exchange("RegisterPasskey", &request.encode_to_vec())
                .await;
            assert_eq!(headers["grpc-status"], "8", "{headers:?}");
            headers["retry-after"].to_str().unwrap().to_owned()
        }
        Protocol::ConnectJson | Protocol::ConnectProto => {
            let answer = http_client()
                .post(server.url("/zitadel.user.v2.UserService/RegisterPasskey"))
                .header("content-type", "application/proto")
                .body(request.encode_to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status().as_u16(), 429);
            answer.headers()["retry-after"].to_str().unwrap().to_owned()
        }
        Protocol::Rest => {
            let answer = rest_register(server, request, None).await;
            assert_eq!(answer.status().as_u16(), 429);
            answer.headers()["retry-after"].to_str().unwrap().to_owned()
        }
    };
    text.parse().unwrap()
}

/// RegisterPasskey over REST, optionally with an `X-Forwarded-For` header.
async fn rest_register(
    server: &TestServer,
    request: &user_pb::RegisterPasskeyRequest,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let code = request.code.as_ref().unwrap();
    let mut http = http_client()
        .post(server.url(&format!("/v2/users/{}/passkeys", request.user_id)))
        .header("content-type", "application/json")
        .body(serde_json::json!({ "code": { "id": code.id, "code": code.code } }).to_string());
    if let Some(address) = forwarded_for {
        http = http.header("x-forwarded-for", address);
    }
    http.send().await.unwrap()
}

#[tokio::test]
async fn over_the_limit_public_calls_answer_resource_exhausted_with_retry_after_over_every_protocol()
 {
    for protocol in EVERY_PROTOCOL {
        let server = server_with_limit(3, &[]).await;
        let api = server.client(protocol).await;
        let request = wrong_code_request(&server).await;
        for call in 0..3 {
            api.register_passkey(request.clone())
                .await
                .expect_err("a wrong code")
                .assert_error(Code::InvalidArgument, "Code is invalid");
            println!("{protocol:?}: call {call} admitted");
        }
        let refused = api.register_passkey(request.clone()).await.unwrap_err();
        assert_over_the_limit(&refused);
        // Verify without a token shares the budget.
        let verify = api
            .verify_passkey_registration(user_pb::VerifyPasskeyRegistrationRequest {
                user_id: request.user_id.clone(),
                passkey_id: "1".into(),
                public_key_credential: Some(Default::default()),
                passkey_name: "x".into(),
            })
            .await
            .unwrap_err();
        assert_over_the_limit(&verify);
        let seconds = retry_after(&server, protocol, &request).await;
        assert!(
            (1..=60).contains(&seconds),
            "{protocol:?}: one call a minute refills within 60 s, got {seconds}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn calls_with_a_bearer_token_are_not_counted() {
    let server = server_with_limit(2, &[]).await;
    let api = server.client(Protocol::Rest).await;
    let admin = api.with_token(&server.admin_token);
    let request = wrong_code_request(&server).await;
    for _ in 0..10 {
        admin
            .register_passkey(request.clone())
            .await
            .expect_err("a wrong code, checked with a token")
            .assert_error(Code::InvalidArgument, "Code is invalid");
        admin
            .verify_passkey_registration(user_pb::VerifyPasskeyRegistrationRequest {
                user_id: request.user_id.clone(),
                passkey_id: "1".into(),
                public_key_credential: Some(Default::default()),
                passkey_name: "x".into(),
            })
            .await
            .expect_err("no such registration")
            .assert_error(Code::NotFound, "WebAuthN Token could not be found");
    }
    // The address's own budget is untouched: two public calls, then the limit.
    for _ in 0..2 {
        api.register_passkey(request.clone())
            .await
            .unwrap_err()
            .assert_error(Code::InvalidArgument, "Code is invalid");
    }
    assert_over_the_limit(&api.register_passkey(request.clone()).await.unwrap_err());
    server.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let server = server_with_limit(2, &["127.0.0.1"]).await;
    let request = wrong_code_request(&server).await;
    for client in ["203.0.113.7", "203.0.113.8"] {
        for _ in 0..2 {
            let answer = rest_register(&server, &request, Some(client)).await;
            assert_eq!(answer.status().as_u16(), 400, "{client} admitted");
        }
        let answer = rest_register(&server, &request, Some(client)).await;
        assert_eq!(answer.status().as_u16(), 429, "{client} over its limit");
    }
    // gRPC metadata carries the header as well; a third client is fresh.
    let mut grpc = server.grpc_client().await;
    for expected in [
        Code::InvalidArgument,
        Code::InvalidArgument,
        Code::ResourceExhausted,
    ] {
        let mut call = tonic::Request::new(request.clone());
        call.metadata_mut()
            .insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        assert_eq!(
            grpc.register_passkey(call).await.unwrap_err().code(),
            expected
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let server = server_with_limit(2, &[]).await;
    let request = wrong_code_request(&server).await;
    for (client, status) in [
        ("203.0.113.7", 400),
        ("203.0.113.8", 400),
        ("203.0.113.9", 429),
    ] {
        let answer = rest_register(&server, &request, Some(client)).await;
        assert_eq!(
            answer.status().as_u16(),
            status,
            "every call counts against the peer, 127.0.0.1"
        );
    }
    server.stop().await;
}
