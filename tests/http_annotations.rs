//! Every RPC carries its REST route as a standard `google.api.http` annotation in the
//! descriptor set the server embeds (CONTRACT.md §2, SESSIONS.md §2), so that routes can be
//! derived from the protos: the annotations are read back by extension name with prost-reflect,
//! as any tool would read them.

use std::sync::LazyLock;

use passlink::pb::google::api::{HttpRule, http_rule::Pattern};
use prost_reflect::{DescriptorPool, MethodDescriptor, Value};

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(passlink::pb::FILE_DESCRIPTOR_SET).expect("the descriptor set")
});

/// Every RPC of the contract: service, method, HTTP method, path template, body.
const ROUTES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "zitadel.user.v2.UserService",
        "AddHumanUser",
        "POST",
        "/v2/users/human",
        "*",
    ),
    (
        "zitadel.user.v2.UserService",
        "GetUserByID",
        "GET",
        "/v2/users/{user_id}",
        "",
    ),
    (
        "zitadel.user.v2.UserService",
        "DeleteUser",
        "DELETE",
        "/v2/users/{user_id}",
        "",
    ),
    (
        "zitadel.user.v2.UserService",
        "RegisterPasskey",
        "POST",
        "/v2/users/{user_id}/passkeys",
        "*",
    ),
    (
        "zitadel.user.v2.UserService",
        "VerifyPasskeyRegistration",
        "POST",
        "/v2/users/{user_id}/passkeys/{passkey_id}",
        "*",
    ),
    (
        "zitadel.user.v2.UserService",
        "CreatePasskeyRegistrationLink",
        "POST",
        "/v2/users/{user_id}/passkeys/registration_link",
        "*",
    ),
    (
        "zitadel.user.v2.UserService",
        "ListPasskeys",
        "POST",
        "/v2/users/{user_id}/passkeys/_search",
        "*",
    ),
    (
        "zitadel.user.v2.UserService",
        "RemovePasskey",
        "DELETE",
        "/v2/users/{user_id}/passkeys/{passkey_id}",
        "",
    ),
    (
        "zitadel.session.v2.SessionService",
        "CreateSession",
        "POST",
        "/v2/sessions",
        "*",
    ),
    (
        "zitadel.session.v2.SessionService",
        "SetSession",
        "PATCH",
        "/v2/sessions/{session_id}",
        "*",
    ),
    (
        "zitadel.session.v2.SessionService",
        "GetSession",
        "GET",
        "/v2/sessions/{session_id}",
        "",
    ),
    (
        "zitadel.session.v2.SessionService",
        "ListSessions",
        "POST",
        "/v2/sessions/search",
        "*",
    ),
    (
        "zitadel.session.v2.SessionService",
        "DeleteSession",
        "DELETE",
        "/v2/sessions/{session_id}",
        "*",
    ),
];

/// The `google.api.http` annotation of a method, if it has one.
fn http_rule(method: &MethodDescriptor) -> Option<HttpRule> {
    let extension = POOL
        .get_extension_by_name("google.api.http")
        .expect("the descriptor set declares google.api.http");
    assert_eq!(extension.number(), 72295728);
    let options = method.options();
    if !options.has_extension(&extension) {
        return None;
    }
    let Value::Message(rule) = options.get_extension(&extension).into_owned() else {
        panic!("google.api.http of {} is not a message", method.full_name());
    };
    Some(rule.transcode_to::<HttpRule>().expect("an HttpRule"))
}

/// The `passlink.api.v1.http_success_code` option of a method, if set.
fn success_code(method: &MethodDescriptor) -> Option<u32> {
    let extension = POOL
        .get_extension_by_name("passlink.api.v1.http_success_code")
        .expect("the descriptor set declares passlink.api.v1.http_success_code");
    let options = method.options();
    options
        .has_extension(&extension)
        .then(|| options.get_extension(&extension).as_u32().unwrap())
}

fn verb_and_path(rule: &HttpRule) -> (&str, &str) {
    match rule.pattern.as_ref().expect("a pattern") {
        Pattern::Get(path) => ("GET", path),
        Pattern::Put(path) => ("PUT", path),
        Pattern::Post(path) => ("POST", path),
        Pattern::Delete(path) => ("DELETE", path),
        Pattern::Patch(path) => ("PATCH", path),
        Pattern::Custom(custom) => (custom.kind.as_str(), custom.path.as_str()),
    }
}

#[test]
fn every_method_of_every_service_has_a_google_api_http_route() {
    let mut missing = Vec::new();
    let mut count = 0;
    for service in POOL.services() {
        for method in service.methods() {
            count += 1;
            if http_rule(&method).is_none() {
                missing.push(method.full_name().to_owned());
            }
        }
    }
    assert!(missing.is_empty(), "methods without a route: {missing:?}");
    assert_eq!(count, ROUTES.len(), "every served RPC is in ROUTES");
}

#[test]
fn the_routes_are_those_of_the_contract_and_name_request_fields() {
    for (service, method_name, verb, path, body) in ROUTES {
        let method = POOL
            .get_service_by_name(service)
            .unwrap_or_else(|| panic!("{service}"))
            .methods()
            .find(|method| method.name() == *method_name)
            .unwrap_or_else(|| panic!("{service}/{method_name}"));
        let rule = http_rule(&method).unwrap_or_else(|| panic!("{method_name} has no route"));
        assert_eq!(
            (verb_and_path(&rule), rule.body.as_str()),
            ((*verb, *path), *body),
            "{method_name}"
        );
        assert!(rule.additional_bindings.is_empty(), "{method_name}");
        assert!(rule.response_body.is_empty(), "{method_name}");
        for variable in path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        {
            assert!(
                method.input().get_field_by_name(variable).is_some(),
                "{method_name}: {{{variable}}} names no field of {}",
                method.input().full_name()
            );
        }
    }
}

#[test]
fn only_create_session_answers_rest_with_201() {
    for service in POOL.services() {
        for method in service.methods() {
            let expected = (method.full_name()
                == "zitadel.session.v2.SessionService.CreateSession")
                .then_some(201);
            assert_eq!(success_code(&method), expected, "{}", method.full_name());
        }
    }
}
