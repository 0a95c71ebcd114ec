//! The services' descriptors as clients in tests read them: which service has a method, its
//! request and response descriptors, its REST route, and canonical proto3 JSON both ways.

use std::sync::LazyLock;

use prost::Message;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, MessageDescriptor, MethodDescriptor,
};

/// The user service, which every protocol serves.
pub const SERVICE: &str = "zitadel.user.v2.UserService";

/// The session service, which every protocol serves.
pub const SESSION_SERVICE: &str = "zitadel.session.v2.SessionService";

/// The service that has `method` (user and session methods have distinct names).
pub fn service_of(method: &str) -> &'static str {
    let has = |service: &str| {
        POOL.get_service_by_name(service)
            .is_some_and(|found| found.methods().any(|candidate| candidate.name() == method))
    };
    if has(SESSION_SERVICE) {
        SESSION_SERVICE
    } else {
        SERVICE
    }
}

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(passlink::pb::FILE_DESCRIPTOR_SET).expect("the descriptor set")
});

/// The descriptor of a method of the user or session service.
fn method_descriptor(method: &str) -> MethodDescriptor {
    POOL.get_service_by_name(service_of(method))
        .and_then(|service| {
            service
                .methods()
                .find(|candidate| candidate.name() == method)
        })
        .unwrap_or_else(|| panic!("no method {method}"))
}

/// The path of a method of the user or session service: `/<service>/<method>`.
pub fn rpc_path(method: &str) -> String {
    format!("/{}/{method}", service_of(method))
}

/// The request and response descriptors of a method of the user or session service.
pub fn method_descriptors(method: &str) -> (MessageDescriptor, MessageDescriptor) {
    let method = method_descriptor(method);
    (method.input(), method.output())
}

/// A message as canonical proto3 JSON, as a client library would write it.
pub fn to_json<M: Message>(descriptor: MessageDescriptor, message: &M) -> serde_json::Value {
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).unwrap();
    serde_json::to_value(&dynamic).unwrap()
}

/// Reads a JSON answer strictly: a field the schema does not know fails the test.
pub fn from_json<M: Message + Default>(descriptor: MessageDescriptor, body: &[u8]) -> M {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let dynamic = DynamicMessage::deserialize_with_options(
        descriptor,
        &mut deserializer,
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .unwrap_or_else(|error| {
        panic!(
            "the answer {} is not canonical JSON: {error}",
            String::from_utf8_lossy(body)
        )
    });
    M::decode(dynamic.encode_to_vec().as_slice()).unwrap()
}

/// The REST route of a method of the user or session service, from its `google.api.http`
/// annotation.
pub fn rest_route(method: &str) -> passlink::api::routes::HttpRoute {
    passlink::api::routes::HttpRoute::of(&method_descriptor(method))
        .unwrap_or_else(|problem| panic!("{problem}"))
}
