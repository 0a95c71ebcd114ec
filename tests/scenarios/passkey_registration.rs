//! Redeeming a registration link: RegisterPasskey with a code and no token, then
//! VerifyPasskeyRegistration, with 1Password's software authenticator (`passkey-client` +
//! `passkey-authenticator`, in `common::authenticator`) standing in for the browser; the
//! creation options, pending registrations that expire, credentials that were tampered with or
//! registered before, and what a caller without the right token learns.

use std::time::Duration;

use passlink::pb::zitadel::user::v2 as user_pb;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::{Value, json};
use tonic::Code;

use crate::common::authenticator::{
    ORIGIN, b64, create_credential, options_of, register_passkey_for, software_authenticator,
    start_with_code, unb64,
};
use crate::common::failure::Failure;
use crate::common::protocols::Protocol;
use crate::common::requests::{register_with_code, register_without_code, verify_request};
use crate::common::wire::ApiClient;
use crate::common::{TestServer, add_human, create_code};
use crate::every_protocol;

/// Rewrites the authenticator data inside a credential's `none` attestation (which no
/// signature covers), as an attacker or a broken authenticator could.
fn tamper_auth_data(credential: &mut Value, edit: impl FnOnce(&mut Vec<u8>)) {
    let bytes = unb64(
        credential["response"]["attestationObject"]
            .as_str()
            .unwrap(),
    );
    let mut object: ciborium::Value = ciborium::from_reader(bytes.as_slice()).unwrap();
    let (_, auth_data) = object
        .as_map_mut()
        .unwrap()
        .iter_mut()
        .find(|(key, _)| key.as_text() == Some("authData"))
        .expect("authData");
    let ciborium::Value::Bytes(auth_data) = auth_data else {
        panic!("authData is bytes")
    };
    edit(auth_data);
    let mut encoded = Vec::new();
    ciborium::into_writer(&object, &mut encoded).unwrap();
    credential["response"]["attestationObject"] = Value::String(b64(&encoded));
}

fn credential_id(credential: &Value) -> Vec<u8> {
    unb64(credential["rawId"].as_str().unwrap())
}

#[apply(every_protocol)]
#[tokio::test]
async fn a_link_code_registers_a_passkey_without_a_token(#[case] protocol: Protocol) {
    let server = TestServer::start().await;
    let api = server.client(protocol).await;
    let admin = api.with_token(&server.admin_token);
    let user_id = add_human(&server, &server.admin_token, "Ada").await;
    let code = create_code(&server, &user_id).await;
    let started = api
        .register_passkey(register_with_code(&user_id, &code))
        .await
        .expect("RegisterPasskey with a code and no token");
    assert_eq!(started.details.as_ref().unwrap().sequence, 3);
    let options = options_of(&started);
    let mut authenticator = software_authenticator();
    let credential = create_credential(&mut authenticator, ORIGIN, &options).await;
    let verified = api
        .verify_passkey_registration(verify_request(
            &user_id,
            &started.passkey_id,
            &credential,
            "my laptop",
        ))
        .await
        .expect("VerifyPasskeyRegistration without a token");
    assert_eq!(verified.details.unwrap().sequence, 4);
    let listed = admin.list_passkeys(&user_id).await.unwrap();
    assert_eq!(
        listed.result,
        [user_pb::Passkey {
            id: started.passkey_id.clone(),
            state: user_pb::AuthFactorState::Ready as i32,
            name: "my laptop".into(),
        }]
    );
    assert_eq!(listed.details.unwrap().total_result, 1);
    admin
        .remove_passkey(&user_id, &started.passkey_id)
        .await
        .expect("RemovePasskey");
    let listed = admin.list_passkeys(&user_id).await.unwrap();
    assert!(listed.result.is_empty());
    assert_eq!(
        server.event_types(&user_id).await[1..],
        [
            "user.passkey.code.added",
            "user.passkey.code.used",
            "user.passkey.added",
            "user.passkey.removed"
        ]
    );
}

#[apply(every_protocol)]
#[tokio::test]
async fn creation_options_follow_the_contract(#[case] protocol: Protocol) {
    let server = TestServer::start().await;
    let api = server.client(protocol).await;
    let user_id = add_human(&server, &server.admin_token, "Grace").await;
    let mut authenticator = software_authenticator();
    let (_, first) = register_passkey_for(&server, &api, &user_id, &mut authenticator).await;
    let code = create_code(&server, &user_id).await;
    let started = api
        .register_passkey(user_pb::RegisterPasskeyRequest {
            authenticator: user_pb::PasskeyAuthenticator::CrossPlatform as i32,
            domain: "localhost".into(),
            ..register_with_code(&user_id, &code)
        })
        .await
        .unwrap();
    let options = options_of(&started);
    let public_key = &options["publicKey"];
    assert_eq!(
        public_key["rp"],
        json!({"id": "localhost", "name": "passlink"})
    );
    let user_handle = unb64(public_key["user"]["id"].as_str().unwrap());
    assert!((16..=64).contains(&user_handle.len()));
    assert!(public_key["user"]["name"].as_str().is_some());
    assert_eq!(public_key["user"]["displayName"], "Grace Tester");
    let algorithms: Vec<i64> = public_key["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|param| param["alg"].as_i64().unwrap())
        .collect();
    assert_eq!(algorithms, [-7, -8, -257]);
    assert_eq!(public_key["attestation"], "none");
    let selection = &public_key["authenticatorSelection"];
    assert_eq!(selection["userVerification"], "required");
    assert_eq!(selection["authenticatorAttachment"], "cross-platform");
    assert_eq!(public_key["timeout"], 300_000);
    assert_eq!(unb64(public_key["challenge"].as_str().unwrap()).len(), 32);
    assert_eq!(
        public_key["excludeCredentials"][0]["id"], first["rawId"],
        "the user's passkey is excluded"
    );
    assert!(started.passkey_id.parse::<u64>().is_ok());
    // A domain that fits no allowed origin is refused.
    let code = create_code(&server, &user_id).await;
    let failure = api
        .register_passkey(user_pb::RegisterPasskeyRequest {
            domain: "example.com".into(),
            ..register_with_code(&user_id, &code)
        })
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::InvalidArgument, "{failure:?}");
}

#[apply(every_protocol)]
#[tokio::test]
async fn a_pending_registration_expires_after_five_minutes_and_works_once(
    #[case] protocol: Protocol,
) {
    let server = TestServer::start().await;
    let api = server.client(protocol).await;
    let user_id = add_human(&server, &server.admin_token, "Donald").await;
    let mut authenticator = software_authenticator();

    let started = start_with_code(&server, &api, &user_id).await;
    let credential = create_credential(&mut authenticator, ORIGIN, &options_of(&started)).await;
    server.clock.advance(Duration::from_secs(5 * 60 + 1));
    let failure = api
        .verify_passkey_registration(verify_request(
            &user_id,
            &started.passkey_id,
            &credential,
            "late",
        ))
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::NotFound, "{failure:?}");
    assert!(
        failure
            .message
            .starts_with("WebAuthN Token could not be found")
    );

    // A fresh one: a bad credential fails and leaves it usable; the good one then works once.
    let mut authenticator = software_authenticator();
    let started = start_with_code(&server, &api, &user_id).await;
    let credential = create_credential(&mut authenticator, ORIGIN, &options_of(&started)).await;
    let mut broken = credential.clone();
    broken["response"]["clientDataJSON"] = Value::String(b64(b"{}"));
    let verify = |credential: &Value| {
        api.verify_passkey_registration(verify_request(
            &user_id,
            &started.passkey_id,
            credential,
            "phone",
        ))
    };
    let failure = verify(&broken).await.unwrap_err();
    assert_eq!(failure.code, Code::InvalidArgument, "{failure:?}");
    verify(&credential)
        .await
        .expect("the registration survives a failed attempt");
    let failure = verify(&credential).await.unwrap_err();
    assert_eq!(failure.code, Code::NotFound, "a registration works once");
    // An unknown passkey id.
    let failure = api
        .verify_passkey_registration(verify_request(&user_id, "42", &credential, "x"))
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::NotFound);
}

/// A change to creation options or to a credential.
type Tamper = fn(&mut Value);

/// Starts a registration, lets a fresh authenticator answer `origin` with the options as
/// `tamper_options` left them, tampers with the credential and expects InvalidArgument.
async fn expect_rejected(
    server: &TestServer,
    api: &ApiClient,
    user_id: &str,
    what: &str,
    tamper_options: Tamper,
    origin: &str,
    tamper_credential: Tamper,
) {
    let started = start_with_code(server, api, user_id).await;
    let mut options = options_of(&started);
    tamper_options(&mut options);
    let mut authenticator = software_authenticator();
    let mut credential = create_credential(&mut authenticator, origin, &options).await;
    tamper_credential(&mut credential);
    let failure = api
        .verify_passkey_registration(verify_request(
            user_id,
            &started.passkey_id,
            &credential,
            what,
        ))
        .await
        .expect_err(what);
    assert_eq!(failure.code, Code::InvalidArgument, "{what}: {failure:?}");
    println!("{what}: {}", failure.message);
}

#[apply(every_protocol)]
#[tokio::test]
async fn tampered_challenge_origin_rp_id_flags_or_algorithm_are_invalid_argument(
    #[case] protocol: Protocol,
) {
    let server = TestServer::start().await;
    let api = server.client(protocol).await;
    let user_id = add_human(&server, &server.admin_token, "Frances").await;
    let untouched: Tamper = |_| {};
    let cases: [(&str, Tamper, &str, Tamper); 6] = [
        (
            "tampered challenge",
            |options| options["publicKey"]["challenge"] = Value::String(b64(&[7; 32])),
            ORIGIN,
            untouched,
        ),
        (
            "foreign origin",
            untouched,
            "http://evil.localhost:8080",
            untouched,
        ),
        ("tampered RP ID hash", untouched, ORIGIN, |credential| {
            tamper_auth_data(credential, |auth_data| auth_data[0] ^= 0xff)
        }),
        ("user not verified", untouched, ORIGIN, |credential| {
            tamper_auth_data(credential, |auth_data| auth_data[32] &= !0x04)
        }),
        (
            "algorithm not offered (ML-DSA-44, -48)",
            |options| {
                options["publicKey"]["pubKeyCredParams"] =
                    json!([{"type": "public-key", "alg": -48}])
            },
            ORIGIN,
            untouched,
        ),
        ("not a credential", untouched, ORIGIN, |credential| {
            *credential = json!({"id": "x", "type": "public-key"})
        }),
    ];
    for (what, tamper_options, origin, tamper_credential) in cases {
        expect_rejected(
            &server,
            &api,
            &user_id,
            what,
            tamper_options,
            origin,
            tamper_credential,
        )
        .await;
    }
    // EdDSA, offered, works.
    let started = start_with_code(&server, &api, &user_id).await;
    let mut options = options_of(&started);
    options["publicKey"]["pubKeyCredParams"] = json!([{"type": "public-key", "alg": -8}]);
    let credential = create_credential(&mut software_authenticator(), ORIGIN, &options).await;
    api.verify_passkey_registration(verify_request(
        &user_id,
        &started.passkey_id,
        &credential,
        "eddsa",
    ))
    .await
    .expect("an EdDSA key is accepted");
}

#[apply(every_protocol)]
#[tokio::test]
async fn a_credential_id_registered_anywhere_is_rejected(#[case] protocol: Protocol) {
    let server = TestServer::start().await;
    let api = server.client(protocol).await;
    let first_user = add_human(&server, &server.admin_token, "Ken").await;
    let second_user = add_human(&server, &server.admin_token, "Dennis").await;
    let (_, first) =
        register_passkey_for(&server, &api, &first_user, &mut software_authenticator()).await;
    let taken_id = credential_id(&first);

    let started = start_with_code(&server, &api, &second_user).await;
    let mut credential =
        create_credential(&mut software_authenticator(), ORIGIN, &options_of(&started)).await;
    let own_id = credential_id(&credential);
    assert_eq!(own_id.len(), taken_id.len());
    tamper_auth_data(&mut credential, |auth_data| {
        auth_data[55..55 + taken_id.len()].copy_from_slice(&taken_id)
    });
    credential["rawId"] = Value::String(b64(&taken_id));
    credential["id"] = Value::String(b64(&taken_id));
    let failure = api
        .verify_passkey_registration(verify_request(
            &second_user,
            &started.passkey_id,
            &credential,
            "copy",
        ))
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::AlreadyExists, "{failure:?}");
    let listed = api
        .with_token(&server.admin_token)
        .list_passkeys(&second_user)
        .await
        .unwrap();
    assert!(listed.result.is_empty());
}

/// What a client sees of a failure, for comparing two answers.
fn answer_of(failure: &Failure) -> (Code, Option<u16>, String, Option<(String, String)>) {
    (
        failure.code,
        failure.http_status,
        failure.message.clone(),
        failure
            .detail
            .as_ref()
            .map(|detail| (detail.id.clone(), detail.message.clone())),
    )
}

#[apply(every_protocol)]
#[tokio::test]
async fn unauthenticated_verify_answers_alike_for_a_token_started_and_an_unknown_registration(
    #[case] protocol: Protocol,
) {
    let server = TestServer::start().await;
    let org_id = server.default_org_id().await;
    let (_, nobody) = server.machine_user_with_role(&org_id, None).await;
    let api = server.client(protocol).await;
    let admin = api.with_token(&server.admin_token);
    let user_id = add_human(&server, &server.admin_token, "Grace").await;
    let started = admin
        .register_passkey(register_without_code(&user_id))
        .await
        .expect("a token-started registration");
    let credential =
        create_credential(&mut software_authenticator(), ORIGIN, &options_of(&started)).await;
    let verify = |api: ApiClient, passkey_id: String| {
        let request = verify_request(&user_id, &passkey_id, &credential, "key");
        async move {
            api.verify_passkey_registration(request)
                .await
                .expect_err("the caller may not finish it")
        }
    };
    let unknown_id = format!("{}9", started.passkey_id);

    let existing = verify(api.clone(), started.passkey_id.clone()).await;
    let unknown = verify(api.clone(), unknown_id.clone()).await;
    existing.assert_error(Code::NotFound, "WebAuthN Token could not be found");
    assert_eq!(
        answer_of(&existing),
        answer_of(&unknown),
        "without a token, an existing token-started registration and an unknown id answer alike"
    );

    // A token without the permission learns nothing either.
    let existing = verify(api.with_token(&nobody), started.passkey_id.clone()).await;
    let unknown = verify(api.with_token(&nobody), unknown_id).await;
    existing.assert_error(Code::PermissionDenied, "Permission denied");
    assert_eq!(answer_of(&existing), answer_of(&unknown));

    // None of it touched the registration.
    admin
        .verify_passkey_registration(verify_request(
            &user_id,
            &started.passkey_id,
            &credential,
            "key",
        ))
        .await
        .expect("the admin finishes the registration");
}
