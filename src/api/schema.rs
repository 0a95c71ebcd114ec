//! The schema every protocol shares: the descriptor set compiled from `proto/` by build.rs,
//! for JSON transcoding, for the checks protobuf decoding leaves out, and for deriving the
//! REST routes and the RPC table.

use std::sync::LazyLock;

use prost_reflect::{DescriptorPool, MessageDescriptor, ServiceDescriptor};

use crate::pb;

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET)
        .expect("the build writes a valid descriptor set")
});

/// A service of passlink's schema, by its full name (`zitadel.user.v2.UserService`).
pub fn service(full_name: &str) -> Option<ServiceDescriptor> {
    POOL.get_service_by_name(full_name)
}

/// The descriptor of a message of passlink's schema, by its full name.
pub fn message_descriptor(full_name: &str) -> Option<MessageDescriptor> {
    POOL.get_message_by_name(full_name)
}
