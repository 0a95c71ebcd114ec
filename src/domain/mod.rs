//! Plain types and invariants of passlink: ids, time, secrets, URL templates, users and
//! permissions. Nothing here does IO.

pub mod id;
pub mod permission;
pub mod secret;
pub mod template;
pub mod time;
pub mod user;
pub mod webauthn;
