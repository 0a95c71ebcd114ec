//! The transports: gRPC, gRPC-Web, Connect unary and REST on one router, plus reflection,
//! health and the HTTP probes. All of them reach `grpc::UserServiceApi`.

mod body_deadline;
pub mod client_address;
pub mod codec;
mod connect;
pub mod convert;
mod field_values;
pub mod grpc;
mod http;
pub mod json;
pub mod listener;
pub mod public_calls;
pub mod public_limit;
mod rest;
pub mod schema;
pub mod status;
pub mod ui;

use std::sync::Arc;
use std::time::Duration;

use ::http::{HeaderName, Method, header};
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tonic_web::GrpcWebLayer;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::Error;
use crate::pb;
use crate::pb::zitadel::user::v2::user_service_server::UserServiceServer;
use crate::service::Services;

use grpc::UserServiceApi;

/// Settings of the transports.
#[derive(Clone, Debug)]
pub struct ApiSettings {
    /// The largest request message or body accepted, in bytes.
    pub max_request_bytes: usize,
    /// Time a request's whole body has to arrive, counted from its head.
    pub body_read_timeout: Duration,
    /// The rate of public calls (without a token) per client address.
    pub public_limits: public_limit::PublicLimitSettings,
    /// The proxies whose forwarding headers name the client.
    pub trusted_proxies: client_address::TrustedProxies,
}

/// What REST and Connect handlers share.
#[derive(Clone)]
pub struct HttpState {
    api: UserServiceApi,
    services: Arc<Services>,
    max_request_bytes: usize,
}

/// The router serving every protocol, and the health reporter to flip on shutdown.
pub struct Api {
    pub router: Router,
    pub health: tonic_health::server::HealthReporter,
}

/// Builds the one router for every protocol.
pub async fn build(services: Arc<Services>, settings: &ApiSettings) -> Result<Api, String> {
    let public_calls = Arc::new(public_calls::PublicCalls::new(
        settings.public_limits,
        settings.trusted_proxies.clone(),
    ));
    let api = UserServiceApi::new(services.clone(), public_calls);
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<UserServiceServer<UserServiceApi>>()
        .await;
    // Reflection describes every file of the descriptor set but lists only the services this
    // router serves: the set also holds zitadel.session.v2.SessionService, not served yet.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
            .with_service_name(schema::SERVICE_NAME)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1.ServerReflection")
            .with_service_name("grpc.reflection.v1alpha.ServerReflection")
    };
    let reflection_v1 = reflection()
        .build_v1()
        .map_err(|error| format!("cannot build reflection v1: {error}"))?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(|error| format!("cannot build reflection v1alpha: {error}"))?;
    let max_request_bytes = settings.max_request_bytes;
    let body_read_timeout = settings.body_read_timeout;
    let user_service =
        UserServiceServer::new(api.clone()).max_decoding_message_size(settings.max_request_bytes);
    let grpc = tonic::service::Routes::new(user_service)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .prepare()
        .into_axum_router()
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            grpc_status_details(request, next, max_request_bytes)
        }))
        // gRPC-Web wraps the gRPC routes only: on REST it would answer 400 to plain HTTP/1.
        .layer(GrpcWebLayer::new());
    let state = HttpState {
        api,
        services,
        max_request_bytes: settings.max_request_bytes,
    };
    let connect = connect::router(state.clone());
    let probes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(state.clone());
    let router = Router::new()
        .merge(grpc)
        .merge(rest::router(state))
        .merge(ui::router())
        .merge(probes)
        .fallback(not_found)
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let connect = connect.clone();
            async move {
                // Connect and gRPC share paths; the content type tells them apart.
                if connect::connect_format(&request).is_some() {
                    connect.oneshot(request).await.into_response()
                } else {
                    next.run(request).await
                }
            }
        }))
        .layer(middleware::from_fn(grpc_deadline))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            body_deadline::body_deadline(body_read_timeout, request, next)
        }))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(cors());
    Ok(Api { router, health })
}

/// The `grpc-timeout` header as a duration: up to 8 digits and a unit (`H M S m u n`).
fn grpc_timeout(headers: &::http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (amount, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if amount.is_empty() || amount.len() > 8 || !amount.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = amount.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// Adds the error detail to gRPC statuses that tonic answers by itself (a message over the
/// size limit, for one): they come trailers-only, with the status in the headers.
async fn grpc_status_details(request: Request, next: Next, max_request_bytes: usize) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if headers.contains_key("grpc-status-details-bin") {
        return response;
    }
    let Some(raised) = tonic::Status::from_header_map(headers) else {
        return response;
    };
    if raised.code() == tonic::Code::Ok {
        return response;
    }
    headers.remove("grpc-status");
    headers.remove("grpc-message");
    if let Err(error) = status::with_error_detail(&raised, max_request_bytes).add_header(headers) {
        tracing::warn!(%error, "cannot encode a gRPC status into headers");
    }
    response
}

/// The error answer a request's protocol expects, chosen by its content type and path.
fn error_answer_for(request: &Request) -> impl FnOnce(&tonic::Status) -> Response + use<> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or_else(|| ::http::HeaderValue::from_static(""));
    let is_connect = connect::connect_format(request).is_some();
    move |error: &tonic::Status| {
        let media_type = content_type.to_str().unwrap_or_default();
        if media_type.starts_with("application/grpc-web") {
            // Trailers-only gRPC-Web: the status in headers, under the request's content type.
            let mut response = status::grpc_error(error);
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type.clone());
            response
        } else if media_type.starts_with("application/grpc") {
            status::grpc_error(error)
        } else if is_connect {
            status::connect_error(error)
        } else {
            status::rest_error(error)
        }
    }
}

/// Ends a call whose `grpc-timeout` expires with DeadlineExceeded and the error detail, in the
/// shape of the request's protocol (grpc-gateway style REST clients send the header too).
/// passlink serves with its own listener, not tonic's server, so this is the one place the
/// header is enforced.
async fn grpc_deadline(request: Request, next: Next) -> Response {
    let Some(timeout) = grpc_timeout(request.headers()) else {
        return next.run(request).await;
    };
    let answer_error = error_answer_for(&request);
    let expired = || {
        status::to_status(&Error::deadline_exceeded(
            "API-Dl4gt",
            "the deadline given by grpc-timeout expired",
        ))
    };
    // A deadline that has passed on arrival fails at once; a zero timer would still let a
    // fast handler finish (and change state) before the timer's first tick.
    if timeout.is_zero() {
        return answer_error(&expired());
    }
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => answer_error(&expired()),
    }
}

fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers(
            [
                "authorization",
                "content-type",
                "x-grpc-web",
                "x-user-agent",
                "grpc-timeout",
                "connect-protocol-version",
                "connect-timeout-ms",
                "x-zitadel-orgid",
            ]
            .map(HeaderName::from_static),
        )
        .expose_headers(
            [
                "grpc-status",
                "grpc-message",
                "grpc-status-details-bin",
                "retry-after",
            ]
            .map(HeaderName::from_static),
        )
        .max_age(Duration::from_secs(3600))
}

async fn ready(State(state): State<HttpState>) -> Response {
    match state.services.store().ping().await {
        Ok(()) => "ready".into_response(),
        Err(error) => status::rest_error(&status::to_status(&error)),
    }
}

/// Whether a request is gRPC or gRPC-Web, by its content type.
fn is_grpc(headers: &::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"))
}

/// Unknown paths: Unimplemented for gRPC and gRPC-Web clients (in their framing), a REST
/// NotFound for everyone else.
async fn not_found(request: Request) -> Response {
    let error = if is_grpc(request.headers()) {
        Error::unimplemented(
            "API-Gu1nk",
            format!("unknown method {}", request.uri().path()),
        )
    } else {
        Error::not_found("API-Nf4rt", "Not Found")
    };
    error_answer_for(&request)(&status::to_status(&error))
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    status::rest_error(&status::to_status(&Error::internal(
        "API-Pn5cs",
        format!("request panicked: {}", status::panic_reason(panic.as_ref())),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(value: &str) -> Option<Duration> {
        let mut headers = ::http::HeaderMap::new();
        headers.insert("grpc-timeout", value.parse().unwrap());
        grpc_timeout(&headers)
    }

    #[test]
    fn grpc_timeout_reads_every_unit_and_refuses_malformed_values() {
        assert_eq!(parsed("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parsed("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parsed("4S"), Some(Duration::from_secs(4)));
        assert_eq!(parsed("5m"), Some(Duration::from_millis(5)));
        assert_eq!(parsed("6u"), Some(Duration::from_micros(6)));
        assert_eq!(parsed("0n"), Some(Duration::ZERO));
        for malformed in ["", "m", "123456789m", "5x", "-5m", "5 m"] {
            assert_eq!(parsed(malformed), None, "{malformed:?}");
        }
    }
}
