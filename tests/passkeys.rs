//! Redeeming registration links: RegisterPasskey, VerifyPasskeyRegistration, ListPasskeys and
//! RemovePasskey against the real server, with 1Password's software authenticator
//! (`passkey-client` + `passkey-authenticator`, in `common::authenticator`) standing in for
//! the browser, over gRPC, gRPC-Web, Connect and REST.

mod common;

use std::time::Duration;

use common::authenticator::{
    ORIGIN, b64, create_credential, options_of, register_passkey_for, register_with_code,
    software_authenticator, start_with_code, unb64, verify_request,
};
use common::wire::{ApiClient, Failure, Protocol};
use common::{TestServer, add_human, create_code};
use passlink::domain::permission::Role;
use passlink::pb::zitadel::user::v2 as user_pb;
use serde_json::{Value, json};
use tonic::Code;

// ---------------------------------------------------------------------------------------------
// Tampering

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

// ---------------------------------------------------------------------------------------------
// The protocols

/// Every protocol the full flow runs over (Connect with JSON, gRPC-Web in binary).
const ALL_PROTOCOLS: [Protocol; 4] = [
    Protocol::Grpc,
    Protocol::GrpcWeb,
    Protocol::ConnectJson,
    Protocol::Rest,
];

// ---------------------------------------------------------------------------------------------
// Helpers

fn assert_code_invalid(result: Result<user_pb::RegisterPasskeyResponse, Failure>) {
    let failure = result.expect_err("the code must be refused");
    assert_eq!(failure.code, Code::InvalidArgument, "{failure:?}");
    assert_eq!(failure.message, "Code is invalid (COMMAND-Eeb2a)");
}

async fn event_types(server: &TestServer, user_id: &str) -> Vec<String> {
    server
        .services
        .store()
        .list_events(user_id)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.event_type)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn a_link_code_registers_a_passkey_without_a_token_over_every_protocol() {
    let server = TestServer::start().await;
    for protocol in ALL_PROTOCOLS {
        let api = server.client(protocol).await;
        let user_id = add_human(&server, &server.admin_token, "Ada").await;
        let code = create_code(&server, &user_id).await;
        let started = api
            .register_passkey(register_with_code(&user_id, &code))
            .await
            .unwrap_or_else(|failure| panic!("{protocol:?}: {failure:?}"));
        assert_eq!(
            started.details.as_ref().unwrap().sequence,
            3,
            "{protocol:?}"
        );
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
            .unwrap_or_else(|failure| panic!("{protocol:?}: {failure:?}"));
        assert_eq!(verified.details.unwrap().sequence, 4, "{protocol:?}");
        let listed = api
            .with_token(&server.admin_token)
            .list_passkeys(&user_id)
            .await
            .unwrap();
        assert_eq!(
            listed.result,
            [user_pb::Passkey {
                id: started.passkey_id.clone(),
                state: user_pb::AuthFactorState::Ready as i32,
                name: "my laptop".into(),
            }],
            "{protocol:?}"
        );
        assert_eq!(listed.details.unwrap().total_result, 1);
        api.with_token(&server.admin_token)
            .remove_passkey(&user_id, &started.passkey_id)
            .await
            .unwrap_or_else(|failure| panic!("{protocol:?}: {failure:?}"));
        let listed = api
            .with_token(&server.admin_token)
            .list_passkeys(&user_id)
            .await
            .unwrap();
        assert!(listed.result.is_empty(), "{protocol:?}");
        assert_eq!(
            event_types(&server, &user_id).await[1..],
            [
                "user.passkey.code.added",
                "user.passkey.code.used",
                "user.passkey.added",
                "user.passkey.removed"
            ],
            "{protocol:?}"
        );
        println!("full passkey flow passed over {protocol:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn creation_options_follow_the_contract() {
    let server = TestServer::start().await;
    let api = server.client(Protocol::Grpc).await;
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
    server.stop().await;
}

#[tokio::test]
async fn wrong_unknown_expired_used_and_foreign_codes_are_all_invalid() {
    let server = TestServer::start().await;
    let api = server.client(Protocol::Rest).await;
    let user_id = add_human(&server, &server.admin_token, "Alan").await;
    let other_user = add_human(&server, &server.admin_token, "Kurt").await;

    // Wrong code.
    let code = create_code(&server, &user_id).await;
    let wrong = user_pb::PasskeyRegistrationCode {
        code: "wrongwrong12".into(),
        ..code.clone()
    };
    assert_code_invalid(
        api.register_passkey(register_with_code(&user_id, &wrong))
            .await,
    );
    // Unknown code id.
    let unknown = user_pb::PasskeyRegistrationCode {
        id: "1".into(),
        ..code.clone()
    };
    assert_code_invalid(
        api.register_passkey(register_with_code(&user_id, &unknown))
            .await,
    );
    // Another user's code.
    assert_code_invalid(
        api.register_passkey(register_with_code(&other_user, &code))
            .await,
    );
    // Unknown user.
    assert_code_invalid(api.register_passkey(register_with_code("404", &code)).await);
    // Used code: the first redemption works, the second does not.
    api.register_passkey(register_with_code(&user_id, &code))
        .await
        .expect("the right code works once");
    assert_code_invalid(
        api.register_passkey(register_with_code(&user_id, &code))
            .await,
    );
    // Expired code: codes live one hour.
    let code = create_code(&server, &user_id).await;
    server.clock.advance(Duration::from_secs(3601));
    assert_code_invalid(
        api.register_passkey(register_with_code(&user_id, &code))
            .await,
    );
    let events = event_types(&server, &user_id).await;
    assert_eq!(
        events
            .iter()
            .filter(|event| *event == "user.passkey.code.check.failed")
            .count(),
        1,
        "only the wrong code for a live code is recorded, not the used or expired ones: {events:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_third_failure_kills_a_correct_code() {
    let server = TestServer::start().await;
    let api = server.client(Protocol::Grpc).await;
    let user_id = add_human(&server, &server.admin_token, "Barbara").await;
    // Two failures do not kill a code.
    let code = create_code(&server, &user_id).await;
    let wrong = user_pb::PasskeyRegistrationCode {
        code: "x".into(),
        ..code.clone()
    };
    for _ in 0..2 {
        assert_code_invalid(
            api.register_passkey(register_with_code(&user_id, &wrong))
                .await,
        );
    }
    api.register_passkey(register_with_code(&user_id, &code))
        .await
        .expect("a code survives two failures");
    // The third does.
    let code = create_code(&server, &user_id).await;
    let wrong = user_pb::PasskeyRegistrationCode {
        code: "x".into(),
        ..code.clone()
    };
    for _ in 0..3 {
        assert_code_invalid(
            api.register_passkey(register_with_code(&user_id, &wrong))
                .await,
        );
    }
    assert_code_invalid(
        api.register_passkey(register_with_code(&user_id, &code))
            .await,
    );
    server.stop().await;
}

#[tokio::test]
async fn two_concurrent_redemptions_of_one_code_let_exactly_one_succeed() {
    let server = TestServer::start().await;
    let user_id = add_human(&server, &server.admin_token, "Edsger").await;
    for round in 0..5 {
        let code = create_code(&server, &user_id).await;
        let first = server.client(Protocol::Grpc).await;
        let second = server.client(Protocol::ConnectJson).await;
        let (a, b) = tokio::join!(
            first.register_passkey(register_with_code(&user_id, &code)),
            second.register_passkey(register_with_code(&user_id, &code)),
        );
        let successes = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(successes, 1, "round {round}: {a:?} / {b:?}");
        let failure = a.err().or(b.err()).unwrap();
        assert_eq!(failure.code, Code::InvalidArgument);
        assert_eq!(failure.message, "Code is invalid (COMMAND-Eeb2a)");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_pending_registration_expires_after_five_minutes_and_works_once() {
    let server = TestServer::start().await;
    let api = server.client(Protocol::Grpc).await;
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
    let failure = api
        .verify_passkey_registration(verify_request(
            &user_id,
            &started.passkey_id,
            &broken,
            "phone",
        ))
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::InvalidArgument, "{failure:?}");
    api.verify_passkey_registration(verify_request(
        &user_id,
        &started.passkey_id,
        &credential,
        "phone",
    ))
    .await
    .expect("the registration survives a failed attempt");
    let failure = api
        .verify_passkey_registration(verify_request(
            &user_id,
            &started.passkey_id,
            &credential,
            "phone",
        ))
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::NotFound, "a registration works once");
    // An unknown passkey id.
    let failure = api
        .verify_passkey_registration(verify_request(&user_id, "42", &credential, "x"))
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn tampered_challenge_origin_rp_id_flags_or_algorithm_are_invalid_argument() {
    let server = TestServer::start().await;
    let api = server.client(Protocol::ConnectJson).await;
    let user_id = add_human(&server, &server.admin_token, "Frances").await;

    async fn expect_rejected(
        server: &TestServer,
        api: &ApiClient,
        user_id: &str,
        what: &str,
        tamper_options: impl FnOnce(&mut Value),
        origin: &str,
        tamper_credential: impl FnOnce(&mut Value),
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

    expect_rejected(
        &server,
        &api,
        &user_id,
        "tampered challenge",
        |options| options["publicKey"]["challenge"] = Value::String(b64(&[7; 32])),
        ORIGIN,
        |_| {},
    )
    .await;
    expect_rejected(
        &server,
        &api,
        &user_id,
        "foreign origin",
        |_| {},
        "http://evil.localhost:8080",
        |_| {},
    )
    .await;
    expect_rejected(
        &server,
        &api,
        &user_id,
        "tampered RP ID hash",
        |_| {},
        ORIGIN,
        |credential| tamper_auth_data(credential, |auth_data| auth_data[0] ^= 0xff),
    )
    .await;
    expect_rejected(
        &server,
        &api,
        &user_id,
        "user not verified",
        |_| {},
        ORIGIN,
        |credential| tamper_auth_data(credential, |auth_data| auth_data[32] &= !0x04),
    )
    .await;
    expect_rejected(
        &server,
        &api,
        &user_id,
        "algorithm not offered (ML-DSA-44, -48)",
        |options| {
            options["publicKey"]["pubKeyCredParams"] = json!([{"type": "public-key", "alg": -48}])
        },
        ORIGIN,
        |_| {},
    )
    .await;
    expect_rejected(
        &server,
        &api,
        &user_id,
        "not a credential",
        |_| {},
        ORIGIN,
        |credential| *credential = json!({"id": "x", "type": "public-key"}),
    )
    .await;
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
    server.stop().await;
}

#[tokio::test]
async fn a_credential_id_registered_anywhere_is_rejected() {
    let server = TestServer::start().await;
    let api = server.client(Protocol::Grpc).await;
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
    server.stop().await;
}

#[tokio::test]
async fn list_passkeys_shows_only_ready_ones_and_remove_takes_them_away() {
    let server = TestServer::start().await;
    let api = server.client(Protocol::GrpcWeb).await;
    let user_id = add_human(&server, &server.admin_token, "Margaret").await;
    let admin = api.with_token(&server.admin_token);
    let pending = start_with_code(&server, &api, &user_id).await;
    assert!(
        admin
            .list_passkeys(&user_id)
            .await
            .unwrap()
            .result
            .is_empty()
    );
    let (first, _) =
        register_passkey_for(&server, &api, &user_id, &mut software_authenticator()).await;
    let (second, _) =
        register_passkey_for(&server, &api, &user_id, &mut software_authenticator()).await;
    let listed = admin.list_passkeys(&user_id).await.unwrap();
    let ids: Vec<&str> = listed
        .result
        .iter()
        .map(|passkey| passkey.id.as_str())
        .collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    assert!(!ids.contains(&pending.passkey_id.as_str()));
    admin.remove_passkey(&user_id, &first).await.unwrap();
    let listed = admin.list_passkeys(&user_id).await.unwrap();
    assert_eq!(listed.result.len(), 1);
    assert_eq!(listed.result[0].id, second);
    let failure = admin.remove_passkey(&user_id, &first).await.unwrap_err();
    assert_eq!(failure.code, Code::NotFound);
    let failure = admin
        .remove_passkey(&user_id, &pending.passkey_id)
        .await
        .unwrap_err();
    assert_eq!(
        failure.code,
        Code::NotFound,
        "a pending registration is no passkey"
    );
    server.stop().await;
}

#[tokio::test]
async fn permissions_follow_the_contract() {
    let server = TestServer::start().await;
    let api = server.client(Protocol::Rest).await;
    let org = server.default_org_id().await;
    let other_org = server.create_org("Elsewhere").await;
    let user_id = add_human(&server, &server.admin_token, "Hedy").await;
    let (_, nobody) = server.machine_user_with_role(&org, None).await;
    let (_, manager) = server
        .machine_user_with_role(&org, Some(Role::OrgUserManager))
        .await;
    let (_, foreign_manager) = server
        .machine_user_with_role(&other_org, Some(Role::OrgUserManager))
        .await;
    let own_token = server
        .services
        .create_token(&user_id, None)
        .await
        .unwrap()
        .token
        .expose()
        .to_owned();
    let without_code = || user_pb::RegisterPasskeyRequest {
        user_id: user_id.clone(),
        ..Default::default()
    };

    // RegisterPasskey without a code needs a token with user.credential.write, or self.
    let failure = api.register_passkey(without_code()).await.unwrap_err();
    assert_eq!(failure.code, Code::Unauthenticated, "{failure:?}");
    let failure = api
        .register_passkey(user_pb::RegisterPasskeyRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        failure.code,
        Code::Unauthenticated,
        "authentication before validation"
    );
    for token in [&nobody, &foreign_manager] {
        let failure = api
            .with_token(token)
            .register_passkey(without_code())
            .await
            .unwrap_err();
        assert_eq!(failure.code, Code::PermissionDenied, "{failure:?}");
    }
    let by_manager = api
        .with_token(&manager)
        .register_passkey(without_code())
        .await
        .expect("ORG_USER_MANAGER holds user.credential.write");
    let by_self = api
        .with_token(&own_token)
        .register_passkey(without_code())
        .await
        .expect("a user registers its own passkeys");
    // A present but invalid token is refused, even with a code.
    let code = create_code(&server, &user_id).await;
    let failure = api
        .with_token("pl_nonsense")
        .register_passkey(register_with_code(&user_id, &code))
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::Unauthenticated);
    assert!(failure.message.starts_with("Token is invalid"));

    // A token-started registration is finished only by a caller allowed to start it; without
    // a token it is as unknown as a registration that does not exist.
    let credential = create_credential(
        &mut software_authenticator(),
        ORIGIN,
        &options_of(&by_manager),
    )
    .await;
    let failure = api
        .verify_passkey_registration(verify_request(
            &user_id,
            &by_manager.passkey_id,
            &credential,
            "key",
        ))
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::NotFound, "{failure:?}");
    let failure = api
        .with_token(&nobody)
        .verify_passkey_registration(verify_request(
            &user_id,
            &by_manager.passkey_id,
            &credential,
            "key",
        ))
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::PermissionDenied, "{failure:?}");
    api.with_token(&manager)
        .verify_passkey_registration(verify_request(
            &user_id,
            &by_manager.passkey_id,
            &credential,
            "key",
        ))
        .await
        .expect("the manager finishes what it started");
    let credential =
        create_credential(&mut software_authenticator(), ORIGIN, &options_of(&by_self)).await;
    api.with_token(&own_token)
        .verify_passkey_registration(verify_request(
            &user_id,
            &by_self.passkey_id,
            &credential,
            "own",
        ))
        .await
        .expect("the user finishes its own registration");

    // ListPasskeys: user.read or self.
    assert_eq!(
        api.list_passkeys(&user_id).await.unwrap_err().code,
        Code::Unauthenticated
    );
    for token in [&nobody, &foreign_manager] {
        assert_eq!(
            api.with_token(token)
                .list_passkeys(&user_id)
                .await
                .unwrap_err()
                .code,
            Code::PermissionDenied
        );
    }
    let listed = api
        .with_token(&own_token)
        .list_passkeys(&user_id)
        .await
        .unwrap();
    assert_eq!(listed.result.len(), 2);
    assert_eq!(
        api.with_token(&manager)
            .list_passkeys(&user_id)
            .await
            .unwrap()
            .result
            .len(),
        2
    );

    // RemovePasskey: user.write or self.
    let passkey_id = listed.result[0].id.clone();
    assert_eq!(
        api.remove_passkey(&user_id, &passkey_id)
            .await
            .unwrap_err()
            .code,
        Code::Unauthenticated
    );
    for token in [&nobody, &foreign_manager] {
        assert_eq!(
            api.with_token(token)
                .remove_passkey(&user_id, &passkey_id)
                .await
                .unwrap_err()
                .code,
            Code::PermissionDenied
        );
    }
    api.with_token(&manager)
        .remove_passkey(&user_id, &passkey_id)
        .await
        .expect("ORG_USER_MANAGER holds user.write");
    let passkey_id = listed.result[1].id.clone();
    api.with_token(&own_token)
        .remove_passkey(&user_id, &passkey_id)
        .await
        .expect("a user removes its own passkeys");
    // Unknown users.
    assert_eq!(
        api.with_token(&server.admin_token)
            .list_passkeys("404")
            .await
            .unwrap_err()
            .code,
        Code::NotFound
    );
    server.stop().await;
}

#[tokio::test]
async fn the_registration_page_and_its_script_are_served_from_the_binary() {
    let server = TestServer::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(server.url("/ui/passkey/register?userID=1&orgID=2&codeID=3&code=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="register.js">"#));
    let script = http
        .get(server.url("/ui/passkey/register.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let bundle = script.bytes().await.unwrap();
    assert_eq!(
        bundle.as_ref(),
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/web/dist/register.js")).unwrap()
    );
    let redirect = http.get(server.url("/ui")).send().await.unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/ui/");
    let missing = http
        .get(server.url("/ui/passkey/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    server.stop().await;
}
