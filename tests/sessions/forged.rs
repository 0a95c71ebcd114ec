//! Failed WebAuthn checks (§7 "WebAuthn check", §8 #3, #5): unparseable assertions, and
//! assertions re-signed with the credential's own key after one part was changed, each
//! refused with InvalidArgument `WEBAU-3M9si`; the challenge survives a failure.

use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use tonic::Code;

use crate::common::assertion::{
    FLAG_UP, FLAG_UV, Forgery, forge, get_assertion, with_bad_signature,
};
use crate::common::authenticator::b64;
use crate::common::protocols::Protocol;
use crate::common::sessions::{set_webauthn, start_sign_in};
use crate::every_protocol;

use super::support::{SignInScene, assert_check_failed};

/// Starts a sign-in, lets `tamper` change the genuine assertion, and returns the check's
/// refusal; then checks that the genuine assertion still succeeds (a failure keeps the
/// challenge).
async fn refused_after(
    s: &mut SignInScene,
    what: &str,
    tamper: impl FnOnce(&SignInScene, &Value) -> Value,
) -> crate::common::failure::Failure {
    let started = start_sign_in(&s.login, &s.user.user_id).await;
    let genuine = get_assertion(&mut s.user.authenticator, &started.options).await;
    let tampered = tamper(&*s, &genuine);
    let failure = match s
        .login
        .set_session(set_webauthn(&started.session_id, &tampered))
        .await
    {
        Ok(answer) => panic!("{what}: accepted: {answer:?}"),
        Err(failure) => failure,
    };
    eprintln!("{what}: {}", failure.message);
    s.login
        .set_session(set_webauthn(&started.session_id, &genuine))
        .await
        .unwrap_or_else(|failure| panic!("{what}: the challenge survives: {failure:#?}"));
    failure
}

#[apply(every_protocol)]
#[tokio::test]
async fn unparseable_assertions_are_invalid_arguments(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    type Edit = fn(&mut Value);
    let edits: Vec<(&str, Edit)> = vec![
        ("an empty object", |assertion| *assertion = json!({})),
        ("no id", |assertion| {
            assertion.as_object_mut().unwrap().remove("id");
            assertion.as_object_mut().unwrap().remove("rawId");
        }),
        ("an id not base64url", |assertion| {
            assertion["id"] = json!("not base64url!");
            assertion["rawId"] = json!("not base64url!");
        }),
        ("type password", |assertion| {
            assertion["type"] = json!("password")
        }),
        ("clientDataJSON not JSON", |assertion| {
            assertion["response"]["clientDataJSON"] = json!(b64(b"{not json"))
        }),
        ("authenticatorData too short", |assertion| {
            assertion["response"]["authenticatorData"] = json!(b64(b"short"))
        }),
    ];
    let mut wrong = Vec::new();
    for (what, edit) in edits {
        let failure = refused_after(&mut s, what, |_, genuine| {
            let mut broken = genuine.clone();
            edit(&mut broken);
            broken
        })
        .await;
        assert_eq!(failure.code, Code::InvalidArgument, "{what}: {failure:#?}");
        if failure.message != "Error on validate login credentials (WEBAU-ADgv4)" {
            wrong.push(format!("{what}: {}", failure.message));
        }
    }
    assert!(
        wrong.is_empty(),
        "not answered as unparseable (WEBAU-ADgv4): {wrong:#?}"
    );
}

#[apply(every_protocol)]
#[tokio::test]
async fn forged_assertions_fail_verification(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    type Forger = fn() -> Forgery;
    let forgeries: Vec<(&str, Forger)> = vec![
        ("another challenge", || Forgery {
            challenge: Some(b64(&[7; 32])),
            ..Default::default()
        }),
        ("an origin not allowed (§8 #5)", || Forgery {
            origin: Some("https://evil.example".into()),
            ..Default::default()
        }),
        ("an origin on another port", || Forgery {
            origin: Some("http://localhost:9999".into()),
            ..Default::default()
        }),
        ("type webauthn.create", || Forgery {
            client_data_type: Some("webauthn.create".into()),
            ..Default::default()
        }),
        ("another RP ID hash", || Forgery {
            rp_id: Some("example.com".into()),
            ..Default::default()
        }),
        ("no user verification", || Forgery {
            clear_flags: FLAG_UV,
            ..Default::default()
        }),
        ("no user presence", || Forgery {
            clear_flags: FLAG_UP,
            ..Default::default()
        }),
    ];
    for (what, forgery) in forgeries {
        let failure = refused_after(&mut s, what, |s, genuine| {
            forge(&s.user.authenticator, genuine, forgery())
        })
        .await;
        assert_eq!(failure.code, Code::InvalidArgument, "{what}: {failure:#?}");
        assert_check_failed(&failure);
    }
    // A signature that does not verify.
    let failure = refused_after(&mut s, "a bad signature", |_, genuine| {
        with_bad_signature(genuine)
    })
    .await;
    assert_check_failed(&failure);
    // A user handle that is not the user's.
    let failure = refused_after(&mut s, "another user handle", |_, genuine| {
        let mut other = genuine.clone();
        other["response"]["userHandle"] = json!(b64(b"someone-else"));
        other
    })
    .await;
    assert_check_failed(&failure);
}

#[apply(every_protocol)]
#[tokio::test]
async fn credentials_of_another_user_or_removed_ones_fail(#[case] protocol: Protocol) {
    let mut s = SignInScene::new(protocol).await;
    let mut other = s.another_user("Eve").await;
    // Eve's authenticator answers Ada's challenge (the browser ignores allowCredentials).
    let started = start_sign_in(&s.login, &s.user.user_id).await;
    let mut options = started.options.clone();
    options["publicKey"]["allowCredentials"] = json!([]);
    let foreign = get_assertion(&mut other.authenticator, &options).await;
    s.assert_check_fails(&started.session_id, &foreign).await;

    // A passkey removed after the challenge was issued.
    let started = start_sign_in(&s.login, &s.user.user_id).await;
    let assertion = get_assertion(&mut s.user.authenticator, &started.options).await;
    s.scene
        .admin
        .remove_passkey(&s.user.user_id, &s.user.passkey_id)
        .await
        .unwrap();
    s.assert_check_fails(&started.session_id, &assertion).await;
}

/// The forger itself, without a server: an unchanged forgery verifies with the credential's
/// public key, and `with_bad_signature` does not, so each refusal above is for the edit alone.
#[tokio::test]
async fn the_forger_re_signs_correctly() {
    use passkey_crypto::{PublicKeyT, SecretKeyT};
    use sha2::{Digest, Sha256};

    use crate::common::assertion::{authenticator_data, client_data};
    use crate::common::authenticator::{create_credential, software_authenticator, unb64};

    let mut authenticator = software_authenticator();
    let creation = json!({"publicKey": {
        "rp": {"id": "localhost", "name": "passlink"},
        "user": {"id": b64(b"user-1"), "name": "ada", "displayName": "Ada"},
        "challenge": b64(&[1; 32]),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "authenticatorSelection": {"residentKey": "required", "userVerification": "required"},
    }});
    create_credential(
        &mut authenticator,
        crate::common::authenticator::ORIGIN,
        &creation,
    )
    .await;
    let request = json!({"publicKey": {
        "challenge": b64(&[2; 32]), "rpId": "localhost", "allowCredentials": [],
        "userVerification": "required", "timeout": 300000,
    }});
    let genuine = get_assertion(&mut authenticator, &request).await;
    let key = passkey_crypto::AvailableSecretKey::from_cose_key(
        &authenticator.authenticator().store().as_ref().unwrap().key,
    )
    .unwrap()
    .public_key();
    let verifies = |assertion: &Value| {
        let mut target = authenticator_data(assertion);
        let client_data_json = unb64(assertion["response"]["clientDataJSON"].as_str().unwrap());
        target.extend_from_slice(&Sha256::digest(&client_data_json));
        let signature = unb64(assertion["response"]["signature"].as_str().unwrap());
        key.verify(&target, &signature).is_ok()
    };
    assert!(verifies(&genuine));
    let unchanged = forge(&authenticator, &genuine, Forgery::default());
    assert!(verifies(&unchanged));
    assert_eq!(client_data(&unchanged), client_data(&genuine));
    assert_eq!(authenticator_data(&unchanged), authenticator_data(&genuine));
    let edited = forge(
        &authenticator,
        &genuine,
        Forgery {
            clear_flags: FLAG_UV,
            sign_count: Some(7),
            ..Default::default()
        },
    );
    assert!(verifies(&edited));
    assert_eq!(crate::common::assertion::sign_count(&edited), 7);
    assert_eq!(authenticator_data(&edited)[32] & FLAG_UV, 0);
    assert!(!verifies(&with_bad_signature(&genuine)));
}
