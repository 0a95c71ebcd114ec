//! Checks of the exact JSON the contract names (§3): field names, 64-bit integers as strings,
//! RFC 3339 UTC timestamps ending in `Z`, and nothing else.

use std::collections::BTreeSet;

use serde_json::Value;

/// The keys of a JSON object.
pub fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// Asserts an RFC 3339 timestamp in UTC, written with `Z`.
pub fn assert_rfc3339_utc(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a string: {value}"));
    let pattern = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$").unwrap();
    assert!(pattern.is_match(text), "RFC 3339 UTC with Z: {text}");
    chrono::DateTime::parse_from_rfc3339(text).expect("a valid RFC 3339 time");
}

/// Asserts `details` as passkey RPCs write it: `sequence` as a string, `changeDate`,
/// `resourceOwner`, and no `creationDate`.
pub fn assert_details(details: &Value, sequence: u64, resource_owner: &str) {
    assert_eq!(
        keys(details),
        BTreeSet::from(["changeDate", "resourceOwner", "sequence"]),
        "{details}"
    );
    assert_eq!(
        details["sequence"],
        Value::String(sequence.to_string()),
        "a 64-bit sequence is a JSON string"
    );
    assert_eq!(details["resourceOwner"], resource_owner);
    assert_rfc3339_utc(&details["changeDate"]);
}

/// Asserts a CreatePasskeyRegistrationLink answer with `return_code`, exactly:
/// `{"details":{…},"code":{"id":"<decimal>","code":"<12 characters>"}}`.
pub fn assert_return_code_answer(answer: &Value, sequence: u64, resource_owner: &str) {
    assert_eq!(
        keys(answer),
        BTreeSet::from(["code", "details"]),
        "{answer}"
    );
    assert_details(&answer["details"], sequence, resource_owner);
    let code = &answer["code"];
    assert_eq!(keys(code), BTreeSet::from(["code", "id"]), "{code}");
    let id = code["id"].as_str().expect("code.id is a string");
    assert!(
        !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()),
        "{id}"
    );
    let secret = code["code"].as_str().expect("code.code is a string");
    assert_eq!(secret.len(), 12);
    assert!(
        secret.chars().all(|c| c.is_ascii_alphanumeric()),
        "{secret}"
    );
}
