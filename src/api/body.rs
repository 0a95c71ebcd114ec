//! Reading a whole REST or Connect request body, bounded in size.

use axum::body::Body;
use bytes::Bytes;

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
