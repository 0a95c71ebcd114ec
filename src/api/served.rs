//! The served services, written by build.rs from `proto/` (see `SERVED_SERVICES` there): for
//! each RPC an `Rpc` implementation over its adapter function in `adapters::<service>`, tonic's
//! trait for `GrpcApi`, the registration in the RPC table, and the tonic routes.

#![allow(clippy::all, missing_docs, unreachable_pub)]

include!(concat!(env!("OUT_DIR"), "/passlink_served.rs"));
