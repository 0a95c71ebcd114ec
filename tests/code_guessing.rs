//! Guessing registration codes: only a wrong code against a live code is recorded (three kill
//! it); attempts against a used, dead or expired code write nothing at all.

mod common;

use std::time::Duration;

use common::authenticator::register_with_code;
use common::wire::{ApiClient, Protocol};
use common::{TestServer, add_human, create_code};
use passlink::pb::zitadel::user::v2 as user_pb;
use tonic::Code;

/// The user's event count and sequence.
async fn written(server: &TestServer, user_id: &str) -> (usize, u64) {
    let store = server.services.store();
    let events = store.list_events(user_id).await.unwrap();
    let user = store.get_user(user_id).await.unwrap().unwrap();
    (events.len(), user.sequence)
}

/// The user's events of one type.
async fn events_of_type(server: &TestServer, user_id: &str, event_type: &str) -> usize {
    let events = server.services.store().list_events(user_id).await.unwrap();
    events
        .iter()
        .filter(|event| event.event_type == event_type)
        .count()
}

/// Issues a code: an acknowledged change of the user, so every change of the user submitted
/// before it has been written too (the writer keeps each user's changes in order).
async fn barrier(server: &TestServer, user_id: &str) {
    create_code(server, user_id).await;
}

fn wrong(code: &user_pb::PasskeyRegistrationCode) -> user_pb::PasskeyRegistrationCode {
    user_pb::PasskeyRegistrationCode {
        code: "wrongwrong12".into(),
        ..code.clone()
    }
}

async fn assert_refused(api: &ApiClient, user_id: &str, code: &user_pb::PasskeyRegistrationCode) {
    api.register_passkey(register_with_code(user_id, code))
        .await
        .expect_err("the code is refused")
        .assert_error(Code::InvalidArgument, "Code is invalid");
}

#[tokio::test]
async fn failures_against_a_used_dead_or_expired_code_write_nothing() {
    let server = TestServer::start().await;
    let api = server.client(Protocol::Grpc).await;
    let user_id = add_human(&server, &server.admin_token, "Ada").await;
    let expired = create_code(&server, &user_id).await;
    server.clock.advance(Duration::from_secs(3601));
    let used = create_code(&server, &user_id).await;
    api.register_passkey(register_with_code(&user_id, &used))
        .await
        .expect("the code works once");
    let dead = create_code(&server, &user_id).await;
    for _ in 0..3 {
        assert_refused(&api, &user_id, &wrong(&dead)).await;
    }
    barrier(&server, &user_id).await;
    assert_eq!(
        events_of_type(&server, &user_id, "user.passkey.code.check.failed").await,
        3,
        "the three failures that killed the live code count"
    );
    let before = written(&server, &user_id).await;

    for _ in 0..10 {
        for code in [&expired, &used, &dead] {
            assert_refused(&api, &user_id, code).await;
            assert_refused(&api, &user_id, &wrong(code)).await;
        }
    }
    barrier(&server, &user_id).await;
    let (events, sequence) = written(&server, &user_id).await;
    assert_eq!(
        (events, sequence),
        (before.0 + 1, before.1 + 1),
        "60 attempts against dead codes wrote nothing (the one new event is the barrier's code)"
    );
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
            let request = register_with_code(&user_id, &wrong(&code));
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
    barrier(&server, &user_id).await;
    let failures = events_of_type(&server, &user_id, "user.passkey.code.check.failed").await;
    assert!(
        (1..=3).contains(&failures),
        "a code records at most three failures, however many guesses race: {failures}"
    );
    assert_refused(&api, &user_id, &code).await;
    server.stop().await;
}
