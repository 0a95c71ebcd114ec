//! The time a request's body has to arrive. A body still incomplete `body_read_timeout` after
//! its head fails the read, and the request is answered DeadlineExceeded in the shape of its
//! protocol (REST and Connect with HTTP 408 Request Timeout). The deadline covers the whole
//! body, unlike tower-http's `RequestBodyTimeout`, which restarts on every frame and so never
//! cuts a body sent a byte at a time.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::StatusCode;
use http_body::{Frame, SizeHint};
use tokio::time::Sleep;

use crate::error::Error;

use super::errors;
use super::protocol::Protocol;

/// The error a request body gives when its deadline passes.
pub(crate) fn body_too_slow(timeout: Duration) -> Error {
    Error::deadline_exceeded(
        "API-Bd7tm",
        format!(
            "the request body did not arrive within {}",
            humantime::format_duration(timeout)
        ),
    )
}

/// Gives the request's body `timeout` to arrive; when it does not, answers DeadlineExceeded
/// in the request's protocol, whatever the handler made of the failed read.
pub(crate) async fn body_deadline(timeout: Duration, request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let protocol = Protocol::of(&request);
    let expired = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        Body::new(DeadlineBody {
            body,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout,
            expired: expired.clone(),
        })
    });
    let response = next.run(request).await;
    if !expired.load(Ordering::Acquire) {
        return response;
    }
    let mut answer = errors::answer(protocol, &body_too_slow(timeout));
    if !protocol.is_grpc() {
        *answer.status_mut() = StatusCode::REQUEST_TIMEOUT;
    }
    answer
}

/// A request body that fails once its deadline has passed while it still waits for data.
struct DeadlineBody {
    body: Body,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
    expired: Arc<AtomicBool>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        // Data already there is taken even after the deadline: only waiting is cut off, so a
        // handler that reads late is never blamed on the client.
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(context) {
            return Poll::Ready(frame.map(|frame| {
                frame.map_err(|error| {
                    errors::into_grpc_status(Error::invalid_argument(
                        "API-Bd8rd",
                        format!("the request body could not be read: {error}"),
                    ))
                })
            }));
        }
        if self.deadline.as_mut().poll(context).is_ready() {
            self.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(errors::into_grpc_status(body_too_slow(
                self.timeout,
            )))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
