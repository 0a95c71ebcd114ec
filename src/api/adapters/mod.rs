//! The adapters: one function per RPC of a served service, in a module named after the service
//! (`user_service`) and named after the RPC (`create_passkey_registration_link`). Each one
//! authenticates as its RPC needs (or declares the call public), converts the request, calls
//! the use case and converts its answer back. Every protocol reaches them, through the code
//! build.rs generates (`served.rs`).

pub mod session_service;
pub mod user_service;
