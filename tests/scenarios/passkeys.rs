//! ListPasskeys and RemovePasskey, and who may register, verify, list and remove passkeys.

use passlink::domain::permission::Role;
use passlink::pb::zitadel::user::v2 as user_pb;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;

use crate::common::authenticator::{
    ORIGIN, create_credential, options_of, register_passkey_for, software_authenticator,
    start_with_code,
};
use crate::common::protocols::Protocol;
use crate::common::requests::{register_with_code, register_without_code, verify_request};
use crate::common::wire::ApiClient;
use crate::common::{TestServer, add_human, create_code};
use crate::every_protocol;

#[apply(every_protocol)]
#[tokio::test]
async fn list_passkeys_shows_only_ready_ones_and_remove_takes_them_away(
    #[case] protocol: Protocol,
) {
    let server = TestServer::start().await;
    let api = server.client(protocol).await;
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
}

#[apply(every_protocol)]
#[tokio::test]
async fn permissions_follow_the_contract(#[case] protocol: Protocol) {
    let server = TestServer::start().await;
    let api = server.client(protocol).await;
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
    let without_code = || register_without_code(&user_id);
    // Who is refused RegisterPasskey without a code, ListPasskeys and RemovePasskey, and how.
    let refused_callers = [
        (api.clone(), Code::Unauthenticated),
        (api.with_token(&nobody), Code::PermissionDenied),
        (api.with_token(&foreign_manager), Code::PermissionDenied),
    ];

    // RegisterPasskey without a code needs a token with user.credential.write, or self.
    for (caller, code) in &refused_callers {
        let failure = caller.register_passkey(without_code()).await.unwrap_err();
        assert_eq!(failure.code, *code, "{failure:?}");
    }
    let failure = api
        .register_passkey(user_pb::RegisterPasskeyRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        failure.code,
        Code::Unauthenticated,
        "authentication before validation"
    );
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
    let verify_by_manager = |client: ApiClient| {
        let request = verify_request(&user_id, &by_manager.passkey_id, &credential, "key");
        async move { client.verify_passkey_registration(request).await }
    };
    let failure = verify_by_manager(api.clone()).await.unwrap_err();
    assert_eq!(failure.code, Code::NotFound, "{failure:?}");
    let failure = verify_by_manager(api.with_token(&nobody))
        .await
        .unwrap_err();
    assert_eq!(failure.code, Code::PermissionDenied, "{failure:?}");
    verify_by_manager(api.with_token(&manager))
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
    for (caller, code) in &refused_callers {
        let failure = caller.list_passkeys(&user_id).await.unwrap_err();
        assert_eq!(failure.code, *code, "{failure:?}");
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
    for (caller, code) in &refused_callers {
        let failure = caller
            .remove_passkey(&user_id, &passkey_id)
            .await
            .unwrap_err();
        assert_eq!(failure.code, *code, "{failure:?}");
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
}
