//! The valid requests the mutations start from, one or two per method of the user service,
//! about users that exist, so that requests with the admin's token reach deep into the server.

use passlink::pb::zitadel::object::v2 as object_pb;
use passlink::pb::zitadel::user::v2 as user_pb;
use prost::Message;

/// A valid request of a user service method: what the mutations start from.
pub struct Sample {
    pub method: &'static str,
    pub proto: Vec<u8>,
    pub json: serde_json::Value,
}

/// The valid requests, and what the requests need to reach deep into the server.
pub struct Corpus {
    pub samples: Vec<Sample>,
    /// Users the requests are about; only the last one is ever deleted.
    pub user_ids: Vec<String>,
    pub admin_token: String,
}

fn sample<M: Message>(method: &'static str, message: &M) -> Sample {
    let (input, _) = super::common::descriptors::method_descriptors(method);
    let proto = message.encode_to_vec();
    let dynamic = prost_reflect::DynamicMessage::decode(input, proto.as_slice()).unwrap();
    Sample {
        method,
        json: serde_json::to_value(&dynamic).unwrap(),
        proto,
    }
}

/// A credential shaped like a browser's PublicKeyCredential (its contents are made up).
pub fn credential_struct(levels: usize) -> prost_types::Struct {
    use prost_types::value::Kind;
    let text = |value: &str| prost_types::Value {
        kind: Some(Kind::StringValue(value.to_owned())),
    };
    let mut nested = prost_types::Struct {
        fields: [
            ("id".to_owned(), text("AAECAwQFBgcICQoLDA0ODw")),
            ("type".to_owned(), text("public-key")),
        ]
        .into(),
    };
    for _ in 1..levels {
        nested = prost_types::Struct {
            fields: [(
                "response".to_owned(),
                prost_types::Value {
                    kind: Some(Kind::StructValue(nested)),
                },
            )]
            .into(),
        };
    }
    nested
}

impl Corpus {
    /// Valid requests of every method, about the given users of the given organization (the
    /// last user is for deletion).
    pub fn new(user_ids: Vec<String>, org_id: String, admin_token: String) -> Corpus {
        use user_pb::create_passkey_registration_link_request::Medium;
        let user = user_ids[0].clone();
        let doomed = user_ids.last().unwrap().clone();
        let human = user_pb::AddHumanUserRequest {
            username: Some("fuzzy".into()),
            organization: Some(object_pb::Organization {
                org: Some(object_pb::organization::Org::OrgId(org_id)),
            }),
            profile: Some(user_pb::SetHumanProfile {
                given_name: "Fuzzy".into(),
                family_name: "Tester".into(),
                nick_name: Some("fz".into()),
                display_name: Some("Fuzzy Tester".into()),
                preferred_language: Some("en".into()),
                gender: Some(user_pb::Gender::Diverse as i32),
            }),
            email: Some(user_pb::SetHumanEmail {
                email: "fuzzy@example.com".into(),
                verification: Some(user_pb::set_human_email::Verification::ReturnCode(
                    user_pb::ReturnEmailVerificationCode {},
                )),
            }),
            phone: Some(user_pb::SetHumanPhone {
                phone: "+41791234567".into(),
                verification: Some(user_pb::set_human_phone::Verification::IsVerified(true)),
            }),
            metadata: vec![user_pb::SetMetadataEntry {
                key: "team".into(),
                value: b"blue".to_vec(),
            }],
            ..Default::default()
        };
        let samples = vec![
            sample("AddHumanUser", &human),
            sample(
                "GetUserByID",
                &user_pb::GetUserByIdRequest {
                    user_id: user.clone(),
                },
            ),
            sample(
                "DeleteUser",
                &user_pb::DeleteUserRequest { user_id: doomed },
            ),
            sample(
                "CreatePasskeyRegistrationLink",
                &user_pb::CreatePasskeyRegistrationLinkRequest {
                    user_id: user.clone(),
                    medium: Some(Medium::ReturnCode(
                        user_pb::ReturnPasskeyRegistrationCode {},
                    )),
                },
            ),
            sample(
                "CreatePasskeyRegistrationLink",
                &user_pb::CreatePasskeyRegistrationLinkRequest {
                    user_id: user.clone(),
                    medium: Some(Medium::SendLink(user_pb::SendPasskeyRegistrationLink {
                        url_template: Some("https://example.com/r?c={{.Code}}".into()),
                    })),
                },
            ),
            sample(
                "RegisterPasskey",
                &user_pb::RegisterPasskeyRequest {
                    user_id: user.clone(),
                    code: Some(user_pb::PasskeyRegistrationCode {
                        id: "1".into(),
                        code: "abcdefghijkl".into(),
                    }),
                    authenticator: user_pb::PasskeyAuthenticator::Platform as i32,
                    domain: "localhost".into(),
                },
            ),
            sample(
                "VerifyPasskeyRegistration",
                &user_pb::VerifyPasskeyRegistrationRequest {
                    user_id: user.clone(),
                    passkey_id: "42".into(),
                    public_key_credential: Some(credential_struct(3)),
                    passkey_name: "fuzz key".into(),
                },
            ),
            sample(
                "ListPasskeys",
                &user_pb::ListPasskeysRequest {
                    user_id: user.clone(),
                },
            ),
            sample(
                "RemovePasskey",
                &user_pb::RemovePasskeyRequest {
                    user_id: user,
                    passkey_id: "42".into(),
                },
            ),
        ];
        Corpus {
            samples,
            user_ids,
            admin_token,
        }
    }
}
