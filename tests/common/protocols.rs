//! Templates that run one test over a list of protocols, with `rstest` and `rstest_reuse`.

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
        pub const $list: &[$crate::common::wire::Protocol] =
            &[$($crate::common::wire::Protocol::$variant),+];

        $(#[$documentation])*
        #[template]
        #[rstest]
        $(#[case::$case($crate::common::wire::Protocol::$variant)])+
        pub fn $template(#[case] protocol: $crate::common::wire::Protocol) {}
    };
}
