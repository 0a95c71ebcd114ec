//! Connect unary (`POST /zitadel.user.v2.UserService/<Method>`): every acceptance scenario with
//! JSON and with binary proto bodies, plus chunked bodies and the exact JSON of answers.

mod common;

use common::wire::Protocol;

mod json {
    use super::*;
    user_service_suite!(Protocol::ConnectJson);
}

mod proto {
    use super::*;
    user_service_suite!(Protocol::ConnectProto);
}
