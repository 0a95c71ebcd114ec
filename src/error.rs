//! The one error type of passlink: each variant knows its gRPC code and HTTP status, and every
//! message reads `"<text> (<ID>)"` with an ID unique to the place that raised it.

use std::borrow::Cow;
use std::time::Duration;

/// A gRPC status code, numbered as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Code {
    /// The caller canceled the request.
    Canceled = 1,
    /// An error of unknown kind.
    Unknown = 2,
    /// The request is malformed or a value is out of bounds.
    InvalidArgument = 3,
    /// The deadline passed before the work finished.
    DeadlineExceeded = 4,
    /// What the request names does not exist.
    NotFound = 5,
    /// What the request would create exists already.
    AlreadyExists = 6,
    /// The caller may not do this.
    PermissionDenied = 7,
    /// A limit was reached; trying later may help.
    ResourceExhausted = 8,
    /// The state does not allow the request now.
    FailedPrecondition = 9,
    /// A concurrent change won; the request may be retried.
    Aborted = 10,
    /// A value is past the valid range.
    OutOfRange = 11,
    /// The method is not served.
    Unimplemented = 12,
    /// A fault inside passlink.
    Internal = 13,
    /// passlink cannot serve now; trying later may help.
    Unavailable = 14,
    /// Data was lost or corrupted.
    DataLoss = 15,
    /// The request carries no valid credentials.
    Unauthenticated = 16,
}

impl Code {
    /// The HTTP status REST and Connect answer with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
            Code::Unauthenticated => 401,
            Code::PermissionDenied => 403,
            Code::NotFound => 404,
            Code::AlreadyExists | Code::Aborted => 409,
            Code::ResourceExhausted => 429,
            Code::Canceled => 499,
            Code::Internal | Code::Unknown | Code::DataLoss => 500,
            Code::Unimplemented => 501,
            Code::Unavailable => 503,
            Code::DeadlineExceeded => 504,
        }
    }

    /// The snake_case name the Connect protocol uses (`"not_found"`).
    pub fn connect_name(self) -> &'static str {
        match self {
            Code::Canceled => "canceled",
            Code::Unknown => "unknown",
            Code::InvalidArgument => "invalid_argument",
            Code::DeadlineExceeded => "deadline_exceeded",
            Code::NotFound => "not_found",
            Code::AlreadyExists => "already_exists",
            Code::PermissionDenied => "permission_denied",
            Code::ResourceExhausted => "resource_exhausted",
            Code::FailedPrecondition => "failed_precondition",
            Code::Aborted => "aborted",
            Code::OutOfRange => "out_of_range",
            Code::Unimplemented => "unimplemented",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
            Code::DataLoss => "data_loss",
            Code::Unauthenticated => "unauthenticated",
        }
    }

    /// The code for a wire number; unknown numbers read as `Unknown`.
    pub fn from_i32(number: i32) -> Code {
        use Code::*;
        [
            Canceled,
            Unknown,
            InvalidArgument,
            DeadlineExceeded,
            NotFound,
            AlreadyExists,
            PermissionDenied,
            ResourceExhausted,
            FailedPrecondition,
            Aborted,
            OutOfRange,
            Unimplemented,
            Internal,
            Unavailable,
            DataLoss,
            Unauthenticated,
        ]
        .into_iter()
        .find(|code| *code as i32 == number)
        .unwrap_or(Unknown)
    }
}

/// An error a client can be told about, or an internal failure that it only sees as such:
/// a gRPC code, the id of the place that raised it, the text a client sees and, for internal
/// failures, the cause (logged once, never sent).
#[derive(Debug)]
pub struct Error {
    code: Code,
    id: &'static str,
    text: Cow<'static, str>,
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// How long the client should wait before it tries again, when that is known.
    retry_after: Option<Duration>,
}

/// The result type of every passlink operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The text every internal error shows a client.
const INTERNAL_TEXT: &str = "An internal error occurred";

macro_rules! constructors {
    ($($name:ident => $code:ident),* $(,)?) => {
        $(
            #[doc = concat!("Builds an `", stringify!($code), "` error.")]
            pub fn $name(id: &'static str, text: impl Into<Cow<'static, str>>) -> Error {
                Error { code: Code::$code, id, text: text.into(), cause: None, retry_after: None }
            }
        )*
    };
}

impl Error {
    constructors! {
        invalid_argument => InvalidArgument,
        not_found => NotFound,
        already_exists => AlreadyExists,
        permission_denied => PermissionDenied,
        unauthenticated => Unauthenticated,
        failed_precondition => FailedPrecondition,
        resource_exhausted => ResourceExhausted,
        deadline_exceeded => DeadlineExceeded,
        unimplemented => Unimplemented,
        aborted => Aborted,
    }

    /// Builds an internal error and logs its cause once, here.
    pub fn internal(
        id: &'static str,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        let cause = cause.into();
        tracing::error!(error.id = id, error.cause = %cause, "internal error");
        Error {
            code: Code::Internal,
            id,
            text: Cow::Borrowed(INTERNAL_TEXT),
            cause: Some(cause),
            retry_after: None,
        }
    }

    /// The same error for another caller (one failure answered to several waiting callers);
    /// an internal cause is not repeated, only named.
    pub fn duplicate(&self) -> Error {
        Error {
            code: self.code,
            id: self.id,
            text: self.text.clone(),
            cause: self
                .cause
                .as_ref()
                .map(|_| "the same failure as an error logged before".into()),
            retry_after: self.retry_after,
        }
    }

    /// The same error, telling the client to wait `wait` before it tries again.
    pub fn with_retry_after(self, wait: Duration) -> Error {
        Error {
            retry_after: Some(wait),
            ..self
        }
    }

    /// How long the client should wait before it tries again, when that is known.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The gRPC code of this error.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The place that raised this error, e.g. `COMMAND-Eeb2a`.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// The text a client sees, without the id.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} ({})", self.text, self.id)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}
