//! The set-based write path on SQLite and PostgreSQL: one call per batch, sequences without
//! gaps, nothing written for a user that is gone, deleted or not in the required state.

use sqlx::{AnyConnection, Connection};

use crate::domain::time::Timestamp;
use crate::domain::user::UserState;
use crate::service::ports::{
    Change, ChangeStore, Effect, NewMessage, NewPasskeyCode, PasskeyStore, Rejection,
};
use crate::store::tests::{change, machine_user, on_sqlite_and_postgres, store_with_org};

use super::apply_plain_changes;

const EXPIRES: Timestamp = Timestamp(1_800_000_000_000_000);

/// A plain change to `user_id` at `at` inserting the code `code_id` and, when asked, a
/// message `code_id-message`.
fn link(user_id: &str, code_id: &str, at: i64, message: bool) -> Change {
    let mut effects = vec![Effect::InsertPasskeyCode(NewPasskeyCode {
        id: code_id.to_owned(),
        code_hash: vec![0xab, 0x01, 0xff],
        expires_at: EXPIRES,
    })];
    if message {
        effects.push(Effect::EnqueueMessage(NewMessage {
            id: format!("{code_id}-message"),
            kind: "test_message",
            payload: r#"{"quoted":"\"x\"","unicode":"ü"}"#.into(),
        }));
    }
    Change {
        user_id: user_id.to_owned(),
        event_type: "test.linked",
        payload: serde_json::json!({ "code_id": code_id, "text": "a \"quoted\" ü" }),
        actor: "admin".into(),
        at: Timestamp(at),
        effects,
    }
}

/// One call writes the events numbered per user in order, the codes and messages of the
/// users that exist, and nothing for a user that is gone or deleted.
async fn one_call_writes_a_whole_batch(url: &str) {
    let store = store_with_org(url).await;
    for user in ["alice", "bob", "carol"] {
        store
            .commit(change(user, vec![machine_user(user)]))
            .await
            .unwrap()
            .unwrap();
    }
    store
        .commit(change("carol", vec![Effect::DeleteUser]))
        .await
        .unwrap()
        .unwrap();
    let changes = [
        link("alice", "a1", 10, true),
        link("alice", "a2", 11, false),
        link("alice", "a3", 12, true),
        link("bob", "b1", 13, false),
        link("carol", "c1", 14, true),
        link("ghost", "g1", 15, true),
    ];
    let mut connection = AnyConnection::connect(url).await.unwrap();
    let mut transaction = connection.begin().await.unwrap();
    let borrowed: Vec<&Change> = changes.iter().collect();
    let outcomes = apply_plain_changes(&mut transaction, &borrowed)
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    let summary: Vec<_> = outcomes
        .iter()
        .map(|outcome| {
            outcome
                .as_ref()
                .map(|committed| (committed.sequence, committed.org_id.as_str(), committed.at))
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            Ok((2, "org", Timestamp(10))),
            Ok((3, "org", Timestamp(11))),
            Ok((4, "org", Timestamp(12))),
            Ok((2, "org", Timestamp(13))),
            Err(&Rejection::UserNotFound),
            Err(&Rejection::UserNotFound),
        ]
    );
    let alice = store.list_events("alice").await.unwrap();
    let numbered: Vec<_> = alice
        .iter()
        .map(|event| (event.sequence, event.at.0))
        .collect();
    assert_eq!(
        numbered,
        vec![(1, 1_700_000_000_000_000), (2, 10), (3, 11), (4, 12)]
    );
    assert_eq!(alice[1].event_type, "test.linked");
    assert_eq!(alice[1].actor, "admin");
    assert_eq!(alice[1].payload, changes[0].payload.to_string());
    assert_eq!(store.list_events("bob").await.unwrap().len(), 2);
    assert_eq!(store.list_events("carol").await.unwrap().len(), 2);
    assert!(store.list_events("ghost").await.unwrap().is_empty());
    let code = store.get_passkey_code("a2").await.unwrap().unwrap();
    assert_eq!(
        (
            code.user_id.as_str(),
            code.code_hash,
            code.expires_at,
            code.failures,
            code.used
        ),
        ("alice", vec![0xab, 0x01, 0xff], EXPIRES, 0, false)
    );
    for written in ["a1", "a3", "b1"] {
        assert!(store.get_passkey_code(written).await.unwrap().is_some());
    }
    for refused in ["c1", "g1"] {
        assert!(store.get_passkey_code(refused).await.unwrap().is_none());
    }
    assert_eq!(
        store.outbox_counts_by_state().await.unwrap(),
        vec![("pending".to_owned(), 2)]
    );
    // A second call continues each user's numbering.
    let mut transaction = connection.begin().await.unwrap();
    let again = [link("bob", "b2", 20, true)];
    let outcomes = apply_plain_changes(&mut transaction, &again.iter().collect::<Vec<_>>())
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    assert_eq!(outcomes[0].as_ref().unwrap().sequence, 3);
}

on_sqlite_and_postgres!(one_call_writes_a_whole_batch);

/// A change that requires its user's state commits only if the user is in that state, on
/// the set-based path and on the per-change one; otherwise it writes nothing.
async fn a_required_state_is_checked_at_commit(url: &str) {
    let store = store_with_org(url).await;
    for user in ["alice", "bob", "carol"] {
        store
            .commit(change(user, vec![machine_user(user)]))
            .await
            .unwrap()
            .unwrap();
    }
    // No RPC locks a user yet: bob is locked in the database.
    let mut connection = AnyConnection::connect(url).await.unwrap();
    sqlx::query("UPDATE users SET state = $1 WHERE id = 'bob'")
        .bind(UserState::Locked as i64)
        .execute(&mut connection)
        .await
        .unwrap();
    let requiring = |user: &str, code_id: &str, state: Option<UserState>| {
        let mut change = link(user, code_id, 10, false);
        change.effects.extend(state.map(Effect::RequireUserState));
        change
    };
    let changes = [
        requiring("alice", "a1", Some(UserState::Active)),
        requiring("bob", "b1", Some(UserState::Active)),
        // carol's changes disagree on what they require: none of them commits.
        requiring("carol", "c1", Some(UserState::Active)),
        requiring("carol", "c2", None),
    ];
    let mut transaction = connection.begin().await.unwrap();
    let outcomes = apply_plain_changes(&mut transaction, &changes.iter().collect::<Vec<_>>())
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    let refusals: Vec<_> = outcomes
        .iter()
        .map(|outcome| outcome.as_ref().err())
        .collect();
    assert_eq!(
        refusals,
        vec![
            None,
            Some(&Rejection::UserChanged),
            Some(&Rejection::UserChanged),
            Some(&Rejection::UserNotFound),
        ]
    );
    assert!(store.get_passkey_code("a1").await.unwrap().is_some());
    for refused in ["b1", "c1", "c2"] {
        assert!(
            store.get_passkey_code(refused).await.unwrap().is_none(),
            "{refused}"
        );
    }
    assert_eq!(store.list_events("bob").await.unwrap().len(), 1);
    assert_eq!(store.list_events("carol").await.unwrap().len(), 1);
    // The per-change path (a change with an effect that is not plain) checks it too.
    let per_change = |user: &str| {
        change(
            user,
            vec![
                Effect::RequireUserState(UserState::Active),
                Effect::TerminateUserSessions,
            ],
        )
    };
    assert_eq!(
        store.commit(per_change("bob")).await.unwrap(),
        Err(Rejection::UserChanged)
    );
    assert_eq!(store.list_events("bob").await.unwrap().len(), 1);
    assert!(store.commit(per_change("alice")).await.unwrap().is_ok());
}

on_sqlite_and_postgres!(a_required_state_is_checked_at_commit);

/// Plain and other changes to the same users, submitted at once, share batches: every
/// change commits, each user's sequence has no gap, and each change's code is stored.
async fn mixed_batches_keep_sequences_without_gaps(url: &str) {
    let store = store_with_org(url).await;
    let users = ["u0", "u1", "u2", "u3"];
    for user in users {
        store
            .commit(change(user, vec![machine_user(user)]))
            .await
            .unwrap()
            .unwrap();
    }
    let mut submitted = Vec::new();
    for index in 0..400 {
        let store = store.clone();
        let user = users[index % users.len()];
        submitted.push(tokio::spawn(async move {
            // Every fifth change to u1 is not plain (it counts a failure on a code that
            // does not exist, and is refused), so the batches holding one write all of
            // u1's changes one by one, and the rollback of the first pass is exercised.
            let change = if user == "u1" && index % 5 == 0 {
                change(
                    user,
                    vec![Effect::RecordPasskeyCodeFailure {
                        code_id: "none".into(),
                        failure_limit: 5,
                    }],
                )
            } else {
                link(
                    user,
                    &format!("code-{index}"),
                    100 + index as i64,
                    index % 2 == 0,
                )
            };
            (index, store.commit(change).await.unwrap())
        }));
    }
    let mut committed = 0;
    for task in submitted {
        let (index, outcome) = task.await.unwrap();
        if users[index % users.len()] == "u1" && index % 5 == 0 {
            assert_eq!(outcome.unwrap_err(), Rejection::CodeNotConsumable);
        } else {
            outcome.unwrap();
            committed += 1;
            let code = format!("code-{index}");
            assert!(
                store.get_passkey_code(&code).await.unwrap().is_some(),
                "{code}"
            );
        }
    }
    let mut events = 0;
    for user in users {
        let sequences: Vec<u64> = store
            .list_events(user)
            .await
            .unwrap()
            .iter()
            .map(|event| event.sequence)
            .collect();
        assert_eq!(
            sequences,
            (1..=sequences.len() as u64).collect::<Vec<_>>(),
            "{user}"
        );
        events += sequences.len() - 1;
    }
    assert_eq!(events, committed);
}

on_sqlite_and_postgres!(mixed_batches_keep_sequences_without_gaps);
