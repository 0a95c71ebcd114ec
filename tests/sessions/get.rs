//! GetSession (§6.3, §7 "GetSession"): the token, validation, unknown sessions, and who may
//! read without a token (§5).

use passlink::domain::permission::Role;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;

use crate::common::http_clients::http_client;
use crate::common::log_capture::LogCapture;
use crate::common::protocols::Protocol;
use crate::common::sessions::{create_checking, create_discoverable, sign_in};
use crate::every_protocol;

use super::support::{
    SignInScene, assert_empty_id_refused, assert_get_token_refused, assert_session_not_found,
};

#[apply(every_protocol)]
#[tokio::test]
async fn get_session_with_a_token_refuses_every_token_but_the_current_one(
    #[case] protocol: Protocol,
) {
    let mut s = SignInScene::new(protocol).await;
    let signed_in = sign_in(&s.login, &mut s.user).await;
    let other = s.login.create_session(Default::default()).await.unwrap();
    let nobody = s.scene.caller(&s.scene.org_id, None).await;
    // The right token is enough, whatever (or whoever) the caller is.
    for caller in [s.anonymous(), nobody.clone(), s.login.clone()] {
        let session = caller
            .get_session(&signed_in.session_id, Some(&signed_in.token))
            .await
            .expect("the current token reads the session");
        assert_eq!(session.id, signed_in.session_id);
    }
    // Another session's token, a garbage token, a well-formed random one: the exact raw text,
    // even for a caller who may read the session without one.
    for token in [other.session_token.as_str(), "garbage!", &"A".repeat(43)] {
        for caller in [nobody.clone(), s.login.clone()] {
            let failure = caller
                .get_session(&signed_in.session_id, Some(token))
                .await
                .unwrap_err();
            assert_get_token_refused(&failure);
        }
    }
    // An empty token counts as absent.
    s.login
        .get_session(&signed_in.session_id, Some(""))
        .await
        .expect("an empty token is no token");
    let failure = nobody
        .get_session(&signed_in.session_id, Some(""))
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::PermissionDenied, "{failure:#?}");
    // A session of a user who is no longer active is gone for readers.
    s.scene
        .server
        .set_user_state_in_database(&s.user.user_id, 2)
        .await;
    assert_session_not_found(
        &s.anonymous()
            .get_session(&signed_in.session_id, Some(&signed_in.token))
            .await
            .unwrap_err(),
    );
    assert_session_not_found(
        &s.login
            .get_session(&signed_in.session_id, None)
            .await
            .unwrap_err(),
    );
    // Validation and unknown ids.
    assert_empty_id_refused(&s.login.get_session("", None).await.unwrap_err());
    assert_session_not_found(&s.login.get_session("987654321", None).await.unwrap_err());
    assert_session_not_found(
        &s.anonymous()
            .get_session("987654321", Some(&signed_in.token))
            .await
            .unwrap_err(),
    );
}

#[apply(every_protocol)]
#[tokio::test]
async fn without_a_token_the_user_its_org_and_instance_readers_may_read(
    #[case] protocol: Protocol,
) {
    let s = SignInScene::new(protocol).await;
    let created = s
        .login
        .create_session(create_checking(&s.user.user_id))
        .await
        .unwrap();
    let org = &s.scene.org_id;
    let other_org = s.scene.server.create_org("Elsewhere").await;
    let allowed = [
        s.scene.admin.clone(),
        s.login.clone(),
        s.scene.caller(org, Some(Role::OrgOwner)).await,
        s.scene.caller(org, Some(Role::OrgUserManager)).await,
        s.user_itself().await,
    ];
    for caller in allowed {
        let session = caller
            .get_session(&created.session_id, None)
            .await
            .expect("a caller with a right reads without the token");
        assert_eq!(session.factors.unwrap().user.unwrap().id, s.user.user_id);
    }
    let other = s.another_user("Olga").await;
    let refused = [
        s.scene.caller(org, None).await,
        s.scene.caller(&other_org, Some(Role::OrgOwner)).await,
        s.scene.caller(&other_org, Some(Role::OrgUserManager)).await,
        s.as_user(&other.user_id).await,
    ];
    for caller in refused {
        let failure = caller
            .get_session(&created.session_id, None)
            .await
            .unwrap_err();
        assert_eq!(failure.code, Code::PermissionDenied, "{failure:#?}");
    }
    let failure = s
        .anonymous()
        .get_session(&created.session_id, None)
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::Unauthenticated, "{failure:#?}");

    // A session without a user is read with instance-wide session.read only.
    let userless = s.login.create_session(create_discoverable()).await.unwrap();
    let session = s
        .login
        .get_session(&userless.session_id, None)
        .await
        .unwrap();
    assert!(
        session.factors.is_none(),
        "no factor, no factors: {session:?}"
    );
    let failure = s
        .scene
        .caller(org, Some(Role::OrgOwner))
        .await
        .get_session(&userless.session_id, None)
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::PermissionDenied, "{failure:#?}");
}

/// §8 #18: REST GetSession carries the token in the URL; no log line may contain it.
#[tokio::test]
async fn the_session_token_in_a_rest_url_is_never_logged() {
    let capture = LogCapture::start_at(tracing::Level::TRACE);
    let mut s = SignInScene::new(Protocol::Rest).await;
    let signed_in = sign_in(&s.login, &mut s.user).await;
    for token in [
        signed_in.token.as_str(),
        "A-wrong-token-that-must-not-be-logged-either",
    ] {
        for name in ["sessionToken", "session_token"] {
            let url = format!(
                "http://{}/v2/sessions/{}?{name}={token}",
                s.scene.server.address, signed_in.session_id
            );
            let answer = http_client().get(url).send().await.unwrap();
            let expected = if token == signed_in.token { 200 } else { 403 };
            assert_eq!(answer.status().as_u16(), expected, "{name}");
        }
    }
    let logged = capture.text();
    assert!(capture.line_count() > 0, "the capture sees the server");
    assert!(!logged.contains(&signed_in.token), "the token was logged");
    assert!(!logged.contains("A-wrong-token-that-must-not-be-logged-either"));
}
