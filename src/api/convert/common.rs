//! What the conversions of every area share: the field validator (messages in
//! protoc-gen-validate's words, so clients see ZITADEL's texts), the ids a request names, and
//! change details and timestamps on the wire.

use crate::domain::time::Timestamp;
use crate::error::{Error, Result};
use crate::pb::zitadel::object::v2 as object_pb;
use crate::service::ChangeDetails;

/// Validates fields of one request message, naming violations as protoc-gen-validate does.
pub(super) struct Validator {
    /// The error id of the request's violations.
    id: &'static str,
    /// The message as protoc-gen-validate names it (`CreatePasskeyRegistrationLinkRequest`).
    message: &'static str,
}

impl Validator {
    /// The validator of the request message `message`, raising under `id`.
    pub(super) fn new(id: &'static str, message: &'static str) -> Validator {
        Validator { id, message }
    }

    /// The validator of a message nested in this one, raising under the same id.
    pub(super) fn inner(&self, message: &'static str) -> Validator {
        Validator::new(self.id, message)
    }

    pub(super) fn violation(&self, field: &str, rule: impl std::fmt::Display) -> Error {
        Error::invalid_argument(self.id, format!("invalid {}.{field}: {rule}", self.message))
    }

    pub(super) fn runes(&self, field: &str, value: &str, min: usize, max: usize) -> Result<()> {
        let count = value.chars().count();
        if count < min || count > max {
            return Err(if min == 0 {
                self.violation(
                    field,
                    format_args!("value length must be at most {max} runes"),
                )
            } else {
                self.violation(
                    field,
                    format_args!("value length must be between {min} and {max} runes, inclusive"),
                )
            });
        }
        Ok(())
    }

    /// Refuses control characters (line breaks, tabs, NUL, …): names end up in email headers
    /// and greetings, where they would break the message or smuggle in a header.
    pub(super) fn printable(&self, field: &str, value: &str) -> Result<()> {
        if value.chars().any(char::is_control) {
            return Err(self.violation(field, "value must not contain control characters"));
        }
        Ok(())
    }

    /// `runes` and `printable` together.
    pub(super) fn printable_runes(
        &self,
        field: &str,
        value: &str,
        min: usize,
        max: usize,
    ) -> Result<()> {
        self.runes(field, value, min, max)?;
        self.printable(field, value)
    }

    pub(super) fn bytes(&self, field: &str, value: &[u8], min: usize, max: usize) -> Result<()> {
        if value.len() < min || value.len() > max {
            return Err(self.violation(
                field,
                format_args!("value length must be between {min} and {max} bytes, inclusive"),
            ));
        }
        Ok(())
    }

    pub(super) fn required<'a, T>(&self, field: &str, value: &'a Option<T>) -> Result<&'a T> {
        value
            .as_ref()
            .ok_or_else(|| self.violation(field, "value is required"))
    }

    /// Wraps a nested message's violation as protoc-gen-validate does.
    pub(super) fn nested(&self, field: &str, inner: Result<()>) -> Result<()> {
        inner.map_err(|error| {
            self.violation(
                field,
                format_args!(
                    "embedded message failed validation | caused by: {}",
                    error.text()
                ),
            )
        })
    }

    pub(super) fn unsupported(&self, field: &str, hint: &str) -> Error {
        Error::invalid_argument(
            self.id,
            format!(
                "{}.{field} is not supported by passlink: {hint}",
                self.message
            ),
        )
    }

    /// The user id of a request (1 to 200 runes).
    pub(super) fn user_id(&self, user_id: String) -> Result<UserId> {
        self.runes("UserId", &user_id, 1, 200)?;
        Ok(UserId(user_id))
    }
}

/// The user a request names, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserId(pub String);

/// `TryFrom<request> for UserId`, for a request that names nothing but a user: its validator's
/// error id and message name.
macro_rules! user_id_request {
    ($($request:ty => ($id:literal, $message:literal)),* $(,)?) => {
        $(
            impl TryFrom<$request> for $crate::api::convert::UserId {
                type Error = $crate::error::Error;

                fn try_from(request: $request) -> $crate::error::Result<Self> {
                    super::common::Validator::new($id, $message).user_id(request.user_id)
                }
            }
        )*
    };
}
pub(super) use user_id_request;

/// `From<ChangeDetails>` for answers that carry nothing but the change's details.
macro_rules! details_response {
    ($($response:ty),* $(,)?) => {
        $(
            impl From<$crate::service::ChangeDetails> for $response {
                fn from(details: $crate::service::ChangeDetails) -> Self {
                    Self {
                        details: Some((&details).into()),
                    }
                }
            }
        )*
    };
}
pub(super) use details_response;

/// A passkey of a user a request names, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPasskey {
    /// The user the passkey belongs to.
    pub user_id: String,
    /// The passkey's id.
    pub passkey_id: String,
}

impl From<Timestamp> for prost_types::Timestamp {
    fn from(at: Timestamp) -> Self {
        let (seconds, nanos) = at.seconds_and_nanos();
        prost_types::Timestamp { seconds, nanos }
    }
}

impl From<&ChangeDetails> for object_pb::Details {
    fn from(details: &ChangeDetails) -> Self {
        object_pb::Details {
            sequence: details.sequence,
            change_date: Some(details.change_date.into()),
            resource_owner: details.resource_owner.clone(),
            creation_date: details.creation_date.map(Into::into),
        }
    }
}
