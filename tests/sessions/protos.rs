//! The session service's generated messages and descriptors speak the wire contract's examples
//! (SESSIONS.md §3): the binary CreateSessionRequest encodes to the contract's bytes, and the JSON
//! examples read strictly (unknown names fail) and write back as shown. The field-by-field schema
//! is checked in `schema.rs`.

use passlink::pb::zitadel::session::v2 as session_pb;
use prost::Message;
use prost_reflect::{DeserializeOptions, DynamicMessage};
use serde_json::json;

use super::message;

/// Reads `value` strictly (an unknown field fails) as the named message.
fn strict_json(name: &str, value: serde_json::Value) -> DynamicMessage {
    DynamicMessage::deserialize_with_options(
        message(name),
        value.clone(),
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .unwrap_or_else(|error| panic!("{name} does not read {value}: {error}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn create_session_request_of_the_binary_example() -> session_pb::CreateSessionRequest {
    session_pb::CreateSessionRequest {
        checks: Some(session_pb::Checks {
            user: Some(session_pb::CheckUser {
                search: Some(session_pb::check_user::Search::UserId("1".into())),
            }),
            ..Default::default()
        }),
        challenges: Some(session_pb::RequestChallenges {
            web_auth_n: Some(session_pb::request_challenges::WebAuthN {
                domain: "localhost".into(),
                user_verification_requirement: session_pb::UserVerificationRequirement::Required
                    as i32,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn create_session_request_encodes_to_the_bytes_of_the_contract_example() {
    let request = create_session_request_of_the_binary_example();
    let expected = "0a050a030a0131".to_owned() + "1a0f0a0d0a096c6f63616c686f73741001";
    assert_eq!(hex(&request.encode_to_vec()), expected);
    let bytes: Vec<u8> = (0..expected.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&expected[index..index + 2], 16).unwrap())
        .collect();
    assert_eq!(
        session_pb::CreateSessionRequest::decode(bytes.as_slice()).unwrap(),
        request
    );
}

#[test]
fn the_json_request_examples_of_the_contract_read_strictly_into_the_generated_messages() {
    let create = strict_json(
        "CreateSessionRequest",
        json!({"checks":{"user":{"loginName":"ada"}},"metadata":{"k":"dg=="},"challenges":{"webAuthN":{"domain":"login.example.com","userVerificationRequirement":"USER_VERIFICATION_REQUIREMENT_REQUIRED"}},"userAgent":{"fingerprintId":"fp","ip":"1.2.3.4","description":"d","header":{"user-agent":{"values":["x"]}}},"lifetime":"18000s"}),
    )
    .transcode_to::<session_pb::CreateSessionRequest>()
    .unwrap();
    assert_eq!(
        create.checks.unwrap().user.unwrap().search,
        Some(session_pb::check_user::Search::LoginName("ada".into()))
    );
    assert_eq!(create.metadata["k"], b"v");
    let challenge = create.challenges.unwrap().web_auth_n.unwrap();
    assert_eq!(challenge.domain, "login.example.com");
    assert_eq!(
        challenge.user_verification_requirement,
        session_pb::UserVerificationRequirement::Required as i32
    );
    let user_agent = create.user_agent.unwrap();
    assert_eq!(user_agent.fingerprint_id.as_deref(), Some("fp"));
    assert_eq!(user_agent.ip.as_deref(), Some("1.2.3.4"));
    assert_eq!(user_agent.description.as_deref(), Some("d"));
    assert_eq!(user_agent.header["user-agent"].values, ["x"]);
    assert_eq!(
        create.lifetime,
        Some(prost_types::Duration {
            seconds: 18000,
            nanos: 0
        })
    );

    let set = strict_json(
        "SetSessionRequest",
        json!({"sessionId":"2","checks":{"webAuthN":{"credentialAssertionData":{"id":"AQ","rawId":"AQ","type":"public-key","response":{"authenticatorData":"…","clientDataJSON":"…","signature":"…","userHandle":"…"}}}}}),
    )
    .transcode_to::<session_pb::SetSessionRequest>()
    .unwrap();
    assert_eq!(set.session_id, "2");
    let assertion = set
        .checks
        .unwrap()
        .web_auth_n
        .unwrap()
        .credential_assertion_data
        .unwrap();
    assert_eq!(
        assertion.fields["rawId"].kind,
        Some(prost_types::value::Kind::StringValue("AQ".into()))
    );

    let list = strict_json(
        "ListSessionsRequest",
        json!({"query":{"limit":10},"queries":[{"idsQuery":{"ids":["2"]}}],"sortingColumn":"SESSION_FIELD_NAME_CREATION_DATE"}),
    )
    .transcode_to::<session_pb::ListSessionsRequest>()
    .unwrap();
    assert_eq!(list.query.unwrap().limit, 10);
    assert_eq!(
        list.queries[0].query,
        Some(session_pb::search_query::Query::IdsQuery(
            session_pb::IDsQuery {
                ids: vec!["2".into()]
            }
        ))
    );
    assert_eq!(
        list.sorting_column,
        session_pb::SessionFieldName::CreationDate as i32
    );
}

#[test]
fn the_json_response_example_of_the_contract_reads_and_writes_back_unchanged() {
    let example = json!({"details":{"sequence":"4","changeDate":"2025-01-06T09:05:15.131Z","resourceOwner":"1"},"sessionId":"2","sessionToken":"t","challenges":{"webAuthN":{"publicKeyCredentialRequestOptions":{"publicKey":{"challenge":"c","timeout":300000,"rpId":"localhost","allowCredentials":[{"type":"public-key","id":"AQ"}],"userVerification":"required"}}}}});
    let response = strict_json("CreateSessionResponse", example.clone())
        .transcode_to::<session_pb::CreateSessionResponse>()
        .unwrap();
    assert_eq!(response.details.as_ref().unwrap().sequence, 4);
    assert_eq!(response.session_id, "2");
    assert_eq!(response.session_token, "t");
    let options = response
        .challenges
        .as_ref()
        .unwrap()
        .web_auth_n
        .as_ref()
        .unwrap()
        .public_key_credential_request_options
        .as_ref()
        .unwrap();
    let Some(prost_types::value::Kind::StructValue(public_key)) = &options.fields["publicKey"].kind
    else {
        panic!("publicKey is an object: {options:?}");
    };
    assert_eq!(
        public_key.fields["timeout"].kind,
        Some(prost_types::value::Kind::NumberValue(300000.0)),
        "Struct numbers are doubles on the binary wire"
    );

    let written = DynamicMessage::decode(
        message("CreateSessionResponse"),
        response.encode_to_vec().as_slice(),
    )
    .unwrap();
    let mut written = serde_json::to_value(&written).unwrap();
    // Struct numbers are doubles: 300000 comes back as 300000.0, the same JSON number.
    let timeout = &mut written["challenges"]["webAuthN"]["publicKeyCredentialRequestOptions"]["publicKey"]
        ["timeout"];
    assert_eq!(timeout.as_f64(), Some(300000.0));
    *timeout = json!(300000);
    assert_eq!(written, example);
}

#[test]
fn proto_field_names_are_accepted_on_input_and_json_names_written_on_output() {
    let set = strict_json(
        "SetSessionRequest",
        json!({"session_id":"2","session_token":"t","checks":{"web_auth_n":{"credential_assertion_data":{}}},"challenges":{"web_auth_n":{"domain":"localhost","user_verification_requirement":1}}}),
    );
    let written = serde_json::to_value(&set).unwrap();
    assert_eq!(
        written,
        json!({"sessionId":"2","sessionToken":"t","checks":{"webAuthN":{"credentialAssertionData":{}}},"challenges":{"webAuthN":{"domain":"localhost","userVerificationRequirement":"USER_VERIFICATION_REQUIREMENT_REQUIRED"}}})
    );

    let session = session_pb::GetSessionResponse {
        session: Some(session_pb::Session {
            sequence: 7,
            factors: Some(session_pb::Factors {
                user: Some(session_pb::UserFactor {
                    organization_id: "9".into(),
                    ..Default::default()
                }),
                web_auth_n: Some(session_pb::WebAuthNFactor {
                    verified_at: None,
                    user_verified: true,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
    };
    let written = serde_json::to_value(
        DynamicMessage::decode(
            message("GetSessionResponse"),
            session.encode_to_vec().as_slice(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        written,
        json!({"session":{"sequence":"7","factors":{"user":{"organizationId":"9"},"webAuthN":{"userVerified":true}}}})
    );
}

#[test]
fn fields_newer_than_zitadel_proto_1_3_1_decode_so_that_the_server_can_refuse_them() {
    let create = strict_json(
        "CreateSessionRequest",
        json!({"checks":{"recoveryCode":{"code":"123"},"password":{"password":"p"},"idpIntent":{"idpIntentId":"i","idpIntentToken":"t"},"totp":{"code":"1"},"otpSms":{"code":"2"},"otpEmail":{"code":"3"}},"challenges":{"otpSms":{"returnCode":true},"otpEmail":{"sendCode":{"urlTemplate":"https://x/{{.Code}}"}}}}),
    )
    .transcode_to::<session_pb::CreateSessionRequest>()
    .unwrap();
    let checks = create.checks.unwrap();
    assert_eq!(checks.recovery_code.unwrap().code, "123");
    assert!(checks.password.is_some() && checks.idp_intent.is_some() && checks.totp.is_some());
    assert!(checks.otp_sms.is_some() && checks.otp_email.is_some());
    let challenges = create.challenges.unwrap();
    assert!(challenges.otp_sms.unwrap().return_code);
    assert!(matches!(
        challenges.otp_email.unwrap().delivery_type,
        Some(session_pb::request_challenges::otp_email::DeliveryType::SendCode(_))
    ));

    // A present but empty message counts as set, in JSON and in binary.
    let create = strict_json(
        "CreateSessionRequest",
        json!({"checks":{"password":{}},"challenges":{"otpEmail":{"returnCode":{}}}}),
    )
    .transcode_to::<session_pb::CreateSessionRequest>()
    .unwrap();
    assert!(create.checks.as_ref().unwrap().password.is_some());
    assert!(matches!(
        create
            .challenges
            .as_ref()
            .unwrap()
            .otp_email
            .as_ref()
            .unwrap()
            .delivery_type,
        Some(session_pb::request_challenges::otp_email::DeliveryType::ReturnCode(_))
    ));
    let again =
        session_pb::CreateSessionRequest::decode(create.encode_to_vec().as_slice()).unwrap();
    assert_eq!(again, create);

    let list = strict_json(
        "ListSessionsRequest",
        json!({"queries":[{"expirationDateQuery":{"expirationDate":"2025-01-06T09:05:15Z","method":"TIMESTAMP_QUERY_METHOD_LESS"}},{"creationDateQuery":{"creationDate":"2025-01-06T09:05:15Z","method":2}}]}),
    )
    .transcode_to::<session_pb::ListSessionsRequest>()
    .unwrap();
    let Some(session_pb::search_query::Query::ExpirationDateQuery(expiration)) =
        &list.queries[0].query
    else {
        panic!("an expiration date query: {list:?}");
    };
    assert_eq!(
        expiration.method,
        passlink::pb::zitadel::v1::TimestampQueryMethod::Less as i32
    );
    let Some(session_pb::search_query::Query::CreationDateQuery(creation)) = &list.queries[1].query
    else {
        panic!("a creation date query: {list:?}");
    };
    assert_eq!(
        creation.method,
        passlink::pb::zitadel::v1::TimestampQueryMethod::GreaterOrEquals as i32
    );
}
