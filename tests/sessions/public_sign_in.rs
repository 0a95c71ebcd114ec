//! Sign-in from a browser without a bearer token (§11.7, §11.11): CreateSession with only a
//! discoverable challenge, SetSession with the session's current token and only a WebAuthn
//! check, GetSession with the token; everything else still needs a token; the settings that
//! widen or close it; the rate limit; unchecked public sessions die with their challenge.

use std::collections::HashMap;
use std::time::Duration;

use passlink::pb::zitadel::session::v2 as session_pb;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;

use crate::common::assertion::get_assertion;
use crate::common::failure::Failure;
use crate::common::protocols::Protocol;
use crate::common::scene::micros;
use crate::common::sessions::{
    Uv, assert_session_token, challenge_with, create_checking, create_discoverable, create_for,
    set_webauthn, started, user_checks, webauthn_checks,
};
use crate::every_protocol;

use super::support::{SignInScene, assert_exact, change_micros};

/// SetSession as a browser sends it: the current token and the check.
fn public_check(
    session_id: &str,
    token: &str,
    assertion: &serde_json::Value,
) -> session_pb::SetSessionRequest {
    session_pb::SetSessionRequest {
        session_token: token.into(),
        ..set_webauthn(session_id, assertion)
    }
}

fn assert_unauthenticated(failure: &Failure) {
    assert_eq!(failure.code, Code::Unauthenticated, "{failure:#?}");
}

#[apply(every_protocol)]
#[tokio::test]
async fn a_browser_alone_signs_in_with_a_discoverable_passkey(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    let browser = s.anonymous();
    let created = browser
        .create_session(session_pb::CreateSessionRequest {
            user_agent: Some(session_pb::UserAgent {
                description: Some("a browser".into()),
                ..Default::default()
            }),
            lifetime: Some(prost_types::Duration {
                seconds: 600,
                nanos: 0,
            }),
            ..create_discoverable()
        })
        .await
        .expect("a public CreateSession");
    assert_session_token(&created.session_token);
    let begun = started(created);
    let assertion = get_assertion(&mut s.user.authenticator, &begun.options).await;
    let checked = browser
        .set_session(session_pb::SetSessionRequest {
            lifetime: Some(prost_types::Duration {
                seconds: 3600,
                nanos: 0,
            }),
            ..public_check(&begun.session_id, &begun.token, &assertion)
        })
        .await
        .expect("a public SetSession with the current token");
    assert_session_token(&checked.session_token);
    let session = browser
        .get_session(&begun.session_id, Some(&checked.session_token))
        .await
        .expect("GetSession with the token alone");
    let factors = session.factors.expect("factors");
    assert_eq!(factors.user.unwrap().id, s.user.user_id);
    assert!(factors.web_auth_n.unwrap().user_verified);
    let expiration = micros(session.expiration_date.as_ref().expect("the lifetime"));
    let expected = change_micros(&checked.details) + 3600 * 1_000_000;
    assert!((expiration - expected).abs() <= 1_000_000);
    assert_eq!(
        session.user_agent.unwrap().description.as_deref(),
        Some("a browser")
    );
}

#[apply(every_protocol)]
#[tokio::test]
async fn without_a_token_only_the_sign_in_shapes_are_accepted(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    let browser = s.anonymous();
    let refused_creates = [
        session_pb::CreateSessionRequest {
            metadata: HashMap::from([("k".to_owned(), b"v".to_vec())]),
            ..create_discoverable()
        },
        create_for(&s.user.user_id),
        session_pb::CreateSessionRequest {
            challenges: Some(challenge_with("localhost", Uv::Preferred)),
            ..Default::default()
        },
        session_pb::CreateSessionRequest::default(),
        create_checking(&s.user.user_id),
    ];
    for request in refused_creates {
        assert_unauthenticated(&browser.create_session(request).await.unwrap_err());
    }

    let begun = started(browser.create_session(create_discoverable()).await.unwrap());
    let assertion = get_assertion(&mut s.user.authenticator, &begun.options).await;
    // A token that is not the session's current one, an empty one included (§11.11).
    for token in ["A".repeat(43), String::new()] {
        let failure = browser
            .set_session(public_check(&begun.session_id, &token, &assertion))
            .await
            .unwrap_err();
        assert_exact(
            &failure,
            Code::PermissionDenied,
            "Session Token is invalid (COMMAND-sGr42)",
        );
    }
    // More than a WebAuthn check.
    let refused_sets = [
        session_pb::SetSessionRequest {
            metadata: HashMap::from([("k".to_owned(), b"v".to_vec())]),
            ..public_check(&begun.session_id, &begun.token, &assertion)
        },
        session_pb::SetSessionRequest {
            checks: Some(session_pb::Checks {
                user: user_checks(&s.user.user_id).user,
                ..webauthn_checks(&assertion)
            }),
            ..public_check(&begun.session_id, &begun.token, &assertion)
        },
        session_pb::SetSessionRequest {
            challenges: Some(challenge_with("localhost", Uv::Required)),
            ..public_check(&begun.session_id, &begun.token, &assertion)
        },
    ];
    for request in refused_sets {
        assert_unauthenticated(&browser.set_session(request).await.unwrap_err());
    }
    // None of the refusals touched the session: the check still works.
    let checked = browser
        .set_session(public_check(&begun.session_id, &begun.token, &assertion))
        .await
        .expect("the untouched session is checked");
    // ListSessions is not public (§5). DeleteSession with the session's current token needs no
    // bearer, like GetSession (§11.11): a browser signs out with the token it holds, even
    // after its session expired (passlink's choice, docs/differences.md); a stale token is
    // refused.
    assert_unauthenticated(&browser.list_sessions(Default::default()).await.unwrap_err());
    let stale = browser
        .delete_session(&begun.session_id, Some(&begun.token))
        .await
        .unwrap_err();
    assert_eq!(stale.code, tonic::Code::PermissionDenied, "{stale:?}");
    assert!(stale.message.contains("COMMAND-sGr42"), "{stale:?}");
    browser
        .delete_session(&begun.session_id, Some(&checked.session_token))
        .await
        .expect("signing out with the current token");
    let gone = browser
        .get_session(&begun.session_id, Some(&checked.session_token))
        .await
        .unwrap_err();
    assert_eq!(gone.code, tonic::Code::NotFound, "{gone:?}");
}

#[apply(every_protocol)]
#[tokio::test]
async fn public_login_name_allows_a_user_check_without_a_token(#[case] protocol: Protocol) {
    let mut s = SignInScene::start_with(protocol, |settings| {
        settings.sessions.public_login_name = true;
    })
    .await;
    let browser = s.anonymous();
    let begun = started(
        browser
            .create_session(create_for(&s.user.user_id))
            .await
            .unwrap(),
    );
    let allowed = begun.options["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(allowed, 1);
    let assertion = get_assertion(&mut s.user.authenticator, &begun.options).await;
    browser
        .set_session(public_check(&begun.session_id, &begun.token, &assertion))
        .await
        .expect("the check");
}

#[apply(every_protocol)]
#[tokio::test]
async fn public_sign_in_can_be_turned_off(#[case] protocol: Protocol) {
    let mut s = SignInScene::start_with(protocol, |settings| {
        settings.sessions.public_sign_in = false;
    })
    .await;
    let browser = s.anonymous();
    assert_unauthenticated(
        &browser
            .create_session(create_discoverable())
            .await
            .unwrap_err(),
    );
    let begun = started(s.login.create_session(create_discoverable()).await.unwrap());
    let assertion = get_assertion(&mut s.user.authenticator, &begun.options).await;
    assert_unauthenticated(
        &browser
            .set_session(public_check(&begun.session_id, &begun.token, &assertion))
            .await
            .unwrap_err(),
    );
    s.login
        .set_session(set_webauthn(&begun.session_id, &assertion))
        .await
        .expect("a login backend still signs in");
}

#[apply(every_protocol)]
#[tokio::test]
async fn public_creates_are_rate_limited_per_address(#[case] protocol: Protocol) {
    let s = SignInScene::start_with(protocol, |settings| {
        settings.limits.public_per_minute = 1;
        settings.limits.public_burst = 2;
    })
    .await;
    let browser = s.anonymous();
    for _ in 0..2 {
        browser
            .create_session(create_discoverable())
            .await
            .expect("within the burst");
    }
    let failure = browser
        .create_session(create_discoverable())
        .await
        .unwrap_err();
    failure.assert_error(Code::ResourceExhausted, "Too many requests");
    s.login
        .create_session(create_discoverable())
        .await
        .expect("calls with a token are not limited");
}

#[apply(every_protocol)]
#[tokio::test]
async fn an_unchecked_public_session_dies_with_its_challenge(#[case] protocol: Protocol) {
    let mut s = SignInScene::start_with(protocol, |settings| {
        settings.sessions.challenge_timeout = Duration::from_secs(60);
    })
    .await;
    let browser = s.anonymous();
    let begun = started(browser.create_session(create_discoverable()).await.unwrap());
    let assertion = get_assertion(&mut s.user.authenticator, &begun.options).await;
    s.scene.server.clock.advance(Duration::from_secs(61));
    let failure = browser
        .set_session(public_check(&begun.session_id, &begun.token, &assertion))
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::FailedPrecondition, "{failure:#?}");
    assert!(
        failure.message == "Session has expired (COMMAND-Hkl3d)"
            || failure.message == "Session without WebAuthN challenge (COMMAND-Ioqu5)",
        "{failure:#?}"
    );
}
