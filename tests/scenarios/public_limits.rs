//! The rate limit on public calls (RegisterPasskey with a code, VerifyPasskeyRegistration
//! without a token): a token bucket per client address; over it, ResourceExhausted with
//! `retry-after`. Calls with a bearer token are not counted, and behind a trusted proxy each
//! forwarded client (`x-forwarded-for`, an HTTP header or gRPC metadata) has its own bucket.

use passlink::pb::zitadel::user::v2 as user_pb;
use prost::Message;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;

use crate::common::failure::Failure;
use crate::common::http_clients::http_client;
use crate::common::protocols::Protocol;
use crate::common::requests::{register_with_code, wrong_code};
use crate::common::scene::assert_code_invalid;
use crate::common::wire::ApiClient;
use crate::common::{TestServer, add_human, create_code};
use crate::every_protocol;

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
    register_with_code(&user_id, &wrong_code(&code))
}

/// A VerifyPasskeyRegistrationRequest for a registration that does not exist.
fn verify_unknown(user_id: &str) -> user_pb::VerifyPasskeyRegistrationRequest {
    user_pb::VerifyPasskeyRegistrationRequest {
        user_id: user_id.into(),
        passkey_id: "1".into(),
        public_key_credential: Some(Default::default()),
        passkey_name: "x".into(),
    }
}

fn assert_over_the_limit(failure: &Failure) {
    failure.assert_error(Code::ResourceExhausted, "Too many requests");
}

/// Sends the public call and asserts whether it was admitted (and refused for its wrong code)
/// or refused by the limit.
async fn assert_admitted(
    api: &ApiClient,
    request: &user_pb::RegisterPasskeyRequest,
    admitted: bool,
) {
    let failure = api
        .register_passkey(request.clone())
        .await
        .expect_err("a wrong code or the limit");
    if admitted {
        assert_code_invalid(&failure);
    } else {
        assert_over_the_limit(&failure);
    }
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
            let code = request.code.as_ref().unwrap();
            let answer = http_client()
                .post(server.url(&format!("/v2/users/{}/passkeys", request.user_id)))
                .header("content-type", "application/json")
                .body(
                    serde_json::json!({ "code": { "id": code.id, "code": code.code } }).to_string(),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status().as_u16(), 429);
            answer.headers()["retry-after"].to_str().unwrap().to_owned()
        }
    };
    text.parse().unwrap()
}

#[apply(every_protocol)]
#[tokio::test]
async fn over_the_limit_public_calls_answer_resource_exhausted_with_retry_after(
    #[case] protocol: Protocol,
) {
    let server = server_with_limit(3, &[]).await;
    let api = server.client(protocol).await;
    let request = wrong_code_request(&server).await;
    for _ in 0..3 {
        assert_admitted(&api, &request, true).await;
    }
    assert_admitted(&api, &request, false).await;
    // Verify without a token shares the budget.
    let verify = api
        .verify_passkey_registration(verify_unknown(&request.user_id))
        .await
        .unwrap_err();
    assert_over_the_limit(&verify);
    let seconds = retry_after(&server, protocol, &request).await;
    assert!(
        (1..=60).contains(&seconds),
        "one call a minute refills within 60 s, got {seconds}"
    );
}

#[apply(every_protocol)]
#[tokio::test]
async fn calls_with_a_bearer_token_are_not_counted(#[case] protocol: Protocol) {
    let server = server_with_limit(2, &[]).await;
    let api = server.client(protocol).await;
    let admin = api.with_token(&server.admin_token);
    let request = wrong_code_request(&server).await;
    for _ in 0..10 {
        assert_admitted(&admin, &request, true).await;
        admin
            .verify_passkey_registration(verify_unknown(&request.user_id))
            .await
            .expect_err("no such registration")
            .assert_error(Code::NotFound, "WebAuthN Token could not be found");
    }
    // The address's own budget is untouched: two public calls, then the limit.
    for admitted in [true, true, false] {
        assert_admitted(&api, &request, admitted).await;
    }
}

#[apply(every_protocol)]
#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(
    #[case] protocol: Protocol,
) {
    let server = server_with_limit(2, &["127.0.0.1"]).await;
    let api = server.client(protocol).await;
    let request = wrong_code_request(&server).await;
    for client in ["203.0.113.7", "203.0.113.8", "203.0.113.9"] {
        let forwarded = api.with_header("x-forwarded-for", client);
        for admitted in [true, true, false] {
            assert_admitted(&forwarded, &request, admitted).await;
        }
    }
}

#[apply(every_protocol)]
#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored(#[case] protocol: Protocol) {
    let server = server_with_limit(2, &[]).await;
    let api = server.client(protocol).await;
    let request = wrong_code_request(&server).await;
    // Every call counts against the peer, 127.0.0.1.
    for (client, admitted) in [
        ("203.0.113.7", true),
        ("203.0.113.8", true),
        ("203.0.113.9", false),
    ] {
        assert_admitted(
            &api.with_header("x-forwarded-for", client),
            &request,
            admitted,
        )
        .await;
    }
}
