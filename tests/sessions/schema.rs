//! The session service's descriptors have exactly the messages, fields, numbers, types, JSON
//! names, presence, oneofs, reserved numbers and names, enums and methods of the wire contract
//! (SESSIONS.md §1.2 and §1.3), including the fields newer than @zitadel/proto 1.3.1 and the
//! messages declared only so that they can be refused.

use prost_reflect::{FieldDescriptor, Kind};

use super::{PACKAGE, POOL, message, qualified};

/// The messages and enums of SESSIONS.md §1.2 and §1.3, one field a line:
/// `<number> <name> [optional|repeated] <type> [oneof=<name>]`. Types without a package are in
/// zitadel.session.v2. Every field's JSON name must be its lowerCamelCase name.
const SCHEMA: &str = "
message ListSessionsRequest
  1 query zitadel.object.v2.ListQuery
  2 queries repeated SearchQuery
  3 sorting_column SessionFieldName
message ListSessionsResponse
  1 details zitadel.object.v2.ListDetails
  2 sessions repeated Session
message GetSessionRequest
  1 session_id string
  2 session_token optional string
message GetSessionResponse
  1 session Session
message CreateSessionRequest
  1 checks Checks
  2 metadata map<string,bytes>
  3 challenges RequestChallenges
  4 user_agent UserAgent
  5 lifetime optional google.protobuf.Duration
message CreateSessionResponse
  1 details zitadel.object.v2.Details
  2 session_id string
  3 session_token string
  4 challenges Challenges
message SetSessionRequest
  1 session_id string
  2 session_token string
  3 checks Checks
  4 metadata map<string,bytes>
  5 challenges RequestChallenges
  6 lifetime optional google.protobuf.Duration
message SetSessionResponse
  1 details zitadel.object.v2.Details
  2 session_token string
  3 challenges Challenges
message DeleteSessionRequest
  1 session_id string
  2 session_token optional string
message DeleteSessionResponse
  1 details zitadel.object.v2.Details
message Checks
  1 user optional CheckUser
  2 password optional CheckPassword
  3 web_auth_n optional CheckWebAuthN
  4 idp_intent optional CheckIDPIntent
  5 totp optional CheckTOTP
  6 otp_sms optional CheckOTP
  7 otp_email optional CheckOTP
  8 recovery_code optional CheckRecoveryCode
message CheckUser
  1 user_id string oneof=search
  2 login_name string oneof=search
message CheckPassword
  1 password string
message CheckWebAuthN
  1 credential_assertion_data google.protobuf.Struct
message CheckIDPIntent
  1 idp_intent_id string
  2 idp_intent_token string
message CheckTOTP
  1 code string
message CheckOTP
  1 code string
message CheckRecoveryCode
  1 code string
message RequestChallenges
  1 web_auth_n optional RequestChallenges.WebAuthN
  2 otp_sms optional RequestChallenges.OTPSMS
  3 otp_email optional RequestChallenges.OTPEmail
message RequestChallenges.WebAuthN
  1 domain string
  2 user_verification_requirement UserVerificationRequirement
message RequestChallenges.OTPSMS
  1 return_code bool
message RequestChallenges.OTPEmail
  2 send_code RequestChallenges.OTPEmail.SendCode oneof=delivery_type
  3 return_code RequestChallenges.OTPEmail.ReturnCode oneof=delivery_type
message RequestChallenges.OTPEmail.SendCode
  1 url_template optional string
message RequestChallenges.OTPEmail.ReturnCode
message Challenges
  1 web_auth_n optional Challenges.WebAuthN
  2 otp_sms optional string
  3 otp_email optional string
message Challenges.WebAuthN
  1 public_key_credential_request_options google.protobuf.Struct
message Session
  1 id string
  2 creation_date google.protobuf.Timestamp
  3 change_date google.protobuf.Timestamp
  4 sequence uint64
  5 factors Factors
  6 metadata map<string,bytes>
  7 user_agent UserAgent
  8 expiration_date optional google.protobuf.Timestamp
message Factors
  1 user UserFactor
  2 password PasswordFactor
  3 web_auth_n WebAuthNFactor
  4 intent IntentFactor
  5 totp TOTPFactor
  6 otp_sms OTPFactor
  7 otp_email OTPFactor
  8 recovery_code RecoveryCodeFactor
message UserFactor
  1 verified_at google.protobuf.Timestamp
  2 id string
  3 login_name string
  4 display_name string
  6 organization_id string
  reserved 5 organisation_id
message PasswordFactor
  1 verified_at google.protobuf.Timestamp
message WebAuthNFactor
  1 verified_at google.protobuf.Timestamp
  2 user_verified bool
message IntentFactor
  1 verified_at google.protobuf.Timestamp
message TOTPFactor
  1 verified_at google.protobuf.Timestamp
message OTPFactor
  1 verified_at google.protobuf.Timestamp
message RecoveryCodeFactor
  1 verified_at google.protobuf.Timestamp
message UserAgent
  1 fingerprint_id optional string
  2 ip optional string
  3 description optional string
  4 header map<string,UserAgent.HeaderValues>
message UserAgent.HeaderValues
  1 values repeated string
message SearchQuery
  1 ids_query IDsQuery oneof=query
  2 user_id_query UserIDQuery oneof=query
  3 creation_date_query CreationDateQuery oneof=query
  4 creator_query CreatorQuery oneof=query
  5 user_agent_query UserAgentQuery oneof=query
  6 expiration_date_query ExpirationDateQuery oneof=query
message IDsQuery
  1 ids repeated string
message UserIDQuery
  1 id string
message CreationDateQuery
  1 creation_date google.protobuf.Timestamp
  2 method zitadel.v1.TimestampQueryMethod
message ExpirationDateQuery
  1 expiration_date google.protobuf.Timestamp
  2 method zitadel.v1.TimestampQueryMethod
message CreatorQuery
  1 id optional string
message UserAgentQuery
  1 fingerprint_id optional string
enum SessionFieldName
  0 SESSION_FIELD_NAME_UNSPECIFIED
  1 SESSION_FIELD_NAME_CREATION_DATE
enum UserVerificationRequirement
  0 USER_VERIFICATION_REQUIREMENT_UNSPECIFIED
  1 USER_VERIFICATION_REQUIREMENT_REQUIRED
  2 USER_VERIFICATION_REQUIREMENT_PREFERRED
  3 USER_VERIFICATION_REQUIREMENT_DISCOURAGED
enum zitadel.v1.TimestampQueryMethod
  0 TIMESTAMP_QUERY_METHOD_EQUALS
  1 TIMESTAMP_QUERY_METHOD_GREATER
  2 TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS
  3 TIMESTAMP_QUERY_METHOD_LESS
  4 TIMESTAMP_QUERY_METHOD_LESS_OR_EQUALS
";

/// A field as the schema writes it: `[optional|repeated] <type> [oneof=<name>]`.
fn describe_field(field: &FieldDescriptor) -> String {
    fn kind_name(kind: Kind) -> String {
        match kind {
            Kind::Message(message) => message.full_name().to_owned(),
            Kind::Enum(enumeration) => enumeration.full_name().to_owned(),
            Kind::String => "string".into(),
            Kind::Bytes => "bytes".into(),
            Kind::Bool => "bool".into(),
            Kind::Uint64 => "uint64".into(),
            Kind::Uint32 => "uint32".into(),
            other => format!("{other:?}"),
        }
    }
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            unreachable!("a map field's kind is its entry message")
        };
        return format!(
            "map<{},{}>",
            kind_name(entry.map_entry_key_field().kind()),
            kind_name(entry.map_entry_value_field().kind())
        );
    }
    let mut described = String::new();
    let oneof = field.containing_oneof();
    match &oneof {
        Some(oneof) if oneof.is_synthetic() => described.push_str("optional "),
        _ if field.is_list() => described.push_str("repeated "),
        _ => {}
    }
    described.push_str(&kind_name(field.kind()));
    if let Some(oneof) = oneof.filter(|oneof| !oneof.is_synthetic()) {
        described.push_str(&format!(" oneof={}", oneof.name()));
    }
    described
}

/// The schema's type spelling with packages filled in, e.g. `optional zitadel.session.v2.X`.
fn expected_field(words: &[&str]) -> String {
    words
        .iter()
        .map(|word| {
            if let Some(inner) = word
                .strip_prefix("map<")
                .and_then(|rest| rest.strip_suffix('>'))
            {
                let (key, value) = inner.split_once(',').unwrap();
                format!("map<{key},{}>", expected_type(value))
            } else if ["optional", "repeated"].contains(word) || word.starts_with("oneof=") {
                (*word).to_owned()
            } else {
                expected_type(word)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn expected_type(word: &str) -> String {
    match word {
        "string" | "bytes" | "bool" | "uint64" | "uint32" => word.to_owned(),
        _ => qualified(word),
    }
}

fn lower_camel_case(name: &str) -> String {
    let mut camel = String::new();
    let mut upper_next = false;
    for character in name.chars() {
        if character == '_' {
            upper_next = true;
        } else if upper_next {
            camel.extend(character.to_uppercase());
            upper_next = false;
        } else {
            camel.push(character);
        }
    }
    camel
}

/// One `message` or `enum` of the schema: its header line, its fields (number, name, expected
/// description; for an enum: number and value name) and its reserved numbers and names.
#[derive(Default)]
struct SchemaBlock {
    header: String,
    fields: Vec<(u32, String, String)>,
    reserved: Vec<String>,
}

fn schema_blocks() -> Vec<SchemaBlock> {
    let mut blocks: Vec<SchemaBlock> = Vec::new();
    for line in SCHEMA
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[0] {
            "message" | "enum" => blocks.push(SchemaBlock {
                header: line.to_owned(),
                ..SchemaBlock::default()
            }),
            "reserved" => {
                let block = blocks.last_mut().unwrap();
                block
                    .reserved
                    .extend(words[1..].iter().map(|word| word.to_string()));
            }
            number => {
                let block = blocks.last_mut().unwrap();
                block.fields.push((
                    number.parse().unwrap(),
                    words[1].to_owned(),
                    expected_field(&words[2..]),
                ));
            }
        }
    }
    blocks
}

/// The items, sorted.
fn sorted<Item: Ord>(mut items: Vec<Item>) -> Vec<Item> {
    items.sort();
    items
}

#[test]
fn every_session_message_has_exactly_the_fields_of_the_contract() {
    let mut problems = Vec::new();
    for SchemaBlock {
        header,
        fields,
        reserved,
    } in schema_blocks()
    {
        let (kind, name) = header.split_once(' ').unwrap();
        if kind == "enum" {
            let full_name = qualified(name);
            let Some(enumeration) = POOL.get_enum_by_name(&full_name) else {
                problems.push(format!("enum {full_name} is missing"));
                continue;
            };
            let actual: Vec<(u32, String)> = enumeration
                .values()
                .map(|value| (value.number() as u32, value.name().to_owned()))
                .collect();
            let expected: Vec<(u32, String)> = fields
                .iter()
                .map(|(number, value, _)| (*number, value.clone()))
                .collect();
            if actual != expected {
                problems.push(format!("enum {full_name}: {actual:?}, want {expected:?}"));
            }
            continue;
        }
        let Some(descriptor) = POOL.get_message_by_name(&qualified(name)) else {
            problems.push(format!("message {} is missing", qualified(name)));
            continue;
        };
        let actual: Vec<(u32, String, String)> = descriptor
            .fields()
            .map(|field| {
                (
                    field.number(),
                    field.name().to_owned(),
                    describe_field(&field),
                )
            })
            .collect();
        let expected = sorted(fields.clone());
        let sorted_actual = sorted(actual.clone());
        if sorted_actual != expected {
            problems.push(format!(
                "{}:\n  has  {sorted_actual:?}\n  want {expected:?}",
                descriptor.full_name()
            ));
        }
        for field in descriptor.fields() {
            if field.json_name() != lower_camel_case(field.name()) {
                problems.push(format!(
                    "{}: JSON name {}, want {}",
                    field.full_name(),
                    field.json_name(),
                    lower_camel_case(field.name())
                ));
            }
        }
        let actual_reserved: Vec<String> = sorted(
            descriptor
                .reserved_ranges()
                .flat_map(|range| range.map(|number| number.to_string()))
                .chain(descriptor.reserved_names().map(str::to_owned))
                .collect(),
        );
        let expected_reserved = sorted(reserved.clone());
        if actual_reserved != expected_reserved {
            problems.push(format!(
                "{}: reserves {actual_reserved:?}, want {expected_reserved:?}",
                descriptor.full_name()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn web_auth_n_is_webauthn_with_a_capital_n_in_json_everywhere() {
    for name in ["Checks", "RequestChallenges", "Challenges", "Factors"] {
        let field = message(name)
            .get_field_by_name("web_auth_n")
            .unwrap_or_else(|| panic!("{name}.web_auth_n"));
        assert_eq!(field.json_name(), "webAuthN", "{name}");
    }
}

#[test]
fn the_session_service_has_the_five_methods_of_the_contract() {
    let service = POOL
        .get_service_by_name("zitadel.session.v2.SessionService")
        .expect("the session service");
    let methods: Vec<(String, String, String)> = service
        .methods()
        .map(|method| {
            (
                method.name().to_owned(),
                method.input().full_name().to_owned(),
                method.output().full_name().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        "ListSessions",
        "GetSession",
        "CreateSession",
        "SetSession",
        "DeleteSession",
    ]
    .iter()
    .map(|name| {
        (
            (*name).to_owned(),
            format!("{PACKAGE}.{name}Request"),
            format!("{PACKAGE}.{name}Response"),
        )
    })
    .collect();
    assert_eq!(methods, expected);
}
