//! passlink: passkey registration links, wire-compatible with ZITADEL's User Service v2.
//!
//! `api` (transports) → `service` (use cases) → `domain` (plain types); `store` implements the
//! storage port, `sealing` the secret sealer port, `notify` delivers the outbox. `app` wires them and exposes what tests need to start a server in-process.

pub mod api;
pub mod app;
pub mod config;
#[cfg(test)]
mod documentation_tests;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod notify;
pub mod pb;
pub mod private_files;
pub mod sealing;
pub mod service;
pub mod store;
