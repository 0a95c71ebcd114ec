//! DeleteSession (§6.5, §7 "DeleteSession") and DeleteUser terminating the user's sessions
//! (§8 #16).

use passlink::domain::permission::Role;
use passlink::pb::zitadel::session::v2 as session_pb;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;

use crate::common::protocols::Protocol;
use crate::common::scene::micros;
use crate::common::sessions::{create_checking, sign_in};
use crate::every_protocol;

use super::support::{
    SignInScene, assert_details, assert_empty_id_refused, assert_exact, assert_session_not_found,
    assert_token_invalid,
};

async fn session_of(s: &SignInScene, user_id: &str) -> session_pb::CreateSessionResponse {
    s.login
        .create_session(create_checking(user_id))
        .await
        .unwrap()
}

#[apply(every_protocol)]
#[tokio::test]
async fn delete_session_checks_the_token_or_the_callers_right(#[case] protocol: Protocol) {
    let s = SignInScene::new(protocol).await;
    let nobody = s.scene.caller(&s.scene.org_id, None).await;
    let target = session_of(&s, &s.user.user_id).await;
    let other = session_of(&s, &s.user.user_id).await;

    let failure = nobody
        .delete_session(&target.session_id, Some("not base64url!"))
        .await
        .unwrap_err();
    assert_exact(
        &failure,
        Code::InvalidArgument,
        "Session Token is invalid (COMMAND-hi6Ph)",
    );
    for (session_id, token) in [
        (target.session_id.as_str(), other.session_token.as_str()),
        ("987654321", target.session_token.as_str()),
    ] {
        let failure = nobody
            .delete_session(session_id, Some(token))
            .await
            .unwrap_err();
        assert_exact(
            &failure,
            Code::PermissionDenied,
            "Session Token is invalid (COMMAND-sGr42)",
        );
    }
    // Without a token: neither a caller without a right nor an org owner elsewhere.
    let other_org = s.scene.server.create_org("Elsewhere").await;
    for caller in [
        nobody.clone(),
        s.scene.caller(&other_org, Some(Role::OrgOwner)).await,
        s.as_user(&s.another_user("Nils").await.user_id).await,
    ] {
        let failure = caller
            .delete_session(&target.session_id, None)
            .await
            .unwrap_err();
        assert_eq!(failure.code, Code::PermissionDenied, "{failure:#?}");
    }
    assert_empty_id_refused(&s.login.delete_session("", None).await.unwrap_err());

    // The right token is enough for any authenticated caller.
    let deleted = nobody
        .delete_session(&target.session_id, Some(&target.session_token))
        .await
        .expect("the current token deletes");
    let details = assert_details(&deleted.details);
    assert_eq!(
        details.resource_owner,
        target.details.as_ref().unwrap().resource_owner
    );
    assert_session_not_found(
        &s.login
            .get_session(&target.session_id, None)
            .await
            .unwrap_err(),
    );
    // Idempotent: a terminated session again, and an id never created (empty details).
    s.login
        .delete_session(&target.session_id, None)
        .await
        .expect("deleting twice is fine");
    let unknown = s.login.delete_session("987654321", None).await.unwrap();
    let details = unknown.details.unwrap_or_default();
    assert_eq!(details.sequence, 0);
    assert!(details.change_date.is_none() && details.resource_owner.is_empty());

    // Without a token: the user itself, its org's owner and user manager, the login client.
    let org = &s.scene.org_id;
    for caller in [
        s.user_itself().await,
        s.scene.caller(org, Some(Role::OrgOwner)).await,
        s.scene.caller(org, Some(Role::OrgUserManager)).await,
        s.login.clone(),
        s.scene.admin.clone(),
    ] {
        let session = session_of(&s, &s.user.user_id).await;
        let deleted = caller
            .delete_session(&session.session_id, None)
            .await
            .expect("a caller with a right deletes");
        assert!(micros(deleted.details.unwrap().change_date.as_ref().unwrap()) > 0);
        assert_session_not_found(
            &s.login
                .get_session(&session.session_id, None)
                .await
                .unwrap_err(),
        );
    }
}

#[apply(every_protocol)]
#[tokio::test]
async fn delete_user_terminates_the_users_sessions(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    let signed_in = sign_in(&s.login, &mut s.user).await;
    let plain = session_of(&s, &s.user.user_id).await;
    let bystander = s.another_user("Bea").await;
    let untouched = session_of(&s, &bystander.user_id).await;
    s.scene.admin.delete_user(&s.user.user_id).await.unwrap();
    for session_id in [&signed_in.session_id, &plain.session_id] {
        assert_session_not_found(&s.login.get_session(session_id, None).await.unwrap_err());
        let failure = s
            .login
            .set_session(session_pb::SetSessionRequest {
                session_id: session_id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_exact(
            &failure,
            Code::FailedPrecondition,
            "Session already terminated (COMMAND-Hewfq)",
        );
    }
    let failure = s
        .anonymous()
        .get_session(&signed_in.session_id, Some(&signed_in.token))
        .await
        .unwrap_err();
    assert_session_not_found(&failure);
    let failure = s
        .login
        .with_token(&signed_in.token)
        .get_session(&signed_in.session_id, None)
        .await
        .unwrap_err();
    assert_token_invalid(&failure);
    s.login
        .get_session(&untouched.session_id, None)
        .await
        .expect("other users' sessions stay");
}
