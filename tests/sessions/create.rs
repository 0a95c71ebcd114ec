//! CreateSession: the whole passkey sign-in of a login backend (§6.1–§6.3), the user check's
//! refusals (§7 "user check"), and the permission checked before the user lookup (§8 #1).

use passlink::domain::permission::Role;
use passlink::pb::zitadel::session::v2 as session_pb;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;
use tonic::Code;

use crate::common::assertion::get_assertion;
use crate::common::authenticator::unb64;
use crate::common::protocols::Protocol;
use crate::common::scene::micros;
use crate::common::sessions::{
    assert_session_token, create_for, login_name_check, set_checks, set_webauthn, start_sign_in,
    user_check, user_checks,
};
use crate::every_protocol;

use super::support::{
    SignInScene, assert_details, assert_exact, assert_get_token_refused, assert_validation,
    change_micros,
};

#[apply(every_protocol)]
#[tokio::test]
async fn a_passkey_sign_in_creates_checks_and_reads_the_session(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    let started = start_sign_in(&s.login, &s.user.user_id).await;
    let created = assert_details(&started.created.details).clone();
    let instance_id = created.resource_owner.clone();
    assert!(
        !started.session_id.is_empty() && started.session_id.chars().all(|c| c.is_ascii_digit())
    );
    assert_session_token(&started.token);

    // The options: exactly go-webauthn's keys (§6.1 step 6), for the user's one passkey.
    let options = started.options.as_object().unwrap();
    assert_eq!(options.keys().collect::<Vec<_>>(), ["publicKey"]);
    let public_key = started.options["publicKey"].as_object().unwrap();
    let mut keys: Vec<&str> = public_key.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "allowCredentials",
            "challenge",
            "rpId",
            "timeout",
            "userVerification"
        ]
    );
    assert_eq!(unb64(public_key["challenge"].as_str().unwrap()).len(), 32);
    assert_eq!(public_key["timeout"].as_f64(), Some(300000.0));
    assert_eq!(public_key["rpId"], "localhost");
    assert_eq!(public_key["userVerification"], "required");
    let allowed = public_key["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1, "{public_key:?}");
    assert_eq!(allowed[0]["type"], "public-key");

    let assertion = get_assertion(&mut s.user.authenticator, &started.options).await;
    assert_eq!(allowed[0]["id"], assertion["rawId"]);
    let checked = s
        .login
        .set_session(set_webauthn(&started.session_id, &assertion))
        .await
        .expect("SetSession with the assertion");
    let changed = assert_details(&checked.details).clone();
    assert_eq!(changed.resource_owner, instance_id, "one instance id");
    assert!(changed.sequence > created.sequence);
    assert_session_token(&checked.session_token);
    assert_ne!(checked.session_token, started.token, "the token rotates");
    assert!(checked.challenges.is_none(), "no challenge was requested");

    // The browser reads what it just checked with the token alone (§11.11).
    let session = s
        .anonymous()
        .get_session(&started.session_id, Some(&checked.session_token))
        .await
        .expect("GetSession with the current token and no bearer");
    assert_eq!(session.id, started.session_id);
    assert_eq!(session.sequence, changed.sequence);
    assert_eq!(
        micros(session.change_date.as_ref().unwrap()),
        change_micros(&checked.details)
    );
    assert_eq!(
        micros(session.creation_date.as_ref().unwrap()),
        change_micros(&started.created.details)
    );
    let factors = session.factors.as_ref().expect("factors");
    let user = factors.user.as_ref().expect("the user factor");
    assert_eq!(user.id, s.user.user_id);
    assert_eq!(user.login_name, s.username().await);
    assert_eq!(user.display_name, "Ada Tester");
    assert_eq!(user.organization_id, s.scene.org_id);
    let webauthn = factors.web_auth_n.as_ref().expect("the WebAuthn factor");
    assert!(webauthn.user_verified);
    let window = change_micros(&started.created.details) - 250_000
        ..=change_micros(&checked.details) + 250_000;
    for verified_at in [&user.verified_at, &webauthn.verified_at] {
        assert!(window.contains(&micros(verified_at.as_ref().unwrap())));
    }
    assert!(factors.password.is_none() && factors.intent.is_none() && factors.totp.is_none());
    assert!(factors.otp_sms.is_none() && factors.otp_email.is_none());
    assert!(session.metadata.is_empty());
    assert!(session.user_agent.is_none() && session.expiration_date.is_none());

    // The token CreateSession gave is dead.
    let failure = s
        .anonymous()
        .get_session(&started.session_id, Some(&started.token))
        .await
        .unwrap_err();
    assert_get_token_refused(&failure);
}

#[apply(every_protocol)]
#[tokio::test]
async fn the_user_check_finds_users_by_id_or_login_name_and_refuses_the_rest(
    #[case] protocol: Protocol,
) {
    let s = SignInScene::new(protocol).await;
    let server = &s.scene.server;
    let create_with = |check: session_pb::CheckUser| session_pb::CreateSessionRequest {
        checks: Some(session_pb::Checks {
            user: Some(check),
            ..Default::default()
        }),
        ..Default::default()
    };
    // By login name, case-insensitively.
    let username = s.username().await;
    let created = s
        .login
        .create_session(create_with(login_name_check(&username.to_uppercase())))
        .await
        .expect("CreateSession by login name");
    let session = s
        .login
        .get_session(&created.session_id, None)
        .await
        .unwrap();
    let user = session.factors.unwrap().user.unwrap();
    assert_eq!(
        (user.id.as_str(), user.login_name.as_str()),
        (s.user.user_id.as_str(), username.as_str())
    );
    assert!(
        created.challenges.is_none(),
        "no challenges requested, none answered"
    );

    for check in [user_check("404404"), login_name_check("nobody-at-all")] {
        let failure = s
            .login
            .create_session(create_with(check))
            .await
            .unwrap_err();
        assert_exact(
            &failure,
            Code::NotFound,
            "User could not be found (QUERY-Dfbg2)",
        );
    }
    // §8 #1: the permission comes before the lookup, so no stranger learns who exists.
    let org_owner = s.scene.caller(&s.scene.org_id, Some(Role::OrgOwner)).await;
    for check in [user_check("404404"), user_check(&s.user.user_id)] {
        let failure = org_owner
            .create_session(create_with(check))
            .await
            .unwrap_err();
        assert_eq!(failure.code, Code::PermissionDenied, "{failure:#?}");
    }
    let failure = s
        .anonymous()
        .create_session(create_with(user_check(&s.user.user_id)))
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::Unauthenticated, "{failure:#?}");

    // `"user": {}`: validation.
    let failure = s
        .login
        .create_session(create_with(session_pb::CheckUser { search: None }))
        .await
        .unwrap_err();
    assert_validation(&failure, "value is required");

    // Both oneof members in JSON.
    if protocol.carries_json() {
        let answer = s
            .login
            .raw_json(
                "CreateSession",
                json!({"checks": {"user": {"userId": s.user.user_id, "loginName": username}}}),
            )
            .await;
        assert_eq!(answer.status, 400, "{answer:?}");
    }

    // Inactive and locked users: the raw text clients match (§4).
    let inactive = s.another_user("Ida").await;
    let locked = s.another_user("Lou").await;
    server
        .set_user_state_in_database(&inactive.user_id, 2)
        .await;
    server.set_user_state_in_database(&locked.user_id, 4).await;
    for user_id in [&inactive.user_id, &locked.user_id] {
        let failure = s
            .login
            .create_session(create_with(user_check(user_id)))
            .await
            .unwrap_err();
        assert_exact(
            &failure,
            Code::FailedPrecondition,
            "Errors.User.NotActive (SESSION-Gj4ko)",
        );
    }
    // A deleted user is gone.
    let deleted = s.another_user("Del").await;
    s.scene.admin.delete_user(&deleted.user_id).await.unwrap();
    let failure = s
        .login
        .create_session(create_with(user_check(&deleted.user_id)))
        .await
        .unwrap_err();
    assert_exact(
        &failure,
        Code::NotFound,
        "User could not be found (QUERY-Dfbg2)",
    );

    // Machine users pass the user check.
    let (machine_id, _) = server.machine_user_with_role(&s.scene.org_id, None).await;
    s.login
        .create_session(create_with(user_check(&machine_id)))
        .await
        .expect("a machine user passes the user check");

    // SetSession: the same user refreshes the check; another user is refused (§8 #13).
    let first_verified = micros(user.verified_at.as_ref().unwrap());
    let refreshed = s
        .login
        .set_session(set_checks(
            &created.session_id,
            user_checks(&s.user.user_id),
        ))
        .await
        .expect("the same user again");
    let session = s
        .login
        .get_session(&created.session_id, Some(&refreshed.session_token))
        .await
        .unwrap();
    let again = micros(
        session
            .factors
            .unwrap()
            .user
            .unwrap()
            .verified_at
            .as_ref()
            .unwrap(),
    );
    assert!(again > first_verified, "verified_at is refreshed");
    let other = s.another_user("Otto").await;
    let failure = s
        .login
        .set_session(set_checks(&created.session_id, user_checks(&other.user_id)))
        .await
        .unwrap_err();
    assert_exact(
        &failure,
        Code::InvalidArgument,
        "user change not possible (SESSION-Uc4ng)",
    );

    // Every refused CreateSession left nothing behind: two sessions exist.
    let listed = s
        .scene
        .admin
        .list_sessions(session_pb::ListSessionsRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.sessions.len(), 2, "{listed:#?}");
    assert_eq!(listed.details.unwrap().total_result, 2);
}

#[apply(every_protocol)]
#[tokio::test]
async fn create_session_answers_challenges_exactly_when_they_were_requested(
    #[case] protocol: Protocol,
) {
    let s = SignInScene::new(protocol).await;
    let created = s
        .login
        .create_session(session_pb::CreateSessionRequest {
            checks: Some(user_checks(&s.user.user_id)),
            challenges: Some(session_pb::RequestChallenges::default()),
            ..Default::default()
        })
        .await
        .unwrap();
    let challenges = created
        .challenges
        .expect("present: the request had challenges");
    assert!(challenges.web_auth_n.is_none() && challenges.otp_sms.is_none());
    assert!(challenges.otp_email.is_none());
    let created = s
        .login
        .create_session(create_for(&s.user.user_id))
        .await
        .unwrap();
    let challenges = created.challenges.unwrap();
    assert!(challenges.web_auth_n.is_some());
    assert!(
        challenges.otp_sms.is_none() && challenges.otp_email.is_none(),
        "never set"
    );
}
