//! Passkeys on the wire: registration links, registering and verifying a passkey, listing and
//! removing passkeys.

use crate::domain::secret::Secret;
use crate::domain::webauthn::AuthenticatorAttachment;
use crate::error::{Error, Result};
use crate::pb::zitadel::object::v2 as object_pb;
use crate::pb::zitadel::user::v2 as user_pb;
use crate::service::{
    ChangeDetails, IssuedCode, LinkMedium, PasskeyList, PresentedCode, RegisterPasskey,
    StartedPasskeyRegistration, VerifyPasskeyRegistration,
};

use super::common::{UserId, UserPasskey, Validator, details_response, user_id_request};
use super::structs::{json_to_struct, struct_to_json};

/// A validated CreatePasskeyRegistrationLinkRequest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRegistrationLink {
    /// The user the code is for.
    pub user_id: String,
    /// How the code reaches the user.
    pub medium: LinkMedium,
}

impl TryFrom<user_pb::CreatePasskeyRegistrationLinkRequest> for NewRegistrationLink {
    type Error = Error;

    fn try_from(request: user_pb::CreatePasskeyRegistrationLinkRequest) -> Result<Self> {
        use user_pb::create_passkey_registration_link_request::Medium;
        let validator = Validator::new("USERv2-Cpl4v", "CreatePasskeyRegistrationLinkRequest");
        let UserId(user_id) = validator.user_id(request.user_id)?;
        let medium = match request.medium {
            Some(Medium::ReturnCode(_)) => LinkMedium::ReturnCode,
            Some(Medium::SendLink(send_link)) => {
                if let Some(url_template) = &send_link.url_template {
                    let inner = validator.inner("SendPasskeyRegistrationLink");
                    validator
                        .nested("SendLink", inner.runes("UrlTemplate", url_template, 1, 200))?;
                }
                LinkMedium::SendLink {
                    url_template: send_link.url_template,
                }
            }
            None => LinkMedium::SendLink { url_template: None },
        };
        Ok(NewRegistrationLink { user_id, medium })
    }
}

impl From<(ChangeDetails, Option<IssuedCode>)> for user_pb::CreatePasskeyRegistrationLinkResponse {
    fn from((details, code): (ChangeDetails, Option<IssuedCode>)) -> Self {
        user_pb::CreatePasskeyRegistrationLinkResponse {
            details: Some((&details).into()),
            code: code.map(|code| user_pb::PasskeyRegistrationCode {
                id: code.id,
                code: code.code.expose().to_owned(),
            }),
        }
    }
}

impl TryFrom<user_pb::RegisterPasskeyRequest> for RegisterPasskey {
    type Error = Error;

    fn try_from(request: user_pb::RegisterPasskeyRequest) -> Result<Self> {
        let validator = Validator::new("USERv2-Rpk6v", "RegisterPasskeyRequest");
        let UserId(user_id) = validator.user_id(request.user_id)?;
        let code = match request.code {
            Some(code) => {
                let inner = validator.inner("PasskeyRegistrationCode");
                validator.nested(
                    "Code",
                    inner
                        .runes("Id", &code.id, 1, 200)
                        .and_then(|()| inner.runes("Code", &code.code, 1, 200)),
                )?;
                Some(PresentedCode {
                    id: code.id,
                    code: Secret::new(code.code),
                })
            }
            None => None,
        };
        let authenticator = match user_pb::PasskeyAuthenticator::try_from(request.authenticator) {
            Ok(user_pb::PasskeyAuthenticator::Unspecified) => None,
            Ok(user_pb::PasskeyAuthenticator::Platform) => Some(AuthenticatorAttachment::Platform),
            Ok(user_pb::PasskeyAuthenticator::CrossPlatform) => {
                Some(AuthenticatorAttachment::CrossPlatform)
            }
            Err(_) => {
                return Err(validator.violation(
                    "Authenticator",
                    "value must be one of the defined enum values",
                ));
            }
        };
        Ok(RegisterPasskey {
            user_id,
            code,
            authenticator,
            domain: (!request.domain.trim().is_empty()).then_some(request.domain),
        })
    }
}

impl From<StartedPasskeyRegistration> for user_pb::RegisterPasskeyResponse {
    fn from(started: StartedPasskeyRegistration) -> Self {
        user_pb::RegisterPasskeyResponse {
            details: Some((&started.details).into()),
            passkey_id: started.passkey_id,
            public_key_credential_creation_options: Some(json_to_struct(started.options)),
        }
    }
}

impl TryFrom<user_pb::VerifyPasskeyRegistrationRequest> for VerifyPasskeyRegistration {
    type Error = Error;

    fn try_from(request: user_pb::VerifyPasskeyRegistrationRequest) -> Result<Self> {
        let validator = Validator::new("USERv2-Vpr7v", "VerifyPasskeyRegistrationRequest");
        validator.runes("UserId", &request.user_id, 1, 200)?;
        validator.runes("PasskeyId", &request.passkey_id, 1, 200)?;
        let credential =
            validator.required("PublicKeyCredential", &request.public_key_credential)?;
        let credential = struct_to_json(credential.clone());
        validator.runes("PasskeyName", &request.passkey_name, 1, 200)?;
        Ok(VerifyPasskeyRegistration {
            user_id: request.user_id,
            passkey_id: request.passkey_id,
            credential,
            passkey_name: request.passkey_name,
        })
    }
}

user_id_request! {
    user_pb::ListPasskeysRequest => ("USERv2-Lpk8v", "ListPasskeysRequest"),
}

details_response!(
    user_pb::VerifyPasskeyRegistrationResponse,
    user_pb::RemovePasskeyResponse,
);

impl From<PasskeyList> for user_pb::ListPasskeysResponse {
    fn from(list: PasskeyList) -> Self {
        user_pb::ListPasskeysResponse {
            details: Some(object_pb::ListDetails {
                total_result: list.passkeys.len() as u64,
                processed_sequence: list.processed_sequence,
                timestamp: Some(list.timestamp.into()),
            }),
            result: list
                .passkeys
                .into_iter()
                .map(|passkey| user_pb::Passkey {
                    id: passkey.id,
                    state: user_pb::AuthFactorState::Ready as i32,
                    name: passkey.name,
                })
                .collect(),
        }
    }
}

impl TryFrom<user_pb::RemovePasskeyRequest> for UserPasskey {
    type Error = Error;

    fn try_from(request: user_pb::RemovePasskeyRequest) -> Result<UserPasskey> {
        let validator = Validator::new("USERv2-Rmp9v", "RemovePasskeyRequest");
        let UserId(user_id) = validator.user_id(request.user_id)?;
        validator.runes("PasskeyId", &request.passkey_id, 1, 200)?;
        Ok(UserPasskey {
            user_id,
            passkey_id: request.passkey_id,
        })
    }
}
