//! Connect unary: `POST /zitadel.user.v2.UserService/<Method>` with `application/json` or
//! `application/proto`, answered by the same handler as gRPC.

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderValue, header};

use crate::error::Error;

use super::http::{Format, RequestMessage, call_method, metadata, read_body};
use super::{HttpState, json, schema, status};

/// The format of a Connect unary request, or `None` when the request is not one (gRPC and
/// gRPC-Web share its path and are told apart by content type).
pub fn connect_format(request: &Request) -> Option<Format> {
    if !request
        .uri()
        .path()
        .strip_prefix('/')
        .is_some_and(|path| path.starts_with(schema::SERVICE_NAME))
    {
        return None;
    }
    let content_type = request.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    match media_type.to_ascii_lowercase().as_str() {
        "application/json" => Some(Format::Json),
        "application/proto" => Some(Format::Proto),
        _ => None,
    }
}

/// The Connect routes.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route(
            &format!("/{}/{{method}}", schema::SERVICE_NAME),
            post(handle),
        )
        .with_state(state)
}

fn timeout_of(request: &Request) -> Option<Duration> {
    let milliseconds: u64 = request
        .headers()
        .get("connect-timeout-ms")?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    Some(Duration::from_millis(milliseconds))
}

async fn handle(State(state): State<HttpState>, request: Request) -> Response {
    // The method is the last path segment; read from the URI because this router runs
    // nested inside the outer one, whose matched route already holds path parameters.
    let method = request
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let Some(format) = connect_format(&request) else {
        return status::connect_error(&status::to_status(&Error::invalid_argument(
            "CONNECT-Ct1ty",
            "content type must be application/json or application/proto",
        )));
    };
    let timeout = timeout_of(&request);
    let call = async {
        let (parts, body) = request.into_parts();
        let metadata = metadata(&parts.headers);
        let body = read_body(body, state.max_request_bytes).await?;
        let message = match format {
            Format::Json => RequestMessage::Json(serde_json::Value::Object(
                json::parse_json_object(&body).map_err(|error| status::to_status(&error))?,
            )),
            Format::Proto => RequestMessage::Proto(body),
        };
        call_method(
            &state.api,
            &method,
            metadata,
            parts.extensions,
            message,
            format,
        )
        .await
    };
    let expired = || {
        Err(status::to_status(&Error::deadline_exceeded(
            "CONNECT-Dl3tm",
            "the deadline given by connect-timeout-ms expired",
        )))
    };
    let answer = match timeout {
        // A deadline that has passed on arrival fails at once, before anything changes.
        Some(timeout) if timeout.is_zero() => expired(),
        Some(timeout) => tokio::time::timeout(timeout, call)
            .await
            .unwrap_or_else(|_| expired()),
        None => call.await,
    };
    match answer {
        Ok(body) => {
            let mut response = body.into_response();
            let content_type = match format {
                Format::Json => "application/json",
                Format::Proto => "application/proto",
            };
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            response
        }
        Err(error) => status::connect_error(&error),
    }
}
