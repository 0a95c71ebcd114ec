//! Registration codes that do not work: wrong, unknown, expired, used and another user's codes
//! are all refused alike; only a wrong code against a live code is recorded (three kill it),
//! and attempts against a used, dead or expired code write nothing at all.

use std::time::Duration;

use passlink::pb::zitadel::user::v2 as user_pb;
use rstest::rstest;
use rstest_reuse::apply;

use crate::common::protocols::Protocol;
use crate::common::requests::{register_with_code, wrong_code};
use crate::common::scene::assert_code_invalid;
use crate::common::wire::ApiClient;
use crate::common::{TestServer, add_human, create_code};
use crate::every_protocol;

/// Redeems `code` for the user and asserts that it is refused as invalid.
async fn assert_refused(api: &ApiClient, user_id: &str, code: &user_pb::PasskeyRegistrationCode) {
    let failure = api
        .register_passkey(register_with_code(user_id, code))
        .await
        .expect_err("the code must be refused");
    assert_code_invalid(&failure);
}

/// How many of the user's events record a failed code check.
async fn failed_checks(server: &TestServer, user_id: &str) -> usize {
    server
        .event_types(user_id)
        .await
        .iter()
        .filter(|event_type| *event_type == "user.passkey.code.check.failed")
        .count()
}

#[apply(every_protocol)]
#[tokio::test]
async fn wrong_unknown_expired_used_and_foreign_codes_are_all_invalid(#[case] protocol: Protocol) {
    let server = TestServer::start().await;
    let api = server.client(protocol).await;
    let user_id = add_human(&server, &server.admin_token, "Alan").await;
    let other_user = add_human(&server, &server.admin_token, "Kurt").await;

    let code = create_code(&server, &user_id).await;
    let unknown = user_pb::PasskeyRegistrationCode {
        id: "1".into(),
        ..code.clone()
    };
    assert_refused(&api, &user_id, &wrong_code(&code)).await;
    assert_refused(&api, &user_id, &unknown).await;
    assert_refused(&api, &other_user, &code).await;
    assert_refused(&api, "404", &code).await;
    // Used code: the first redemption works, the second does not.
    api.register_passkey(register_with_code(&user_id, &code))
        .await
        .expect("the right code works once");
    assert_refused(&api, &user_id, &code).await;
    // Expired code: codes live one hour.
    let code = create_code(&server, &user_id).await;
    server.clock.advance(Duration::from_secs(3601));
    assert_refused(&api, &user_id, &code).await;
    assert_eq!(
        failed_checks(&server, &user_id).await,
        1,
        "only the wrong code for a live code is recorded, not the used or expired ones: {:?}",
        server.event_types(&user_id).await
    );
}

#[apply(every_protocol)]
#[tokio::test]
async fn the_third_failure_kills_a_correct_code(#[case] protocol: Protocol) {
    let server = TestServer::start().await;
    let api = server.client(protocol).await;
    let user_id = add_human(&server, &server.admin_token, "Barbara").await;
    let code_with_a_short_wrong_secret =
        |code: &user_pb::PasskeyRegistrationCode| user_pb::PasskeyRegistrationCode {
            code: "x".into(),
            ..code.clone()
        };
    // Two failures do not kill a code.
    let code = create_code(&server, &user_id).await;
    for _ in 0..2 {
        assert_refused(&api, &user_id, &code_with_a_short_wrong_secret(&code)).await;
    }
    api.register_passkey(register_with_code(&user_id, &code))
        .await
        .expect("a code survives two failures");
    // The third does.
    let code = create_code(&server, &user_id).await;
    for _ in 0..3 {
        assert_refused(&api, &user_id, &code_with_a_short_wrong_secret(&code)).await;
    }
    assert_refused(&api, &user_id, &code).await;
}

/// The user's event count and sequence.
async fn written(server: &TestServer, user_id: &str) -> (usize, u64) {
    let events = server.events(user_id).await;
    let user = server.store().get_user(user_id).await.unwrap().unwrap();
    (events.len(), user.sequence)
}

/// Issues a code: an acknowledged change of the user, so every change of the user submitted
/// before it has been written too (the writer keeps each user's changes in order).
async fn barrier(server: &TestServer, user_id: &str) {
    create_code(server, user_id).await;
}

#[apply(every_protocol)]
#[tokio::test]
async fn failures_against_a_used_dead_or_expired_code_write_nothing(#[case] protocol: Protocol) {
    let server = TestServer::start().await;
    let api = server.client(protocol).await;
    let user_id = add_human(&server, &server.admin_token, "Ada").await;
    let expired = create_code(&server, &user_id).await;
    server.clock.advance(Duration::from_secs(3601));
    let used = create_code(&server, &user_id).await;
    api.register_passkey(register_with_code(&user_id, &used))
        .await
        .expect("the code works once");
    let dead = create_code(&server, &user_id).await;
    for _ in 0..3 {
        assert_refused(&api, &user_id, &wrong_code(&dead)).await;
    }
    barrier(&server, &user_id).await;
    assert_eq!(
        failed_checks(&server, &user_id).await,
        3,
        "the three failures that killed the live code count"
    );
    let before = written(&server, &user_id).await;

    for _ in 0..10 {
        for code in [&expired, &used, &dead] {
            assert_refused(&api, &user_id, code).await;
            assert_refused(&api, &user_id, &wrong_code(code)).await;
        }
    }
    barrier(&server, &user_id).await;
    let (events, sequence) = written(&server, &user_id).await;
    assert_eq!(
        (events, sequence),
        (before.0 + 1, before.1 + 1),
        "60 attempts against dead codes wrote nothing (the one new event is the barrier's code)"
    );
}
