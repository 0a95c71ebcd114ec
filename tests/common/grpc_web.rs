//! gRPC-Web bodies by hand: frames (flag byte, big-endian length, payload), the base64 of
//! `grpc-web-text`, and the percent-encoded `grpc-message`.

use std::collections::HashMap;

use base64::Engine;

/// Builds a gRPC-Web frame: flag byte, big-endian length, payload.
pub fn grpc_web_frame(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(5 + payload.len());
    frame.push(flag);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// A gRPC-Web response body split into its frames.
#[derive(Debug, Default)]
pub struct GrpcWebFrames {
    /// Data frames (flag 0x00), in order.
    pub messages: Vec<Vec<u8>>,
    /// The trailer frame (flag 0x80), lowercased names; `None` when there was none.
    pub trailers: Option<HashMap<String, String>>,
    /// Whether anything came after the trailer frame (it must be last).
    pub bytes_after_trailers: bool,
}

/// Splits a binary gRPC-Web body into frames; panics on a malformed body.
pub fn parse_grpc_web_frames(mut body: &[u8]) -> GrpcWebFrames {
    let mut frames = GrpcWebFrames::default();
    while !body.is_empty() {
        if frames.trailers.is_some() {
            frames.bytes_after_trailers = true;
        }
        assert!(body.len() >= 5, "a truncated frame header: {body:?}");
        let flag = body[0];
        let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        assert!(body.len() >= 5 + length, "a truncated frame: {body:?}");
        let payload = &body[5..5 + length];
        match flag {
            0x00 => frames.messages.push(payload.to_vec()),
            0x80 => {
                let text = std::str::from_utf8(payload).expect("trailers are text");
                let trailers = text
                    .split("\r\n")
                    .filter(|line| !line.is_empty())
                    .map(|line| {
                        let (name, value) = line.split_once(':').expect("name: value");
                        (name.trim().to_ascii_lowercase(), value.trim().to_owned())
                    })
                    .collect();
                frames.trailers = Some(trailers);
            }
            other => panic!("unexpected gRPC-Web frame flag {other:#x}"),
        }
        body = &body[5 + length..];
    }
    frames
}

/// Decodes a `grpc-web-text` body: base64 in padded pieces, one or more per frame, so it is
/// decoded four characters at a time.
pub fn decode_grpc_web_text(body: &[u8]) -> Vec<u8> {
    let clean: Vec<u8> = body
        .iter()
        .copied()
        .filter(|byte| !byte.is_ascii_whitespace())
        .collect();
    assert_eq!(clean.len() % 4, 0, "grpc-web-text comes in padded base64");
    clean
        .chunks(4)
        .flat_map(|quad| {
            base64::engine::general_purpose::STANDARD
                .decode(quad)
                .expect("base64")
        })
        .collect()
}

/// Decodes base64 with or without padding (the `-bin` headers and Connect details omit it).
pub fn decode_base64_lenient(value: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(value.trim_end_matches('='))
        .expect("base64")
}

/// Decodes a percent-encoded `grpc-message`.
pub fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap();
            decoded.push(u8::from_str_radix(hex, 16).expect("percent escape"));
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).expect("UTF-8 grpc-message")
}
