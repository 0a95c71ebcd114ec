//! Plain types and invariants of passlink: ids, time, secrets, URL templates, users and
//! permissions. Nothing here does IO.

pub mod events;
pub mod id;
pub mod passkey;
pub mod permission;
pub mod secret;
pub mod session;
pub mod time;
pub mod url_template;
pub mod user;
pub mod webauthn;
pub mod webauthn_sign_in;
