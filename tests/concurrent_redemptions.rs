//! Races on one code or one pending registration: of concurrent redemptions or
//! verifications exactly one succeeds, concurrent wrong guesses record at most three failures,
//! and a flood of forged verifications does not stop the legitimate one. (Storage races, the
//! same over every protocol: these run over gRPC and Connect JSON; every protocol's own
//! scenarios are in `tests/scenarios`.)

mod common;

use common::authenticator::{
    ORIGIN, b64, create_credential, options_of, software_authenticator, start_with_code,
};
use common::protocols::Protocol;
use common::requests::{register_with_code, verify_request, wrong_code};
use common::scene::assert_code_invalid;
use common::{TestServer, add_human, create_code};
use serde_json::Value;
use tonic::Code;

/// A credential no authenticator signed: the legitimate one with its client data replaced.
fn forged(credential: &Value) -> Value {
    let mut forged = credential.clone();
    forged["response"]["clientDataJSON"] = Value::String(b64(b"{}"));
    forged
}

async fn passkey_count(server: &TestServer, user_id: &str) -> usize {
    server.store().list_passkeys(user_id).await.unwrap().len()
}

#[tokio::test]
async fn two_concurrent_redemptions_of_one_code_let_exactly_one_succeed() {
    let server = TestServer::start().await;
    let user_id = add_human(&server, &server.admin_token, "Edsger").await;
    for round in 0..5 {
        let code = create_code(&server, &user_id).await;
        let first = server.client(Protocol::Grpc).await;
        let second = server.client(Protocol::ConnectJson).await;
        let (a, b) = tokio::join!(
            first.register_passkey(register_with_code(&user_id, &code)),
            second.register_passkey(register_with_code(&user_id, &code)),
        );
        let successes = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(successes, 1, "round {round}: {a:?} / {b:?}");
        assert_code_invalid(&a.err().or(b.err()).unwrap());
    }
    server.stop().await;
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
        let stored = server.store().list_passkeys(&user_id).await.unwrap();
        assert_eq!(stored.len(), round + 1, "round {round}: {stored:?}");
        assert_eq!(stored[round].id, started.passkey_id);
    }
    server.stop().await;
}
#[tokio::test]
async fn concurrent_wrong_guesses_against_a_live_code_record_at_most_three_failures() {
    let server = TestServer::start().await;
    let api = server.client(Protocol::Grpc).await;
    let user_id = add_human(&server, &server.admin_token, "Grace").await;
    let code = create_code(&server, &user_id).await;
    let guesses: Vec<_> = (0..20)
        .map(|_| {
            let api = api.clone();
            let request = register_with_code(&user_id, &wrong_code(&code));
            tokio::spawn(async move { api.register_passkey(request).await })
        })
        .collect();
    for guess in guesses {
        guess
            .await
            .unwrap()
            .expect_err("a wrong code")
            .assert_error(Code::InvalidArgument, "Code is invalid");
    }
    // Issuing a code is an acknowledged change of the user, so every change of the user
    // submitted before it has been written too (the writer keeps each user's changes in order).
    create_code(&server, &user_id).await;
    let failures = server
        .event_types(&user_id)
        .await
        .iter()
        .filter(|event_type| *event_type == "user.passkey.code.check.failed")
        .count();
    assert!(
        (1..=3).contains(&failures),
        "a code records at most three failures, however many guesses race: {failures}"
    );
    let failure = api
        .register_passkey(register_with_code(&user_id, &code))
        .await
        .expect_err("the dead code is refused");
    assert_code_invalid(&failure);
    server.stop().await;
}
