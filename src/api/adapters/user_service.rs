//! The adapters of `zitadel.user.v2.UserService`. Authentication comes before validation
//! (CONTRACT.md §5); RegisterPasskey with a code and VerifyPasskeyRegistration are public.

use crate::api::context::CallContext;
use crate::api::convert::{NewRegistrationLink, UserId, UserPasskey};
use crate::error::Result;
use crate::pb::zitadel::user::v2 as user_pb;
use crate::service::Services;

/// Creates a human user.
pub async fn add_human_user(
    services: &Services,
    call: &CallContext,
    request: user_pb::AddHumanUserRequest,
) -> Result<user_pb::AddHumanUserResponse> {
    let caller = call.caller(services).await?;
    let added = services
        .add_human_user(&caller, request.try_into()?)
        .await?;
    Ok(added.into())
}

/// Reads a user.
pub async fn get_user_by_id(
    services: &Services,
    call: &CallContext,
    request: user_pb::GetUserByIdRequest,
) -> Result<user_pb::GetUserByIdResponse> {
    let caller = call.caller(services).await?;
    let UserId(user_id) = request.try_into()?;
    let user = services.get_user_by_id(&caller, &user_id).await?;
    Ok((&user).into())
}

/// Deletes a user.
pub async fn delete_user(
    services: &Services,
    call: &CallContext,
    request: user_pb::DeleteUserRequest,
) -> Result<user_pb::DeleteUserResponse> {
    let caller = call.caller(services).await?;
    let UserId(user_id) = request.try_into()?;
    Ok(services.delete_user(&caller, &user_id).await?.into())
}

/// Starts a passkey registration. With a registration code the call is public: the code
/// authorizes it, and without a token it counts against the client's budget.
pub async fn register_passkey(
    services: &Services,
    call: &CallContext,
    request: user_pb::RegisterPasskeyRequest,
) -> Result<user_pb::RegisterPasskeyResponse> {
    let caller = match request.code {
        Some(_) => call.public_caller(services).await?,
        None => Some(call.caller(services).await?),
    };
    let started = services
        .register_passkey(caller.as_ref(), request.try_into()?)
        .await?;
    Ok(started.into())
}

/// Finishes a passkey registration. Public: a code-started registration is finished without
/// a token (the signed challenge proves the caller holds what RegisterPasskey returned).
pub async fn verify_passkey_registration(
    services: &Services,
    call: &CallContext,
    request: user_pb::VerifyPasskeyRegistrationRequest,
) -> Result<user_pb::VerifyPasskeyRegistrationResponse> {
    let caller = call.public_caller(services).await?;
    let details = services
        .verify_passkey_registration(caller.as_ref(), request.try_into()?)
        .await?;
    Ok(details.into())
}

/// Issues a registration code and returns it or sends a link to it.
pub async fn create_passkey_registration_link(
    services: &Services,
    call: &CallContext,
    request: user_pb::CreatePasskeyRegistrationLinkRequest,
) -> Result<user_pb::CreatePasskeyRegistrationLinkResponse> {
    let caller = call.caller(services).await?;
    let NewRegistrationLink { user_id, medium } = request.try_into()?;
    let created = services
        .create_passkey_registration_link(&caller, &user_id, medium)
        .await?;
    Ok(created.into())
}

/// Lists a user's passkeys.
pub async fn list_passkeys(
    services: &Services,
    call: &CallContext,
    request: user_pb::ListPasskeysRequest,
) -> Result<user_pb::ListPasskeysResponse> {
    let caller = call.caller(services).await?;
    let UserId(user_id) = request.try_into()?;
    Ok(services.list_passkeys(&caller, &user_id).await?.into())
}

/// Removes a passkey.
pub async fn remove_passkey(
    services: &Services,
    call: &CallContext,
    request: user_pb::RemovePasskeyRequest,
) -> Result<user_pb::RemovePasskeyResponse> {
    let caller = call.caller(services).await?;
    let UserPasskey {
        user_id,
        passkey_id,
    } = request.try_into()?;
    let details = services
        .remove_passkey(&caller, &user_id, &passkey_id)
        .await?;
    Ok(details.into())
}
