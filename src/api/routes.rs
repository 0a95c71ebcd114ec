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
mod tests {
    use prost::Message;
    use prost_reflect::DescriptorPool;

    use super::*;
    use crate::api::rpc::RpcTable;
    use crate::api::schema;

    fn method(service: &str, name: &str) -> MethodDescriptor {
        schema::service(service)
            .and_then(|service| service.methods().find(|method| method.name() == name))
            .unwrap_or_else(|| panic!("{service}/{name}"))
    }

    fn route(service: &str, name: &str) -> HttpRoute {
        HttpRoute::of(&method(service, name)).unwrap()
    }

    fn field(name: &str, json_name: &str) -> PathField {
        PathField {
            name: name.into(),
            json_name: json_name.into(),
        }
    }

    #[test]
    fn every_rpc_of_every_served_service_is_in_the_table_with_a_route() {
        let table = RpcTable::served().unwrap();
        for service in crate::api::served::SERVED_SERVICES {
            for method in schema::service(service).unwrap().methods() {
                let path = format!("/{service}/{}", method.name());
                let entry = table
                    .by_path(&path)
                    .unwrap_or_else(|| panic!("{path} is not in the RPC table"));
                HttpRoute::of(entry.method()).unwrap_or_else(|problem| panic!("{problem}"));
            }
        }
        assert_eq!(table.entries().count(), 8, "the user service's RPCs");
    }

    #[test]
    fn the_user_service_routes_come_from_the_annotations() {
        let user = |name| route("zitadel.user.v2.UserService", name);
        let user_id = field("user_id", "userId");
        let passkey_id = field("passkey_id", "passkeyId");
        for (name, verb, path, body, fields) in [
            (
                "AddHumanUser",
                Method::POST,
                "/v2/users/human",
                true,
                vec![],
            ),
            (
                "GetUserByID",
                Method::GET,
                "/v2/users/{user_id}",
                false,
                vec![user_id.clone()],
            ),
            (
                "DeleteUser",
                Method::DELETE,
                "/v2/users/{user_id}",
                false,
                vec![user_id.clone()],
            ),
            (
                "RegisterPasskey",
                Method::POST,
                "/v2/users/{user_id}/passkeys",
                true,
                vec![user_id.clone()],
            ),
            (
                "VerifyPasskeyRegistration",
                Method::POST,
                "/v2/users/{user_id}/passkeys/{passkey_id}",
                true,
                vec![user_id.clone(), passkey_id.clone()],
            ),
            (
                "CreatePasskeyRegistrationLink",
                Method::POST,
                "/v2/users/{user_id}/passkeys/registration_link",
                true,
                vec![user_id.clone()],
            ),
            (
                "ListPasskeys",
                Method::POST,
                "/v2/users/{user_id}/passkeys/_search",
                true,
                vec![user_id.clone()],
            ),
            (
                "RemovePasskey",
                Method::DELETE,
                "/v2/users/{user_id}/passkeys/{passkey_id}",
                false,
                vec![user_id.clone(), passkey_id.clone()],
            ),
        ] {
            let expected = HttpRoute {
                verb,
                path: path.into(),
                path_fields: fields,
                body,
                success: StatusCode::OK,
            };
            assert_eq!(user(name), expected, "{name}");
        }
    }

    /// The machinery takes a second service unchanged: the session service (not served yet)
    /// derives its routes, its 201 and its query parameters the same way.
    #[test]
    fn the_session_service_routes_derive_without_change() {
        let session = |name| route("zitadel.session.v2.SessionService", name);
        let session_id = vec![field("session_id", "sessionId")];
        let create = session("CreateSession");
        assert_eq!(
            (
                create.verb,
                create.path.as_str(),
                create.body,
                create.success
            ),
            (Method::POST, "/v2/sessions", true, StatusCode::CREATED)
        );
        let get = session("GetSession");
        assert_eq!(
            (
                &get.verb,
                get.path.as_str(),
                get.body,
                &get.path_fields,
                get.success
            ),
            (
                &Method::GET,
                "/v2/sessions/{session_id}",
                false,
                &session_id,
                StatusCode::OK
            )
        );
        let input = method("zitadel.session.v2.SessionService", "GetSession").input();
        let mut fields = query_fields(&input, "sessionToken=t%2Bk&unknown=1").unwrap();
        get.lay_path_fields(&mut fields, vec![("session_id".into(), "42".into())]);
        assert_eq!(
            serde_json::Value::Object(fields),
            serde_json::json!({ "sessionToken": "t+k", "sessionId": "42" })
        );
        let delete = session("DeleteSession");
        assert_eq!(
            (
                delete.verb,
                delete.path.as_str(),
                delete.body,
                &delete.path_fields
            ),
            (
                Method::DELETE,
                "/v2/sessions/{session_id}",
                true,
                &session_id
            )
        );
        let set = session("SetSession");
        assert_eq!((set.verb, set.body), (Method::PATCH, true));
        assert_eq!(session("ListSessions").path, "/v2/sessions/search");
    }

    #[test]
    fn path_values_override_the_body_by_json_or_proto_name() {
        let route = route("zitadel.user.v2.UserService", "VerifyPasskeyRegistration");
        let mut fields =
            serde_json::json!({ "user_id": "body", "passkeyId": "body", "passkeyName": "n" })
                .as_object()
                .cloned()
                .unwrap();
        route.lay_path_fields(
            &mut fields,
            vec![
                ("user_id".into(), "1".into()),
                ("passkey_id".into(), "2".into()),
            ],
        );
        assert_eq!(
            serde_json::Value::Object(fields),
            serde_json::json!({ "userId": "1", "passkeyId": "2", "passkeyName": "n" })
        );
    }

    #[test]
    fn query_parameters_fill_nested_lists_and_booleans_by_either_name() {
        let input = method("zitadel.session.v2.SessionService", "ListSessions").input();
        let fields =
            query_fields(&input, "query.limit=10&query.asc=true&sorting_column=1").unwrap();
        assert_eq!(
            serde_json::Value::Object(fields),
            serde_json::json!({ "query": { "limit": "10", "asc": true }, "sortingColumn": "1" })
        );
        let error = query_fields(&input, "query.asc=maybe").unwrap_err();
        assert_eq!(error.code(), crate::error::Code::InvalidArgument);
    }

    /// A pool holding passlink's schema and a service `test.Unrouted` whose methods carry the
    /// given `google.api.http` annotations (none for `None`). The options are encoded by hand:
    /// `prost_types` would drop the extension.
    fn unrouted(rules: &[Option<HttpRule>]) -> Vec<MethodDescriptor> {
        use prost::encoding::bytes::encode as length_delimited;
        let mut service = prost_types::ServiceDescriptorProto {
            name: Some("Unrouted".into()),
            ..Default::default()
        }
        .encode_to_vec();
        for (index, rule) in rules.iter().enumerate() {
            let mut method = prost_types::MethodDescriptorProto {
                name: Some(format!("Method{index}")),
                input_type: Some(".zitadel.user.v2.GetUserByIDRequest".into()),
                output_type: Some(".zitadel.user.v2.GetUserByIDResponse".into()),
                ..Default::default()
            }
            .encode_to_vec();
            if let Some(rule) = rule {
                let mut options = Vec::new();
                length_delimited(72295728, &rule.encode_to_vec(), &mut options);
                length_delimited(4, &options, &mut method);
            }
            length_delimited(2, &method, &mut service);
        }
        let mut file = prost_types::FileDescriptorProto {
            name: Some("test/unrouted.proto".into()),
            package: Some("test".into()),
            dependency: vec!["zitadel/user/v2/user_service.proto".into()],
            syntax: Some("proto3".into()),
            ..Default::default()
        }
        .encode_to_vec();
        length_delimited(6, &service, &mut file);
        let mut pool = DescriptorPool::decode(crate::pb::FILE_DESCRIPTOR_SET).unwrap();
        pool.decode_file_descriptor_proto(file.as_slice()).unwrap();
        pool.get_service_by_name("test.Unrouted")
            .unwrap()
            .methods()
            .collect()
    }

    fn get(path: &str) -> Option<HttpRule> {
        Some(HttpRule {
            pattern: Some(Pattern::Get(path.into())),
            ..Default::default()
        })
    }

    #[test]
    fn an_rpc_without_a_route_passlink_can_serve_is_refused() {
        let methods = unrouted(&[
            None,
            get("/v2/users/{user_id=users/*}"),
            get("/v2/users/{nope}"),
            get("/v2/users/{user_id}:check"),
            Some(HttpRule {
                pattern: Some(Pattern::Post("/v2/users".into())),
                body: "user_id".into(),
                ..Default::default()
            }),
            get("/v2/users/{user_id}"),
        ]);
        let problems: Vec<String> = methods
            .iter()
            .map(|method| HttpRoute::of(method).err().unwrap_or_default())
            .collect();
        assert!(
            problems[0].contains("has no google.api.http route"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("unsupported path template"),
            "{problems:?}"
        );
        assert!(
            problems[2].contains("{nope} names no string field"),
            "{problems:?}"
        );
        assert!(
            problems[3].contains("unsupported path template"),
            "{problems:?}"
        );
        assert!(
            problems[4].contains("unsupported google.api.http body"),
            "{problems:?}"
        );
        assert_eq!(problems[5], "", "a plain route is served");
    }
}
