//! The REST route of an RPC, derived at start from its `google.api.http` annotation in the
//! descriptor set: the verb, the path template (whose `{field}` variables are also axum's path
//! syntax), the request fields the path names, whether the message comes as the body
//! (`body: "*"`) or from the query string, and the status of a success
//! (`passlink.api.v1.http_success_code`, else 200).

use http::{Method, StatusCode};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor, Value};

use crate::error::{Error, Result};
use crate::pb::google::api::{HttpRule, http_rule::Pattern};

/// A request field a path variable names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathField {
    /// The field's proto name, which is also the path variable's (`user_id`).
    pub name: String,
    /// The field's JSON name (`userId`).
    pub json_name: String,
}

/// The REST route of an RPC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRoute {
    /// The HTTP method.
    pub verb: Method,
    /// The path template, e.g. `/v2/users/{user_id}/passkeys/{passkey_id}`.
    pub path: String,
    /// The fields the path's variables name, in order.
    pub path_fields: Vec<PathField>,
    /// Whether the request message is the JSON body (`body: "*"`); otherwise the fields the
    /// path does not name come from the query string.
    pub body: bool,
    /// The HTTP status of a successful answer.
    pub success: StatusCode,
}

/// The `google.api.http` annotation of a method.
pub fn http_rule(method: &MethodDescriptor) -> Option<HttpRule> {
    let extension = method
        .parent_pool()
        .get_extension_by_name("google.api.http")?;
    let options = method.options();
    if !options.has_extension(&extension) {
        return None;
    }
    match options.get_extension(&extension).as_ref() {
        Value::Message(rule) => rule.transcode_to::<HttpRule>().ok(),
        _ => None,
    }
}

/// The `passlink.api.v1.http_success_code` option of a method, if set.
fn success_code(method: &MethodDescriptor) -> Option<u32> {
    let extension = method
        .parent_pool()
        .get_extension_by_name("passlink.api.v1.http_success_code")?;
    let options = method.options();
    options
        .has_extension(&extension)
        .then(|| options.get_extension(&extension).as_u32())
        .flatten()
}

impl HttpRoute {
    /// The route of a method; an error names what passlink cannot serve (no annotation, a
    /// custom verb, `body` naming one field, a variable with a pattern or a nested field, …).
    pub fn of(method: &MethodDescriptor) -> Result<HttpRoute, String> {
        let name = method.full_name();
        let rule =
            http_rule(method).ok_or_else(|| format!("{name} has no google.api.http route"))?;
        let (verb, path) = match rule.pattern {
            Some(Pattern::Get(path)) => (Method::GET, path),
            Some(Pattern::Put(path)) => (Method::PUT, path),
            Some(Pattern::Post(path)) => (Method::POST, path),
            Some(Pattern::Delete(path)) => (Method::DELETE, path),
            Some(Pattern::Patch(path)) => (Method::PATCH, path),
            other => {
                return Err(format!(
                    "{name}: unsupported google.api.http pattern {other:?}"
                ));
            }
        };
        let body = match rule.body.as_str() {
            "*" => true,
            "" => false,
            other => {
                return Err(format!(
                    "{name}: unsupported google.api.http body {other:?}"
                ));
            }
        };
        if !rule.additional_bindings.is_empty() || !rule.response_body.is_empty() {
            return Err(format!(
                "{name}: additional_bindings and response_body are not supported"
            ));
        }
        let status = success_code(method).unwrap_or(200);
        let success = u16::try_from(status)
            .ok()
            .and_then(|status| StatusCode::from_u16(status).ok())
            .ok_or_else(|| format!("{name}: {status} is no HTTP status"))?;
        let path_fields =
            path_fields(&method.input(), &path).map_err(|problem| format!("{name}: {problem}"))?;
        Ok(HttpRoute {
            verb,
            path,
            path_fields,
            body,
            success,
        })
    }

    /// Lays the path's values over the request's JSON fields: a path parameter overrides the
    /// same field in the body, whether the body names it by its JSON or its proto name.
    pub fn lay_path_fields(
        &self,
        fields: &mut serde_json::Map<String, serde_json::Value>,
        values: Vec<(String, String)>,
    ) {
        for (name, value) in values {
            if let Some(field) = self.path_fields.iter().find(|field| field.name == name) {
                fields.remove(&field.name);
                fields.insert(field.json_name.clone(), serde_json::Value::String(value));
            }
        }
    }
}

/// The fields the `{variables}` of a path template name; only whole segments naming a
/// top-level string field are served.
fn path_fields(input: &MessageDescriptor, path: &str) -> Result<Vec<PathField>, String> {
    if !path.starts_with('/') || path.contains(':') || path.contains('*') {
        return Err(format!("unsupported path template {path:?}"));
    }
    let mut fields = Vec::new();
    for segment in path.split('/') {
        let Some(variable) = segment
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
        else {
            if segment.contains(['{', '}']) {
                return Err(format!("unsupported path segment {segment:?}"));
            }
            continue;
        };
        let field = input
            .get_field_by_name(variable)
            .filter(|field| field.kind() == Kind::String && !field.is_list())
            .ok_or_else(|| {
                format!(
                    "{{{variable}}} names no string field of {}",
                    input.full_name()
                )
            })?;
        fields.push(PathField {
            name: field.name().to_owned(),
            json_name: field.json_name().to_owned(),
        });
    }
    Ok(fields)
}

/// The request fields a query string sets (`?sessionToken=…&query.limit=10`), as proto3
/// JSON: keys are JSON or proto names, dotted through nested messages; a repeated key fills a
/// list. Keys naming no field are ignored, as unknown JSON fields are.
pub fn query_fields(
    input: &MessageDescriptor,
    query: &str,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut fields = serde_json::Map::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let mut message = input.clone();
        let mut object = &mut fields;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            let Some(field) = message
                .get_field_by_json_name(part)
                .or_else(|| message.get_field_by_name(part))
            else {
                break;
            };
            let json_name = field.json_name().to_owned();
            match (field.kind(), parts.peek()) {
                (Kind::Message(inner), Some(_)) if !field.is_list() => {
                    let entry = object
                        .entry(json_name)
                        .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
                    let serde_json::Value::Object(inner_object) = entry else {
                        break;
                    };
                    object = inner_object;
                    message = inner;
                }
                (_, None) => {
                    set_query_value(object, json_name, &field, &value)?;
                    break;
                }
                _ => break,
            }
        }
    }
    Ok(fields)
}

fn set_query_value(
    object: &mut serde_json::Map<String, serde_json::Value>,
    json_name: String,
    field: &FieldDescriptor,
    text: &str,
) -> Result<()> {
    let value = match field.kind() {
        Kind::Bool => match text {
            "true" => serde_json::Value::Bool(true),
            "false" => serde_json::Value::Bool(false),
            _ => {
                return Err(Error::invalid_argument(
                    "REST-Qy2bl",
                    format!(
                        "invalid query parameter {}: {text:?} is not a boolean",
                        field.name()
                    ),
                ));
            }
        },
        // Proto3 JSON takes numbers, enums, bytes, timestamps and durations as strings too.
        _ => serde_json::Value::String(text.to_owned()),
    };
    if field.is_list() {
        let list = object
            .entry(json_name)
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(items) = list {
            items.push(value);
        }
    } else {
        object.insert(json_name, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
