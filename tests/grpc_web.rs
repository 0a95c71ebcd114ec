//! gRPC-Web as a browser sends it: hand-built 5-byte-prefixed frames POSTed over HTTP/1.1,
//! answers split into data and trailer frames. Every acceptance scenario runs in binary mode;
//! the `-text` (base64) mode and the CORS preflight have their own tests.

mod common;

use common::wire::Protocol;

user_service_suite!(Protocol::GrpcWeb);
