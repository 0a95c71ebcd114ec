//! The one set of request builders: every test writes the user service's requests with these
//! (over `ApiClient` on any protocol, with the tonic client, or as raw bytes), so a request
//! reads the same in every file.

use passlink::api::convert::json_to_struct;
use passlink::pb::zitadel::user::v2 as user_pb;
use serde_json::Value;

use user_pb::create_passkey_registration_link_request::Medium;

/// An AddHumanUserRequest for a person with a verified address.
pub fn human(given_name: &str, email: &str) -> user_pb::AddHumanUserRequest {
    user_pb::AddHumanUserRequest {
        profile: Some(user_pb::SetHumanProfile {
            given_name: given_name.into(),
            family_name: "Tester".into(),
            ..Default::default()
        }),
        email: Some(user_pb::SetHumanEmail {
            email: email.into(),
            verification: Some(user_pb::set_human_email::Verification::IsVerified(true)),
        }),
        ..Default::default()
    }
}

/// An AddHumanUserRequest with a user id of its own, to look the user up afterwards.
pub fn human_with_id(given_name: &str, email: &str, user_id: &str) -> user_pb::AddHumanUserRequest {
    user_pb::AddHumanUserRequest {
        user_id: Some(user_id.to_owned()),
        ..human(given_name, email)
    }
}

/// A CreatePasskeyRegistrationLinkRequest with `return_code`.
pub fn return_code(user_id: &str) -> user_pb::CreatePasskeyRegistrationLinkRequest {
    user_pb::CreatePasskeyRegistrationLinkRequest {
        user_id: user_id.into(),
        medium: Some(Medium::ReturnCode(
            user_pb::ReturnPasskeyRegistrationCode {},
        )),
    }
}

/// A CreatePasskeyRegistrationLinkRequest with `send_link` and an optional template.
pub fn send_link(
    user_id: &str,
    url_template: Option<&str>,
) -> user_pb::CreatePasskeyRegistrationLinkRequest {
    user_pb::CreatePasskeyRegistrationLinkRequest {
        user_id: user_id.into(),
        medium: Some(Medium::SendLink(user_pb::SendPasskeyRegistrationLink {
            url_template: url_template.map(str::to_owned),
        })),
    }
}

/// A CreatePasskeyRegistrationLinkRequest without a medium (which sends the default link).
pub fn no_medium(user_id: &str) -> user_pb::CreatePasskeyRegistrationLinkRequest {
    user_pb::CreatePasskeyRegistrationLinkRequest {
        user_id: user_id.into(),
        medium: None,
    }
}

/// A RegisterPasskeyRequest redeeming `code` for a user (a public call: no token needed).
pub fn register_with_code(
    user_id: &str,
    code: &user_pb::PasskeyRegistrationCode,
) -> user_pb::RegisterPasskeyRequest {
    user_pb::RegisterPasskeyRequest {
        user_id: user_id.into(),
        code: Some(code.clone()),
        ..Default::default()
    }
}

/// A RegisterPasskeyRequest without a code: the caller's token must allow it.
pub fn register_without_code(user_id: &str) -> user_pb::RegisterPasskeyRequest {
    user_pb::RegisterPasskeyRequest {
        user_id: user_id.into(),
        ..Default::default()
    }
}

/// The code with its secret replaced by a wrong one of the right length.
pub fn wrong_code(code: &user_pb::PasskeyRegistrationCode) -> user_pb::PasskeyRegistrationCode {
    user_pb::PasskeyRegistrationCode {
        code: "wrongwrong12".into(),
        ..code.clone()
    }
}

/// A VerifyPasskeyRegistrationRequest finishing `passkey_id` with `credential` (the browser's
/// `PublicKeyCredential.toJSON()`).
pub fn verify_request(
    user_id: &str,
    passkey_id: &str,
    credential: &Value,
    name: &str,
) -> user_pb::VerifyPasskeyRegistrationRequest {
    user_pb::VerifyPasskeyRegistrationRequest {
        user_id: user_id.into(),
        passkey_id: passkey_id.into(),
        public_key_credential: Some(json_to_struct(credential.clone())),
        passkey_name: name.into(),
    }
}
