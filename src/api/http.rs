//! What REST and Connect share: reading a bounded body, and calling a user service method by
//! name with a JSON or binary message on the same handler gRPC reaches.

use std::future::Future;

use axum::body::Body;
use bytes::Bytes;
use http::{Extensions, HeaderMap};
use prost::{Message, Name};
use prost_reflect::MessageDescriptor;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::pb::zitadel::user::v2::user_service_server::UserService;

use super::grpc::UserServiceApi;
use super::{codec, json, schema, status};

/// How a message travels in an HTTP body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Proto,
}

/// A request message as it arrived.
pub enum RequestMessage {
    Json(serde_json::Value),
    Proto(Bytes),
}

/// Reads a whole body, refusing one larger than `limit` bytes. A body that failed with a
/// status (its deadline passed, say) gives that status.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, Status> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let error = error.into_inner();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
        while let Some(current) = cause {
            if let Some(status) = current.downcast_ref::<Status>() {
                return status.clone();
            }
            cause = current.source();
        }
        status::to_status(&Error::resource_exhausted(
            "API-Bd5lg",
            format!("the request body is larger than the limit of {limit} bytes"),
        ))
    })
}

/// The request metadata tonic would see for these HTTP headers.
pub fn metadata(headers: &HeaderMap) -> MetadataMap {
    MetadataMap::from_headers(headers.clone())
}

async fn invoke<Req, Resp, Call, Answer>(
    api: UserServiceApi,
    (metadata, extensions): (MetadataMap, Extensions),
    message: RequestMessage,
    (input, output): (MessageDescriptor, MessageDescriptor),
    format: Format,
    call: Call,
) -> Result<Vec<u8>, Status>
where
    Req: Message + Default + Name,
    Resp: Message,
    Call: FnOnce(UserServiceApi, Request<Req>) -> Answer,
    Answer: Future<Output = Result<Response<Resp>, Status>>,
{
    let message: Req = match message {
        RequestMessage::Json(value) => json::from_json_value(input, value),
        RequestMessage::Proto(bytes) => codec::decode_message(bytes),
    }
    .map_err(|error| status::to_status(&error))?;
    // The extensions carry the connection's `TcpConnectInfo`, as for a gRPC request.
    let request = Request::from_parts(metadata, extensions, message);
    let answer = call(api, request).await?.into_inner();
    match format {
        Format::Json => json::to_json(output, &answer).map_err(|error| status::to_status(&error)),
        Format::Proto => Ok(answer.encode_to_vec()),
    }
}

/// Calls the user service method `method` (e.g. `CreatePasskeyRegistrationLink`) and returns
/// its answer encoded in `format`. `extensions` are the HTTP request's (the server puts the
/// connection's `TcpConnectInfo` there), handed on to the handler like tonic does for gRPC.
pub async fn call_method(
    api: &UserServiceApi,
    method: &str,
    metadata: MetadataMap,
    extensions: Extensions,
    message: RequestMessage,
    format: Format,
) -> Result<Vec<u8>, Status> {
    let Some(descriptors) = schema::method_messages(method) else {
        return Err(status::to_status(&Error::unimplemented(
            "API-Um8th",
            format!("method {method} does not exist in {}", schema::SERVICE_NAME),
        )));
    };
    let api = api.clone();
    macro_rules! dispatch {
        ($($name:literal => $handler:ident),* $(,)?) => {
            match method {
                $($name => invoke(api, (metadata, extensions), message, descriptors, format, |api, request| async move {
                    api.$handler(request).await
                }).await,)*
                _ => Err(status::to_status(&Error::unimplemented(
                    "API-Um9th",
                    format!("method {method} is not served"),
                ))),
            }
        };
    }
    dispatch! {
        "AddHumanUser" => add_human_user,
        "GetUserByID" => get_user_by_id,
        "DeleteUser" => delete_user,
        "RegisterPasskey" => register_passkey,
        "VerifyPasskeyRegistration" => verify_passkey_registration,
        "CreatePasskeyRegistrationLink" => create_passkey_registration_link,
        "ListPasskeys" => list_passkeys,
        "RemovePasskey" => remove_passkey,
    }
}
