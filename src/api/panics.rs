//! The one panic catcher: a request whose handling panics is answered Internal, in its
//! protocol's shape and with the error detail, instead of taking the connection down. The
//! panic's text goes to the log, never into the answer.

use std::panic::AssertUnwindSafe;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt;

use crate::error::Error;

use super::errors;
use super::protocol::Protocol;

/// Runs the rest of the stack, answering a panic in the caller's protocol.
pub(super) async fn catch_panics(request: Request, next: Next) -> Response {
    let protocol = Protocol::of(&request);
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => errors::answer(
            protocol,
            &Error::internal(
                "API-Pn5cs",
                format!("request panicked: {}", errors::panic_reason(panic.as_ref())),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("boom")
    }

    async fn answer_to_a_panic(content_type: &str) -> Response {
        let router = Router::new()
            .route("/boom", post(boom))
            .layer(axum::middleware::from_fn(catch_panics));
        let request = http::Request::post("/boom")
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Body::empty())
            .unwrap();
        router.oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_internal_in_the_callers_protocol() {
        let grpc = answer_to_a_panic("application/grpc").await;
        assert_eq!(grpc.status(), 200);
        assert_eq!(grpc.headers()["grpc-status"], "13");
        assert_eq!(
            grpc.headers()["grpc-message"],
            "An%20internal%20error%20occurred%20(API-Pn5cs)"
        );
        assert!(grpc.headers().contains_key("grpc-status-details-bin"));
        let grpc_web = answer_to_a_panic("application/grpc-web-text").await;
        assert_eq!(grpc_web.headers()["grpc-status"], "13");
        assert_eq!(
            grpc_web.headers()["content-type"],
            "application/grpc-web-text+proto"
        );
        let rest = answer_to_a_panic("application/json").await;
        assert_eq!(rest.status(), 500);
        let body = axum::body::to_bytes(rest.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], 13);
        assert_eq!(body["message"], "An internal error occurred (API-Pn5cs)");
        assert_eq!(body["details"][0]["id"], "API-Pn5cs");
        // The panic's text stays in the log, never in the answer.
        assert!(!body.to_string().contains("boom"));
    }
}
