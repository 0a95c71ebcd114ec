//! The session service's protos (issue 10 serves them): the descriptors against the wire
//! contract's schema (`schema.rs`), and the generated messages against its examples
//! (`protos.rs`).

mod protos;
mod schema;

use std::sync::LazyLock;

use prost_reflect::{DescriptorPool, MessageDescriptor};

/// The descriptor set passlink is built with.
static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(passlink::pb::FILE_DESCRIPTOR_SET).expect("the descriptor set")
});

/// The session service's package.
const PACKAGE: &str = "zitadel.session.v2";

/// The descriptor of a message, its name read as `qualified` reads it.
fn message(name: &str) -> MessageDescriptor {
    let full_name = qualified(name);
    POOL.get_message_by_name(&full_name)
        .unwrap_or_else(|| panic!("the descriptor set lacks message {full_name}"))
}

/// `name` as a full name: names without a package prefix belong to zitadel.session.v2.
fn qualified(name: &str) -> String {
    if name.starts_with("google.") || name.starts_with("zitadel.") {
        name.to_owned()
    } else {
        format!("{PACKAGE}.{name}")
    }
}
