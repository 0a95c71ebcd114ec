//! Users on the wire: AddHumanUser (rejecting what passlink does not support by name),
//! GetUserByID and DeleteUser.

use crate::domain::user::{Email, Phone, Profile, User, UserKind};
use crate::error::{Error, Result};
use crate::pb::zitadel::object::v2 as object_pb;
use crate::pb::zitadel::user::v2 as user_pb;
use crate::service::{
    AddHumanUser, AddedHumanUser, EmailInput, OrgSelector, PhoneInput, Verification,
};

use super::common::{Validator, details_response, user_id_request};

user_id_request! {
    user_pb::GetUserByIdRequest => ("USERv2-Gui2v", "GetUserByIDRequest"),
    user_pb::DeleteUserRequest => ("USERv2-Dlu3v", "DeleteUserRequest"),
}

details_response!(user_pb::DeleteUserResponse);

/// The verification asked for an email address or a phone number: their wire enums have the
/// same members.
macro_rules! verification {
    ($validator:expr, $verification:expr, $wire:ident, $hint:literal) => {{
        use user_pb::$wire::Verification as Wire;
        match $verification {
            None | Some(Wire::IsVerified(false)) => Ok(Verification::Unverified),
            Some(Wire::IsVerified(true)) => Ok(Verification::Verified),
            Some(Wire::ReturnCode(_)) => Ok(Verification::ReturnCode),
            Some(Wire::SendCode(_)) => Err($validator.unsupported("SendCode", $hint)),
        }
    }};
}

/// Refuses the fields of an AddHumanUserRequest that passlink does not support.
fn refuse_unsupported(validator: &Validator, request: &user_pb::AddHumanUserRequest) -> Result<()> {
    use user_pb::add_human_user_request::PasswordType;
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
    Ok(())
}

fn check_profile(validator: &Validator, profile: &user_pb::SetHumanProfile) -> Result<()> {
    let inner = validator.inner("SetHumanProfile");
    validator.nested(
        "Profile",
        (|| {
            inner.printable_runes("GivenName", &profile.given_name, 1, 200)?;
            inner.printable_runes("FamilyName", &profile.family_name, 1, 200)?;
            if let Some(nick_name) = &profile.nick_name {
                inner.printable_runes("NickName", nick_name, 0, 200)?;
            }
            if let Some(display_name) = &profile.display_name {
                inner.printable_runes("DisplayName", display_name, 0, 200)?;
            }
            if let Some(language) = &profile.preferred_language {
                inner.printable_runes("PreferredLanguage", language, 0, 10)?;
            }
            Ok(())
        })(),
    )
}

fn email_input(validator: &Validator, email: &user_pb::SetHumanEmail) -> Result<EmailInput> {
    let inner = validator.inner("SetHumanEmail");
    validator.nested(
        "Email",
        (|| {
            inner.printable_runes("Email", &email.email, 1, 200)?;
            if !email_address::EmailAddress::is_valid(&email.email) {
                return Err(inner.violation("Email", "value must be a valid email address"));
            }
            Ok(())
        })(),
    )?;
    Ok(EmailInput {
        address: email.email.clone(),
        verification: verification!(
            inner,
            email.verification.clone(),
            set_human_email,
            "passlink sends no verification emails; use return_code or is_verified"
        )?,
    })
}

fn phone_input(
    validator: &Validator,
    phone: Option<&user_pb::SetHumanPhone>,
) -> Result<Option<PhoneInput>> {
    let inner = validator.inner("SetHumanPhone");
    match phone {
        Some(phone) if !phone.phone.is_empty() => {
            validator.nested(
                "Phone",
                inner.printable_runes("Phone", &phone.phone, 0, 200),
            )?;
            Ok(Some(PhoneInput {
                number: phone.phone.clone(),
                verification: verification!(
                    inner,
                    phone.verification,
                    set_human_phone,
                    "passlink sends no text messages; use return_code or is_verified"
                )?,
            }))
        }
        _ => Ok(None),
    }
}

fn metadata(
    validator: &Validator,
    entries: Vec<user_pb::SetMetadataEntry>,
) -> Result<Vec<(String, Vec<u8>)>> {
    let inner = validator.inner("SetMetadataEntry");
    let mut metadata: Vec<(String, Vec<u8>)> = Vec::with_capacity(entries.len());
    for entry in entries {
        validator.nested(
            "Metadata",
            inner
                .runes("Key", &entry.key, 1, 200)
                .and_then(|()| inner.bytes("Value", &entry.value, 1, 500_000)),
        )?;
        if metadata.iter().any(|(key, _)| *key == entry.key) {
            return Err(validator.violation(
                "Metadata",
                format_args!("key {:?} appears twice", entry.key),
            ));
        }
        metadata.push((entry.key, entry.value));
    }
    Ok(metadata)
}

impl TryFrom<user_pb::AddHumanUserRequest> for AddHumanUser {
    type Error = Error;

    fn try_from(request: user_pb::AddHumanUserRequest) -> Result<AddHumanUser> {
        let validator = Validator::new("USERv2-Ahu5v", "AddHumanUserRequest");
        if let Some(user_id) = &request.user_id {
            validator.printable_runes("UserId", user_id, 1, 200)?;
        }
        if let Some(username) = &request.username {
            validator.printable_runes("Username", username, 1, 200)?;
        }
        refuse_unsupported(&validator, &request)?;
        let profile = validator.required("Profile", &request.profile)?;
        check_profile(&validator, profile)?;
        let email = email_input(&validator, validator.required("Email", &request.email)?)?;
        let phone = phone_input(&validator, request.phone.as_ref())?;
        let metadata = metadata(&validator, request.metadata)?;
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
            email,
            phone,
            metadata,
        })
    }
}

impl From<AddedHumanUser> for user_pb::AddHumanUserResponse {
    fn from(added: AddedHumanUser) -> Self {
        user_pb::AddHumanUserResponse {
            user_id: added.user_id,
            details: Some((&added.details).into()),
            email_code: added.email_code.map(|code| code.expose().to_owned()),
            phone_code: added.phone_code.map(|code| code.expose().to_owned()),
        }
    }
}

fn human(
    user: &User,
    profile: &Profile,
    email: &Email,
    phone: Option<&Phone>,
) -> user_pb::user::Type {
    user_pb::user::Type::Human(user_pb::HumanUser {
        user_id: user.id.clone(),
        state: user.state as i32,
        username: user.username.clone(),
        login_names: vec![user.username.clone()],
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
            phone: phone.map(|phone| phone.number.clone()).unwrap_or_default(),
            is_verified: phone.is_some_and(|phone| phone.is_verified),
        }),
        password_change_required: false,
    })
}

impl From<&User> for user_pb::GetUserByIdResponse {
    fn from(user: &User) -> Self {
        let details = object_pb::Details {
            sequence: user.sequence,
            change_date: Some(user.changed_at.into()),
            resource_owner: user.org_id.clone(),
            creation_date: Some(user.created_at.into()),
        };
        let kind = match &user.kind {
            UserKind::Human {
                profile,
                email,
                phone,
            } => human(user, profile, email, phone.as_ref()),
            UserKind::Machine { name, description } => {
                user_pb::user::Type::Machine(user_pb::MachineUser {
                    name: name.clone(),
                    description: description.clone(),
                    has_secret: false,
                    access_token_type: user_pb::AccessTokenType::Bearer as i32,
                })
            }
        };
        user_pb::GetUserByIdResponse {
            details: Some(details.clone()),
            user: Some(user_pb::User {
                user_id: user.id.clone(),
                details: Some(details),
                state: user.state as i32,
                username: user.username.clone(),
                login_names: vec![user.username.clone()],
                preferred_login_name: user.username.clone(),
                r#type: Some(kind),
            }),
        }
    }
}
