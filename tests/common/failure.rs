//! What an error answer says, read back from each protocol's shape: the gRPC status (with
//! its `google.rpc.Status` details), the REST `google.rpc.Status` JSON body, the Connect error
//! body; and `Failure::assert_error`, which checks the contract's code, HTTP status, message
//! and `zitadel.v1.ErrorDetail` alike for every protocol.

use passlink::pb::zitadel::v1::ErrorDetail;
use prost::Message;

use super::grpc_web::decode_base64_lenient;
use super::http_clients::JsonAnswer;
use super::protocols::Protocol;

/// The type URL and Connect type name of passlink's error detail.
pub const ERROR_DETAIL_TYPE_URL: &str = "type.googleapis.com/zitadel.v1.ErrorDetail";
pub const ERROR_DETAIL_TYPE: &str = "zitadel.v1.ErrorDetail";

/// The HTTP status the contract (§4) gives a gRPC code.
pub fn http_status_of(code: tonic::Code) -> u16 {
    use tonic::Code::*;
    match code {
        InvalidArgument | FailedPrecondition | OutOfRange => 400,
        Unauthenticated => 401,
        PermissionDenied => 403,
        NotFound => 404,
        AlreadyExists | Aborted => 409,
        ResourceExhausted => 429,
        Cancelled => 499,
        Unimplemented => 501,
        Unavailable => 503,
        DeadlineExceeded => 504,
        Ok => 200,
        Internal | Unknown | DataLoss => 500,
    }
}

/// An error answer, read back from the protocol that carried it.
#[derive(Debug)]
pub struct Failure {
    pub protocol: Protocol,
    pub code: tonic::Code,
    /// The HTTP status of the answer; `None` over gRPC, where only the gRPC status counts.
    pub http_status: Option<u16>,
    pub message: String,
    /// The `zitadel.v1.ErrorDetail` the answer carried, if any.
    pub detail: Option<ErrorDetail>,
}

impl Failure {
    /// Asserts the code, the HTTP status the contract maps it to, a message containing `text`,
    /// and a `zitadel.v1.ErrorDetail` whose id and message make up the message.
    pub fn assert_error(&self, code: tonic::Code, text: &str) {
        assert_eq!(self.code, code, "unexpected code in {self:#?}");
        if self.protocol.has_http_error_status() {
            assert_eq!(self.http_status, Some(http_status_of(code)), "{self:#?}");
        }
        assert!(
            self.message.contains(text),
            "the message should contain {text:?}: {self:#?}"
        );
        let detail = self
            .detail
            .as_ref()
            .unwrap_or_else(|| panic!("a zitadel.v1.ErrorDetail in {self:#?}"));
        assert!(!detail.id.is_empty(), "the detail names its id: {self:#?}");
        assert!(detail.message.contains(text), "{self:#?}");
        assert_eq!(
            self.message,
            format!("{} ({})", detail.message, detail.id),
            "the message reads \"<text> (<ID>)\""
        );
    }
}

/// The `zitadel.v1.ErrorDetail` inside an encoded `google.rpc.Status`.
pub fn error_detail_of_rpc_status(encoded: &[u8]) -> Option<ErrorDetail> {
    let status = tonic_types::pb::Status::decode(encoded).expect("a google.rpc.Status");
    let any = status
        .details
        .iter()
        .find(|any| any.type_url == ERROR_DETAIL_TYPE_URL)?;
    Some(ErrorDetail::decode(any.value.as_slice()).expect("an ErrorDetail"))
}

/// Reads a REST error body: `{"code":5,"message":"…","details":[{"@type":…,"id","message"}]}`.
pub fn rest_failure(protocol: Protocol, answer: &JsonAnswer) -> Failure {
    assert_eq!(answer.content_type, "application/json", "{answer:?}");
    let body = &answer.body;
    let detail = body["details"][0].as_object().map(|detail| {
        assert_eq!(detail["@type"], ERROR_DETAIL_TYPE_URL, "{answer:?}");
        ErrorDetail {
            id: detail["id"].as_str().unwrap().to_owned(),
            message: detail["message"].as_str().unwrap().to_owned(),
        }
    });
    Failure {
        protocol,
        code: tonic::Code::from_i32(body["code"].as_i64().expect("a numeric code") as i32),
        http_status: Some(answer.status),
        message: body["message"].as_str().unwrap_or_default().to_owned(),
        detail,
    }
}

/// Reads a JSON error answer in the shape of `protocol` (REST or Connect JSON).
pub fn json_failure(protocol: Protocol, answer: &JsonAnswer) -> Failure {
    assert_ne!(answer.status, 200, "an error answer: {answer:?}");
    match protocol {
        Protocol::Rest => rest_failure(protocol, answer),
        _ => connect_failure(protocol, answer.status, answer.body.to_string().as_bytes()),
    }
}

/// Reads a Connect error body: `{"code":"not_found","message":…,"details":[{"type","value"}]}`.
pub fn connect_failure(protocol: Protocol, status: u16, body: &[u8]) -> Failure {
    let body: serde_json::Value = serde_json::from_slice(body).expect("a JSON error body");
    let detail = body["details"][0].as_object().map(|detail| {
        assert_eq!(detail["type"], ERROR_DETAIL_TYPE, "{body}");
        ErrorDetail::decode(
            decode_base64_lenient(detail["value"].as_str().expect("a base64 value")).as_slice(),
        )
        .expect("an ErrorDetail")
    });
    Failure {
        protocol,
        code: connect_code(body["code"].as_str().expect("a code name")),
        http_status: Some(status),
        message: body["message"].as_str().unwrap_or_default().to_owned(),
        detail,
    }
}

/// The gRPC code of a Connect code name.
pub fn connect_code(name: &str) -> tonic::Code {
    use tonic::Code::*;
    match name {
        "canceled" => Cancelled,
        "unknown" => Unknown,
        "invalid_argument" => InvalidArgument,
        "deadline_exceeded" => DeadlineExceeded,
        "not_found" => NotFound,
        "already_exists" => AlreadyExists,
        "permission_denied" => PermissionDenied,
        "resource_exhausted" => ResourceExhausted,
        "failed_precondition" => FailedPrecondition,
        "aborted" => Aborted,
        "out_of_range" => OutOfRange,
        "unimplemented" => Unimplemented,
        "internal" => Internal,
        "unavailable" => Unavailable,
        "data_loss" => DataLoss,
        "unauthenticated" => Unauthenticated,
        other => panic!("not a Connect code: {other}"),
    }
}
