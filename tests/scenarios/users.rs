//! AddHumanUser, GetUserByID and DeleteUser: what is stored, what is refused by name, and who
//! may read or delete whom.

use passlink::domain::permission::Role;
use passlink::pb::zitadel::object::v2 as object_pb;
use passlink::pb::zitadel::user::v2 as user_pb;
use rstest::rstest;
use rstest_reuse::apply;
use tonic::Code;

use crate::common::failure::Failure;
use crate::common::protocols::Protocol;
use crate::common::requests::human;
use crate::common::wire::ApiClient;
use crate::common::{TestServer, unique_email};
use crate::every_protocol;

/// Sends an AddHumanUserRequest that must be refused, and returns the failure.
async fn add_refused(admin: &ApiClient, request: user_pb::AddHumanUserRequest) -> Failure {
    admin
        .add_human_user(request)
        .await
        .expect_err("AddHumanUser must be refused")
}

/// Sends each request, expecting InvalidArgument with its text, then `plain` with the same
/// address: that it succeeds shows that none of them stored the user.
async fn assert_each_refused_and_nothing_stored<Text: AsRef<str>>(
    admin: &ApiClient,
    cases: Vec<(Text, user_pb::AddHumanUserRequest)>,
    plain: user_pb::AddHumanUserRequest,
) {
    for (text, request) in cases {
        let text = text.as_ref();
        admin
            .add_human_user(request)
            .await
            .expect_err(text)
            .assert_error(Code::InvalidArgument, text);
    }
    admin
        .add_human_user(plain)
        .await
        .expect("the plain request succeeds afterwards");
}

#[apply(every_protocol)]
#[tokio::test]
async fn unsupported_add_human_user_fields_are_refused_by_name_and_nothing_is_stored(
    #[case] protocol: Protocol,
) {
    let server = TestServer::start().await;
    let admin = server.admin(protocol).await;
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
    assert_each_refused_and_nothing_stored(&admin, cases, base()).await;
}

#[apply(every_protocol)]
#[tokio::test]
async fn invalid_profiles_and_addresses_name_the_field_and_rule(#[case] protocol: Protocol) {
    let server = TestServer::start().await;
    let admin = server.admin(protocol).await;
    let mut no_given_name = human("", &unique_email("x"));
    no_given_name.profile.as_mut().unwrap().given_name.clear();
    add_refused(&admin, no_given_name).await
        .assert_error(
            Code::InvalidArgument,
            "invalid SetHumanProfile.GivenName: value length must be between 1 and 200 runes, inclusive",
        );
    add_refused(&admin, human("Bob", "not-an-address"))
        .await
        .assert_error(
            Code::InvalidArgument,
            "invalid SetHumanEmail.Email: value must be a valid email address",
        );
    let mut no_profile = human("Bob", &unique_email("bob"));
    no_profile.profile = None;
    add_refused(&admin, no_profile).await.assert_error(
        Code::InvalidArgument,
        "invalid AddHumanUserRequest.Profile: value is required",
    );
}

#[apply(every_protocol)]
#[tokio::test]
async fn control_characters_in_names_username_user_id_and_email_are_refused_by_field(
    #[case] protocol: Protocol,
) {
    let server = TestServer::start().await;
    let admin = server.admin(protocol).await;
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
    assert_each_refused_and_nothing_stored(&admin, cases, base()).await;
}

#[apply(every_protocol)]
#[tokio::test]
async fn a_taken_user_id_or_username_is_already_exists(#[case] protocol: Protocol) {
    let server = TestServer::start().await;
    let admin = server.admin(protocol).await;
    let mut first = human("Ada", &unique_email("ada"));
    first.user_id = Some("ada-1".into());
    first.username = Some("ada".into());
    let added = admin.add_human_user(first).await.unwrap();
    assert_eq!(added.user_id, "ada-1");
    let mut same_id = human("Ada", &unique_email("ada"));
    same_id.user_id = Some("ada-1".into());
    add_refused(&admin, same_id)
        .await
        .assert_error(Code::AlreadyExists, "User already exists");
    let mut same_username = human("Ada", &unique_email("ada"));
    same_username.username = Some("ada".into());
    add_refused(&admin, same_username)
        .await
        .assert_error(Code::AlreadyExists, "User already exists");
}

#[apply(every_protocol)]
#[tokio::test]
async fn email_return_code_answers_a_code_and_leaves_the_address_unverified(
    #[case] protocol: Protocol,
) {
    let server = TestServer::start().await;
    let admin = server.admin(protocol).await;
    let mut request = human("Ada", &unique_email("ada"));
    request.email.as_mut().unwrap().verification = Some(
        user_pb::set_human_email::Verification::ReturnCode(user_pb::ReturnEmailVerificationCode {}),
    );
    let added = admin.add_human_user(request).await.unwrap();
    assert_eq!(added.email_code.as_deref().map(str::len), Some(12));
    let user = admin.get_user_by_id(&added.user_id).await.unwrap();
    let Some(user_pb::user::Type::Human(human)) = user.user.unwrap().r#type else {
        panic!("a human user");
    };
    assert!(!human.email.unwrap().is_verified);
}

/// An `Organization` naming one by id.
fn org_with_id(org_id: &str) -> Option<object_pb::Organization> {
    Some(object_pb::Organization {
        org: Some(object_pb::organization::Org::OrgId(org_id.to_owned())),
    })
}

#[apply(every_protocol)]
#[tokio::test]
async fn the_org_comes_from_the_request_then_the_orgid_header_then_the_caller(
    #[case] protocol: Protocol,
) {
    let server = TestServer::start().await;
    let admin = server.admin(protocol).await;
    let default_org = server.default_org_id().await;
    let acme = server.create_org("Acme").await;
    // Named in the request.
    let mut in_acme = human("Ada", &unique_email("ada"));
    in_acme.organization = org_with_id(&acme);
    let added = admin.add_human_user(in_acme).await.unwrap();
    assert_eq!(added.details.unwrap().resource_owner, acme);
    // By domain.
    let mut by_domain = human("Bea", &unique_email("bea"));
    by_domain.organization = Some(object_pb::Organization {
        org: Some(object_pb::organization::Org::OrgDomain(
            "acme.localhost".into(),
        )),
    });
    let added = admin.add_human_user(by_domain).await.unwrap();
    assert_eq!(added.details.unwrap().resource_owner, acme);
    // The x-zitadel-orgid header (gRPC metadata over gRPC).
    let added = admin
        .with_header("x-zitadel-orgid", &acme)
        .add_human_user(human("Cy", &unique_email("cy")))
        .await
        .unwrap();
    assert_eq!(added.details.unwrap().resource_owner, acme);
    // Else the caller's own organization.
    let added = admin
        .add_human_user(human("Di", &unique_email("di")))
        .await
        .unwrap();
    assert_eq!(added.details.unwrap().resource_owner, default_org);
    // An ORG_OWNER of Acme may not add users to the default organization.
    let (_, acme_owner) = server
        .machine_user_with_role(&acme, Some(Role::OrgOwner))
        .await;
    let mut elsewhere = human("Ed", &unique_email("ed"));
    elsewhere.organization = org_with_id(&default_org);
    add_refused(&admin.with_token(&acme_owner), elsewhere)
        .await
        .assert_error(Code::PermissionDenied, "Permission denied");
    // An organization that does not exist.
    let mut nowhere = human("Flo", &unique_email("flo"));
    nowhere.organization = org_with_id("404");
    add_refused(&admin, nowhere)
        .await
        .assert_error(Code::NotFound, "Organization could not be found");
}

#[apply(every_protocol)]
#[tokio::test]
async fn a_user_reads_and_deletes_itself_but_not_others_and_deleted_users_are_gone(
    #[case] protocol: Protocol,
) {
    let server = TestServer::start().await;
    let admin = server.admin(protocol).await;
    let org = server.default_org_id().await;
    let (machine_id, machine_token) = server.machine_user_with_role(&org, None).await;
    let other = admin
        .add_human_user(human("Other", &unique_email("other")))
        .await
        .unwrap()
        .user_id;
    let client = admin.with_token(&machine_token);
    let itself = client.get_user_by_id(&machine_id).await.unwrap();
    assert_eq!(itself.user.unwrap().user_id, machine_id);
    client
        .get_user_by_id(&other)
        .await
        .unwrap_err()
        .assert_error(Code::PermissionDenied, "Permission denied");
    let deleted = admin.delete_user(&other).await.unwrap();
    assert_eq!(deleted.details.unwrap().sequence, 2);
    admin
        .get_user_by_id(&other)
        .await
        .unwrap_err()
        .assert_error(Code::NotFound, "User could not be found");
    admin
        .delete_user(&other)
        .await
        .unwrap_err()
        .assert_error(Code::NotFound, "User could not be found");
    // A machine user deleting itself loses its token with it.
    client.delete_user(&machine_id).await.unwrap();
    client
        .get_user_by_id(&machine_id)
        .await
        .unwrap_err()
        .assert_error(Code::Unauthenticated, "Token is invalid");
}
