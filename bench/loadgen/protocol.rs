//! The requests of each protocol and how an answer is judged: the bodies are built once per
//! user from the project's generated prost types (gRPC, gRPC-Web, health) or as the JSON the
//! contract names (Connect, REST), and an answer counts as a success only when its status says
//! so and its body carries what the RPC returns (a code, or SERVING).

use bytes::{Buf, Bytes, BytesMut};
use prost::Message;

use passlink::pb::zitadel::user::v2 as user_pb;

/// What the generator sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Protocol {
    /// `grpc.health.v1.Health/Check` over gRPC: the transport's baseline.
    Health,
    /// CreatePasskeyRegistrationLink over gRPC.
    Grpc,
    /// CreatePasskeyRegistrationLink over gRPC-Web (binary).
    GrpcWeb,
    /// CreatePasskeyRegistrationLink over Connect with a JSON body.
    Connect,
    /// CreatePasskeyRegistrationLink over REST (`POST /v2/users/{id}/passkeys/registration_link`).
    Rest,
}

const CREATE_LINK_PATH: &str = "/zitadel.user.v2.UserService/CreatePasskeyRegistrationLink";

/// A request ready to send, but for its authority.
#[derive(Clone)]
pub(crate) struct Prepared {
    pub(crate) path: String,
    pub(crate) body: Bytes,
}

/// A gRPC (and gRPC-Web) length-prefixed message frame.
pub(crate) fn frame(message: &impl Message) -> Bytes {
    let encoded = message.encode_to_vec();
    let mut framed = BytesMut::with_capacity(5 + encoded.len());
    framed.extend_from_slice(&[0]);
    framed.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
    framed.extend_from_slice(&encoded);
    framed.freeze()
}

impl Protocol {
    /// The request for one target user.
    pub(crate) fn prepare(self, user_id: &str) -> Prepared {
        match self {
            Protocol::Health => Prepared {
                path: "/grpc.health.v1.Health/Check".into(),
                body: frame(&tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                }),
            },
            Protocol::Grpc | Protocol::GrpcWeb => Prepared {
                path: CREATE_LINK_PATH.into(),
                body: frame(&user_pb::CreatePasskeyRegistrationLinkRequest {
                    user_id: user_id.to_owned(),
                    medium: Some(
                        user_pb::create_passkey_registration_link_request::Medium::ReturnCode(
                            user_pb::ReturnPasskeyRegistrationCode {},
                        ),
                    ),
                }),
            },
            Protocol::Connect => Prepared {
                path: CREATE_LINK_PATH.into(),
                body: Bytes::from(
                    serde_json::json!({ "userId": user_id, "returnCode": {} }).to_string(),
                ),
            },
            Protocol::Rest => Prepared {
                path: format!("/v2/users/{user_id}/passkeys/registration_link"),
                body: Bytes::from_static(b"{\"returnCode\":{}}"),
            },
        }
    }

    /// The request headers besides `authorization`.
    pub(crate) fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Protocol::Health | Protocol::Grpc => {
                &[("content-type", "application/grpc"), ("te", "trailers")]
            }
            Protocol::GrpcWeb => &[
                ("content-type", "application/grpc-web+proto"),
                ("x-grpc-web", "1"),
            ],
            Protocol::Connect => &[
                ("content-type", "application/json"),
                ("connect-protocol-version", "1"),
            ],
            Protocol::Rest => &[("content-type", "application/json")],
        }
    }

    /// Whether the RPC needs the bearer token.
    pub(crate) fn authenticated(self) -> bool {
        self != Protocol::Health
    }

    /// Whether each success writes one passkey code.
    pub(crate) fn creates_codes(self) -> bool {
        self != Protocol::Health
    }

    /// Judges an answer: `Ok` for a success, else a short description of what came back.
    pub(crate) fn judge(
        self,
        status: u16,
        headers: &http::HeaderMap,
        body: &[u8],
        trailers: Option<&http::HeaderMap>,
    ) -> Result<(), String> {
        if status != 200 {
            return Err(format!("http {status}"));
        }
        match self {
            Protocol::Health | Protocol::Grpc => {
                self.check_message(grpc_message(status, headers, body, trailers)?)
            }
            Protocol::GrpcWeb => {
                let (message, trailer) = grpc_web_frames(body)?;
                if !trailer.lines().any(|line| line.trim() == "grpc-status:0") {
                    return Err(format!("grpc-web trailer {:?}", trailer.trim()));
                }
                self.check_message(message.ok_or("no message in the answer")?)
            }
            Protocol::Connect | Protocol::Rest => {
                let answer: serde_json::Value =
                    serde_json::from_slice(body).map_err(|error| format!("not JSON: {error}"))?;
                match answer.pointer("/code/code").and_then(|code| code.as_str()) {
                    Some(code) if !code.is_empty() => Ok(()),
                    _ => Err("no code in the answer".into()),
                }
            }
        }
    }

    fn check_message(self, message: &[u8]) -> Result<(), String> {
        if self == Protocol::Health {
            let answer = tonic_health::pb::HealthCheckResponse::decode(message)
                .map_err(|error| error.to_string())?;
            return if answer.status == 1 {
                Ok(())
            } else {
                Err(format!("health status {}", answer.status))
            };
        }
        let answer = user_pb::CreatePasskeyRegistrationLinkResponse::decode(message)
            .map_err(|error| error.to_string())?;
        match answer.code {
            Some(code) if !code.code.is_empty() => Ok(()),
            _ => Err("no code in the answer".into()),
        }
    }
}

/// The message of a gRPC answer that succeeded (HTTP 200, grpc-status 0), else a short
/// description of what came back.
pub(crate) fn grpc_message<'body>(
    status: u16,
    headers: &http::HeaderMap,
    body: &'body [u8],
    trailers: Option<&http::HeaderMap>,
) -> Result<&'body [u8], String> {
    if status != 200 {
        return Err(format!("http {status}"));
    }
    // A trailers-only answer carries grpc-status in its headers.
    let grpc_status = trailers
        .and_then(|trailers| trailers.get("grpc-status"))
        .or_else(|| headers.get("grpc-status"))
        .and_then(|value| value.to_str().ok());
    if grpc_status != Some("0") {
        let message = trailers
            .and_then(|trailers| trailers.get("grpc-message"))
            .or_else(|| headers.get("grpc-message"))
            .and_then(|value| value.to_str().ok())
            .map(|message| format!(": {}", percent_decode(message)))
            .unwrap_or_default();
        return Err(format!(
            "grpc-status {}{message}",
            grpc_status.unwrap_or("missing")
        ));
    }
    Ok(first_message(body).ok_or("no message in the answer")?)
}

/// A `grpc-message` as text (it is percent-encoded on the wire).
fn percent_decode(message: &str) -> String {
    percent_encoding::percent_decode_str(message)
        .decode_utf8_lossy()
        .into_owned()
}

/// The payload of the first length-prefixed message of a gRPC body.
fn first_message(mut body: &[u8]) -> Option<&[u8]> {
    if body.len() < 5 || body[0] != 0 {
        return None;
    }
    body.advance(1);
    let length = body.get_u32() as usize;
    body.get(..length)
}

/// The message and the trailer block of a gRPC-Web body.
fn grpc_web_frames(mut body: &[u8]) -> Result<(Option<&[u8]>, String), String> {
    let (mut message, mut trailer) = (None, None);
    while body.len() >= 5 {
        let flags = body[0];
        let length = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let payload = body
            .get(5..5 + length)
            .ok_or("a truncated gRPC-Web frame")?;
        if flags & 0x80 != 0 {
            trailer = Some(String::from_utf8_lossy(payload).into_owned());
        } else {
            message.get_or_insert(payload);
        }
        body = &body[5 + length..];
    }
    Ok((message, trailer.ok_or("no gRPC-Web trailer")?))
}
