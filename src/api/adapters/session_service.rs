//! The adapters of `zitadel.session.v2.SessionService` (SESSIONS.md). Sessions may be signed
//! in from a browser without a bearer token (§11.7): CreateSession and SetSession without an
//! Authorization header are public calls (counted against the client's budget) whose shape
//! the use case checks, and GetSession and DeleteSession may be authorized by the session's
//! own token instead of a bearer token.

use crate::api::context::CallContext;
use crate::api::convert::SessionReference;
use crate::error::Result;
use crate::pb::zitadel::session::v2 as session_pb;
use crate::service::Services;

/// Creates a session.
pub async fn create_session(
    services: &Services,
    call: &CallContext,
    request: session_pb::CreateSessionRequest,
) -> Result<session_pb::CreateSessionResponse> {
    let caller = call.public_caller(services).await?;
    let written = services
        .create_session(caller.as_ref(), request.try_into()?)
        .await?;
    Ok(written.into())
}

/// Changes a session: checks, challenges, metadata, lifetime.
pub async fn set_session(
    services: &Services,
    call: &CallContext,
    request: session_pb::SetSessionRequest,
) -> Result<session_pb::SetSessionResponse> {
    let caller = call.public_caller(services).await?;
    let written = services
        .set_session(caller.as_ref(), request.try_into()?)
        .await?;
    Ok(written.into())
}

/// Reads a session, with its token or as a caller who may see it.
pub async fn get_session(
    services: &Services,
    call: &CallContext,
    request: session_pb::GetSessionRequest,
) -> Result<session_pb::GetSessionResponse> {
    let caller = call.public_caller(services).await?;
    let SessionReference {
        session_id,
        session_token,
    } = request.try_into()?;
    let view = services
        .get_session(caller.as_ref(), &session_id, session_token.as_deref())
        .await?;
    Ok(view.into())
}

/// Lists the sessions the caller may see.
pub async fn list_sessions(
    services: &Services,
    call: &CallContext,
    request: session_pb::ListSessionsRequest,
) -> Result<session_pb::ListSessionsResponse> {
    let caller = call.caller(services).await?;
    let list = services.list_sessions(&caller, request.try_into()?).await?;
    Ok(list.into())
}

/// Terminates a session, with its token or as a caller who may.
pub async fn delete_session(
    services: &Services,
    call: &CallContext,
    request: session_pb::DeleteSessionRequest,
) -> Result<session_pb::DeleteSessionResponse> {
    let caller = call.public_caller(services).await?;
    let SessionReference {
        session_id,
        session_token,
    } = request.try_into()?;
    let details = services
        .delete_session(caller.as_ref(), &session_id, session_token.as_deref())
        .await?;
    Ok(details.into())
}
