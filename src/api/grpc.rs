//! gRPC, and through tonic-web gRPC-Web: `GrpcApi` implements tonic's trait of every served
//! service (build.rs writes the impls, in `served.rs`), each method handing its request to the
//! RPC's adapter through `unary`. Beside them: health, reflection (listing the served services
//! only), and the error detail for statuses tonic raises by itself.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use tonic_health::server::HealthReporter;
use tonic_web::GrpcWebLayer;

use crate::pb;
use crate::service::Services;

use super::context::CallContext;
use super::errors;
use super::public_calls::PublicCalls;
use super::rpc::Rpc;
use super::served::{self, SERVED_SERVICES};

/// The served services as tonic services.
#[derive(Clone)]
pub struct GrpcApi {
    services: Arc<Services>,
    public_calls: Arc<PublicCalls>,
}

impl GrpcApi {
    /// The served services over `services`; `public_calls` gates the calls made without a token.
    pub fn new(services: Arc<Services>, public_calls: Arc<PublicCalls>) -> GrpcApi {
        GrpcApi {
            services,
            public_calls,
        }
    }

    /// Answers a unary call of `R` with its adapter.
    pub async fn unary<R: Rpc>(
        &self,
        request: tonic::Request<R::Request>,
    ) -> Result<tonic::Response<R::Response>, tonic::Status> {
        let (metadata, extensions, message) = request.into_parts();
        let call = CallContext::new(metadata.as_ref(), &extensions, &self.public_calls);
        R::call(&self.services, &call, message)
            .await
            .map(tonic::Response::new)
            .map_err(|error| errors::grpc_status(&error))
    }
}

/// Reports every served service as serving.
pub async fn set_serving(health: &HealthReporter) {
    for service in SERVED_SERVICES {
        health
            .set_service_status(*service, tonic_health::ServingStatus::Serving)
            .await;
    }
}

/// Reports every served service as not serving (at shutdown).
pub async fn set_not_serving(health: &HealthReporter) {
    for service in SERVED_SERVICES {
        health
            .set_service_status(*service, tonic_health::ServingStatus::NotServing)
            .await;
    }
}

/// The gRPC and gRPC-Web routes: the served services, health and reflection.
pub fn router(
    api: &GrpcApi,
    health: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
    max_request_bytes: usize,
) -> Result<Router, String> {
    // Reflection describes every file of the descriptor set but lists only the services this
    // router serves: the set also holds services that are not served.
    let reflection = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1.ServerReflection")
            .with_service_name("grpc.reflection.v1alpha.ServerReflection");
        for service in SERVED_SERVICES {
            builder = builder.with_service_name(*service);
        }
        builder
    };
    let reflection_v1 = reflection()
        .build_v1()
        .map_err(|error| format!("cannot build reflection v1: {error}"))?;
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .map_err(|error| format!("cannot build reflection v1alpha: {error}"))?;
    Ok(served::grpc_routes(api, max_request_bytes)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .prepare()
        .into_axum_router()
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            grpc_status_details(request, next, max_request_bytes)
        }))
        // Inside gRPC-Web, where the status is still a trailer (for the request metrics).
        .layer(middleware::from_fn(super::metrics::watch_grpc_status))
        // gRPC-Web wraps the gRPC routes only: on REST it would answer 400 to plain HTTP/1.
        .layer(GrpcWebLayer::new()))
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
    if let Err(error) = errors::with_error_detail(&raised, max_request_bytes).add_header(headers) {
        tracing::warn!(%error, "cannot encode a gRPC status into headers");
    }
    response
}
