//! Conversions between wire messages and the use cases' types, with the field validation the
//! contract asks for (messages in protoc-gen-validate's words, so clients see ZITADEL's texts).

use crate::domain::secret::Secret;
use crate::domain::time::Timestamp;
use crate::domain::user::{Profile, User, UserKind};
use crate::domain::webauthn::AuthenticatorAttachment;
use crate::error::{Error, Result};
use crate::pb::zitadel::object::v2 as object_pb;
use crate::pb::zitadel::user::v2 as user_pb;
use crate::service::{
    AddHumanUser, ChangeDetails, EmailInput, LinkMedium, OrgSelector, PasskeyList, PhoneInput,
    PresentedCode, RegisterPasskey, Verification, VerifyPasskeyRegistration,
};

/// Validates fields of one request message, naming violations as protoc-gen-validate does.
struct Validator {
    id: &'static str,
    message: &'static str,
}

impl Validator {
    fn violation(&self, field: &str, rule: impl std::fmt::Display) -> Error {
        Error::invalid_argument(self.id, format!("invalid {}.{field}: {rule}", self.message))
    }

    fn runes(&self, field: &str, value: &str, min: usize, max: usize) -> Result<()> {
        let count = value.chars().count();
        if count < min || count > max {
            return Err(if min == 0 {
                self.violation(
                    field,
                    format_args!("value length must be at most {max} runes"),
                )
            } else {
                self.violation(
                    field,
                    format_args!("value length must be between {min} and {max} runes, inclusive"),
                )
            });
        }
        Ok(())
    }

    /// Refuses control characters (line breaks, tabs, NUL, …): names end up in email headers
    /// and greetings, where they would break the message or smuggle in a header.
    fn printable(&self, field: &str, value: &str) -> Result<()> {
        if value.chars().any(char::is_control) {
            return Err(self.violation(field, "value must not contain control characters"));
        }
        Ok(())
    }

    /// `runes` and `printable` together.
    fn printable_runes(&self, field: &str, value: &str, min: usize, max: usize) -> Result<()> {
        self.runes(field, value, min, max)?;
        self.printable(field, value)
    }

    fn bytes(&self, field: &str, value: &[u8], min: usize, max: usize) -> Result<()> {
        if value.len() < min || value.len() > max {
            return Err(self.violation(
                field,
                format_args!("value length must be between {min} and {max} bytes, inclusive"),
            ));
        }
        Ok(())
    }

    fn required<'a, T>(&self, field: &str, value: &'a Option<T>) -> Result<&'a T> {
        value
            .as_ref()
            .ok_or_else(|| self.violation(field, "value is required"))
    }

    /// Wraps a nested message's violation as protoc-gen-validate does.
    fn nested(&self, field: &str, inner: Result<()>) -> Result<()> {
        inner.map_err(|error| {
            self.violation(
                field,
                format_args!(
                    "embedded message failed validation | caused by: {}",
                    error.text()
                ),
            )
        })
    }

    fn unsupported(&self, field: &str, hint: &str) -> Error {
        Error::invalid_argument(
            self.id,
            format!(
                "{}.{field} is not supported by passlink: {hint}",
                self.message
            ),
        )
    }
}

/// A timestamp on the wire.
pub fn timestamp(at: Timestamp) -> prost_types::Timestamp {
    let (seconds, nanos) = at.seconds_and_nanos();
    prost_types::Timestamp { seconds, nanos }
}

/// `zitadel.object.v2.Details` for a change.
pub fn details(details: &ChangeDetails) -> object_pb::Details {
    object_pb::Details {
        sequence: details.sequence,
        change_date: Some(timestamp(details.change_date)),
        resource_owner: details.resource_owner.clone(),
        creation_date: details.creation_date.map(timestamp),
    }
}

/// Validates a CreatePasskeyRegistrationLinkRequest.
pub fn create_passkey_registration_link(
    request: user_pb::CreatePasskeyRegistrationLinkRequest,
) -> Result<(String, LinkMedium)> {
    use user_pb::create_passkey_registration_link_request::Medium;
    let validator = Validator {
        id: "USERv2-Cpl4v",
        message: "CreatePasskeyRegistrationLinkRequest",
    };
    validator.runes("UserId", &request.user_id, 1, 200)?;
    let medium = match request.medium {
        Some(Medium::ReturnCode(_)) => LinkMedium::ReturnCode,
        Some(Medium::SendLink(send_link)) => {
            if let Some(url_template) = &send_link.url_template {
                let inner = Validator {
                    id: validator.id,
                    message: "SendPasskeyRegistrationLink",
                };
                validator.nested("SendLink", inner.runes("UrlTemplate", url_template, 1, 200))?;
            }
            LinkMedium::SendLink {
                url_template: send_link.url_template,
            }
        }
        None => LinkMedium::SendLink { url_template: None },
    };
    Ok((request.user_id, medium))
}

/// Validates a GetUserByIDRequest and returns the user id.
pub fn get_user_by_id(request: user_pb::GetUserByIdRequest) -> Result<String> {
    let validator = Validator {
        id: "USERv2-Gui2v",
        message: "GetUserByIDRequest",
    };
    validator.runes("UserId", &request.user_id, 1, 200)?;
    Ok(request.user_id)
}

/// Validates a DeleteUserRequest and returns the user id.
pub fn delete_user(request: user_pb::DeleteUserRequest) -> Result<String> {
    let validator = Validator {
        id: "USERv2-Dlu3v",
        message: "DeleteUserRequest",
    };
    validator.runes("UserId", &request.user_id, 1, 200)?;
    Ok(request.user_id)
}

fn email_verification(
    validator: &Validator,
    verification: Option<user_pb::set_human_email::Verification>,
) -> Result<Verification> {
    use user_pb::set_human_email::Verification as Wire;
    match verification {
        None | Some(Wire::IsVerified(false)) => Ok(Verification::Unverified),
        Some(Wire::IsVerified(true)) => Ok(Verification::Verified),
        Some(Wire::ReturnCode(_)) => Ok(Verification::ReturnCode),
        Some(Wire::SendCode(_)) => Err(validator.unsupported(
            "SendCode",
            "passlink sends no verification emails; use return_code or is_verified",
        )),
    }
}

fn phone_verification(
    validator: &Validator,
    verification: Option<user_pb::set_human_phone::Verification>,
) -> Result<Verification> {
    use user_pb::set_human_phone::Verification as Wire;
    match verification {
        None | Some(Wire::IsVerified(false)) => Ok(Verification::Unverified),
        Some(Wire::IsVerified(true)) => Ok(Verification::Verified),
        Some(Wire::ReturnCode(_)) => Ok(Verification::ReturnCode),
        Some(Wire::SendCode(_)) => Err(validator.unsupported(
            "SendCode",
            "passlink sends no text messages; use return_code or is_verified",
        )),
    }
}

/// Validates an AddHumanUserRequest, rejecting what passlink does not support by name.
pub fn add_human_user(request: user_pb::AddHumanUserRequest) -> Result<AddHumanUser> {
    use user_pb::add_human_user_request::PasswordType;
    let validator = Validator {
        id: "USERv2-Ahu5v",
        message: "AddHumanUserRequest",
    };
    if let Some(user_id) = &request.user_id {
        validator.printable_runes("UserId", user_id, 1, 200)?;
    }
    if let Some(username) = &request.username {
        validator.printable_runes("Username", username, 1, 200)?;
    }
    match &request.password_type {
        Some(PasswordType::Password(_)) => {
            return Err(
                validator.unsupported("Password", "passlink registers passkeys, not passwords")
            );
        }
        Some(PasswordType::HashedPassword(_)) => {
            return Err(validator.unsupported(
                "HashedPassword",
                "passlink registers passkeys, not passwords",
            ));
        }
        None => {}
    }
    if !request.idp_links.is_empty() {
        return Err(validator.unsupported("IdpLinks", "passlink has no identity providers"));
    }
    if request.totp_secret.is_some() {
        return Err(validator.unsupported("TotpSecret", "passlink registers passkeys, not TOTP"));
    }
    let profile = validator.required("Profile", &request.profile)?;
    let profile_validator = Validator {
        id: validator.id,
        message: "SetHumanProfile",
    };
    validator.nested(
        "Profile",
        (|| {
            profile_validator.printable_runes("GivenName", &profile.given_name, 1, 200)?;
            profile_validator.printable_runes("FamilyName", &profile.family_name, 1, 200)?;
            if let Some(nick_name) = &profile.nick_name {
                profile_validator.printable_runes("NickName", nick_name, 0, 200)?;
            }
            if let Some(display_name) = &profile.display_name {
                profile_validator.printable_runes("DisplayName", display_name, 0, 200)?;
            }
            if let Some(language) = &profile.preferred_language {
                profile_validator.printable_runes("PreferredLanguage", language, 0, 10)?;
            }
            Ok(())
        })(),
    )?;
    let email = validator.required("Email", &request.email)?;
    let email_validator = Validator {
        id: validator.id,
        message: "SetHumanEmail",
    };
    validator.nested(
        "Email",
        (|| {
            email_validator.printable_runes("Email", &email.email, 1, 200)?;
            if !email_address::EmailAddress::is_valid(&email.email) {
                return Err(
                    email_validator.violation("Email", "value must be a valid email address")
                );
            }
            Ok(())
        })(),
    )?;
    let email_input = EmailInput {
        address: email.email.clone(),
        verification: email_verification(&email_validator, email.verification.clone())?,
    };
    let phone_validator = Validator {
        id: validator.id,
        message: "SetHumanPhone",
    };
    let phone_input = match &request.phone {
        Some(phone) if !phone.phone.is_empty() => {
            validator.nested(
                "Phone",
                phone_validator.printable_runes("Phone", &phone.phone, 0, 200),
            )?;
            Some(PhoneInput {
                number: phone.phone.clone(),
                verification: phone_verification(&phone_validator, phone.verification)?,
            })
        }
        _ => None,
    };
    let metadata_validator = Validator {
        id: validator.id,
        message: "SetMetadataEntry",
    };
    let mut metadata = Vec::with_capacity(request.metadata.len());
    for entry in request.metadata {
        validator.nested(
            "Metadata",
            metadata_validator
                .runes("Key", &entry.key, 1, 200)
                .and_then(|()| metadata_validator.bytes("Value", &entry.value, 1, 500_000)),
        )?;
        if metadata.iter().any(|(key, _)| *key == entry.key) {
            return Err(validator.violation(
                "Metadata",
                format_args!("key {:?} appears twice", entry.key),
            ));
        }
        metadata.push((entry.key, entry.value));
    }
    let org = match request
        .organization
        .and_then(|organization| organization.org)
    {
        Some(object_pb::organization::Org::OrgId(org_id)) => OrgSelector::Id(org_id),
        Some(object_pb::organization::Org::OrgDomain(domain)) => OrgSelector::Domain(domain),
        None => OrgSelector::Unspecified,
    };
    let profile = request.profile.expect("checked above");
    Ok(AddHumanUser {
        user_id: request.user_id,
        username: request.username,
        org,
        profile: Profile {
            given_name: profile.given_name,
            family_name: profile.family_name,
            nick_name: profile.nick_name,
            display_name: profile.display_name,
            preferred_language: profile.preferred_language,
            gender: profile.gender,
        },
        email: email_input,
        phone: phone_input,
        metadata,
    })
}

/// A user as `zitadel.user.v2.User`, with its details.
pub fn user(user: &User) -> (object_pb::Details, user_pb::User) {
    let details = object_pb::Details {
        sequence: user.sequence,
        change_date: Some(timestamp(user.changed_at)),
        resource_owner: user.org_id.clone(),
        creation_date: Some(timestamp(user.created_at)),
    };
    let state = user.state as i32;
    let login_names = vec![user.username.clone()];
    let kind = match &user.kind {
        UserKind::Human {
            profile,
            email,
            phone,
        } => user_pb::user::Type::Human(user_pb::HumanUser {
            user_id: user.id.clone(),
            state,
            username: user.username.clone(),
            login_names: login_names.clone(),
            preferred_login_name: user.username.clone(),
            profile: Some(user_pb::HumanProfile {
                given_name: profile.given_name.clone(),
                family_name: profile.family_name.clone(),
                nick_name: profile.nick_name.clone(),
                display_name: profile.display_name.clone(),
                preferred_language: profile.preferred_language.clone(),
                gender: profile.gender,
                avatar_url: String::new(),
            }),
            email: Some(user_pb::HumanEmail {
                email: email.address.clone(),
                is_verified: email.is_verified,
            }),
            phone: Some(user_pb::HumanPhone {
                phone: phone
                    .as_ref()
                    .map(|phone| phone.number.clone())
                    .unwrap_or_default(),
                is_verified: phone.as_ref().is_some_and(|phone| phone.is_verified),
            }),
            password_change_required: false,
        }),
        UserKind::Machine { name, description } => {
            user_pb::user::Type::Machine(user_pb::MachineUser {
                name: name.clone(),
                description: description.clone(),
                has_secret: false,
                access_token_type: user_pb::AccessTokenType::Bearer as i32,
            })
        }
    };
    (
        details.clone(),
        user_pb::User {
            user_id: user.id.clone(),
            details: Some(details),
            state,
            username: user.username.clone(),
            login_names,
            preferred_login_name: user.username.clone(),
            r#type: Some(kind),
        },
    )
}

/// A `google.protobuf.Struct` as a JSON object.
pub fn struct_to_json(value: prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(
        value
            .fields
            .into_iter()
            .map(|(key, value)| (key, value_to_json(value)))
            .collect(),
    )
}

fn value_to_json(value: prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    match value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(flag)) => serde_json::Value::Bool(flag),
        Some(Kind::NumberValue(number)) => {
            // Whole numbers come back as integers (timeouts, COSE algorithm ids).
            if number.fract() == 0.0 && number.abs() < 9_007_199_254_740_992.0 {
                serde_json::Value::from(number as i64)
            } else {
                serde_json::Number::from_f64(number)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null)
            }
        }
        Some(Kind::StringValue(text)) => serde_json::Value::String(text),
        Some(Kind::ListValue(list)) => {
            serde_json::Value::Array(list.values.into_iter().map(value_to_json).collect())
        }
        Some(Kind::StructValue(object)) => struct_to_json(object),
    }
}

/// A JSON object as a `google.protobuf.Struct` (anything else becomes an empty one).
pub fn json_to_struct(value: serde_json::Value) -> prost_types::Struct {
    match json_to_value(value).kind {
        Some(prost_types::value::Kind::StructValue(object)) => object,
        _ => prost_types::Struct::default(),
    }
}

fn json_to_value(value: serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(flag) => Kind::BoolValue(flag),
        serde_json::Value::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(text) => Kind::StringValue(text),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(json_to_value).collect(),
        }),
        serde_json::Value::Object(fields) => Kind::StructValue(prost_types::Struct {
            fields: fields
                .into_iter()
                .map(|(key, value)| (key, json_to_value(value)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

/// Validates a RegisterPasskeyRequest.
pub fn register_passkey(request: user_pb::RegisterPasskeyRequest) -> Result<RegisterPasskey> {
    let validator = Validator {
        id: "USERv2-Rpk6v",
        message: "RegisterPasskeyRequest",
    };
    validator.runes("UserId", &request.user_id, 1, 200)?;
    let code = match request.code {
        Some(code) => {
            let inner = Validator {
                id: validator.id,
                message: "PasskeyRegistrationCode",
            };
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
        user_id: request.user_id,
        code,
        authenticator,
        domain: (!request.domain.trim().is_empty()).then_some(request.domain),
    })
}

/// Validates a VerifyPasskeyRegistrationRequest.
pub fn verify_passkey_registration(
    request: user_pb::VerifyPasskeyRegistrationRequest,
) -> Result<VerifyPasskeyRegistration> {
    let validator = Validator {
        id: "USERv2-Vpr7v",
        message: "VerifyPasskeyRegistrationRequest",
    };
    validator.runes("UserId", &request.user_id, 1, 200)?;
    validator.runes("PasskeyId", &request.passkey_id, 1, 200)?;
    let credential = validator.required("PublicKeyCredential", &request.public_key_credential)?;
    let credential = struct_to_json(credential.clone());
    validator.runes("PasskeyName", &request.passkey_name, 1, 200)?;
    Ok(VerifyPasskeyRegistration {
        user_id: request.user_id,
        passkey_id: request.passkey_id,
        credential,
        passkey_name: request.passkey_name,
    })
}

/// Validates a ListPasskeysRequest and returns the user id.
pub fn list_passkeys(request: user_pb::ListPasskeysRequest) -> Result<String> {
    let validator = Validator {
        id: "USERv2-Lpk8v",
        message: "ListPasskeysRequest",
    };
    validator.runes("UserId", &request.user_id, 1, 200)?;
    Ok(request.user_id)
}

/// Validates a RemovePasskeyRequest and returns the user and passkey ids.
pub fn remove_passkey(request: user_pb::RemovePasskeyRequest) -> Result<(String, String)> {
    let validator = Validator {
        id: "USERv2-Rmp9v",
        message: "RemovePasskeyRequest",
    };
    validator.runes("UserId", &request.user_id, 1, 200)?;
    validator.runes("PasskeyId", &request.passkey_id, 1, 200)?;
    Ok((request.user_id, request.passkey_id))
}

/// ListPasskeys' answer.
pub fn passkey_list(list: PasskeyList) -> user_pb::ListPasskeysResponse {
    user_pb::ListPasskeysResponse {
        details: Some(object_pb::ListDetails {
            total_result: list.passkeys.len() as u64,
            processed_sequence: list.processed_sequence,
            timestamp: Some(timestamp(list.timestamp)),
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
