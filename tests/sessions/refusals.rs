//! Refused challenges (§7 "WebAuthn challenge", §8 #4, #15) and the checks and challenges
//! passlink does not serve (§1.3, §11.2): Unimplemented naming the field, decided before any
//! lookup or write.

use passlink::pb::zitadel::session::v2 as session_pb;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;

use crate::common::failure::Failure;
use crate::common::protocols::Protocol;
use crate::common::sessions::{
    DOMAIN, Uv, challenge_with, create_checking, user_check, user_checks,
};
use crate::every_protocol;

use super::support::{
    SignInScene, assert_exact, assert_names_field, assert_user_not_found, assert_validation,
};

/// CreateSession with a user check and `challenges`.
fn create_with(
    user_id: &str,
    challenges: session_pb::RequestChallenges,
) -> session_pb::CreateSessionRequest {
    session_pb::CreateSessionRequest {
        checks: Some(user_checks(user_id)),
        challenges: Some(challenges),
        ..Default::default()
    }
}

fn assert_begin_login_failed(failure: &Failure) {
    assert_exact(
        failure,
        Code::FailedPrecondition,
        "WebAuthN begin login failed (WEBAU-4G8sw)",
    );
}

/// How many sessions the admin sees.
async fn session_count(s: &SignInScene) -> usize {
    s.scene
        .admin
        .list_sessions(session_pb::ListSessionsRequest::default())
        .await
        .unwrap()
        .sessions
        .len()
}

#[apply(every_protocol)]
#[tokio::test]
async fn webauthn_challenges_are_refused_as_the_contract_says(#[case] protocol: Protocol) {
    let s = SignInScene::start_with(protocol, |settings| {
        settings.webauthn.allowed_origins = vec![
            "http://localhost:8080".into(),
            "http://login.localhost:8080".into(),
        ];
    })
    .await;
    let server = &s.scene.server;
    let user_id = s.user.user_id.clone();
    let refuse = |challenges| {
        let request = create_with(&user_id, challenges);
        let login = s.login.clone();
        async move { login.create_session(request).await.unwrap_err() }
    };

    // Validation: an empty domain, UV unspecified or outside the enum.
    assert_validation(&refuse(challenge_with("", Uv::Required)).await, "Domain");
    assert_validation(
        &refuse(challenge_with(DOMAIN, Uv::Unspecified)).await,
        "UserVerificationRequirement",
    );
    let mut undefined = challenge_with(DOMAIN, Uv::Required);
    undefined
        .web_auth_n
        .as_mut()
        .unwrap()
        .user_verification_requirement = 9;
    assert_eq!(refuse(undefined).await.code, Code::InvalidArgument);
    // An IP address is no RP ID.
    assert_names_field(
        &refuse(challenge_with("127.0.0.1", Uv::Required)).await,
        "domain",
    );
    // A domain no allowed origin fits can never be asserted: refused as an argument.
    assert_names_field(
        &refuse(challenge_with("example.com", Uv::Required)).await,
        "domain",
    );
    // An allowed domain without a passkey, or no passkey at all (§8 #4).
    assert_begin_login_failed(&refuse(challenge_with("login.localhost", Uv::Required)).await);
    let bare = crate::common::add_human(server, &server.admin_token, "Bare").await;
    let failure = s
        .login
        .create_session(create_with(&bare, challenge_with(DOMAIN, Uv::Required)))
        .await
        .unwrap_err();
    assert_begin_login_failed(&failure);
    // U2F is not served (§8 #15, §11.5).
    for uv in [Uv::Preferred, Uv::Discouraged] {
        let failure = refuse(challenge_with(DOMAIN, uv)).await;
        assert_eq!(failure.code, Code::FailedPrecondition, "{failure:#?}");
        let detail = failure.detail.as_ref().expect("an error detail");
        assert_eq!(detail.id, "WEBAU-4G8sw");
        assert!(
            failure.message.starts_with("WebAuthN begin login failed"),
            "{failure:#?}"
        );
        assert!(
            failure
                .message
                .contains("USER_VERIFICATION_REQUIREMENT_REQUIRED"),
            "{failure:#?}"
        );
    }
    // The user must be an ACTIVE human: a machine user and an INITIAL human are refused.
    let (machine_id, _) = server.machine_user_with_role(&s.scene.org_id, None).await;
    let initial = s.another_user("Ina").await;
    server.set_user_state_in_database(&initial.user_id, 5).await;
    for user in [&machine_id, &initial.user_id] {
        let failure = s
            .login
            .create_session(create_with(user, challenge_with(DOMAIN, Uv::Required)))
            .await
            .unwrap_err();
        assert_user_not_found(&failure);
    }
    // OTP challenges are not served.
    let otp_sms = session_pb::RequestChallenges {
        otp_sms: Some(session_pb::request_challenges::Otpsms { return_code: true }),
        ..Default::default()
    };
    assert_exact(
        &refuse(otp_sms).await,
        Code::Unimplemented,
        "RequestChallenges.otp_sms is not supported by passlink (SESSION-Ns1pp)",
    );
    let otp_email = session_pb::RequestChallenges {
        otp_email: Some(session_pb::request_challenges::OtpEmail {
            delivery_type: None,
        }),
        ..Default::default()
    };
    assert_exact(
        &refuse(otp_email).await,
        Code::Unimplemented,
        "RequestChallenges.otp_email is not supported by passlink (SESSION-Ns1pp)",
    );
    // Nothing was stored by any refused request (§6.1 step 7).
    assert_eq!(session_count(&s).await, 0);
}

/// Checks with one unserved check set, and its field's name.
fn unserved_checks() -> Vec<(session_pb::Checks, &'static str)> {
    let none = session_pb::Checks::default;
    vec![
        (
            session_pb::Checks {
                password: Some(session_pb::CheckPassword {
                    password: "secret".into(),
                }),
                ..none()
            },
            "Checks.password",
        ),
        (
            session_pb::Checks {
                idp_intent: Some(session_pb::CheckIdpIntent::default()),
                ..none()
            },
            "Checks.idp_intent",
        ),
        (
            session_pb::Checks {
                totp: Some(session_pb::CheckTotp {
                    code: "123456".into(),
                }),
                ..none()
            },
            "Checks.totp",
        ),
        (
            session_pb::Checks {
                otp_sms: Some(session_pb::CheckOtp { code: "1".into() }),
                ..none()
            },
            "Checks.otp_sms",
        ),
        (
            session_pb::Checks {
                otp_email: Some(session_pb::CheckOtp { code: "2".into() }),
                ..none()
            },
            "Checks.otp_email",
        ),
        (
            session_pb::Checks {
                recovery_code: Some(session_pb::CheckRecoveryCode { code: "3".into() }),
                ..none()
            },
            "Checks.recovery_code",
        ),
    ]
}

#[apply(every_protocol)]
#[tokio::test]
async fn unserved_checks_are_unimplemented_before_any_lookup_or_write(#[case] protocol: Protocol) {
    let s = SignInScene::new(protocol).await;
    let session = s
        .login
        .create_session(create_checking(&s.user.user_id))
        .await
        .unwrap();
    let before = s
        .login
        .get_session(&session.session_id, None)
        .await
        .unwrap();
    for (checks, field) in unserved_checks() {
        let expected = format!("{field} is not supported by passlink (SESSION-Ns1pp)");
        // With a user that does not exist: the refusal comes before the lookup.
        let create = session_pb::CreateSessionRequest {
            checks: Some(session_pb::Checks {
                user: Some(user_check("404404")),
                ..checks.clone()
            }),
            ..Default::default()
        };
        let failure = s.login.create_session(create).await.unwrap_err();
        assert_exact(&failure, Code::Unimplemented, &expected);
        let set = session_pb::SetSessionRequest {
            session_id: session.session_id.clone(),
            checks: Some(checks),
            ..Default::default()
        };
        let failure = s.login.set_session(set).await.unwrap_err();
        assert_exact(&failure, Code::Unimplemented, &expected);
    }
    assert_eq!(session_count(&s).await, 1);
    let after = s
        .login
        .get_session(&session.session_id, None)
        .await
        .unwrap();
    assert_eq!(
        after.sequence, before.sequence,
        "no refused SetSession wrote anything"
    );
    s.login
        .get_session(&session.session_id, Some(&session.session_token))
        .await
        .expect("the token still works");
}
