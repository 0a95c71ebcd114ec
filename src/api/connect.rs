//! Connect unary: `POST /<service>/<Method>` with `application/json` or `application/proto`,
//! answered by the same adapter as gRPC through the RPC table. Connect and gRPC share their
//! paths, so Connect calls are taken aside before routing, by `Protocol::of`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};

use crate::error::Error;

use super::body::read_body;
use super::context::CallContext;
use super::protocol::{Format, Protocol};
use super::rpc::RequestMessage;
use super::{HttpState, errors, json};

/// Answers Connect calls; passes every other request on.
pub(super) async fn dispatch(
    State(state): State<HttpState>,
    request: Request,
    next: Next,
) -> Response {
    match Protocol::of(&request) {
        Protocol::Connect(format) => serve(&state, format, request).await,
        _ => next.run(request).await,
    }
}

async fn serve(state: &HttpState, format: Format, request: Request) -> Response {
    if request.method() != Method::POST {
        let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let path = request.uri().path();
    let Some(rpc) = state.rpcs.by_path(path).cloned() else {
        let (service, method) = path[1..].split_once('/').unwrap_or_default();
        return errors::connect_error(&Error::unimplemented(
            "API-Um8th",
            format!("method {method} does not exist in {service}"),
        ));
    };
    let (parts, body) = request.into_parts();
    let call = CallContext::new(&parts.headers, &parts.extensions, &state.public_calls);
    let answer = async {
        let message = message(format, body, state.max_request_bytes).await?;
        rpc.invoke(state.services.clone(), call, message, format)
            .await
    }
    .await;
    match answer {
        Ok(body) => {
            let mut response = body.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.connect_content_type()),
            );
            response
        }
        Err(error) => errors::connect_error(&error),
    }
}

async fn message(
    format: Format,
    body: Body,
    max_request_bytes: usize,
) -> crate::error::Result<RequestMessage> {
    let body = read_body(body, max_request_bytes).await?;
    Ok(match format {
        Format::Json => {
            RequestMessage::Json(serde_json::Value::Object(json::parse_json_object(&body)?))
        }
        Format::Proto => RequestMessage::Proto(body),
    })
}
