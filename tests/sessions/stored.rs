//! What a session stores besides its factors: metadata (set, merged, deleted by an empty
//! value), the user agent, the lifetime (§6.7), and the caps on their sizes (§8 #17).

use std::collections::HashMap;
use std::time::Duration;

use passlink::pb::zitadel::session::v2 as session_pb;
use rstest::rstest;
use rstest_reuse::apply;

use crate::common::protocols::Protocol;
use crate::common::scene::micros;
use crate::common::sessions::user_checks;
use crate::every_protocol;

use super::support::{SignInScene, assert_names_field, assert_validation, change_micros};

fn user_agent(header_value: &str) -> session_pb::UserAgent {
    session_pb::UserAgent {
        fingerprint_id: Some("fp".into()),
        ip: Some("1.2.3.4".into()),
        description: Some("d".into()),
        header: HashMap::from([(
            "user-agent".to_owned(),
            session_pb::user_agent::HeaderValues {
                values: vec![header_value.to_owned()],
            },
        )]),
    }
}

fn seconds(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

fn metadata(entries: &[(&str, &[u8])]) -> HashMap<String, Vec<u8>> {
    entries
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_vec()))
        .collect()
}

/// The session as GetSession answers it to the login client.
async fn read_session(s: &SignInScene, session_id: &str) -> session_pb::Session {
    s.login.get_session(session_id, None).await.unwrap()
}

/// Asserts that `session` expires `lifetime` seconds after the change `details` reports
/// (within a second).
fn assert_expires_after(
    session: &session_pb::Session,
    details: &Option<passlink::pb::zitadel::object::v2::Details>,
    lifetime: i64,
) {
    let expiration = micros(
        session
            .expiration_date
            .as_ref()
            .expect("a lifetime was set"),
    );
    let expected = change_micros(details) + lifetime * 1_000_000;
    assert!(
        (expiration - expected).abs() <= 1_000_000,
        "{expiration} vs {expected}"
    );
}

#[apply(every_protocol)]
#[tokio::test]
async fn metadata_user_agent_and_lifetime_are_stored_as_given(#[case] protocol: Protocol) {
    let s = SignInScene::new(protocol).await;
    let created = s
        .login
        .create_session(session_pb::CreateSessionRequest {
            checks: Some(user_checks(&s.user.user_id)),
            metadata: metadata(&[("k", b"v"), ("gone", b"")]),
            user_agent: Some(user_agent("x")),
            lifetime: seconds(18000),
            ..Default::default()
        })
        .await
        .unwrap();
    let session = read_session(&s, &created.session_id).await;
    assert_eq!(
        session.metadata,
        metadata(&[("k", b"v")]),
        "empty values are dropped"
    );
    assert_eq!(session.user_agent, Some(user_agent("x")));
    assert_expires_after(&session, &created.details, 18000);

    // SetSession merges metadata, deletes by an empty value, and restarts the lifetime.
    s.scene.server.clock.advance(Duration::from_secs(10));
    let set = s
        .login
        .set_session(session_pb::SetSessionRequest {
            session_id: created.session_id.clone(),
            metadata: metadata(&[("k", b""), ("n", b"w")]),
            lifetime: seconds(60),
            ..Default::default()
        })
        .await
        .unwrap();
    let session = read_session(&s, &created.session_id).await;
    assert_eq!(session.metadata, metadata(&[("n", b"w")]));
    assert_expires_after(&session, &set.details, 60);

    // An IP that does not parse is dropped; an empty user agent is absent (§6.3.6).
    let created = s
        .login
        .create_session(session_pb::CreateSessionRequest {
            user_agent: Some(session_pb::UserAgent {
                ip: Some("not-an-ip".into()),
                ..user_agent("y")
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let session = read_session(&s, &created.session_id).await;
    let stored = session.user_agent.expect("a user agent");
    assert_eq!(stored.ip, None);
    assert_eq!(stored.fingerprint_id.as_deref(), Some("fp"));
    let created = s
        .login
        .create_session(session_pb::CreateSessionRequest {
            user_agent: Some(session_pb::UserAgent::default()),
            ..Default::default()
        })
        .await
        .unwrap();
    let session = read_session(&s, &created.session_id).await;
    assert!(session.user_agent.is_none() && session.factors.is_none());
}

#[apply(every_protocol)]
#[tokio::test]
async fn lifetimes_must_be_positive_and_sizes_are_capped(#[case] protocol: Protocol) {
    let s = SignInScene::new(protocol).await;
    let create = |request: session_pb::CreateSessionRequest| {
        let login = s.login.clone();
        async move { login.create_session(request).await }
    };
    for lifetime in [seconds(0), seconds(-5)] {
        let failure = create(session_pb::CreateSessionRequest {
            lifetime,
            ..Default::default()
        })
        .await
        .unwrap_err();
        assert_validation(&failure, "value must be greater than 0s");
    }
    let created = create(Default::default()).await.unwrap();
    let failure = s
        .login
        .set_session(session_pb::SetSessionRequest {
            session_id: created.session_id.clone(),
            lifetime: seconds(0),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_validation(&failure, "value must be greater than 0s");

    // Metadata: key ≤ 200 runes, value ≤ 500000 bytes, ≤ 50 keys.
    let with_metadata = |entries: HashMap<String, Vec<u8>>| session_pb::CreateSessionRequest {
        metadata: entries,
        ..Default::default()
    };
    let long_key = "é".repeat(200);
    let big_value = vec![b'a'; 500_000];
    let fifty: HashMap<String, Vec<u8>> =
        (0..50).map(|i| (format!("k{i}"), b"v".to_vec())).collect();
    create(with_metadata(HashMap::from([(
        long_key.clone(),
        big_value.clone(),
    )])))
    .await
    .expect("at the caps");
    create(with_metadata(fifty.clone())).await.expect("50 keys");
    let too_long_key = HashMap::from([(format!("{long_key}é"), b"v".to_vec())]);
    let too_big_value = HashMap::from([("k".to_owned(), vec![b'a'; 500_001])]);
    let mut too_many = fifty;
    too_many.insert("k50".into(), b"v".to_vec());
    for entries in [too_long_key, too_big_value, too_many] {
        let failure = create(with_metadata(entries.clone())).await.unwrap_err();
        assert_names_field(&failure, "metadata");
        let failure = s
            .login
            .set_session(session_pb::SetSessionRequest {
                session_id: created.session_id.clone(),
                metadata: entries,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_names_field(&failure, "metadata");
    }
    // User-agent headers: at most 64 KiB.
    let failure = create(session_pb::CreateSessionRequest {
        user_agent: Some(user_agent(&"h".repeat(64 * 1024 + 1))),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert_names_field(&failure, "user_agent");
    create(session_pb::CreateSessionRequest {
        user_agent: Some(user_agent(&"h".repeat(60 * 1024))),
        ..Default::default()
    })
    .await
    .expect("under the cap");
}
