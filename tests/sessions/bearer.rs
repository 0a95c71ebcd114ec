//! The session token as a bearer token (§6.9, §11.6): a passkey-verified session acts as its
//! user for the user's own GetUserByID, passkeys and session, nothing else; every other
//! session token is Unauthenticated "Token is invalid" (§8 #12).

use std::time::Duration;

use passlink::pb::zitadel::session::v2 as session_pb;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;

use crate::common::authenticator::{ORIGIN, create_credential, options_of, software_authenticator};
use crate::common::protocols::Protocol;
use crate::common::requests::{human, register_without_code, verify_request};
use crate::common::sessions::{create_checking, sign_in};
use crate::common::unique_email;
use crate::every_protocol;

use super::support::{SignInScene, assert_token_invalid};

#[apply(every_protocol)]
#[tokio::test]
async fn a_verified_session_acts_as_its_user_for_its_own_things(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    let signed_in = sign_in(&s.login, &mut s.user).await;
    let me = s.login.with_token(&signed_in.token);
    let user_id = s.user.user_id.clone();

    let user = me
        .get_user_by_id(&user_id)
        .await
        .expect("GetUserByID of itself");
    assert_eq!(user.user.unwrap().user_id, user_id);
    // A second passkey, registered without a code, then listed and removed.
    let started = me
        .register_passkey(register_without_code(&user_id))
        .await
        .expect("RegisterPasskey without a code, as itself");
    let credential =
        create_credential(&mut software_authenticator(), ORIGIN, &options_of(&started)).await;
    me.verify_passkey_registration(verify_request(
        &user_id,
        &started.passkey_id,
        &credential,
        "phone",
    ))
    .await
    .expect("VerifyPasskeyRegistration as itself");
    let listed = me
        .list_passkeys(&user_id)
        .await
        .expect("ListPasskeys as itself");
    assert_eq!(listed.result.len(), 2);
    me.remove_passkey(&user_id, &started.passkey_id)
        .await
        .expect("RemovePasskey as itself");
    // Its own session, read without the token field.
    let session = me
        .get_session(&signed_in.session_id, None)
        .await
        .expect("GetSession of its own session");
    assert_eq!(session.id, signed_in.session_id);

    // Nothing else.
    let other = s.another_user("Olaf").await;
    let denied = [
        me.get_user_by_id(&other.user_id)
            .await
            .map(|_| ())
            .unwrap_err(),
        me.list_passkeys(&other.user_id)
            .await
            .map(|_| ())
            .unwrap_err(),
        me.register_passkey(register_without_code(&other.user_id))
            .await
            .map(|_| ())
            .unwrap_err(),
        me.add_human_user(human("Zed", &unique_email("zed")))
            .await
            .map(|_| ())
            .unwrap_err(),
        me.delete_user(&other.user_id)
            .await
            .map(|_| ())
            .unwrap_err(),
        me.create_session(create_checking(&user_id))
            .await
            .map(|_| ())
            .unwrap_err(),
    ];
    for failure in denied {
        assert_eq!(failure.code, Code::PermissionDenied, "{failure:#?}");
    }
    // Signing out with its own token as the bearer; the token dies with the session.
    me.delete_session(&signed_in.session_id, None)
        .await
        .expect("DeleteSession of its own session");
    assert_token_invalid(&me.get_user_by_id(&user_id).await.unwrap_err());
}

#[apply(every_protocol)]
#[tokio::test]
async fn other_session_tokens_are_no_bearer_tokens(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    let user_id = s.user.user_id.clone();
    let refused = |token: String| {
        let client = s.login.with_token(&token);
        let user_id = user_id.clone();
        async move { client.get_user_by_id(&user_id).await.unwrap_err() }
    };
    // Only a user check: no authentication happened.
    let unverified = s
        .login
        .create_session(create_checking(&user_id))
        .await
        .unwrap();
    assert_token_invalid(&refused(unverified.session_token.clone()).await);
    // A rotated token.
    let signed_in = sign_in(&s.login, &mut s.user).await;
    let rotated = s
        .login
        .set_session(session_pb::SetSessionRequest {
            session_id: signed_in.session_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_token_invalid(&refused(signed_in.token.clone()).await);
    s.login
        .with_token(&rotated.session_token)
        .get_user_by_id(&user_id)
        .await
        .expect("the newest token of a verified session works");
    // An expired session.
    let expiring = sign_in(&s.login, &mut s.user).await;
    let expiring = s
        .login
        .set_session(session_pb::SetSessionRequest {
            session_id: expiring.session_id.clone(),
            lifetime: Some(prost_types::Duration {
                seconds: 60,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    s.scene.server.clock.advance(Duration::from_secs(61));
    assert_token_invalid(&refused(expiring.session_token.clone()).await);
    // A terminated session.
    let ended = sign_in(&s.login, &mut s.user).await;
    s.login
        .delete_session(&ended.session_id, None)
        .await
        .unwrap();
    assert_token_invalid(&refused(ended.token.clone()).await);
    // A well-formed token of no session.
    assert_token_invalid(&refused("A".repeat(43)).await);
}
