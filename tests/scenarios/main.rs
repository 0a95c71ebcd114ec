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

protocol_template! {
    /// Runs a scenario over every protocol: gRPC, gRPC-Web binary and text, Connect JSON and
    /// proto, and REST.
    every_protocol, EVERY_PROTOCOL:
        grpc => Grpc,
        grpc_web => GrpcWeb,
        grpc_web_text => GrpcWebText,
        connect_json => ConnectJson,
        connect_proto => ConnectProto,
        rest => Rest,
}

#[test]
fn the_template_runs_every_scenario_over_every_protocol_variant() {
    use strum::IntoEnumIterator;
    let every_variant: Vec<common::protocols::Protocol> =
        common::protocols::Protocol::iter().collect();
    assert_eq!(
        EVERY_PROTOCOL, every_variant,
        "every_protocol must have a #[case] for each Protocol variant"
    );
}
