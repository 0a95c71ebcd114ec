//! passlink errors on the wire, straight from `&Error` to each protocol's shape: a gRPC status
//! whose `grpc-status-details-bin` carries a `google.rpc.Status` with one
//! `zitadel.v1.ErrorDetail`, the REST body, the Connect body; `retry-after` on all of them when
//! the error has one. Statuses tonic raises by itself get the same detail here.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use prost::Message;
use tonic::metadata::MetadataValue;

use crate::error::Error;
use crate::pb;

use super::protocol::Protocol;

const ERROR_DETAIL_TYPE: &str = "zitadel.v1.ErrorDetail";
const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

fn error_detail(error: &Error) -> pb::zitadel::v1::ErrorDetail {
    pb::zitadel::v1::ErrorDetail {
        id: error.id().to_owned(),
        message: error.text().to_owned(),
    }
}

/// A status with the message `"<text> (<id>)"` and the matching `zitadel.v1.ErrorDetail`.
fn status_with_detail(code: i32, id: &str, text: &str) -> tonic::Status {
    let message = format!("{text} ({id})");
    let detail = pb::zitadel::v1::ErrorDetail {
        id: id.to_owned(),
        message: text.to_owned(),
    };
    let rpc_status = tonic_types::pb::Status {
        code,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: format!("{TYPE_URL_PREFIX}{ERROR_DETAIL_TYPE}"),
            value: detail.encode_to_vec(),
        }],
    };
    tonic::Status::with_details(
        tonic::Code::from_i32(code),
        message,
        Bytes::from(rpc_status.encode_to_vec()),
    )
}

/// The gRPC status of an error, with `retry-after` in its metadata when the error has one.
pub fn grpc_status(error: &Error) -> tonic::Status {
    let mut status = status_with_detail(error.code() as i32, error.id(), error.text());
    if let Some(wait) = error.retry_after() {
        status
            .metadata_mut()
            .insert("retry-after", MetadataValue::from(wait.as_secs()));
    }
    status
}

/// The gRPC status of an error that carries the error itself as its source, for failures that
/// must travel as a `tonic::Status` (a request body's) and may be read back by passlink.
pub fn into_grpc_status(error: Error) -> tonic::Status {
    let mut status = grpc_status(&error);
    status.set_source(std::sync::Arc::new(error));
    status
}

fn json_response(error: &Error, body: serde_json::Value) -> Response {
    let mut response = (
        StatusCode::from_u16(error.code().http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body.to_string(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(wait) = error.retry_after() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
    }
    // For the request metrics: the code a REST or Connect answer stands for.
    response.extensions_mut().insert(error.code());
    response
}

/// The REST answer: `{"code":5,"message":"…","details":[{"@type":…,"id":…,"message":…}]}`.
pub fn rest_error(error: &Error) -> Response {
    json_response(
        error,
        serde_json::json!({
            "code": error.code() as i32,
            "message": error.to_string(),
            "details": [{
                "@type": format!("{TYPE_URL_PREFIX}{ERROR_DETAIL_TYPE}"),
                "id": error.id(),
                "message": error.text(),
            }],
        }),
    )
}

/// The Connect answer: `{"code":"not_found","message":"…","details":[{"type":…,"value":…}]}`.
pub fn connect_error(error: &Error) -> Response {
    let detail = error_detail(error).encode_to_vec();
    json_response(
        error,
        serde_json::json!({
            "code": error.code().connect_name(),
            "message": error.to_string(),
            "details": [{
                "type": ERROR_DETAIL_TYPE,
                "value": base64::engine::general_purpose::STANDARD_NO_PAD.encode(detail),
            }],
        }),
    )
}

/// A gRPC "trailers-only" answer, the status in the headers, under `content_type`.
fn trailers_only(status: &tonic::Status, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Err(error) = status.add_header(headers) {
        tracing::warn!(%error, "cannot encode a gRPC status into headers");
    }
    response
}

/// The answer to a request of `protocol` that fails with `error` before or outside a handler
/// that would answer it (unknown paths, deadlines, panics).
pub fn answer(protocol: Protocol, error: &Error) -> Response {
    match protocol {
        Protocol::Grpc => trailers_only(&grpc_status(error), "application/grpc"),
        Protocol::GrpcWeb { text: false } => {
            trailers_only(&grpc_status(error), "application/grpc-web+proto")
        }
        Protocol::GrpcWeb { text: true } => {
            trailers_only(&grpc_status(error), "application/grpc-web-text+proto")
        }
        Protocol::Connect(_) => connect_error(error),
        Protocol::Rest => rest_error(error),
    }
}

/// Gives a status raised outside passlink's code (by tonic, for instance) the error detail
/// and `"<text> (<ID>)"` message every passlink error carries. A message over the size limit
/// becomes ResourceExhausted, as for REST and Connect bodies (tonic says OutOfRange), and a
/// request tonic could not read as gRPC becomes InvalidArgument (tonic says Internal).
pub fn with_error_detail(status: &tonic::Status, max_request_bytes: usize) -> tonic::Status {
    if status
        .message()
        .starts_with("Error, decoded message length too large")
    {
        return grpc_status(&Error::resource_exhausted(
            "API-Ms6lg",
            format!("the request message is larger than the limit of {max_request_bytes} bytes"),
        ));
    }
    if status.code() == tonic::Code::Internal && is_unreadable_request(status.message()) {
        return grpc_status(&Error::invalid_argument(
            "API-Fr8md",
            format!("malformed gRPC request: {}", status.message()),
        ));
    }
    status_with_detail(status.code() as i32, "API-Tn7st", status.message())
}

/// The beginnings of the Internal statuses that tonic, tonic-web and tonic-prost (the codec of
/// the health and reflection services) raise by themselves for a request body that cannot be
/// read as gRPC messages: broken frames, bad gRPC-Web base64, bytes that are not protobuf.
/// tonic tells them apart from its real failures by nothing but their text.
const UNREADABLE_REQUEST_MESSAGES: &[&str] = &[
    "protocol error: received message with compressed-flag but no grpc-encoding was specified",
    "protocol error: received message with invalid compression flag",
    "Unexpected EOF decoding stream.",
    "Missing request message.",
    "tonic-web: ",
    "failed to decode Protobuf message: ",
];

/// Whether tonic's message says that the request's body could not be read as gRPC.
fn is_unreadable_request(message: &str) -> bool {
    UNREADABLE_REQUEST_MESSAGES
        .iter()
        .any(|beginning| message.starts_with(beginning))
}

/// The text of a panic payload (`panic!("…")` gives a `&str` or a `String`), for the log.
pub fn panic_reason(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|reason| reason.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `zitadel.v1.ErrorDetail` id in a status's details.
    fn detail_id(status: &tonic::Status) -> String {
        let rpc_status = tonic_types::pb::Status::decode(status.details()).unwrap();
        pb::zitadel::v1::ErrorDetail::decode(rpc_status.details[0].value.as_slice())
            .unwrap()
            .id
    }

    /// The message of a status as `with_error_detail` rewrites tonic's Internal with `message`.
    fn rewritten(message: &str) -> tonic::Status {
        with_error_detail(&tonic::Status::internal(message), 1024)
    }

    fn assert_invalid_argument(message: &str) {
        let status = rewritten(message);
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{message}");
        assert_eq!(
            status.message(),
            format!("malformed gRPC request: {message} (API-Fr8md)")
        );
        assert_eq!(detail_id(&status), "API-Fr8md");
    }

    // One test per text tonic 0.14 raises; each quotes tonic's source.

    #[test]
    fn the_compressed_flag_without_grpc_encoding_is_invalid_argument() {
        assert_invalid_argument(
            "protocol error: received message with compressed-flag but no grpc-encoding was specified",
        );
    }

    #[test]
    fn an_unknown_compression_flag_is_invalid_argument() {
        assert_invalid_argument(
            "protocol error: received message with invalid compression flag: 7 (valid flags are 0 and 1), while sending request",
        );
    }

    #[test]
    fn a_truncated_frame_is_invalid_argument() {
        assert_invalid_argument("Unexpected EOF decoding stream.");
    }

    #[test]
    fn an_empty_unary_body_is_invalid_argument() {
        assert_invalid_argument("Missing request message.");
    }

    #[test]
    fn grpc_web_text_that_is_not_base64_is_invalid_argument() {
        assert_invalid_argument("tonic-web: Invalid symbol 33, offset 0.");
        assert_invalid_argument("tonic-web: malformed base64 request");
        assert_invalid_argument("tonic-web: malformed base64 request has unencoded trailers");
    }

    #[test]
    fn protobuf_the_health_and_reflection_codec_cannot_decode_is_invalid_argument() {
        assert_invalid_argument(
            "failed to decode Protobuf message: HealthCheckRequest.service: buffer underflow",
        );
    }

    #[test]
    fn other_internal_statuses_stay_internal_and_get_the_detail() {
        for message in ["h2 protocol error: connection reset", "Unexpected EOF"] {
            let status = rewritten(message);
            assert_eq!(status.code(), tonic::Code::Internal, "{message}");
            assert_eq!(status.message(), format!("{message} (API-Tn7st)"));
            assert_eq!(detail_id(&status), "API-Tn7st");
        }
        // The same texts under another code are left as they are.
        let status = with_error_detail(&tonic::Status::unknown("Missing request message."), 1024);
        assert_eq!(status.code(), tonic::Code::Unknown);
    }

    #[test]
    fn retry_after_reaches_every_protocol() {
        let error = Error::resource_exhausted("TEST-Rt1ry", "slow down")
            .with_retry_after(std::time::Duration::from_secs(7));
        assert_eq!(
            grpc_status(&error).metadata().get("retry-after").unwrap(),
            "7"
        );
        for protocol in [
            Protocol::Grpc,
            Protocol::GrpcWeb { text: true },
            Protocol::Connect(super::super::protocol::Format::Json),
            Protocol::Rest,
        ] {
            let response = answer(protocol, &error);
            assert_eq!(response.headers()["retry-after"], "7", "{protocol:?}");
        }
    }
}
