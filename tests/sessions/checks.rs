//! The life of a WebAuthn challenge (§8 #6, #7, #11; §11.10, §11.11): no challenge, a used
//! one, five failures, expiry, three pending at once, two concurrent checks; the sign
//! counter (§8 #8); a user deactivated after the challenge.

use std::time::Duration;

use passlink::pb::zitadel::session::v2 as session_pb;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;

use crate::common::assertion::{Forgery, forge, get_assertion, sign_count, with_bad_signature};
use crate::common::protocols::Protocol;
use crate::common::sessions::{
    create_checking, request_options, set_challenge, set_checks, set_webauthn, start_sign_in,
};
use crate::every_protocol;

use super::support::{
    SignInScene, assert_exact, assert_no_challenge, assert_user_not_found, assert_validation,
};

#[apply(every_protocol)]
#[tokio::test]
async fn a_check_needs_a_pending_challenge_and_uses_it_up(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    let started = start_sign_in(&s.login, &s.user.user_id).await;
    let assertion = get_assertion(&mut s.user.authenticator, &started.options).await;
    // Without assertion data: validation.
    let failure = s
        .login
        .set_session(set_checks(
            &started.session_id,
            session_pb::Checks {
                web_auth_n: Some(session_pb::CheckWebAuthN {
                    credential_assertion_data: None,
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_validation(&failure, "CredentialAssertionData");
    s.login
        .set_session(set_webauthn(&started.session_id, &assertion))
        .await
        .expect("the first check");
    // Used up: the same assertion again, on the same session.
    let failure = s
        .login
        .webauthn_refused(&started.session_id, &assertion)
        .await;
    assert_no_challenge(&failure);
    // A session that never had a challenge.
    let plain = s
        .login
        .create_session(create_checking(&s.user.user_id))
        .await
        .unwrap();
    let failure = s
        .login
        .webauthn_refused(&plain.session_id, &assertion)
        .await;
    assert_no_challenge(&failure);
}

#[apply(every_protocol)]
#[tokio::test]
async fn five_failed_checks_kill_a_challenge_four_do_not(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    for (failures, survives) in [(4, true), (5, false)] {
        let started = start_sign_in(&s.login, &s.user.user_id).await;
        let genuine = get_assertion(&mut s.user.authenticator, &started.options).await;
        for _ in 0..failures {
            s.assert_check_fails(&started.session_id, &with_bad_signature(&genuine))
                .await;
        }
        let answer = s
            .login
            .set_session(set_webauthn(&started.session_id, &genuine))
            .await;
        match survives {
            true => {
                answer.expect("four failures leave the challenge alive");
            }
            false => assert_no_challenge(&answer.unwrap_err()),
        }
    }
}

#[apply(every_protocol)]
#[tokio::test]
async fn a_challenge_expires_after_the_configured_timeout(#[case] protocol: Protocol) {
    let mut s = SignInScene::start_with(protocol, |settings| {
        settings.sessions.challenge_timeout = Duration::from_secs(60);
    })
    .await;
    let in_time = start_sign_in(&s.login, &s.user.user_id).await;
    assert_eq!(
        in_time.options["publicKey"]["timeout"].as_f64(),
        Some(60000.0)
    );
    let late = start_sign_in(&s.login, &s.user.user_id).await;
    let in_time_assertion = get_assertion(&mut s.user.authenticator, &in_time.options).await;
    let late_assertion = get_assertion(&mut s.user.authenticator, &late.options).await;
    s.scene.server.clock.advance(Duration::from_secs(59));
    s.login
        .set_session(set_webauthn(&in_time.session_id, &in_time_assertion))
        .await
        .expect("within the timeout");
    s.scene.server.clock.advance(Duration::from_secs(2));
    let failure = s
        .login
        .webauthn_refused(&late.session_id, &late_assertion)
        .await;
    assert_no_challenge(&failure);
}

#[apply(every_protocol)]
#[tokio::test]
async fn three_challenges_stay_pending_and_one_success_uses_all_of_them(
    #[case] protocol: Protocol,
) {
    let mut s = SignInScene::new(protocol).await;
    // §8 #7: the first prompt still works after two more challenges were requested.
    let first = start_sign_in(&s.login, &s.user.user_id).await;
    let mut options = vec![first.options.clone()];
    for _ in 0..2 {
        let answer = s
            .login
            .set_session(set_challenge(&first.session_id))
            .await
            .unwrap();
        options.push(request_options(&answer.challenges));
    }
    let mut assertions = Vec::new();
    for each in &options {
        assertions.push(get_assertion(&mut s.user.authenticator, each).await);
    }
    s.login
        .set_session(set_webauthn(&first.session_id, &assertions[0]))
        .await
        .expect("the oldest of three pending challenges");
    for later in &assertions[1..] {
        let failure = s.login.webauthn_refused(&first.session_id, later).await;
        assert_no_challenge(&failure);
    }

    // A fourth challenge leaves three pending: the oldest no longer matches (§11.11).
    let second = start_sign_in(&s.login, &s.user.user_id).await;
    let mut options = vec![second.options.clone()];
    for _ in 0..3 {
        let answer = s
            .login
            .set_session(set_challenge(&second.session_id))
            .await
            .unwrap();
        options.push(request_options(&answer.challenges));
    }
    let oldest = get_assertion(&mut s.user.authenticator, &options[0]).await;
    s.assert_check_fails(&second.session_id, &oldest).await;
    let newest = get_assertion(&mut s.user.authenticator, &options[3]).await;
    s.login
        .set_session(set_webauthn(&second.session_id, &newest))
        .await
        .expect("the newest challenge");
}

#[apply(every_protocol)]
#[tokio::test]
async fn of_concurrent_checks_of_one_challenge_exactly_one_succeeds(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    for _ in 0..3 {
        let started = start_sign_in(&s.login, &s.user.user_id).await;
        let assertion = get_assertion(&mut s.user.authenticator, &started.options).await;
        let attempts = (0..4).map(|_| {
            let login = s.login.clone();
            let request = set_webauthn(&started.session_id, &assertion);
            tokio::spawn(async move { login.set_session(request).await })
        });
        let mut successes = 0;
        for attempt in attempts.collect::<Vec<_>>() {
            match attempt.await.unwrap() {
                Ok(_) => successes += 1,
                Err(failure) => assert_no_challenge(&failure),
            }
        }
        assert_eq!(successes, 1, "exactly one concurrent check wins");
    }
}

#[apply(every_protocol)]
#[tokio::test]
async fn a_sign_counter_that_does_not_increase_means_a_clone(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    // Synced passkeys always report 0: 0 after 0 is fine. Then the counter must grow.
    for (count, accepted) in [
        (0, true),
        (0, true),
        (10, true),
        (10, false),
        (9, false),
        (11, true),
    ] {
        let started = start_sign_in(&s.login, &s.user.user_id).await;
        let genuine = get_assertion(&mut s.user.authenticator, &started.options).await;
        assert_eq!(
            sign_count(&genuine),
            0,
            "the software authenticator counts nothing"
        );
        let forged = forge(
            &s.user.authenticator,
            &genuine,
            Forgery {
                sign_count: Some(count),
                ..Default::default()
            },
        );
        let answer = s
            .login
            .set_session(set_webauthn(&started.session_id, &forged))
            .await;
        match accepted {
            true => {
                answer.unwrap_or_else(|failure| panic!("count {count}: {failure:#?}"));
            }
            false => assert_exact(
                &answer.unwrap_err(),
                Code::FailedPrecondition,
                "Credentials may be cloned (WEBAU-4M90s)",
            ),
        }
    }
    // A stored counter above the authenticator's 0 (a clone that fell behind).
    s.scene
        .server
        .update_one_row(
            "UPDATE passkeys SET sign_count = 1000 WHERE id = $1",
            &[&s.user.passkey_id],
        )
        .await;
    let started = start_sign_in(&s.login, &s.user.user_id).await;
    let genuine = get_assertion(&mut s.user.authenticator, &started.options).await;
    let failure = s
        .login
        .webauthn_refused(&started.session_id, &genuine)
        .await;
    assert_exact(
        &failure,
        Code::FailedPrecondition,
        "Credentials may be cloned (WEBAU-4M90s)",
    );
}

#[apply(every_protocol)]
#[tokio::test]
async fn a_user_deactivated_after_the_challenge_cannot_check_it(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    let started = start_sign_in(&s.login, &s.user.user_id).await;
    let assertion = get_assertion(&mut s.user.authenticator, &started.options).await;
    s.scene
        .server
        .set_user_state_in_database(&s.user.user_id, 2)
        .await;
    let failure = s
        .login
        .webauthn_refused(&started.session_id, &assertion)
        .await;
    assert_user_not_found(&failure);
}
