//! The protocols passlink speaks on its one port, and templates that run one test over a
//! list of them, with `rstest` and `rstest_reuse`.

use strum::IntoEnumIterator;

/// A protocol on passlink's one port. `Protocol::iter()` (strum) lists every variant; the
/// scenario template is checked against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::EnumIter)]
pub enum Protocol {
    /// gRPC over HTTP/2 with the tonic client.
    Grpc,
    /// gRPC-Web, `application/grpc-web+proto`, hand-built frames over HTTP/1.1.
    GrpcWeb,
    /// gRPC-Web, `application/grpc-web-text` (base64 frames) over HTTP/1.1.
    GrpcWebText,
    /// Connect unary with `application/json`.
    ConnectJson,
    /// Connect unary with `application/proto`.
    ConnectProto,
    /// The REST routes with JSON bodies.
    Rest,
}

impl Protocol {
    /// Whether errors arrive as an HTTP status with a JSON body (REST and Connect).
    pub fn has_http_error_status(self) -> bool {
        matches!(
            self,
            Protocol::ConnectJson | Protocol::ConnectProto | Protocol::Rest
        )
    }

    /// Whether requests and answers are JSON text (`ApiClient::raw_json` works).
    pub fn carries_json(self) -> bool {
        match self {
            Protocol::ConnectJson | Protocol::Rest => true,
            Protocol::Grpc | Protocol::GrpcWeb | Protocol::GrpcWebText | Protocol::ConnectProto => {
                false
            }
        }
    }

    /// The protocols whose bodies are JSON text.
    pub fn json() -> Vec<Protocol> {
        Protocol::iter()
            .filter(|protocol| protocol.carries_json())
            .collect()
    }

    /// The protocols whose bodies are protobuf bytes.
    pub fn binary() -> Vec<Protocol> {
        Protocol::iter()
            .filter(|protocol| !protocol.carries_json())
            .collect()
    }
}

/// Declares an `rstest_reuse` template with one `#[case]` per listed protocol, and a constant
/// with the same list, so that a test can compare the template with `Protocol::iter()` (every
/// variant, as the compiler knows them): a protocol left out of the template then fails that
/// test. The module invoking it imports `rstest_reuse::template`; a test applies the template
/// with `#[apply(name)]` (with `rstest::rstest` and `rstest_reuse::apply` in scope) and takes
/// `#[case] protocol: Protocol`.
///
/// ```ignore
/// protocol_template! {
///     /// Every protocol.
///     every_protocol, EVERY_PROTOCOL: grpc => Grpc, rest => Rest
/// }
/// ```
#[macro_export]
macro_rules! protocol_template {
    (
        $(#[$documentation:meta])*
        $template:ident, $list:ident: $($case:ident => $variant:ident),+ $(,)?
    ) => {
        /// The protocols of the template of the same name, in its order.
        pub const $list: &[$crate::common::protocols::Protocol] =
            &[$($crate::common::protocols::Protocol::$variant),+];

        $(#[$documentation])*
        #[template]
        #[rstest]
        $(#[case::$case($crate::common::protocols::Protocol::$variant)])+
        pub fn $template(#[case] protocol: $crate::common::protocols::Protocol) {}
    };
}

/// Declares the `every_protocol` template (and `EVERY_PROTOCOL`) at the root of a test binary,
/// so that every scenario binary runs its scenarios over the same protocols, with a test that
/// fails when the template leaves a `Protocol` variant out. The binary imports
/// `rstest_reuse::template`.
#[macro_export]
macro_rules! every_protocol_template {
    () => {
        protocol_template! {
            /// Runs a scenario over every protocol: gRPC, gRPC-Web binary and text, Connect
            /// JSON and proto, and REST.
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
            let every_variant: Vec<$crate::common::protocols::Protocol> =
                $crate::common::protocols::Protocol::iter().collect();
            assert_eq!(
                EVERY_PROTOCOL, every_variant,
                "every_protocol must have a #[case] for each Protocol variant"
            );
        }
    };
}
