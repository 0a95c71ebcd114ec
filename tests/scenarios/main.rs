//! Every scenario of the user service, written once and run over every protocol passlink
//! serves: each is `#[apply(every_protocol)]`, which makes one test per protocol
//! (`users::…::case_1_grpc` … `case_6_rest`), so no scenario can be left out for a protocol.
//! What only one protocol shows (frames, exact JSON, CORS, raw HTTP/2) stays in that protocol's
//! own test file.

#[path = "../common/mod.rs"]
mod common;
mod field_values;
mod passkey_codes;
mod passkey_registration;
mod passkeys;
mod public_limits;
mod registration_links;
mod users;

use rstest_reuse::template;

every_protocol_template!();
