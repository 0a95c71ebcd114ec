//! SetSession: every successful call rotates the token and the old one dies (§6.6, §8 #9);
//! writes to terminated, expired or unknown sessions (§7 "session state", §8 #2); who may
//! write (§5).

use std::time::Duration;

use passlink::domain::permission::Role;
use passlink::pb::zitadel::session::v2 as session_pb;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;

use crate::common::protocols::Protocol;
use crate::common::scene::micros;
use crate::common::sessions::{
    assert_session_token, create_checking, list_ids, request_options, set_challenge, sign_in,
    user_checks,
};
use crate::every_protocol;

use super::support::{
    SignInScene, assert_details, assert_empty_id_refused, assert_exact, assert_get_token_refused,
    assert_session_not_found,
};

#[apply(every_protocol)]
#[tokio::test]
async fn every_successful_set_rotates_the_token_and_the_old_one_dies(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    let signed_in = sign_in(&s.login, &mut s.user).await;
    let mut token = signed_in.token.clone();
    let mut sequence = signed_in.checked.details.as_ref().unwrap().sequence;
    let requests = [
        // Nothing changes: still a new token, never "" (§8 #9).
        session_pb::SetSessionRequest {
            session_id: signed_in.session_id.clone(),
            ..Default::default()
        },
        // Only a challenge (ZITADEL's TestServer_SetSession_flow).
        set_challenge(&signed_in.session_id),
        // The deprecated session_token field is ignored when a bearer holds session.write.
        session_pb::SetSessionRequest {
            session_id: signed_in.session_id.clone(),
            session_token: "not-the-token".into(),
            checks: Some(user_checks(&s.user.user_id)),
            ..Default::default()
        },
    ];
    for (index, request) in requests.into_iter().enumerate() {
        let asked_for_challenge = request.challenges.is_some();
        let answer = s.login.set_session(request).await.expect("SetSession");
        assert_session_token(&answer.session_token);
        assert_ne!(
            answer.session_token, token,
            "request {index} rotates the token"
        );
        let details = assert_details(&answer.details);
        assert!(details.sequence > sequence, "request {index} is a write");
        sequence = details.sequence;
        if asked_for_challenge {
            let options = request_options(&answer.challenges);
            assert_eq!(options["publicKey"]["rpId"], "localhost");
        }
        let failure = s
            .anonymous()
            .get_session(&signed_in.session_id, Some(&token))
            .await
            .unwrap_err();
        assert_get_token_refused(&failure);
        token = answer.session_token;
        let session = s
            .anonymous()
            .get_session(&signed_in.session_id, Some(&token))
            .await
            .expect("the newest token works");
        assert_eq!(session.sequence, sequence);
    }
}

#[apply(every_protocol)]
#[tokio::test]
async fn writes_to_unknown_terminated_or_expired_sessions_are_refused(#[case] protocol: Protocol) {
    let s = SignInScene::new(protocol).await;
    let set = |session_id: &str| session_pb::SetSessionRequest {
        session_id: session_id.into(),
        checks: Some(user_checks(&s.user.user_id)),
        ..Default::default()
    };
    // §8 #2: an unknown id is NotFound, not a phantom session.
    let failure = s.login.set_session(set("123456789")).await.unwrap_err();
    assert_session_not_found(&failure);
    let failure = s.login.set_session(set("")).await.unwrap_err();
    assert_empty_id_refused(&failure);

    // Terminated.
    let terminated = s.login.create_session(Default::default()).await.unwrap();
    s.login
        .delete_session(&terminated.session_id, None)
        .await
        .unwrap();
    let failure = s
        .login
        .set_session(set(&terminated.session_id))
        .await
        .unwrap_err();
    assert_exact(
        &failure,
        Code::FailedPrecondition,
        "Session already terminated (COMMAND-Hewfq)",
    );
    assert_session_not_found(
        &s.login
            .get_session(&terminated.session_id, None)
            .await
            .unwrap_err(),
    );

    // Expired: refused for writes, still shown by GetSession and ListSessions (§6.7).
    let expiring = s
        .login
        .create_session(session_pb::CreateSessionRequest {
            checks: Some(user_checks(&s.user.user_id)),
            lifetime: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    s.scene.server.clock.advance(Duration::from_secs(2));
    let failure = s
        .login
        .set_session(set(&expiring.session_id))
        .await
        .unwrap_err();
    assert_exact(
        &failure,
        Code::FailedPrecondition,
        "Session has expired (COMMAND-Hkl3d)",
    );
    let session = s
        .anonymous()
        .get_session(&expiring.session_id, Some(&expiring.session_token))
        .await
        .expect("an expired session is still read");
    let now = passlink::domain::time::Clock::now(&*s.scene.server.clock).0;
    assert!(micros(session.expiration_date.as_ref().unwrap()) < now);
    let listed = s
        .login
        .list_sessions(list_ids(&[&expiring.session_id]))
        .await
        .unwrap();
    assert_eq!(listed.sessions.len(), 1, "expired sessions are listed");
    // It can be deleted, and is gone afterwards.
    s.login
        .delete_session(&expiring.session_id, Some(&expiring.session_token))
        .await
        .expect("an expired session is deleted");
    assert_session_not_found(
        &s.login
            .get_session(&expiring.session_id, None)
            .await
            .unwrap_err(),
    );
    let listed = s
        .login
        .list_sessions(list_ids(&[&expiring.session_id]))
        .await
        .unwrap();
    assert!(
        listed.sessions.is_empty(),
        "terminated sessions are not listed"
    );
}

#[apply(every_protocol)]
#[tokio::test]
async fn only_instance_wide_session_write_creates_and_changes_sessions(#[case] protocol: Protocol) {
    let s = SignInScene::new(protocol).await;
    let created = s
        .login
        .create_session(create_checking(&s.user.user_id))
        .await
        .expect("IAM_LOGIN_CLIENT creates sessions");
    s.scene
        .admin
        .set_session(session_pb::SetSessionRequest {
            session_id: created.session_id.clone(),
            ..Default::default()
        })
        .await
        .expect("IAM_OWNER changes sessions");
    let org = &s.scene.org_id;
    let callers = [
        s.scene.caller(org, Some(Role::OrgOwner)).await,
        s.scene.caller(org, Some(Role::OrgUserManager)).await,
        s.scene.caller(org, None).await,
        s.user_itself().await,
    ];
    for caller in callers {
        let failure = caller
            .create_session(create_checking(&s.user.user_id))
            .await
            .unwrap_err();
        assert_eq!(failure.code, Code::PermissionDenied, "{failure:#?}");
        let failure = caller
            .set_session(session_pb::SetSessionRequest {
                session_id: created.session_id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(failure.code, Code::PermissionDenied, "{failure:#?}");
    }
}

/// §6.6, §8 #14: only a hash of a session token is stored. The raw database file (and its
/// write-ahead log) never contains a token that was handed out.
#[tokio::test]
async fn session_tokens_are_stored_only_as_hashes() {
    let mut s = SignInScene::start_with(Protocol::Grpc, |settings| {
        settings.database_url = None;
    })
    .await;
    let signed_in = sign_in(&s.login, &mut s.user).await;
    let created = s.login.create_session(Default::default()).await.unwrap();
    let tokens = [signed_in.token.clone(), created.session_token.clone()];
    let mut id_found = false;
    for entry in std::fs::read_dir(s.scene.server.data_dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("passlink.db") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let id = created.session_id.as_bytes();
        id_found |= bytes.windows(id.len()).any(|window| window == id);
        for token in &tokens {
            let found = bytes
                .windows(token.len())
                .any(|window| window == token.as_bytes());
            assert!(!found, "{name} holds a session token in the clear");
        }
    }
    assert!(
        id_found,
        "the search sees what is stored: the session id is in the files"
    );
}
