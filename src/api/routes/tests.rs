//! The routes derived from the annotations, for the served service and for the next one.

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
    let mut served_methods = 0;
    for service in crate::api::served::SERVED_SERVICES {
        for method in schema::service(service).unwrap().methods() {
            let path = format!("/{service}/{}", method.name());
            let entry = table
                .by_path(&path)
                .unwrap_or_else(|| panic!("{path} is not in the RPC table"));
            HttpRoute::of(entry.method()).unwrap_or_else(|problem| panic!("{problem}"));
            served_methods += 1;
        }
    }
    assert!(served_methods > 0, "no served service has an RPC in proto/");
    assert_eq!(
        table.entries().count(),
        served_methods,
        "the table holds the served services' RPCs and nothing else"
    );
}

/// `"POST /v2/users/{user_id}/passkeys *"`: the verb, the path, and `*` for a body.
fn summary(route: &HttpRoute) -> String {
    let body = if route.body { " *" } else { "" };
    format!("{} {}{body}", route.verb, route.path)
}

#[test]
fn the_user_service_routes_come_from_the_annotations() {
    let user = |name| route("zitadel.user.v2.UserService", name);
    let expected = [
        ("AddHumanUser", "POST /v2/users/human *"),
        ("GetUserByID", "GET /v2/users/{user_id}"),
        ("DeleteUser", "DELETE /v2/users/{user_id}"),
        ("RegisterPasskey", "POST /v2/users/{user_id}/passkeys *"),
        (
            "VerifyPasskeyRegistration",
            "POST /v2/users/{user_id}/passkeys/{passkey_id} *",
        ),
        (
            "CreatePasskeyRegistrationLink",
            "POST /v2/users/{user_id}/passkeys/registration_link *",
        ),
        (
            "ListPasskeys",
            "POST /v2/users/{user_id}/passkeys/_search *",
        ),
        (
            "RemovePasskey",
            "DELETE /v2/users/{user_id}/passkeys/{passkey_id}",
        ),
    ];
    for (name, route) in expected {
        assert_eq!(summary(&user(name)), route, "{name}");
        assert_eq!(user(name).success, StatusCode::OK, "{name}");
    }
    assert_eq!(user("AddHumanUser").path_fields, []);
    assert_eq!(
        user("RemovePasskey").path_fields,
        [field("user_id", "userId"), field("passkey_id", "passkeyId")]
    );
}

/// The machinery takes a second service unchanged: the session service (not served yet)
/// derives its routes, its 201 and its query parameters the same way.
#[test]
fn the_session_service_routes_derive_without_change() {
    let session = |name| route("zitadel.session.v2.SessionService", name);
    let expected = [
        ("CreateSession", "POST /v2/sessions *", StatusCode::CREATED),
        (
            "GetSession",
            "GET /v2/sessions/{session_id}",
            StatusCode::OK,
        ),
        (
            "SetSession",
            "PATCH /v2/sessions/{session_id} *",
            StatusCode::OK,
        ),
        (
            "DeleteSession",
            "DELETE /v2/sessions/{session_id} *",
            StatusCode::OK,
        ),
        ("ListSessions", "POST /v2/sessions/search *", StatusCode::OK),
    ];
    for (name, route, success) in expected {
        assert_eq!(
            (summary(&session(name)), session(name).success),
            (route.to_owned(), success)
        );
    }
    // GetSession has no body: the session token comes in the query string.
    let get = session("GetSession");
    assert_eq!(get.path_fields, [field("session_id", "sessionId")]);
    let input = method("zitadel.session.v2.SessionService", "GetSession").input();
    let mut fields = query_fields(&input, "sessionToken=t%2Bk&unknown=1").unwrap();
    get.lay_path_fields(&mut fields, vec![("session_id".into(), "42".into())]);
    assert_eq!(
        serde_json::Value::Object(fields),
        serde_json::json!({ "sessionToken": "t+k", "sessionId": "42" })
    );
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
    let fields = query_fields(&input, "query.limit=10&query.asc=true&sorting_column=1").unwrap();
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
    let post_with_field_body = HttpRule {
        pattern: Some(Pattern::Post("/v2/users".into())),
        body: "user_id".into(),
        ..Default::default()
    };
    let cases = [
        (None, "has no google.api.http route"),
        (
            get("/v2/users/{user_id=users/*}"),
            "unsupported path template",
        ),
        (get("/v2/users/{nope}"), "{nope} names no string field"),
        (
            get("/v2/users/{user_id}:check"),
            "unsupported path template",
        ),
        (
            Some(post_with_field_body),
            "unsupported google.api.http body",
        ),
    ];
    let rules: Vec<Option<HttpRule>> = cases.iter().map(|(rule, _)| rule.clone()).collect();
    for (method, (_, expected)) in unrouted(&rules).iter().zip(cases) {
        let problem = HttpRoute::of(method).expect_err(expected);
        assert!(problem.contains(expected), "{problem}");
    }
    let plain = unrouted(&[get("/v2/users/{user_id}")]);
    assert!(HttpRoute::of(&plain[0]).is_ok(), "a plain route is served");
}
