//! What decoding lets through but no request may carry: an enum value its schema does not
//! define (proto3 enums are open, so prost keeps any number, and prost-reflect, told to ignore
//! unknown JSON fields, drops unknown enum names without a word), and text with a NUL character
//! (valid UTF-8, but PostgreSQL cannot store it, and SQLite would). The checks walk a whole
//! message generically, through nested messages, lists and maps, and name the offending field
//! as protoc-gen-validate does: `invalid SetHumanProfile.Gender: value must be one of the defined
//! enum values`, inside `embedded message failed validation | caused by: …` for each message
//! around it.

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value,
};

use crate::error::{Error, Result};

const DEFINED_ENUM_RULE: &str = "value must be one of the defined enum values";
const NO_NUL_RULE: &str = "value must not contain the NUL character";

/// Refuses a message with an enum field whose number its enum does not define, or with text
/// that contains a NUL character.
pub(super) fn check_values(message: &DynamicMessage) -> Result<()> {
    match first_violation(message) {
        Some(violation) => Err(Error::invalid_argument("API-Fv5nb", violation)),
        None => Ok(()),
    }
}

/// Refuses proto3 JSON for `descriptor` with an enum field given as a name its enum does not
/// define. Numbers and text are left to `check_values`, everything else to the JSON reader.
pub(super) fn check_json_enum_names(
    descriptor: &MessageDescriptor,
    json: &serde_json::Value,
) -> Result<()> {
    match unknown_name(descriptor, json) {
        Some(violation) => Err(Error::invalid_argument("API-Fv6nm", violation)),
        None => Ok(()),
    }
}

/// The google.protobuf types have JSON forms of their own and hold no enums of passlink's.
fn is_well_known(descriptor: &MessageDescriptor) -> bool {
    descriptor.package_name() == "google.protobuf"
}

/// A message's name as protoc-gen-validate writes it (its Go type name).
fn message_name(descriptor: &MessageDescriptor) -> String {
    let full_name = descriptor.full_name();
    full_name
        .strip_prefix(descriptor.package_name())
        .and_then(|name| name.strip_prefix('.'))
        .unwrap_or(full_name)
        .replace('.', "_")
}

/// A field's name as protoc-gen-validate writes it (its Go field name): `user_id` → `UserId`.
fn field_name(field: &FieldDescriptor) -> String {
    field
        .name()
        .split('_')
        .map(|part| {
            let mut characters = part.chars();
            characters
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + characters.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn violation(
    owner: &MessageDescriptor,
    field: &FieldDescriptor,
    position: &str,
    rule: &str,
) -> String {
    format!(
        "invalid {}.{}{position}: {rule}",
        message_name(owner),
        field_name(field)
    )
}

fn nested_violation(
    owner: &MessageDescriptor,
    field: &FieldDescriptor,
    position: &str,
    cause: String,
) -> String {
    format!(
        "invalid {}.{}{position}: embedded message failed validation | caused by: {cause}",
        message_name(owner),
        field_name(field)
    )
}

/// The kind of one element of a field: of the field itself, of a list's items, or of a map's
/// values.
fn element_kind(field: &FieldDescriptor) -> Kind {
    match field.kind() {
        Kind::Message(entry) if field.is_map() => entry.map_entry_value_field().kind(),
        kind => kind,
    }
}

fn map_key_text(key: &MapKey) -> String {
    match key {
        MapKey::Bool(value) => value.to_string(),
        MapKey::I32(value) => value.to_string(),
        MapKey::I64(value) => value.to_string(),
        MapKey::U32(value) => value.to_string(),
        MapKey::U64(value) => value.to_string(),
        MapKey::String(value) => value.clone(),
    }
}

fn first_violation(message: &DynamicMessage) -> Option<String> {
    let owner = message.descriptor();
    if is_well_known(&owner) {
        return None;
    }
    message.fields().find_map(|(field, value)| match value {
        Value::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| violation_in(&owner, &field, &format!("[{index}]"), item)),
        Value::Map(entries) => entries.iter().find_map(|(key, item)| {
            let position = format!("[{}]", map_key_text(key));
            match key {
                MapKey::String(text) if text.contains('\0') => {
                    Some(violation(&owner, &field, &position, NO_NUL_RULE))
                }
                _ => violation_in(&owner, &field, &position, item),
            }
        }),
        single => violation_in(&owner, &field, "", single),
    })
}

fn violation_in(
    owner: &MessageDescriptor,
    field: &FieldDescriptor,
    position: &str,
    value: &Value,
) -> Option<String> {
    match (value, element_kind(field)) {
        (Value::EnumNumber(number), Kind::Enum(enumeration))
            if enumeration.get_value(*number).is_none() =>
        {
            Some(violation(owner, field, position, DEFINED_ENUM_RULE))
        }
        (Value::String(text), _) if text.contains('\0') => {
            Some(violation(owner, field, position, NO_NUL_RULE))
        }
        (Value::Message(inner), _) => {
            first_violation(inner).map(|cause| nested_violation(owner, field, position, cause))
        }
        _ => None,
    }
}

fn unknown_name(descriptor: &MessageDescriptor, json: &serde_json::Value) -> Option<String> {
    let serde_json::Value::Object(members) = json else {
        return None;
    };
    if is_well_known(descriptor) {
        return None;
    }
    members.iter().find_map(|(key, value)| {
        let field = descriptor
            .get_field_by_json_name(key)
            .or_else(|| descriptor.get_field_by_name(key))?;
        match value {
            serde_json::Value::Object(entries) if field.is_map() => {
                entries.iter().find_map(|(entry_key, item)| {
                    unknown_name_in(descriptor, &field, &format!("[{entry_key}]"), item)
                })
            }
            serde_json::Value::Array(items) if field.is_list() => {
                items.iter().enumerate().find_map(|(index, item)| {
                    unknown_name_in(descriptor, &field, &format!("[{index}]"), item)
                })
            }
            single => unknown_name_in(descriptor, &field, "", single),
        }
    })
}

fn unknown_name_in(
    owner: &MessageDescriptor,
    field: &FieldDescriptor,
    position: &str,
    value: &serde_json::Value,
) -> Option<String> {
    match (value, element_kind(field)) {
        (serde_json::Value::String(name), Kind::Enum(enumeration))
            if enumeration.get_value_by_name(name).is_none() =>
        {
            Some(violation(owner, field, position, DEFINED_ENUM_RULE))
        }
        (inner @ serde_json::Value::Object(_), Kind::Message(inner_descriptor)) => {
            unknown_name(&inner_descriptor, inner)
                .map(|cause| nested_violation(owner, field, position, cause))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::schema;

    fn request(method: &str) -> MessageDescriptor {
        schema::message_descriptor(&format!("zitadel.user.v2.{method}Request")).expect("a request")
    }

    fn from_json(descriptor: MessageDescriptor, value: serde_json::Value) -> DynamicMessage {
        DynamicMessage::deserialize(descriptor, value).unwrap()
    }

    const NESTED_GENDER: &str = "invalid AddHumanUserRequest.Profile: embedded message failed \
        validation | caused by: invalid SetHumanProfile.Gender: value must be one of the defined \
        enum values";

    #[test]
    fn an_undefined_number_in_a_nested_message_is_named_with_its_path() {
        let message = from_json(
            request("AddHumanUser"),
            serde_json::json!({ "profile": { "givenName": "Ada", "gender": 77 } }),
        );
        let error = check_values(&message).unwrap_err();
        assert_eq!(error.code(), crate::error::Code::InvalidArgument);
        assert_eq!(error.text(), NESTED_GENDER);
    }

    #[test]
    fn an_undefined_number_at_the_top_is_named_by_its_message() {
        let message = from_json(
            request("RegisterPasskey"),
            serde_json::json!({ "userId": "1", "authenticator": 99 }),
        );
        assert_eq!(
            check_values(&message).unwrap_err().text(),
            "invalid RegisterPasskeyRequest.Authenticator: value must be one of the defined enum values"
        );
    }

    #[test]
    fn defined_numbers_and_names_pass() {
        let json = serde_json::json!({
            "profile": { "givenName": "Ada", "gender": "GENDER_FEMALE" },
            "metadata": [{ "key": "k", "value": "dg==" }],
        });
        check_json_enum_names(&request("AddHumanUser"), &json).unwrap();
        check_values(&from_json(request("AddHumanUser"), json)).unwrap();
        let register = serde_json::json!({ "authenticator": 2 });
        check_json_enum_names(&request("RegisterPasskey"), &register).unwrap();
        check_values(&from_json(request("RegisterPasskey"), register)).unwrap();
    }

    #[test]
    fn an_unknown_name_is_named_with_its_path_and_a_number_as_a_string_is_unknown() {
        for name in ["GENDER_NOPE", "gender_female", "1", ""] {
            let json = serde_json::json!({ "profile": { "gender": name } });
            let error = check_json_enum_names(&request("AddHumanUser"), &json).unwrap_err();
            assert_eq!(error.text(), NESTED_GENDER, "{name:?}");
        }
        let json = serde_json::json!({ "authenticator": "PASSKEY_AUTHENTICATOR_NOPE" });
        assert_eq!(
            check_json_enum_names(&request("RegisterPasskey"), &json)
                .unwrap_err()
                .text(),
            "invalid RegisterPasskeyRequest.Authenticator: value must be one of the defined enum values"
        );
    }

    #[test]
    fn proto_field_names_are_read_like_json_names_and_unknown_keys_are_skipped() {
        let json = serde_json::json!({
            "someFutureField": { "gender": "GENDER_NOPE" },
            "profile": { "given_name": "Ada", "gender": "GENDER_NOPE" },
        });
        assert_eq!(
            check_json_enum_names(&request("AddHumanUser"), &json)
                .unwrap_err()
                .text(),
            NESTED_GENDER
        );
    }

    #[test]
    fn text_with_a_nul_character_is_named_with_its_path() {
        let message = from_json(
            request("AddHumanUser"),
            serde_json::json!({ "profile": { "givenName": "A\u{0}da" } }),
        );
        assert_eq!(
            check_values(&message).unwrap_err().text(),
            "invalid AddHumanUserRequest.Profile: embedded message failed validation | caused \
             by: invalid SetHumanProfile.GivenName: value must not contain the NUL character"
        );
        let message = from_json(
            request("AddHumanUser"),
            serde_json::json!({ "metadata": [{ "key": "ok" }, { "key": "n\u{0}" }] }),
        );
        assert_eq!(
            check_values(&message).unwrap_err().text(),
            "invalid AddHumanUserRequest.Metadata[1]: embedded message failed validation | \
             caused by: invalid SetMetadataEntry.Key: value must not contain the NUL character"
        );
    }

    #[test]
    fn well_known_types_are_not_walked() {
        // A Struct's JSON is free-form: a key named like an enum field means nothing, and its
        // text never reaches the database as such.
        let json = serde_json::json!({
            "publicKeyCredential": { "authenticator": "NOPE", "gender": 77, "id": "\u{0}" },
        });
        check_json_enum_names(&request("VerifyPasskeyRegistration"), &json).unwrap();
        check_values(&from_json(request("VerifyPasskeyRegistration"), json)).unwrap();
    }

    #[test]
    fn positions_in_lists_and_maps_are_named_as_protoc_gen_validate_does() {
        let pool = prost_reflect::DescriptorPool::decode(
            prost_types::FileDescriptorSet {
                file: vec![prost_types::FileDescriptorProto {
                    name: Some("enums_test.proto".into()),
                    package: Some("test".into()),
                    syntax: Some("proto3".into()),
                    enum_type: vec![prost_types::EnumDescriptorProto {
                        name: Some("Color".into()),
                        value: vec![prost_types::EnumValueDescriptorProto {
                            name: Some("COLOR_UNSPECIFIED".into()),
                            number: Some(0),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    message_type: vec![prost_types::DescriptorProto {
                        name: Some("Palette".into()),
                        field: vec![
                            test_field("colors", 1, true, ".test.Color", 14),
                            test_field("by_name", 2, true, ".test.Palette.ByNameEntry", 11),
                        ],
                        nested_type: vec![prost_types::DescriptorProto {
                            name: Some("ByNameEntry".into()),
                            field: vec![
                                test_field("key", 1, false, "", 9),
                                test_field("value", 2, false, ".test.Color", 14),
                            ],
                            options: Some(prost_types::MessageOptions {
                                map_entry: Some(true),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            }
            .encode_to_vec()
            .as_slice(),
        )
        .unwrap();
        let palette = pool.get_message_by_name("test.Palette").unwrap();
        let json = serde_json::json!({ "colors": [0, 0, 5] });
        assert_eq!(
            check_values(&from_json(palette.clone(), json))
                .unwrap_err()
                .text(),
            "invalid Palette.Colors[2]: value must be one of the defined enum values"
        );
        let json = serde_json::json!({ "byName": { "sky": "COLOR_BLUE" } });
        assert_eq!(
            check_json_enum_names(&palette, &json).unwrap_err().text(),
            "invalid Palette.ByName[sky]: value must be one of the defined enum values"
        );
        let json = serde_json::json!({ "byName": { "sky": 3 } });
        assert_eq!(
            check_values(&from_json(palette, json)).unwrap_err().text(),
            "invalid Palette.ByName[sky]: value must be one of the defined enum values"
        );
    }

    use prost::Message;

    fn test_field(
        name: &str,
        number: i32,
        repeated: bool,
        type_name: &str,
        field_type: i32,
    ) -> prost_types::FieldDescriptorProto {
        prost_types::FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            label: Some(if repeated { 3 } else { 1 }),
            r#type: Some(field_type),
            type_name: (!type_name.is_empty()).then(|| type_name.into()),
            json_name: None,
            ..Default::default()
        }
    }
}
