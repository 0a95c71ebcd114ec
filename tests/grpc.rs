//! The user service over gRPC (HTTP/2, the tonic client): every acceptance scenario, plus what
//! only gRPC shows (status details in `grpc-status-details-bin`).

mod common;

use common::wire::Protocol;

user_service_suite!(Protocol::Grpc);
