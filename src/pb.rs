//! Generated protobuf and gRPC code for the wire contract, and the encoded descriptor set that
//! reflection and JSON transcoding read. Nothing here is written by hand.

#![allow(clippy::all, missing_docs)]

pub mod google {
    /// `google.api.HttpRule`, the type of the `google.api.http` method option.
    pub mod api {
        tonic::include_proto!("google.api");
    }
}

pub mod zitadel {
    pub mod v1 {
        tonic::include_proto!("zitadel.v1");
    }
    pub mod object {
        pub mod v2 {
            tonic::include_proto!("zitadel.object.v2");
        }
    }
    pub mod session {
        pub mod v2 {
            tonic::include_proto!("zitadel.session.v2");
        }
    }
    pub mod user {
        pub mod v2 {
            tonic::include_proto!("zitadel.user.v2");
        }
    }
}

/// The encoded `FileDescriptorSet` of every file in `proto/`, with its imports, source info and
/// custom method options (`google.api.http`, `passlink.api.v1.http_success_code`).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/passlink_descriptor.bin"));
