//! The handler every protocol reaches: `zitadel.user.v2.UserService` as a tonic service. It
//! authenticates, converts, calls the use case and turns errors (and panics) into statuses.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::domain::permission::Caller;
use crate::error::{Error, Result};
use crate::pb::zitadel::user::v2 as user_pb;
use crate::service::Services;

use super::public_calls::PublicCalls;
use super::{convert, status};

/// The user service over passlink's use cases.
#[derive(Clone)]
pub struct UserServiceApi {
    services: Arc<Services>,
    public_calls: Arc<PublicCalls>,
}

/// The bearer token of a request; `Some("")` for an Authorization header of another scheme,
/// which then fails as an invalid token.
fn bearer_token(metadata: &MetadataMap) -> Option<&str> {
    let value = metadata.get("authorization")?.to_str().unwrap_or_default();
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .unwrap_or_default();
    Some(token)
}

fn org_hint(metadata: &MetadataMap) -> Option<String> {
    metadata
        .get("x-zitadel-orgid")
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

impl UserServiceApi {
    /// Wraps the use cases; `public_calls` limits the calls made without a token.
    pub fn new(services: Arc<Services>, public_calls: Arc<PublicCalls>) -> UserServiceApi {
        UserServiceApi {
            services,
            public_calls,
        }
    }

    async fn authenticate(&self, metadata: &MetadataMap) -> Result<Caller> {
        self.services
            .authenticate(bearer_token(metadata), org_hint(metadata))
            .await
    }

    /// Authenticates when an Authorization header is present; `None` without one. For the
    /// calls a registration code (or a code-started registration) authorizes.
    async fn authenticate_if_present(&self, metadata: &MetadataMap) -> Result<Option<Caller>> {
        if metadata.get("authorization").is_none() {
            return Ok(None);
        }
        self.authenticate(metadata).await.map(Some)
    }

    /// Runs one call: errors become statuses, and a panic becomes Internal instead of taking
    /// the connection down.
    async fn run<T>(&self, call: impl Future<Output = Result<T>>) -> Result<Response<T>, Status> {
        run_call(call).await
    }
}

async fn run_call<T>(call: impl Future<Output = Result<T>>) -> Result<Response<T>, Status> {
    match AssertUnwindSafe(call).catch_unwind().await {
        Ok(Ok(answer)) => Ok(Response::new(answer)),
        Ok(Err(error)) => Err(status::to_status(&error)),
        Err(panic) => Err(status::to_status(&Error::internal(
            "API-Pn4cx",
            format!("handler panicked: {}", status::panic_reason(panic.as_ref())),
        ))),
    }
}

#[tonic::async_trait]
impl user_pb::user_service_server::UserService for UserServiceApi {
    async fn add_human_user(
        &self,
        request: Request<user_pb::AddHumanUserRequest>,
    ) -> Result<Response<user_pb::AddHumanUserResponse>, Status> {
        self.run(async {
            let caller = self.authenticate(request.metadata()).await?;
            let request = convert::add_human_user(request.into_inner())?;
            let added = self.services.add_human_user(&caller, request).await?;
            Ok(user_pb::AddHumanUserResponse {
                user_id: added.user_id,
                details: Some(convert::details(&added.details)),
                email_code: added.email_code.map(|code| code.expose().to_owned()),
                phone_code: added.phone_code.map(|code| code.expose().to_owned()),
            })
        })
        .await
    }

    async fn get_user_by_id(
        &self,
        request: Request<user_pb::GetUserByIdRequest>,
    ) -> Result<Response<user_pb::GetUserByIdResponse>, Status> {
        self.run(async {
            let caller = self.authenticate(request.metadata()).await?;
            let user_id = convert::get_user_by_id(request.into_inner())?;
            let user = self.services.get_user_by_id(&caller, &user_id).await?;
            let (details, user) = convert::user(&user);
            Ok(user_pb::GetUserByIdResponse {
                details: Some(details),
                user: Some(user),
            })
        })
        .await
    }

    async fn delete_user(
        &self,
        request: Request<user_pb::DeleteUserRequest>,
    ) -> Result<Response<user_pb::DeleteUserResponse>, Status> {
        self.run(async {
            let caller = self.authenticate(request.metadata()).await?;
            let user_id = convert::delete_user(request.into_inner())?;
            let details = self.services.delete_user(&caller, &user_id).await?;
            Ok(user_pb::DeleteUserResponse {
                details: Some(convert::details(&details)),
            })
        })
        .await
    }

    async fn register_passkey(
        &self,
        request: Request<user_pb::RegisterPasskeyRequest>,
    ) -> Result<Response<user_pb::RegisterPasskeyResponse>, Status> {
        // With a code this call is public: without a token it counts against the client's
        // budget, before any work.
        if request.get_ref().code.is_some() {
            self.public_calls.admit(&request)?;
        }
        self.run(async {
            let caller = self.authenticate_if_present(request.metadata()).await?;
            if caller.is_none() && request.get_ref().code.is_none() {
                // Without a code this call needs a token, and authentication comes first.
                self.authenticate(request.metadata()).await?;
            }
            let request = convert::register_passkey(request.into_inner())?;
            let started = self
                .services
                .register_passkey(caller.as_ref(), request)
                .await?;
            Ok(user_pb::RegisterPasskeyResponse {
                details: Some(convert::details(&started.details)),
                passkey_id: started.passkey_id,
                public_key_credential_creation_options: Some(convert::json_to_struct(
                    started.options,
                )),
            })
        })
        .await
    }

    async fn verify_passkey_registration(
        &self,
        request: Request<user_pb::VerifyPasskeyRegistrationRequest>,
    ) -> Result<Response<user_pb::VerifyPasskeyRegistrationResponse>, Status> {
        // Public: a code-started registration is finished without a token.
        self.public_calls.admit(&request)?;
        self.run(async {
            let caller = self.authenticate_if_present(request.metadata()).await?;
            let request = convert::verify_passkey_registration(request.into_inner())?;
            let details = self
                .services
                .verify_passkey_registration(caller.as_ref(), request)
                .await?;
            Ok(user_pb::VerifyPasskeyRegistrationResponse {
                details: Some(convert::details(&details)),
            })
        })
        .await
    }

    async fn create_passkey_registration_link(
        &self,
        request: Request<user_pb::CreatePasskeyRegistrationLinkRequest>,
    ) -> Result<Response<user_pb::CreatePasskeyRegistrationLinkResponse>, Status> {
        self.run(async {
            let caller = self.authenticate(request.metadata()).await?;
            let (user_id, medium) =
                convert::create_passkey_registration_link(request.into_inner())?;
            let (details, code) = self
                .services
                .create_passkey_registration_link(&caller, &user_id, medium)
                .await?;
            Ok(user_pb::CreatePasskeyRegistrationLinkResponse {
                details: Some(convert::details(&details)),
                code: code.map(|code| user_pb::PasskeyRegistrationCode {
                    id: code.id,
                    code: code.code.expose().to_owned(),
                }),
            })
        })
        .await
    }

    async fn list_passkeys(
        &self,
        request: Request<user_pb::ListPasskeysRequest>,
    ) -> Result<Response<user_pb::ListPasskeysResponse>, Status> {
        self.run(async {
            let caller = self.authenticate(request.metadata()).await?;
            let user_id = convert::list_passkeys(request.into_inner())?;
            let list = self.services.list_passkeys(&caller, &user_id).await?;
            Ok(convert::passkey_list(list))
        })
        .await
    }

    async fn remove_passkey(
        &self,
        request: Request<user_pb::RemovePasskeyRequest>,
    ) -> Result<Response<user_pb::RemovePasskeyResponse>, Status> {
        self.run(async {
            let caller = self.authenticate(request.metadata()).await?;
            let (user_id, passkey_id) = convert::remove_passkey(request.into_inner())?;
            let details = self
                .services
                .remove_passkey(&caller, &user_id, &passkey_id)
                .await?;
            Ok(user_pb::RemovePasskeyResponse {
                details: Some(convert::details(&details)),
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_internal_with_an_error_detail() {
        let status = run_call::<()>(async { panic!("boom") }).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), "An internal error occurred (API-Pn4cx)");
        assert!(
            !status.details().is_empty(),
            "the status carries the ErrorDetail"
        );
        // The panic's text stays in the log, never in the answer.
        assert!(!status.message().contains("boom"));
    }
}
