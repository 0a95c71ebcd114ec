//! Request metrics and `GET /metrics`. The outermost layer (`record`) counts every request
//! by RPC, protocol and code and times it until its answer's body is sent (or dropped). Label
//! values are bounded: the RPC is a name from the RPC table (gRPC, gRPC-Web and Connect by
//! their path, REST by the route that answered) or a fixed word (`healthz`, `readyz`, `ui`,
//! `metrics`, `unknown`), never a raw path.
//!
//! The code is `ok` or the gRPC code's snake_case name. gRPC and gRPC-Web send it in trailers,
//! which gRPC-Web encodes into the body: `watch_grpc_status`, on the gRPC routes inside the
//! gRPC-Web layer, reads it there and leaves it in a slot the request carries. REST and
//! Connect errors carry their code in the response's extensions (`errors`); other answers are
//! judged by their HTTP status.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body::{Frame, SizeHint};

use crate::error::Code;
use crate::metrics::{Metrics, RequestLabels, RpcLabels};

use super::body::GuardedBody;
use super::protocol::Protocol;
use super::rpc::RpcTable;

/// The RPC a REST route answered, put in its response's extensions by the REST handler.
#[derive(Clone, Debug)]
pub struct RestRpc(pub Arc<String>);

/// The label of an RPC: its gRPC path without the leading `/`.
pub fn rpc_label(service: &str, method: &str) -> Arc<String> {
    Arc::new(format!("{service}/{method}"))
}

/// gRPC services served beside the RPC table: health and reflection.
const OTHER_GRPC_METHODS: [(&str, &str); 4] = [
    ("grpc.health.v1.Health", "Check"),
    ("grpc.health.v1.Health", "Watch"),
    (
        "grpc.reflection.v1.ServerReflection",
        "ServerReflectionInfo",
    ),
    (
        "grpc.reflection.v1alpha.ServerReflection",
        "ServerReflectionInfo",
    ),
];

/// What the recording layer needs: the metrics, and the label of every known gRPC path.
pub struct HttpMetrics {
    metrics: Arc<Metrics>,
    grpc_paths: HashMap<String, Arc<String>>,
    fixed: FixedLabels,
}

/// The labels of requests that are no RPC.
struct FixedLabels {
    healthz: Arc<String>,
    readyz: Arc<String>,
    metrics: Arc<String>,
    ui: Arc<String>,
    unknown: Arc<String>,
}

impl HttpMetrics {
    /// The recording layer's state over `metrics`, knowing the RPCs of `rpcs`.
    pub fn new(metrics: Arc<Metrics>, rpcs: &RpcTable) -> HttpMetrics {
        let mut grpc_paths = HashMap::new();
        for entry in rpcs.entries() {
            let method = entry.method();
            let label = rpc_label(method.parent_service().full_name(), method.name());
            grpc_paths.insert(format!("/{label}"), label);
        }
        for (service, method) in OTHER_GRPC_METHODS {
            let label = rpc_label(service, method);
            grpc_paths.insert(format!("/{label}"), label);
        }
        let fixed = |name: &str| Arc::new(name.to_owned());
        HttpMetrics {
            metrics,
            grpc_paths,
            fixed: FixedLabels {
                healthz: fixed("healthz"),
                readyz: fixed("readyz"),
                metrics: fixed("metrics"),
                ui: fixed("ui"),
                unknown: fixed("unknown"),
            },
        }
    }

    /// The label of a request that is no RPC call, by its path.
    fn plain_label(&self, path: &str) -> Arc<String> {
        match path {
            "/healthz" => self.fixed.healthz.clone(),
            "/readyz" => self.fixed.readyz.clone(),
            "/metrics" => self.fixed.metrics.clone(),
            "/ui" => self.fixed.ui.clone(),
            _ if path.starts_with("/ui/") => self.fixed.ui.clone(),
            _ => self.fixed.unknown.clone(),
        }
    }
}

/// The gRPC status of a gRPC or gRPC-Web call, left by `watch_grpc_status`; -1 until known.
#[derive(Clone, Debug)]
struct GrpcOutcome(Arc<AtomicI32>);

impl GrpcOutcome {
    fn new() -> GrpcOutcome {
        GrpcOutcome(Arc::new(AtomicI32::new(-1)))
    }

    fn set_from(&self, headers: &HeaderMap) {
        if let Some(status) = grpc_status(headers) {
            self.0.store(status, Ordering::Relaxed);
        }
    }

    fn get(&self) -> Option<i32> {
        let status = self.0.load(Ordering::Relaxed);
        (status >= 0).then_some(status)
    }
}

/// The `grpc-status` of headers or trailers.
fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<i32>().ok())
}

/// The code label of a gRPC status number.
fn grpc_code_label(status: i32) -> &'static str {
    if status == 0 {
        "ok"
    } else {
        Code::from_i32(status).connect_name()
    }
}

/// The code label of an answer that carries no code of its own, by its HTTP status.
fn http_code_label(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=399 => "ok",
        400 | 413 | 414 | 431 => "invalid_argument",
        401 => "unauthenticated",
        403 => "permission_denied",
        404 => "not_found",
        405 | 501 => "unimplemented",
        408 | 504 => "deadline_exceeded",
        409 => "aborted",
        429 => "resource_exhausted",
        499 => "canceled",
        503 => "unavailable",
        500..=599 => "internal",
        _ => "unknown",
    }
}

fn protocol_label(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Grpc => "grpc",
        Protocol::GrpcWeb { .. } => "grpc_web",
        Protocol::Connect(_) => "connect",
        Protocol::Rest => "rest",
    }
}

/// Counts and times one request when dropped: with its answer's body, or earlier when the
/// request is abandoned (then its code is `canceled`, unless a status was already known).
struct Recording {
    metrics: Arc<Metrics>,
    rpc: Arc<String>,
    protocol: &'static str,
    code: Option<&'static str>,
    grpc: Option<GrpcOutcome>,
    started: Instant,
}

impl Drop for Recording {
    fn drop(&mut self) {
        let code = self
            .grpc
            .as_ref()
            .and_then(GrpcOutcome::get)
            .map(grpc_code_label)
            .or(self.code)
            .unwrap_or("canceled");
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                rpc: self.rpc.clone(),
                protocol: self.protocol,
                code,
            })
            .inc();
        self.metrics
            .request_seconds
            .get_or_create(&RpcLabels {
                rpc: self.rpc.clone(),
            })
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// The outermost layer: counts and times every request.
pub async fn record(
    State(state): State<Arc<HttpMetrics>>,
    mut request: Request,
    next: Next,
) -> Response {
    let protocol = Protocol::of(&request);
    let path = request.uri().path();
    let rpc_of_path = state.grpc_paths.get(path).cloned();
    let (rpc, protocol_name) = match (protocol, rpc_of_path) {
        (Protocol::Rest, _) => (state.plain_label(path), "http"),
        (protocol, Some(rpc)) => (rpc, protocol_label(protocol)),
        (protocol, None) => (state.fixed.unknown.clone(), protocol_label(protocol)),
    };
    let grpc = protocol.is_grpc().then(GrpcOutcome::new);
    if let Some(grpc) = &grpc {
        request.extensions_mut().insert(grpc.clone());
    }
    let mut recording = Recording {
        metrics: state.metrics.clone(),
        rpc,
        protocol: protocol_name,
        code: None,
        grpc,
        started: Instant::now(),
    };
    let response = next.run(request).await;
    if let Some(RestRpc(rpc)) = response.extensions().get::<RestRpc>() {
        recording.rpc = rpc.clone();
        recording.protocol = "rest";
    }
    recording.code = if let Some(code) = response.extensions().get::<Code>() {
        Some(code.connect_name())
    } else if let Some(status) = grpc_status(response.headers()) {
        // A trailers-only gRPC or gRPC-Web answer.
        Some(grpc_code_label(status))
    } else if recording.grpc.is_some() {
        // The status comes in the trailers (`watch_grpc_status`).
        None
    } else {
        Some(http_code_label(response.status()))
    };
    // The request is recorded when its answer's body is done.
    response.map(|body| Body::new(GuardedBody::new(body, recording)))
}

/// On the gRPC routes, inside the gRPC-Web layer: leaves the call's `grpc-status` (from a
/// trailers-only answer's headers, or from the trailers) in the request's slot.
pub async fn watch_grpc_status(request: Request, next: Next) -> Response {
    let Some(outcome) = request.extensions().get::<GrpcOutcome>().cloned() else {
        return next.run(request).await;
    };
    let response = next.run(request).await;
    outcome.set_from(response.headers());
    response.map(|body| Body::new(TrailerWatchingBody { body, outcome }))
}

/// A gRPC body that copies the `grpc-status` of its trailers into the request's slot.
struct TrailerWatchingBody {
    body: Body,
    outcome: GrpcOutcome,
}

impl HttpBody for TrailerWatchingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(context);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(trailers) = frame.trailers_ref()
        {
            self.outcome.set_from(trailers);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// `GET /metrics`: every metric in the OpenMetrics text format Prometheus scrapes.
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                let text = metrics.scrape().await;
                (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
                    )],
                    text,
                )
                    .into_response()
            }
        }),
    )
}
