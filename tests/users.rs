//! AddHumanUser, GetUserByID and DeleteUser: what is stored, what is refused by name, and who
//! may read or delete whom.

mod common;

use common::wire::Protocol;
use common::{TestServer, human, unique_email};
use passlink::domain::permission::Role;
use passlink::pb::zitadel::object::v2 as object_pb;
use passlink::pb::zitadel::user::v2 as user_pb;
use tonic::Code;

async fn add(
    server: &TestServer,
    token: &str,
    request: &user_pb::AddHumanUserRequest,
) -> Result<user_pb::AddHumanUserResponse, common::wire::Failure> {
    server
        .client(Protocol::Rest)
        .await
        .with_token(token)
        .call("AddHumanUser", request)
        .await
}

#[tokio::test]
async fn unsupported_add_human_user_fields_are_refused_by_name_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let email = unique_email("Ada");
    let base = || human("Ada", &email);
    let cases: Vec<(&str, user_pb::AddHumanUserRequest)> = vec![
        ("Password", {
            let mut request = base();
            request.password_type = Some(user_pb::add_human_user_request::PasswordType::Password(
                user_pb::Password {
                    password: "Secr3t!".into(),
                    change_required: false,
                },
            ));
            request
        }),
        ("HashedPassword", {
            let mut request = base();
            request.password_type = Some(
                user_pb::add_human_user_request::PasswordType::HashedPassword(
                    user_pb::HashedPassword {
                        hash: "$2a$10$abc".into(),
                        change_required: false,
                    },
                ),
            );
            request
        }),
        ("IdpLinks", {
            let mut request = base();
            request.idp_links = vec![user_pb::IdpLink {
                idp_id: "1".into(),
                user_id: "2".into(),
                user_name: "ada".into(),
            }];
            request
        }),
        ("TotpSecret", {
            let mut request = base();
            request.totp_secret = Some("JBSWY3DPEHPK3PXP".into());
            request
        }),
        ("SendCode", {
            let mut request = base();
            request.email.as_mut().unwrap().verification =
                Some(user_pb::set_human_email::Verification::SendCode(
                    user_pb::SendEmailVerificationCode { url_template: None },
                ));
            request
        }),
    ];
    for (field, request) in cases {
        add(&server, &server.admin_token, &request)
            .await
            .expect_err(field)
            .assert_error(Code::InvalidArgument, field);
    }
    // None of them stored the user: the same address is still free.
    add(&server, &server.admin_token, &base())
        .await
        .expect("the plain request succeeds afterwards");
    server.stop().await;
}

#[tokio::test]
async fn invalid_profiles_and_addresses_name_the_field_and_rule() {
    let server = TestServer::start().await;
    let mut no_given_name = human("", &unique_email("x"));
    no_given_name.profile.as_mut().unwrap().given_name.clear();
    add(&server, &server.admin_token, &no_given_name)
        .await
        .unwrap_err()
        .assert_error(
            Code::InvalidArgument,
            "invalid SetHumanProfile.GivenName: value length must be between 1 and 200 runes, inclusive",
        );
    add(
        &server,
        &server.admin_token,
        &human("Bob", "not-an-address"),
    )
    .await
    .unwrap_err()
    .assert_error(
        Code::InvalidArgument,
        "invalid SetHumanEmail.Email: value must be a valid email address",
    );
    let mut no_profile = human("Bob", &unique_email("bob"));
    no_profile.profile = None;
    add(&server, &server.admin_token, &no_profile)
        .await
        .unwrap_err()
        .assert_error(
            Code::InvalidArgument,
            "invalid AddHumanUserRequest.Profile: value is required",
        );
    server.stop().await;
}

#[tokio::test]
async fn control_characters_in_names_username_user_id_and_email_are_refused_by_field() {
    let server = TestServer::start().await;
    let email = unique_email("Ada");
    let base = || human("Ada", &email);
    let profile = |edit: fn(&mut user_pb::SetHumanProfile)| {
        let mut request = base();
        edit(request.profile.as_mut().unwrap());
        request
    };
    let rule = "value must not contain control characters";
    let cases: Vec<(String, user_pb::AddHumanUserRequest)> = vec![
        (
            format!("invalid SetHumanProfile.GivenName: {rule}"),
            profile(|profile| profile.given_name = "Ada\nBcc: eve@example.com".into()),
        ),
        (
            format!("invalid SetHumanProfile.FamilyName: {rule}"),
            profile(|profile| profile.family_name = "Love\rlace".into()),
        ),
        (
            format!("invalid SetHumanProfile.NickName: {rule}"),
            profile(|profile| profile.nick_name = Some("Ada\u{1b}[31m".into())),
        ),
        (
            format!("invalid SetHumanProfile.DisplayName: {rule}"),
            profile(|profile| profile.display_name = Some("Ada\r\nLovelace".into())),
        ),
        (
            format!("invalid SetHumanProfile.PreferredLanguage: {rule}"),
            profile(|profile| profile.preferred_language = Some("en\n".into())),
        ),
        (format!("invalid AddHumanUserRequest.Username: {rule}"), {
            let mut request = base();
            request.username = Some("ada\tlovelace".into());
            request
        }),
        (format!("invalid AddHumanUserRequest.UserId: {rule}"), {
            let mut request = base();
            request.user_id = Some("ada\n1".into());
            request
        }),
        ("invalid SetHumanEmail.Email: ".into(), {
            let mut request = base();
            request.email.as_mut().unwrap().email = "\"ada\nbcc\"@example.com".into();
            request
        }),
    ];
    for (text, request) in cases {
        add(&server, &server.admin_token, &request)
            .await
            .expect_err(&text)
            .assert_error(Code::InvalidArgument, &text);
    }
    // None of them stored the user: the same address is still free.
    add(&server, &server.admin_token, &base())
        .await
        .expect("the plain request succeeds afterwards");
    server.stop().await;
}

#[tokio::test]
async fn a_taken_user_id_or_username_is_already_exists() {
    let server = TestServer::start().await;
    let mut first = human("Ada", &unique_email("ada"));
    first.user_id = Some("ada-1".into());
    first.username = Some("ada".into());
    let added = add(&server, &server.admin_token, &first).await.unwrap();
    assert_eq!(added.user_id, "ada-1");
    let mut same_id = human("Ada", &unique_email("ada"));
    same_id.user_id = Some("ada-1".into());
    add(&server, &server.admin_token, &same_id)
        .await
        .unwrap_err()
        .assert_error(Code::AlreadyExists, "User already exists");
    let mut same_username = human("Ada", &unique_email("ada"));
    same_username.username = Some("ada".into());
    add(&server, &server.admin_token, &same_username)
        .await
        .unwrap_err()
        .assert_error(Code::AlreadyExists, "User already exists");
    server.stop().await;
}

#[tokio::test]
async fn email_return_code_answers_a_code_and_leaves_the_address_unverified() {
    let server = TestServer::start().await;
    let mut request = human("Ada", &unique_email("ada"));
    request.email.as_mut().unwrap().verification = Some(
        user_pb::set_human_email::Verification::ReturnCode(user_pb::ReturnEmailVerificationCode {}),
    );
    let added = add(&server, &server.admin_token, &request).await.unwrap();
    assert_eq!(added.email_code.as_deref().map(str::len), Some(12));
    let user: user_pb::GetUserByIdResponse = server
        .client(Protocol::Rest)
        .await
        .with_token(&server.admin_token)
        .call(
            "GetUserByID",
            &user_pb::GetUserByIdRequest {
                user_id: added.user_id,
            },
        )
        .await
        .unwrap();
    let Some(user_pb::user::Type::Human(human)) = user.user.unwrap().r#type else {
        panic!("a human user");
    };
    assert!(!human.email.unwrap().is_verified);
    server.stop().await;
}

#[tokio::test]
async fn the_org_comes_from_the_request_then_the_orgid_header_then_the_caller() {
    let server = TestServer::start().await;
    let default_org = server.default_org_id().await;
    let acme = server.create_org("Acme").await;
    // Named in the request.
    let mut in_acme = human("Ada", &unique_email("ada"));
    in_acme.organization = Some(object_pb::Organization {
        org: Some(object_pb::organization::Org::OrgId(acme.clone())),
    });
    let added = add(&server, &server.admin_token, &in_acme).await.unwrap();
    assert_eq!(added.details.unwrap().resource_owner, acme);
    // By domain.
    let mut by_domain = human("Bea", &unique_email("bea"));
    by_domain.organization = Some(object_pb::Organization {
        org: Some(object_pb::organization::Org::OrgDomain(
            "acme.localhost".into(),
        )),
    });
    let added = add(&server, &server.admin_token, &by_domain).await.unwrap();
    assert_eq!(added.details.unwrap().resource_owner, acme);
    // The x-zitadel-orgid header (over gRPC, where headers are metadata).
    let mut request = common::authorized(human("Cy", &unique_email("cy")), &server.admin_token);
    request
        .metadata_mut()
        .insert("x-zitadel-orgid", acme.parse().unwrap());
    let added = server
        .grpc_client()
        .await
        .add_human_user(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.details.unwrap().resource_owner, acme);
    // Else the caller's own organization.
    let added = add(
        &server,
        &server.admin_token,
        &human("Di", &unique_email("di")),
    )
    .await
    .unwrap();
    assert_eq!(added.details.unwrap().resource_owner, default_org);
    // An ORG_OWNER of Acme may not add users to the default organization.
    let (_, acme_owner) = server
        .machine_user_with_role(&acme, Some(Role::OrgOwner))
        .await;
    let mut elsewhere = human("Ed", &unique_email("ed"));
    elsewhere.organization = Some(object_pb::Organization {
        org: Some(object_pb::organization::Org::OrgId(default_org)),
    });
    add(&server, &acme_owner, &elsewhere)
        .await
        .unwrap_err()
        .assert_error(Code::PermissionDenied, "Permission denied");
    // An organization that does not exist.
    let mut nowhere = human("Flo", &unique_email("flo"));
    nowhere.organization = Some(object_pb::Organization {
        org: Some(object_pb::organization::Org::OrgId("404".into())),
    });
    add(&server, &server.admin_token, &nowhere)
        .await
        .unwrap_err()
        .assert_error(Code::NotFound, "Organization could not be found");
    server.stop().await;
}

#[tokio::test]
async fn a_user_reads_and_deletes_itself_but_not_others_and_deleted_users_are_gone() {
    let server = TestServer::start().await;
    let org = server.default_org_id().await;
    let (machine_id, machine_token) = server.machine_user_with_role(&org, None).await;
    let other = common::add_human(&server, &server.admin_token, "Other").await;
    let client = server
        .client(Protocol::Rest)
        .await
        .with_token(&machine_token);
    let get = |user_id: &str| user_pb::GetUserByIdRequest {
        user_id: user_id.into(),
    };
    let itself: user_pb::GetUserByIdResponse =
        client.call("GetUserByID", &get(&machine_id)).await.unwrap();
    assert_eq!(itself.user.unwrap().user_id, machine_id);
    client
        .call::<_, user_pb::GetUserByIdResponse>("GetUserByID", &get(&other))
        .await
        .unwrap_err()
        .assert_error(Code::PermissionDenied, "Permission denied");
    let admin = server
        .client(Protocol::Rest)
        .await
        .with_token(&server.admin_token);
    let deleted: user_pb::DeleteUserResponse = admin
        .call(
            "DeleteUser",
            &user_pb::DeleteUserRequest {
                user_id: other.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(deleted.details.unwrap().sequence, 2);
    admin
        .call::<_, user_pb::GetUserByIdResponse>("GetUserByID", &get(&other))
        .await
        .unwrap_err()
        .assert_error(Code::NotFound, "User could not be found");
    admin
        .call::<_, user_pb::DeleteUserResponse>(
            "DeleteUser",
            &user_pb::DeleteUserRequest { user_id: other },
        )
        .await
        .unwrap_err()
        .assert_error(Code::NotFound, "User could not be found");
    // A machine user deleting itself loses its token with it.
    let _: user_pb::DeleteUserResponse = client
        .call(
            "DeleteUser",
            &user_pb::DeleteUserRequest {
                user_id: machine_id.clone(),
            },
        )
        .await
        .unwrap();
    client
        .call::<_, user_pb::GetUserByIdResponse>("GetUserByID", &get(&machine_id))
        .await
        .unwrap_err()
        .assert_error(Code::Unauthenticated, "Token is invalid");
    server.stop().await;
}
