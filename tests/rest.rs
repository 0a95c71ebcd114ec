//! The REST routes with JSON bodies: every acceptance scenario, plus the exact JSON the
//! contract names (field names, string-encoded 64-bit numbers, `…Z` timestamps, error bodies).

mod common;

use common::wire::Protocol;

user_service_suite!(Protocol::Rest);
