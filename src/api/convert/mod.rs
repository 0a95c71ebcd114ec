//! Conversions between wire messages and the use cases' types, by area, as `TryFrom` (a
//! request, validated as the contract asks) and `From` (an answer). Messages of validation
//! errors are protoc-gen-validate's, so clients see ZITADEL's texts.

mod common;
mod passkeys;
mod session_answers;
mod sessions;
mod structs;
mod users;

pub use common::{UserId, UserPasskey};
pub use passkeys::NewRegistrationLink;
pub use sessions::SessionReference;
pub use structs::{json_to_struct, struct_to_json};
