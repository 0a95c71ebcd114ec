//! The schema every protocol shares: the descriptor set compiled from `proto/` by build.rs,
//! for JSON transcoding, for the checks protobuf decoding leaves out, and for routing by name.

use std::sync::LazyLock;

use prost_reflect::{DescriptorPool, MessageDescriptor};

use crate::pb;

/// The full name of the service all four protocols serve.
pub const SERVICE_NAME: &str = "zitadel.user.v2.UserService";

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET)
        .expect("the build writes a valid descriptor set")
});

/// The request and response descriptors of a method of the user service.
pub fn method_messages(method: &str) -> Option<(MessageDescriptor, MessageDescriptor)> {
    let service = POOL.get_service_by_name(SERVICE_NAME)?;
    let method = service
        .methods()
        .find(|candidate| candidate.name() == method)?;
    Some((method.input(), method.output()))
}

/// The descriptor of a message of passlink's schema, by its full name.
pub fn message_descriptor(full_name: &str) -> Option<MessageDescriptor> {
    POOL.get_message_by_name(full_name)
}
