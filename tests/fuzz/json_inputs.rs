//! JSON requests for Connect and REST, mutated: wrong types, huge numbers, unknown enum names,
//! deep nesting, invalid UTF-8, cut-off text, duplicate and unknown keys.

use super::corpus::{Corpus, credential_struct};
use super::inputs::{FuzzRequest, SERVICE, Transport};
use super::random::Rng;

/// Every path to a value inside `value` (object keys and array positions).
fn paths(value: &serde_json::Value, prefix: &mut Vec<String>, found: &mut Vec<Vec<String>>) {
    match value {
        serde_json::Value::Object(fields) => {
            for (key, inner) in fields {
                prefix.push(key.clone());
                found.push(prefix.clone());
                paths(inner, prefix, found);
                prefix.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (position, inner) in items.iter().enumerate() {
                prefix.push(position.to_string());
                found.push(prefix.clone());
                paths(inner, prefix, found);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// The value at a random spot inside `value`, if it has one.
fn random_spot<'a>(
    rng: &mut Rng,
    value: &'a mut serde_json::Value,
) -> Option<&'a mut serde_json::Value> {
    let mut found = Vec::new();
    paths(value, &mut Vec::new(), &mut found);
    if found.is_empty() {
        return None;
    }
    let path = rng.pick(&found).clone();
    let pointer: String = path.iter().map(|part| format!("/{part}")).collect();
    value.pointer_mut(&pointer)
}

const NUMBER_PLACEHOLDER: &str = "__fuzz_number__";

/// A sample as JSON text, mutated; with the method, the mutation's name and the sample's JSON
/// (for the ids a REST path carries).
pub fn mutated_json(
    rng: &mut Rng,
    corpus: &Corpus,
) -> (&'static str, &'static str, Vec<u8>, serde_json::Value) {
    let sample = rng.pick(&corpus.samples);
    let method = sample.method;
    let original = sample.json.clone();
    let mut value = original.clone();
    if method == "AddHumanUser" && rng.percent(70) {
        // A new username and address, so that valid requests add users instead of colliding.
        let name = rng.word(12);
        value["username"] = serde_json::json!(name);
        value["email"]["email"] = serde_json::json!(format!("{name}@example.com"));
    }
    let mut text: Option<Vec<u8>> = None;
    let name = match rng.below(26) {
        0..2 => "valid",
        2..5 => {
            if let Some(spot) = random_spot(rng, &mut value) {
                *spot = rng
                    .pick(&[
                        serde_json::json!(true),
                        serde_json::json!(12),
                        serde_json::json!(-1.5),
                        serde_json::json!("text"),
                        serde_json::json!([1, "a", null]),
                        serde_json::json!({ "x": 1 }),
                        serde_json::Value::Null,
                    ])
                    .clone();
            }
            "wrong type"
        }
        5..7 => {
            let number = *rng.pick(&[
                "1e400",
                "-1e400",
                "99999999999999999999999999999",
                "18446744073709551616",
                "-9223372036854775809",
                "1.0e-400",
                "-0",
                "4294967296",
                "123456789012345678901234567890.5",
            ]);
            if let Some(spot) = random_spot(rng, &mut value) {
                *spot = serde_json::json!(NUMBER_PLACEHOLDER);
            }
            let written = value
                .to_string()
                .replace(&format!("\"{NUMBER_PLACEHOLDER}\""), number);
            text = Some(written.into_bytes());
            "huge number"
        }
        7..9 => {
            let enum_value = rng
                .pick(&[
                    serde_json::json!("GENDER_NOPE"),
                    serde_json::json!("PASSKEY_AUTHENTICATOR_NOPE"),
                    serde_json::json!("gender_female"),
                    serde_json::json!(""),
                    serde_json::json!(77),
                    serde_json::json!(-1),
                    serde_json::json!(2_147_483_648_i64),
                    serde_json::json!(1.5),
                    serde_json::json!("1"),
                ])
                .clone();
            return if rng.percent(50) {
                let mut human = corpus.samples[0].json.clone();
                human["profile"]["gender"] = enum_value;
                (
                    "AddHumanUser",
                    "unknown enum value",
                    human.to_string().into_bytes(),
                    human,
                )
            } else {
                let register = serde_json::json!({
                    "userId": corpus.user_ids[0],
                    "authenticator": enum_value,
                });
                (
                    "RegisterPasskey",
                    "unknown enum value",
                    register.to_string().into_bytes(),
                    register,
                )
            };
        }
        9..11 => {
            let levels = rng.between(30, 70);
            let credential = prost_reflect_json(&credential_struct(levels));
            let verify = serde_json::json!({
                "userId": corpus.user_ids[0],
                "passkeyId": "42",
                "publicKeyCredential": credential,
                "passkeyName": "deep",
            });
            return (
                "VerifyPasskeyRegistration",
                "deeply nested struct",
                verify.to_string().into_bytes(),
                verify,
            );
        }
        11..12 => {
            // Written by hand: past serde_json's own limit, and deeper than a Value could be.
            let levels = rng.between(100, 5000);
            let written = format!(
                r#"{{"userId":"{}","passkeyId":"42","passkeyName":"deep","publicKeyCredential":{}{{}}{}}}"#,
                corpus.user_ids[0],
                r#"{"a":"#.repeat(levels),
                "}".repeat(levels)
            );
            return (
                "VerifyPasskeyRegistration",
                "nesting past the parser's limit",
                written.into_bytes(),
                original,
            );
        }
        12..14 => {
            let mut written = value.to_string().into_bytes();
            let position = rng.below(written.len() + 1);
            const INVALID: [&[u8]; 4] = [
                &[0xff],
                &[0xc3, 0x28],
                &[0xed, 0xa0, 0x80],
                &[0xf8, 0x88, 0x80, 0x80, 0x80],
            ];
            let invalid = *rng.pick(&INVALID);
            written.splice(position..position, invalid.iter().copied());
            text = Some(written);
            "invalid UTF-8"
        }
        14..15 => {
            let written = value.to_string().replacen(":\"", ":\"\\ud800", 1);
            text = Some(written.into_bytes());
            "lone surrogate escape"
        }
        15..17 => {
            let mut written = value.to_string().into_bytes();
            written.truncate(rng.below(written.len() + 1));
            text = Some(written);
            "truncated"
        }
        17..18 => {
            text = Some(rng.bytes_between(0, 100));
            "random bytes"
        }
        18..20 => {
            let special = *rng.pick(&[
                "",
                "null",
                "[]",
                "1",
                "\"x\"",
                "{",
                "{}",
                "{\"a\":}",
                "{\"userId\":null}",
                " \n\t ",
                "{\"userId\":\"1\"}garbage",
                "[{}]",
                "{\"userId\":\"1\",}",
            ]);
            text = Some(special.as_bytes().to_vec());
            "special body"
        }
        20..22 => {
            if let serde_json::Value::Object(fields) = &mut value {
                fields.insert(
                    rng.word_between(1, 20),
                    serde_json::json!({ "nested": [1, 2, 3] }),
                );
            }
            if let Some(spot) = random_spot(rng, &mut value) {
                let length = rng.between(100, 20_000);
                *spot = serde_json::json!("x".repeat(length));
            }
            "unknown field and a long string"
        }
        22..24 => {
            let written = value.to_string();
            let rest = written.strip_prefix('{').unwrap_or(&written);
            text = Some(
                format!(
                    "{{\"userId\":{},{rest}",
                    rng.pick(&["1", "\"1\"", "null", "[]"])
                )
                .into_bytes(),
            );
            "duplicate key"
        }
        _ => {
            if let serde_json::Value::Object(fields) = &mut value
                && !fields.is_empty()
            {
                let key = fields.keys().nth(rng.below(fields.len())).unwrap().clone();
                fields.remove(&key);
            }
            "a field removed"
        }
    };
    let body = text.unwrap_or_else(|| value.to_string().into_bytes());
    (method, name, body, original)
}

/// A Struct as the JSON object it stands for.
fn prost_reflect_json(credential: &prost_types::Struct) -> serde_json::Value {
    passlink::api::convert::struct_to_json(credential.clone())
}

pub fn connect_json(rng: &mut Rng, corpus: &Corpus) -> FuzzRequest {
    let (method, mutation, body, _) = mutated_json(rng, corpus);
    let content_type = *rng.pick(&[
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
    ]);
    let mut headers = vec![("content-type".into(), content_type.to_owned())];
    if rng.percent(70) {
        headers.push(("connect-protocol-version".into(), "1".into()));
    }
    FuzzRequest {
        kind: format!("connect-json/{mutation}"),
        family: "connect-json",
        transport: Transport::http2_in(rng, 20),
        method: "POST".into(),
        path: format!("/{SERVICE}/{method}"),
        headers,
        body,
    }
}

/// A path segment: the real id most of the time, else something odd.
fn segment(rng: &mut Rng, value: Option<&serde_json::Value>) -> String {
    if rng.percent(85)
        && let Some(id) = value.and_then(serde_json::Value::as_str)
    {
        return id.to_owned();
    }
    match rng.below(7) {
        0 => String::new(),
        1 => "%FF".to_owned(),
        2 => "%00".to_owned(),
        3 => rng.word(300),
        4 => "%F0%9F%92%A9".to_owned(),
        5 => "%2F..%2F".to_owned(),
        _ => "999999999999999999".to_owned(),
    }
}

pub fn rest(rng: &mut Rng, corpus: &Corpus) -> FuzzRequest {
    let (method, mutation, body, original) = mutated_json(rng, corpus);
    let user = segment(rng, original.get("userId"));
    let passkey = segment(rng, original.get("passkeyId"));
    let (http_method, path, with_body) = match method {
        "AddHumanUser" => ("POST", "/v2/users/human".to_owned(), true),
        "GetUserByID" => ("GET", format!("/v2/users/{user}"), false),
        "DeleteUser" => ("DELETE", format!("/v2/users/{user}"), false),
        "CreatePasskeyRegistrationLink" => (
            "POST",
            format!("/v2/users/{user}/passkeys/registration_link"),
            true,
        ),
        "RegisterPasskey" => ("POST", format!("/v2/users/{user}/passkeys"), true),
        "VerifyPasskeyRegistration" => {
            ("POST", format!("/v2/users/{user}/passkeys/{passkey}"), true)
        }
        "ListPasskeys" => ("POST", format!("/v2/users/{user}/passkeys/_search"), true),
        _ => (
            "DELETE",
            format!("/v2/users/{user}/passkeys/{passkey}"),
            false,
        ),
    };
    // Another method now and then, but never DELETE: only the last user may be deleted.
    let http_method = if rng.percent(10) {
        *rng.pick(&["GET", "PUT", "PATCH", "POST", "OPTIONS"])
    } else {
        http_method
    };
    let mut headers = Vec::new();
    if with_body || rng.percent(10) {
        headers.push(("content-type".into(), "application/json".into()));
    }
    FuzzRequest {
        kind: format!("rest/{mutation}"),
        family: "rest",
        transport: Transport::http2_in(rng, 20),
        method: http_method.into(),
        path,
        headers,
        body: if with_body || rng.percent(10) {
            body
        } else {
            Vec::new()
        },
    }
}
