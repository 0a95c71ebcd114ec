//! VerifyPasskeyRegistration under attack: the caller is authorized before the pending
//! registration is touched, a failed verification leaves it alone, and only a credential that
//! verifies consumes it, once.

mod common;

use common::authenticator::{
    ORIGIN, b64, create_credential, options_of, software_authenticator, start_with_code,
    verify_request,
};
use common::wire::{ApiClient, Failure, Protocol};
use common::{TestServer, add_human};
use passlink::pb::zitadel::user::v2 as user_pb;
use serde_json::Value;
use tonic::Code;

const PROTOCOLS: [Protocol; 4] = [
    Protocol::Grpc,
    Protocol::GrpcWeb,
    Protocol::ConnectJson,
    Protocol::Rest,
];

/// A credential no authenticator signed: the legitimate one with its client data replaced.
fn forged(credential: &Value) -> Value {
    let mut forged = credential.clone();
    forged["response"]["clientDataJSON"] = Value::String(b64(b"{}"));
    forged
}

async fn passkey_count(server: &TestServer, user_id: &str) -> usize {
    server
        .services
        .store()
        .list_passkeys(user_id)
        .await
        .unwrap()
        .len()
}

/// What a client sees of a failure, for comparing two answers.
fn answer_of(failure: &Failure) -> (Code, Option<u16>, String, Option<(String, String)>) {
    (
        failure.code,
        failure.http_status,
        failure.message.clone(),
        failure
            .detail
            .as_ref()
            .map(|detail| (detail.id.clone(), detail.message.clone())),
    )
}

#[tokio::test]
async fn a_flood_of_unauthenticated_bad_verifications_does_not_stop_the_legitimate_one() {
    let server = TestServer::start().await;
    let api = server.client(Protocol::Grpc).await;
    let user_id = add_human(&server, &server.admin_token, "Ada").await;
    for round in 0..3 {
        let started = start_with_code(&server, &api, &user_id).await;
        let credential =
            create_credential(&mut software_authenticator(), ORIGIN, &options_of(&started)).await;
        let bad = verify_request(&user_id, &started.passkey_id, &forged(&credential), "x");
        let flood: Vec<_> = (0..200)
            .map(|_| {
                let api = api.clone();
                let bad = bad.clone();
                tokio::spawn(async move { api.verify_passkey_registration(bad).await })
            })
            .collect();
        // The legitimate call goes out while the flood is in flight.
        tokio::task::yield_now().await;
        let legitimate = api
            .verify_passkey_registration(verify_request(
                &user_id,
                &started.passkey_id,
                &credential,
                "laptop",
            ))
            .await;
        for attempt in flood {
            let failure = attempt
                .await
                .unwrap()
                .expect_err("a forged credential fails");
            assert!(
                matches!(failure.code, Code::InvalidArgument | Code::NotFound),
                "{failure:?}"
            );
        }
        legitimate.unwrap_or_else(|failure| {
            panic!("round {round}: the legitimate verification failed: {failure:?}")
        });
        assert_eq!(passkey_count(&server, &user_id).await, round + 1);
    }
    server.stop().await;
}

#[tokio::test]
async fn unauthenticated_verify_answers_alike_for_a_token_started_and_an_unknown_registration() {
    let server = TestServer::start().await;
    let org_id = server.default_org_id().await;
    let (_, nobody) = server.machine_user_with_role(&org_id, None).await;
    for protocol in PROTOCOLS {
        let api = server.client(protocol).await;
        let admin = api.with_token(&server.admin_token);
        let user_id = add_human(&server, &server.admin_token, "Grace").await;
        let started = admin
            .register_passkey(user_pb::RegisterPasskeyRequest {
                user_id: user_id.clone(),
                ..Default::default()
            })
            .await
            .expect("a token-started registration");
        let credential =
            create_credential(&mut software_authenticator(), ORIGIN, &options_of(&started)).await;
        let verify = |api: ApiClient, passkey_id: String| {
            let request = verify_request(&user_id, &passkey_id, &credential, "key");
            async move {
                api.verify_passkey_registration(request)
                    .await
                    .expect_err("the caller may not finish it")
            }
        };
        let unknown_id = format!("{}9", started.passkey_id);

        let existing = verify(api.clone(), started.passkey_id.clone()).await;
        let unknown = verify(api.clone(), unknown_id.clone()).await;
        existing.assert_error(Code::NotFound, "WebAuthN Token could not be found");
        assert_eq!(
            answer_of(&existing),
            answer_of(&unknown),
            "{protocol:?}: without a token, an existing token-started registration and an \
             unknown id answer alike"
        );

        // A token without the permission learns nothing either.
        let existing = verify(api.with_token(&nobody), started.passkey_id.clone()).await;
        let unknown = verify(api.with_token(&nobody), unknown_id).await;
        existing.assert_error(Code::PermissionDenied, "Permission denied");
        assert_eq!(answer_of(&existing), answer_of(&unknown), "{protocol:?}");

        // None of it touched the registration.
        admin
            .verify_passkey_registration(verify_request(
                &user_id,
                &started.passkey_id,
                &credential,
                "key",
            ))
            .await
            .unwrap_or_else(|failure| panic!("{protocol:?}: {failure:?}"));
    }
    server.stop().await;
}

#[tokio::test]
async fn of_two_concurrent_good_verifications_exactly_one_stores_the_passkey() {
    let server = TestServer::start().await;
    let first = server.client(Protocol::Grpc).await;
    let second = server.client(Protocol::ConnectJson).await;
    let user_id = add_human(&server, &server.admin_token, "Edsger").await;
    for round in 0..5 {
        let started = start_with_code(&server, &first, &user_id).await;
        let options = options_of(&started);
        // Two authenticators answer the same challenge: both credentials verify on their own.
        let one = create_credential(&mut software_authenticator(), ORIGIN, &options).await;
        let other = create_credential(&mut software_authenticator(), ORIGIN, &options).await;
        let (a, b) = tokio::join!(
            first.verify_passkey_registration(verify_request(
                &user_id,
                &started.passkey_id,
                &one,
                "one"
            )),
            second.verify_passkey_registration(verify_request(
                &user_id,
                &started.passkey_id,
                &other,
                "other"
            )),
        );
        assert_eq!(
            [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
            1,
            "round {round}: {a:?} / {b:?}"
        );
        let loser = a.err().or(b.err()).unwrap();
        loser.assert_error(Code::NotFound, "WebAuthN Token could not be found");
        let stored = server
            .services
            .store()
            .list_passkeys(&user_id)
            .await
            .unwrap();
        assert_eq!(stored.len(), round + 1, "round {round}: {stored:?}");
        assert_eq!(stored[round].id, started.passkey_id);
    }
    server.stop().await;
}
