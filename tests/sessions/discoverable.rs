//! Usernameless (discoverable) passkey sign-in (§9, §11.3): a challenge without a user, an
//! assertion that names its user, both factors in one step; and ZITADEL's answer when the
//! setting is off.

use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use tonic::Code;

use crate::common::assertion::get_assertion;
use crate::common::authenticator::b64;
use crate::common::protocols::Protocol;
use crate::common::scene::micros;
use crate::common::sessions::{
    create_discoverable, request_options, set_challenge, set_checks, set_webauthn, started,
    user_checks,
};
use crate::every_protocol;

use super::support::{SignInScene, assert_exact, assert_user_not_found};

fn assert_discoverable_options(options: &Value) {
    let public_key = &options["publicKey"];
    assert_eq!(
        public_key["allowCredentials"],
        json!([]),
        "an empty array, not absent"
    );
    assert_eq!(public_key["rpId"], "localhost");
    assert_eq!(public_key["userVerification"], "required");
    assert_eq!(public_key["timeout"].as_f64(), Some(300000.0));
}

#[apply(every_protocol)]
#[tokio::test]
async fn a_discoverable_passkey_signs_in_without_a_username(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    let begun = started(s.login.create_session(create_discoverable()).await.unwrap());
    assert_discoverable_options(&begun.options);
    let assertion = get_assertion(&mut s.user.authenticator, &begun.options).await;
    assert!(
        !assertion["response"]["userHandle"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "a discoverable credential returns its user handle"
    );
    let checked = s
        .login
        .set_session(set_webauthn(&begun.session_id, &assertion))
        .await
        .expect("the discoverable check");
    let session = s
        .anonymous()
        .get_session(&begun.session_id, Some(&checked.session_token))
        .await
        .unwrap();
    let factors = session.factors.expect("factors");
    let user = factors.user.expect("the user, from the credential");
    assert_eq!(user.id, s.user.user_id);
    assert_eq!(user.login_name, s.username().await);
    assert_eq!(user.organization_id, s.scene.org_id);
    assert_eq!(user.display_name, "Ada Tester");
    let webauthn = factors.web_auth_n.expect("the WebAuthn factor");
    assert!(webauthn.user_verified);
    assert_eq!(
        micros(user.verified_at.as_ref().unwrap()),
        micros(webauthn.verified_at.as_ref().unwrap()),
        "both factors in one step"
    );

    // SetSession on a session without a user can ask for a discoverable challenge too.
    let empty = s.login.create_session(Default::default()).await.unwrap();
    let answer = s
        .login
        .set_session(set_challenge(&empty.session_id))
        .await
        .unwrap();
    let options = request_options(&answer.challenges);
    assert_discoverable_options(&options);
    let assertion = get_assertion(&mut s.user.authenticator, &options).await;
    let checked = s
        .login
        .set_session(set_webauthn(&empty.session_id, &assertion))
        .await
        .expect("the discoverable check after SetSession");
    let session = s
        .login
        .get_session(&empty.session_id, Some(&checked.session_token))
        .await
        .unwrap();
    assert_eq!(session.factors.unwrap().user.unwrap().id, s.user.user_id);
}

#[apply(every_protocol)]
#[tokio::test]
async fn a_discoverable_check_refuses_what_names_no_active_owner(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    let login = s.login.clone();
    let begin = || {
        let login = login.clone();
        async move { started(login.create_session(create_discoverable()).await.unwrap()) }
    };
    // No user handle: refused (WebAuthn requires one here).
    let begun = begin().await;
    let mut assertion = get_assertion(&mut s.user.authenticator, &begun.options).await;
    assertion["response"]["userHandle"] = Value::Null;
    s.assert_check_fails(&begun.session_id, &assertion).await;
    // A user handle that is not the owner's.
    let begun = begin().await;
    let mut assertion = get_assertion(&mut s.user.authenticator, &begun.options).await;
    assertion["response"]["userHandle"] = json!(b64(b"404404"));
    s.assert_check_fails(&begun.session_id, &assertion).await;
    // A user check before the WebAuthn check narrows the challenge to that user.
    let other = s.another_user("Nora").await;
    let begun = begin().await;
    s.login
        .set_session(set_checks(&begun.session_id, user_checks(&other.user_id)))
        .await
        .unwrap();
    let assertion = get_assertion(&mut s.user.authenticator, &begun.options).await;
    s.assert_check_fails(&begun.session_id, &assertion).await;
    // An owner who is no longer active.
    let begun = begin().await;
    let assertion = get_assertion(&mut s.user.authenticator, &begun.options).await;
    s.scene
        .server
        .set_user_state_in_database(&s.user.user_id, 4)
        .await;
    let failure = s
        .login
        .webauthn_refused(&begun.session_id, &assertion)
        .await;
    assert_user_not_found(&failure);
    s.scene
        .server
        .set_user_state_in_database(&s.user.user_id, 1)
        .await;
    // An unknown credential: the same refusal as any failed check, no user revealed.
    let begun = begin().await;
    let assertion = get_assertion(&mut s.user.authenticator, &begun.options).await;
    s.scene
        .admin
        .remove_passkey(&s.user.user_id, &s.user.passkey_id)
        .await
        .unwrap();
    s.assert_check_fails(&begun.session_id, &assertion).await;
}

#[apply(every_protocol)]
#[tokio::test]
async fn with_discoverable_login_off_a_challenge_needs_a_user(#[case] protocol: Protocol) {
    let s = SignInScene::start_with(protocol, |settings| {
        settings.sessions.discoverable_login = false;
    })
    .await;
    let failure = s
        .login
        .create_session(create_discoverable())
        .await
        .unwrap_err();
    assert_exact(
        &failure,
        Code::FailedPrecondition,
        "User ID missing (COMMAND-eeR2e)",
    );
    let empty = s.login.create_session(Default::default()).await.unwrap();
    let failure = s
        .login
        .set_session(set_challenge(&empty.session_id))
        .await
        .unwrap_err();
    assert_exact(
        &failure,
        Code::FailedPrecondition,
        "User ID missing (COMMAND-eeR2e)",
    );
}
