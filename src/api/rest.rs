//! REST JSON: one route per RPC of the served services, derived at start from its
//! `google.api.http` annotation (`routes.rs`), answered by the same adapter as gRPC. Path
//! parameters override the same fields in the body; literal segments (`registration_link`,
//! `_search`) win over a variable in the same place.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use http::{HeaderValue, Method, header};

use super::body::read_body;
use super::context::CallContext;
use super::metrics::{RestRpc, rpc_label};
use super::protocol::Format;
use super::routes::{HttpRoute, query_fields};
use super::rpc::{RequestMessage, TableEntry};
use super::{HttpState, errors, json};

/// The REST routes of every RPC in the state's table, and the HTTP methods they take; an error
/// names an RPC without a route passlink can serve, or two RPCs on one route.
pub(super) fn router(state: HttpState) -> Result<(Router, HashSet<Method>), String> {
    let mut router = Router::new();
    let mut taken = HashSet::new();
    let mut verbs = HashSet::new();
    for rpc in state.rpcs.entries() {
        let route = Arc::new(HttpRoute::of(rpc.method())?);
        if !taken.insert((route.verb.clone(), route.path.clone())) {
            return Err(format!("two RPCs answer {} {}", route.verb, route.path));
        }
        verbs.insert(route.verb.clone());
        let filter = MethodFilter::try_from(route.verb.clone())
            .map_err(|error| format!("{}: {error}", rpc.method().full_name()))?;
        let path = route.path.clone();
        let rpc = rpc.clone();
        let label = RestRpc(rpc_label(
            rpc.method().parent_service().full_name(),
            rpc.method().name(),
        ));
        let handler = move |State(state): State<HttpState>,
                            Path(values): Path<Vec<(String, String)>>,
                            request: Request| {
            let label = label.clone();
            let answer = serve(state, rpc.clone(), route.clone(), values, request);
            async move {
                let mut response = answer.await;
                response.extensions_mut().insert(label);
                response
            }
        };
        router = router.route(&path, on(filter, handler));
    }
    Ok((router.with_state(state), verbs))
}

/// Calls `rpc` with the JSON body (or the query string's fields) and the path's values laid
/// over it.
async fn serve(
    state: HttpState,
    rpc: Arc<TableEntry>,
    route: Arc<HttpRoute>,
    path_values: Vec<(String, String)>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let call = CallContext::new(&parts.headers, &parts.extensions, &state.public_calls);
    let answer = async {
        let mut fields = if route.body {
            json::parse_json_object(&read_body(body, state.max_request_bytes).await?)?
        } else {
            query_fields(&rpc.method().input(), parts.uri.query().unwrap_or_default())?
        };
        route.lay_path_fields(&mut fields, path_values);
        let message = RequestMessage::Json(serde_json::Value::Object(fields));
        rpc.invoke(state.services.clone(), call, message, Format::Json)
            .await
    }
    .await;
    match answer {
        Ok(body) => {
            let mut response = (route.success, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => errors::rest_error(&error),
    }
}
