//! The generated requests. Request number `index` of a run with seed `seed` is always the same
//! request, whatever order the concurrent senders take them in: each one draws from its own
//! random stream, seeded from both numbers.

use base64::Engine;
use passlink::pb::zitadel::user::v2 as user_pb;
use prost::Message;

use super::corpus::{Corpus, credential_struct};
use super::json_inputs;
use super::random::Rng;

pub const SERVICE: &str = "zitadel.user.v2.UserService";

/// How a request travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// HTTP/2 with prior knowledge, as gRPC clients talk.
    Http2,
    /// HTTP/1.1, as browsers and most REST clients talk.
    Http1,
}

impl Transport {
    /// HTTP/2 in `percent` of the draws, else HTTP/1.1.
    pub fn http2_in(rng: &mut Rng, percent: usize) -> Transport {
        if rng.percent(percent) {
            Transport::Http2
        } else {
            Transport::Http1
        }
    }
}

/// One generated request.
#[derive(Debug)]
pub struct FuzzRequest {
    /// The protocol family and the mutation, e.g. `grpc/bit flips`.
    pub kind: String,
    pub family: &'static str,
    pub transport: Transport,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Request number `index` of the run with `seed`.
pub fn generate(corpus: &Corpus, seed: u64, index: u64) -> FuzzRequest {
    let mut rng = Rng::for_request(seed, index);
    let with_token = rng.percent(50);
    let family = rng.below(100);
    let mut request = match family {
        0..20 => grpc(&mut rng, corpus),
        20..35 => grpc_web(&mut rng, corpus, false),
        35..50 => grpc_web(&mut rng, corpus, true),
        50..62 => connect_proto(&mut rng, corpus),
        62..75 => json_inputs::connect_json(&mut rng, corpus),
        75..90 => json_inputs::rest(&mut rng, corpus),
        _ => anything(&mut rng, corpus),
    };
    let authorization = if with_token {
        Some(format!("Bearer {}", corpus.admin_token))
    } else {
        match rng.below(20) {
            0..12 => None,
            12..17 => Some(format!("Bearer {}", rng.word_between(1, 60))),
            17..19 => Some("Basic dXNlcjpwYXNz".to_owned()),
            _ => Some("Bearer ".to_owned()),
        }
    };
    if let Some(authorization) = authorization {
        request
            .headers
            .push(("authorization".into(), authorization));
    }
    extra_headers(&mut rng, &mut request.headers);
    request
}

/// Now and then a header that changes how the server reads the request.
fn extra_headers(rng: &mut Rng, headers: &mut Vec<(String, String)>) {
    let choices: [(&str, &[&str]); 6] = [
        (
            "grpc-timeout",
            &[
                "1S",
                "5M",
                "0n",
                "99999999H",
                "abc",
                "-1m",
                "1",
                "12345678901m",
            ],
        ),
        (
            "connect-timeout-ms",
            &["60000", "0", "abc", "-5", "99999999999999999999"],
        ),
        (
            "x-zitadel-orgid",
            &["1", "999999999999999999", "", "not-an-org"],
        ),
        ("grpc-encoding", &["gzip", "identity", "br", "x-unknown"]),
        ("connect-protocol-version", &["1", "2", ""]),
        ("content-encoding", &["gzip", "identity", "x-unknown"]),
    ];
    for (name, values) in choices {
        if rng.percent(4) {
            headers.push((name.to_owned(), rng.pick(values).to_string()));
        }
    }
}

/// A sample's bytes, mutated, with the mutation's name.
pub fn mutated_message(rng: &mut Rng, corpus: &Corpus) -> (&'static str, &'static str, Vec<u8>) {
    let sample = rng.pick(&corpus.samples);
    let method = sample.method;
    let mut bytes = sample.proto.clone();
    if method == "AddHumanUser" && rng.percent(70) {
        // A new username and address, so that valid requests add users instead of colliding.
        let mut human = user_pb::AddHumanUserRequest::decode(bytes.as_slice()).unwrap();
        let name = rng.word(12);
        human.username = Some(name.clone());
        human.email.as_mut().unwrap().email = format!("{name}@example.com");
        bytes = human.encode_to_vec();
    }
    let name = match rng.below(24) {
        0..3 => "valid",
        3..6 => {
            for _ in 0..rng.between(1, 9) {
                if !bytes.is_empty() {
                    let position = rng.below(bytes.len());
                    bytes[position] ^= 1 << rng.below(8);
                }
            }
            "bit flips"
        }
        6..8 => {
            bytes.truncate(rng.below(bytes.len() + 1));
            "truncated"
        }
        8..10 => {
            let position = rng.below(bytes.len() + 1);
            let inserted = rng.bytes_between(1, 17);
            bytes.splice(position..position, inserted);
            "random bytes inserted"
        }
        10..12 => {
            // A key with any field number and wire type (including 6 and 7, which do not
            // exist), then a few bytes of whatever.
            let field = match rng.below(3) {
                0 => rng.between(0, 16) as u64,
                1 => rng.between(16, 1 << 20) as u64,
                _ => rng.next_u64() >> rng.between(0, 40),
            };
            let key = (field << 3) | rng.below(8) as u64;
            let mut garbage = Vec::new();
            prost::encoding::encode_varint(key, &mut garbage);
            garbage.extend(rng.bytes_between(0, 9));
            let position = rng.below(bytes.len() + 1);
            bytes.splice(position..position, garbage);
            "field number and wire type garbage"
        }
        12..14 => {
            // A length or varint byte pushed to its extremes.
            if !bytes.is_empty() {
                let position = rng.below(bytes.len());
                bytes[position] = *rng.pick(&[0xff, 0x80, 0x7f, 0x00]);
            }
            "extreme byte"
        }
        14..16 => {
            bytes = rng.bytes_between(0, 65);
            "random bytes"
        }
        // The second message's fields win: a DeleteUser followed by another request would
        // delete that request's user, and the later requests would find no one.
        16..17 if method != "DeleteUser" => {
            bytes.extend_from_slice(&rng.pick(&corpus.samples).proto);
            "two messages concatenated"
        }
        17..19 => {
            let levels = rng.between(30, 70);
            bytes = user_pb::VerifyPasskeyRegistrationRequest {
                user_id: corpus.user_ids[0].clone(),
                passkey_id: "42".into(),
                public_key_credential: Some(credential_struct(levels)),
                passkey_name: "deep".into(),
            }
            .encode_to_vec();
            return ("VerifyPasskeyRegistration", "deeply nested struct", bytes);
        }
        19..21 => {
            let number = *rng.pick(&[4, 77, -1, i32::MAX, i32::MIN, 1 << 20]);
            return if rng.percent(50) {
                let mut human =
                    user_pb::AddHumanUserRequest::decode(corpus.samples[0].proto.as_slice())
                        .unwrap();
                human.profile.as_mut().unwrap().gender = Some(number);
                (
                    "AddHumanUser",
                    "undefined enum number",
                    human.encode_to_vec(),
                )
            } else {
                let register = user_pb::RegisterPasskeyRequest {
                    user_id: corpus.user_ids[0].clone(),
                    authenticator: number,
                    ..Default::default()
                };
                (
                    "RegisterPasskey",
                    "undefined enum number",
                    register.encode_to_vec(),
                )
            };
        }
        _ => {
            for _ in 0..rng.between(1, 4) {
                if !bytes.is_empty() {
                    let position = rng.below(bytes.len());
                    bytes[position] = rng.next_u64() as u8;
                }
            }
            "bytes overwritten"
        }
    };
    (method, name, bytes)
}

/// A gRPC body (5-byte header and message), often with its framing broken.
fn framed(rng: &mut Rng, message: &[u8]) -> (&'static str, Vec<u8>) {
    let header = |flag: u8, length: u32| {
        let mut frame = vec![flag];
        frame.extend_from_slice(&length.to_be_bytes());
        frame
    };
    let length = message.len() as u32;
    let (name, mut body) = match rng.below(20) {
        0..13 => ("", header(0, length)),
        13 => ("compressed flag", header(1, length)),
        14 => ("unknown flag", header(rng.between(2, 256) as u8, length)),
        15 => (
            "length prefix too long",
            header(0, length + rng.between(1, 100) as u32),
        ),
        16 => (
            "length prefix too short",
            header(0, length.saturating_sub(rng.between(1, 10) as u32)),
        ),
        17 => (
            "huge length prefix",
            header(0, *rng.pick(&[u32::MAX, 1 << 31, 5 << 20])),
        ),
        18 => {
            let cut = rng.below(5);
            return ("frame header cut", header(0, length)[..cut].to_vec());
        }
        _ => {
            let mut body = header(0, length);
            body.extend_from_slice(message);
            body.extend(rng.bytes_between(1, 12));
            return ("trailing bytes after the frame", body);
        }
    };
    body.extend_from_slice(message);
    (name, body)
}

fn kind(family: &str, message: &str, framing: &str) -> String {
    if framing.is_empty() {
        format!("{family}/{message}")
    } else {
        format!("{family}/{message}/{framing}")
    }
}

fn grpc(rng: &mut Rng, corpus: &Corpus) -> FuzzRequest {
    let (method, mutation, message) = mutated_message(rng, corpus);
    let (framing, body) = framed(rng, &message);
    let content_type = rng.pick(&["application/grpc", "application/grpc+proto"]);
    FuzzRequest {
        kind: kind("grpc", mutation, framing),
        family: "grpc",
        transport: Transport::Http2,
        method: "POST".into(),
        path: format!("/{SERVICE}/{method}"),
        headers: vec![("content-type".into(), content_type.to_string())],
        body,
    }
}

/// Base64 text for `application/grpc-web-text`, now and then no longer base64.
fn base64_text(rng: &mut Rng, body: &[u8]) -> (&'static str, Vec<u8>) {
    let mut text = base64::engine::general_purpose::STANDARD
        .encode(body)
        .into_bytes();
    let position = rng.below(text.len() + 1);
    let name = match rng.below(20) {
        0..14 => "",
        14 => {
            text.insert(position, *rng.pick(b"!*-_.~ \n"));
            "a character outside base64"
        }
        15 => {
            text.truncate(text.len().saturating_sub(rng.between(1, 4)));
            "base64 cut short"
        }
        16 => {
            text.splice(position..position, *b"==");
            "padding in the middle"
        }
        17 => {
            text.splice(position..position, [0xc3, 0xa4, 0xff]);
            "bytes outside ASCII"
        }
        18 => {
            text = rng.word_between(0, 40).into_bytes();
            "random letters"
        }
        _ => {
            text.clear();
            "empty"
        }
    };
    (name, text)
}

fn grpc_web(rng: &mut Rng, corpus: &Corpus, text: bool) -> FuzzRequest {
    let (method, mutation, message) = mutated_message(rng, corpus);
    let (framing, mut body) = framed(rng, &message);
    let mut framing = framing.to_owned();
    let (family, content_type) = if text {
        let (encoding, encoded) = base64_text(rng, &body);
        body = encoded;
        if !encoding.is_empty() {
            framing = encoding.to_owned();
        }
        (
            "grpc-web-text",
            *rng.pick(&[
                "application/grpc-web-text",
                "application/grpc-web-text+proto",
            ]),
        )
    } else {
        (
            "grpc-web",
            *rng.pick(&["application/grpc-web", "application/grpc-web+proto"]),
        )
    };
    FuzzRequest {
        kind: kind(family, mutation, &framing),
        family,
        transport: Transport::http2_in(rng, 10),
        method: "POST".into(),
        path: format!("/{SERVICE}/{method}"),
        headers: vec![
            ("content-type".into(), content_type.to_owned()),
            ("accept".into(), content_type.to_owned()),
            ("x-grpc-web".into(), "1".into()),
        ],
        body,
    }
}

fn connect_proto(rng: &mut Rng, corpus: &Corpus) -> FuzzRequest {
    let (method, mutation, body) = mutated_message(rng, corpus);
    FuzzRequest {
        kind: kind("connect-proto", mutation, ""),
        family: "connect-proto",
        transport: Transport::http2_in(rng, 20),
        method: "POST".into(),
        path: format!("/{SERVICE}/{method}"),
        headers: vec![
            ("content-type".into(), "application/proto".into()),
            ("connect-protocol-version".into(), "1".into()),
        ],
        body,
    }
}

/// Any method, path, content type and body.
fn anything(rng: &mut Rng, corpus: &Corpus) -> FuzzRequest {
    let method = *rng.pick(&[
        "GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "FUZZ",
    ]);
    // Only the last user may be deleted (see `Corpus::user_ids`).
    let user_id = if method == "DELETE" {
        corpus.user_ids.last().unwrap().clone()
    } else {
        rng.pick(&corpus.user_ids).clone()
    };
    let known_paths = [
        format!("/{SERVICE}/AddHumanUser"),
        format!("/{SERVICE}/VerifyPasskeyRegistration"),
        format!("/{SERVICE}/NoSuchMethod"),
        format!("/{SERVICE}/"),
        "/grpc.health.v1.Health/Check".to_owned(),
        "/grpc.health.v1.Health/Watch".to_owned(),
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo".to_owned(),
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo".to_owned(),
        format!("/v2/users/{user_id}"),
        format!("/v2/users/{user_id}/passkeys"),
        format!("/v2/users/{user_id}/passkeys/_search"),
        format!("/v2/users/{user_id}/passkeys/1/2/3"),
        "/v2/users/human".to_owned(),
        "/v2/users/%FF%00".to_owned(),
        "/ui/".to_owned(),
        "/ui/../../etc/passwd".to_owned(),
        "/healthz".to_owned(),
        "/readyz".to_owned(),
        "/".to_owned(),
    ];
    let path = if rng.percent(70) {
        rng.pick(&known_paths).clone()
    } else {
        let segments: Vec<String> = (0..rng.between(1, 5))
            .map(|_| match rng.below(4) {
                0 => rng.word_between(1, 300),
                1 => "%F0%9F%92%A9".to_owned(),
                2 => "%25".to_owned(),
                _ => rng.word(3),
            })
            .collect();
        format!("/{}", segments.join("/"))
    };
    let content_type = *rng.pick(&[
        "application/grpc",
        "application/grpc+json",
        "application/grpc-web",
        "application/grpc-web-text",
        "application/json",
        "application/json; charset=utf-8",
        "application/proto",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
        "application/",
    ]);
    let body = match rng.below(5) {
        0 => Vec::new(),
        1 => rng.bytes_between(0, 200),
        2 => {
            let message = rng.pick(&corpus.samples).proto.clone();
            framed(rng, &message).1
        }
        3 => rng.pick(&corpus.samples).json.to_string().into_bytes(),
        _ => mutated_message(rng, corpus).2,
    };
    FuzzRequest {
        kind: "anything".into(),
        family: "anything",
        // Over HTTP/2, hyper sends a streaming answer's DATA frames even to HEAD (seen for a
        // HEAD with a body to gRPC reflection), which the client must refuse as a protocol
        // error; HEAD goes over HTTP/1.1, where hyper leaves the body out.
        transport: if method != "HEAD" && rng.percent(50) {
            Transport::Http2
        } else {
            Transport::Http1
        },
        method: method.into(),
        path,
        headers: vec![("content-type".into(), content_type.into())],
        body,
    }
}
