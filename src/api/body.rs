//! Reading a whole REST or Connect request body, bounded in size; and a response body that
//! holds a guard until hyper is done with it.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::error::{Error, Result};

/// Reads a whole body, refusing one larger than `limit` bytes. A body that failed with a
/// passlink error (its deadline passed, say) gives that error.
pub(super) async fn read_body(body: Body, limit: usize) -> Result<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let error = error.into_inner();
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
        while let Some(current) = cause {
            if let Some(failure) = current.downcast_ref::<Error>() {
                return failure.duplicate();
            }
            cause = current.source();
        }
        Error::resource_exhausted(
            "API-Bd5lg",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    })
}

/// A response body that holds `guard` until hyper is done with it (sent or dropped), so that
/// what the guard does when dropped (count a request finished, record it) happens then.
pub(super) struct GuardedBody<G> {
    body: Body,
    _guard: G,
}

impl<G> GuardedBody<G> {
    /// `body`, holding `guard`.
    pub(super) fn new(body: Body, guard: G) -> GuardedBody<G> {
        GuardedBody {
            body,
            _guard: guard,
        }
    }
}

impl<G: Unpin> HttpBody for GuardedBody<G> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
