//! The session service (issue 10; contract: SESSIONS.md): the protos' descriptors against the
//! wire contract's schema (`schema.rs`) and the generated messages against its examples
//! (`protos.rs`); and the session scenarios, written from the contract and run over every
//! protocol (`#[apply(every_protocol)]`) with the software authenticator making real
//! assertions: creating sessions and challenges, checks and their refusals, reading and
//! listing, deleting, discoverable and public sign-in, the session token as a bearer, and two
//! processes on one database.

// `unreachable_pub` is a lint for the library's API; in a test binary `pub` only shares
// helpers between its modules.
#![allow(unreachable_pub)]
mod bearer;
mod checks;
#[path = "../common/mod.rs"]
mod common;
mod create;
mod delete;
mod discoverable;
mod forged;
mod get;
mod list;
mod multi_process;
mod protos;
mod public_sign_in;
mod refusals;
mod schema;
mod set;
mod stored;
mod support;

use rstest_reuse::template;

every_protocol_template!();

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
