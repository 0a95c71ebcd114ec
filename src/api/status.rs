//! The one mapping of passlink errors to the wire: `tonic::Status` with a
//! `zitadel.v1.ErrorDetail`, and the REST and Connect JSON bodies read back from such a status.

use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use prost::Message;
use tonic::metadata::MetadataValue;

use crate::error::{Code, Error};
use crate::pb;

use super::public_limit::RetryAfter;

const ERROR_DETAIL_TYPE: &str = "zitadel.v1.ErrorDetail";
const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// Turns an error into a gRPC status whose `grpc-status-details-bin` carries a
/// `google.rpc.Status` with one `zitadel.v1.ErrorDetail`.
pub fn to_status(error: &Error) -> tonic::Status {
    status_with_detail(error.code() as i32, error.id(), error.text())
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

/// Gives a status raised outside passlink's handlers (by tonic, for instance) the error detail
/// and `"<text> (<ID>)"` message every passlink error carries. A message over the size limit
/// becomes ResourceExhausted, as for REST and Connect bodies (tonic says OutOfRange), and a
/// request tonic could not read as gRPC becomes InvalidArgument (tonic says Internal).
pub fn with_error_detail(status: &tonic::Status, max_request_bytes: usize) -> tonic::Status {
    if status
        .message()
        .starts_with("Error, decoded message length too large")
    {
        return to_status(&Error::resource_exhausted(
            "API-Ms6lg",
            format!("the request message is larger than the limit of {max_request_bytes} bytes"),
        ));
    }
    if status.code() == tonic::Code::Internal && is_unreadable_request(status.message()) {
        return to_status(&Error::invalid_argument(
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

/// The `zitadel.v1.ErrorDetail` of a status, or one made up for statuses raised outside
/// passlink's handlers (tonic's own decoding errors, for instance).
fn error_detail(status: &tonic::Status) -> pb::zitadel::v1::ErrorDetail {
    tonic_types::pb::Status::decode(status.details())
        .ok()
        .and_then(|rpc_status| {
            rpc_status
                .details
                .into_iter()
                .find(|any| any.type_url.ends_with(ERROR_DETAIL_TYPE))
        })
        .and_then(|any| pb::zitadel::v1::ErrorDetail::decode(any.value.as_slice()).ok())
        .unwrap_or_else(|| pb::zitadel::v1::ErrorDetail {
            id: "API-Tn7st".into(),
            message: status.message().to_owned(),
        })
}

fn json_response(http_status: u16, body: serde_json::Value) -> Response {
    let mut response = (
        StatusCode::from_u16(http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body.to_string(),
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// ResourceExhausted for a client over its rate limit, with `retry-after` (whole seconds) in
/// the status metadata: gRPC and gRPC-Web send it as a header, REST and Connect copy it into
/// their HTTP answer.
pub fn too_many_requests(retry_after: RetryAfter) -> tonic::Status {
    let seconds = retry_after.seconds();
    let mut status = to_status(&Error::resource_exhausted(
        "API-Rl4pb",
        format!("Too many requests from this address; try again in {seconds} seconds"),
    ));
    status
        .metadata_mut()
        .insert("retry-after", MetadataValue::from(seconds));
    status
}

/// Copies a status's `retry-after` into an HTTP answer.
fn with_retry_after(status: &tonic::Status, mut response: Response) -> Response {
    if let Some(value) = status
        .metadata()
        .get("retry-after")
        .and_then(|value| HeaderValue::from_bytes(value.as_encoded_bytes()).ok())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The REST answer for a status: `{"code":5,"message":"…","details":[{"@type":…}]}`.
pub fn rest_error(status: &tonic::Status) -> Response {
    let code = Code::from_i32(status.code() as i32);
    let detail = error_detail(status);
    let response = json_response(
        code.http_status(),
        serde_json::json!({
            "code": code as i32,
            "message": status.message(),
            "details": [{
                "@type": format!("{TYPE_URL_PREFIX}{ERROR_DETAIL_TYPE}"),
                "id": detail.id,
                "message": detail.message,
            }],
        }),
    );
    with_retry_after(status, response)
}

/// The Connect answer for a status: `{"code":"not_found","message":"…","details":[…]}`.
pub fn connect_error(status: &tonic::Status) -> Response {
    let code = Code::from_i32(status.code() as i32);
    let detail = error_detail(status);
    let response = json_response(
        code.http_status(),
        serde_json::json!({
            "code": code.connect_name(),
            "message": status.message(),
            "details": [{
                "type": ERROR_DETAIL_TYPE,
                "value": base64::engine::general_purpose::STANDARD_NO_PAD.encode(detail.encode_to_vec()),
            }],
        }),
    );
    with_retry_after(status, response)
}

/// A gRPC "trailers-only" answer for a status, for requests that never reach tonic.
pub fn grpc_error(status: &tonic::Status) -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    if let Err(error) = status.add_header(headers) {
        tracing::warn!(%error, "cannot encode a gRPC status into headers");
    }
    response
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
        assert_eq!(error_detail(&status).id, "API-Fr8md");
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
        }
        // The same texts under another code are left as they are.
        let status = with_error_detail(&tonic::Status::unknown("Missing request message."), 1024);
        assert_eq!(status.code(), tonic::Code::Unknown);
    }
}
