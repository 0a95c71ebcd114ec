//! Canonical proto3 JSON for REST and Connect, transcoded through the descriptor set with
//! prost-reflect (camelCase names, 64-bit integers as strings, enums by name, `…Z` timestamps).

use prost::Message;
use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions};

use crate::error::{Error, Result};

use super::{codec, field_values};

/// Decodes a JSON value into a generated message of the given descriptor. Everything that
/// fails is the request's fault, an InvalidArgument: JSON that does not fit the schema, enum
/// values it does not define, text with a NUL character, and structs nested deeper than
/// protobuf decodes (prost stops at 100 levels, which the JSON reader does not know about).
pub fn from_json_value<M: Message + Default>(
    descriptor: MessageDescriptor,
    value: serde_json::Value,
) -> Result<M> {
    let options = DeserializeOptions::new().deny_unknown_fields(false);
    let dynamic = DynamicMessage::deserialize_with_options(descriptor.clone(), &value, &options)
        .map_err(|error| {
            Error::invalid_argument("JSON-Dc4bd", format!("invalid JSON body: {error}"))
        })?;
    field_values::check_json_enum_names(&descriptor, &value)?;
    field_values::check_values(&dynamic)?;
    M::decode(dynamic.encode_to_vec().as_slice()).map_err(|error| {
        Error::invalid_argument(
            "JSON-Rt2cd",
            format!("invalid JSON body: {}", codec::decode_error_text(&error)),
        )
    })
}

/// Reads a JSON request body as an object; an empty body is an empty object.
pub fn parse_json_object(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(_) => Err(Error::invalid_argument(
            "JSON-Ob4js",
            "the request body must be a JSON object",
        )),
        Err(error) => Err(Error::invalid_argument(
            "JSON-Pr3sy",
            format!("invalid JSON body: {error}"),
        )),
    }
}

/// Encodes a generated message of the given descriptor as canonical JSON.
pub fn to_json<M: Message>(descriptor: MessageDescriptor, message: &M) -> Result<Vec<u8>> {
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .map_err(|error| Error::internal("JSON-En1cd", error))?;
    let mut body = Vec::with_capacity(256);
    let mut serializer = serde_json::Serializer::new(&mut body);
    dynamic
        .serialize_with_options(&mut serializer, &SerializeOptions::new())
        .map_err(|error| Error::internal("JSON-En2sr", error))?;
    Ok(body)
}
