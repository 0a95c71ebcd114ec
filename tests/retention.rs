//! Retention (issue 11): the sweep deletes what nobody can use any more (used and expired
//! codes, expired registrations, sent and dead messages) once its retention has passed, keeps
//! everything still of use and every event, and under a steady load of codes created and
//! expiring the database stops growing, but for the events. Of several processes sharing a
//! database, one at a time sweeps (a lease in the database). Runs on SQLite, and on
//! PostgreSQL when `PASSLINK_TEST_POSTGRES_URL` is set.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::mail::eventually;
use common::requests::{register_with_code, return_code, send_link};
use common::{TestServer, add_human, authorized, create_code};
use passlink::domain::time::{Clock, Timestamp};
use passlink::service::ports::{Disposable, RETENTION_LEASE, Store};
use passlink::service::{RetentionSweeper, Services, SweepReport};
use passlink::store::SqlStore;
use sqlx::{Connection, Row};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A server whose rows are of no use one day after they became so, swept in batches of 7 (so
/// that a sweep needs several), delivering email to its mail directory.
async fn server_keeping_one_day() -> TestServer {
    TestServer::start_with(|settings| {
        settings.outbox.worker = true;
        settings.outbox.poll_interval = Duration::from_millis(50);
        settings.retention.batch_size = 7;
        settings.retention.codes = DAY;
        settings.retention.registrations = DAY;
        settings.retention.sent_messages = DAY;
        settings.retention.dead_messages = DAY;
    })
    .await
}

/// `SELECT COUNT(*)` of a table.
async fn count_rows(server: &TestServer, table: &str) -> i64 {
    let mut connection = server.database_connection().await;
    let sql = format!("SELECT COUNT(*) FROM {table}");
    let count = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut connection)
        .await
        .unwrap()
        .get::<i64, _>(0);
    connection.close().await.unwrap();
    count
}

/// The rows of the tables the sweep deletes from, and of the events.
#[derive(Clone, Copy, Debug)]
struct RowCounts {
    codes: i64,
    registrations: i64,
    outbox: i64,
    events: i64,
}

async fn row_counts(server: &TestServer) -> RowCounts {
    RowCounts {
        codes: count_rows(server, "passkey_codes").await,
        registrations: count_rows(server, "passkey_registrations").await,
        outbox: count_rows(server, "outbox").await,
        events: count_rows(server, "events").await,
    }
}

/// The SQLite file's size in pages, and the pages of the events table and its index.
#[derive(Clone, Copy, Debug)]
struct FilePages {
    total: i64,
    free: i64,
    events: i64,
}

async fn file_pages(server: &TestServer) -> Option<FilePages> {
    if !server.database_url().starts_with("sqlite") {
        return None;
    }
    let mut connection = server.database_connection().await;
    let pragma = async |connection: &mut sqlx::AnyConnection, sql: &'static str| {
        sqlx::query(sql)
            .fetch_one(connection)
            .await
            .unwrap()
            .get::<i64, _>(0)
    };
    // The pages live in the WAL until a checkpoint; count them in the file itself.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut connection)
        .await
        .unwrap();
    let total = pragma(&mut connection, "PRAGMA page_count").await;
    let free = pragma(&mut connection, "PRAGMA freelist_count").await;
    let events = pragma(
        &mut connection,
        "SELECT COUNT(*) FROM dbstat \
         WHERE name IN (SELECT name FROM sqlite_schema WHERE tbl_name = 'events')",
    )
    .await;
    connection.close().await.unwrap();
    Some(FilePages {
        total,
        free,
        events,
    })
}

/// One day of load: per user `codes_per_user` codes returned (one of them redeemed, which uses
/// it and starts a registration) and one link sent; waits until the outbox has no pending
/// message left.
async fn one_day_of_load(server: &TestServer, users: &[String], codes_per_user: usize) {
    let mut client = server.grpc_client().await;
    for user_id in users {
        for index in 0..codes_per_user {
            let code = create_code(server, user_id).await;
            if index == 0 {
                client
                    .register_passkey(register_with_code(user_id, &code))
                    .await
                    .expect("RegisterPasskey with a fresh code");
            }
        }
        client
            .create_passkey_registration_link(authorized(
                send_link(user_id, None),
                &server.admin_token,
            ))
            .await
            .expect("CreatePasskeyRegistrationLink send_link");
    }
    eventually(
        "every queued message to be sent or dead",
        Duration::from_secs(30),
        async || {
            let outbox = server.outbox().await;
            outbox
                .iter()
                .all(|message| message.state != "pending")
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn under_steady_load_the_database_stops_growing_but_for_the_events() {
    let server = server_keeping_one_day().await;
    let sweeper = RetentionSweeper::new(server.services.clone());
    let mut users = Vec::new();
    for name in ["Ada", "Bob", "Cyd", "Dee"] {
        users.push(add_human(&server, &server.admin_token, name).await);
    }
    // Eve's stored name holds a line break (older rows may): her links die in the outbox.
    let eve = add_human(&server, &server.admin_token, "Eve").await;
    server
        .update_one_row(
            "UPDATE users SET given_name = $1 WHERE id = $2",
            &["Eve\nAdams", &eve],
        )
        .await;
    users.push(eve);
    const CODES_PER_USER: usize = 4;
    // Per day: 5 users × 5 codes (4 returned, 1 sent), 5 registrations, 5 messages.
    let codes_per_day = (users.len() * (CODES_PER_USER + 1)) as i64;
    let registrations_per_day = users.len() as i64;
    let messages_per_day = users.len() as i64;

    let mut history = Vec::new();
    let mut reports = Vec::new();
    for day in 0..8 {
        one_day_of_load(&server, &users, CODES_PER_USER).await;
        server.clock.advance(DAY);
        let report = sweeper.sweep_once().await.unwrap().expect("the lease");
        let counts = row_counts(&server).await;
        let pages = file_pages(&server).await;
        println!("day {day}: {report:?}\n  rows {counts:?}\n  pages {pages:?}");
        // Used codes and delivered messages are of no use at once, so today's sweep (a day
        // later) takes them; unused codes and registrations expire within the hour, so the
        // next day's sweep takes them. At most two days' rows ever stay.
        assert!(
            counts.codes <= 2 * codes_per_day,
            "day {day}: {} codes, more than two days' {codes_per_day}",
            counts.codes
        );
        assert!(
            counts.registrations <= 2 * registrations_per_day,
            "day {day}: {} registrations",
            counts.registrations
        );
        assert!(
            counts.outbox <= 2 * messages_per_day,
            "day {day}: {} outbox messages",
            counts.outbox
        );
        reports.push(report);
        history.push((counts, pages));
    }

    // From the second day on, each sweep took a whole day's rows, in several batches.
    // (A user's expired registrations also go when it starts another one, so the sweep finds
    // none of these users'; `rows_still_of_use_…` shows it taking them.)
    for (day, report) in reports.iter().enumerate().skip(1) {
        assert_eq!(
            report.deleted_of(Disposable::PasskeyCodes),
            codes_per_day as u64,
            "day {day}: {report:?}"
        );
        assert_eq!(report.deleted_of(Disposable::SentMessages), 4, "day {day}");
        assert_eq!(report.deleted_of(Disposable::DeadMessages), 1, "day {day}");
    }
    // The events are the audit log: they grow every day and are never swept.
    for pair in history.windows(2) {
        assert!(pair[1].0.events > pair[0].0.events, "{history:?}");
    }
    // On SQLite, from the third day on the file grows by no more than the events' pages: the
    // pages the sweep frees are used again.
    if let (Some(third), Some(last)) = (history[2].1, history[history.len() - 1].1) {
        let growth = last.total - third.total;
        let events_growth = last.events - third.events;
        assert!(
            growth <= events_growth + 2,
            "the file grew by {growth} pages, the events by {events_growth}: {history:?}"
        );
        let other_pages = |pages: FilePages| pages.total - pages.free - pages.events;
        assert!(
            other_pages(last) <= other_pages(third) + 2,
            "pages in use other than the events' grew from {} to {}: {history:?}",
            other_pages(third),
            other_pages(last)
        );
    }
}

#[tokio::test]
async fn rows_still_of_use_are_kept_whatever_their_age_and_so_are_events() {
    let server = TestServer::start_with(|settings| {
        settings.code.lifetime = 30 * DAY;
        settings.retention.codes = DAY;
        settings.retention.registrations = DAY;
        settings.retention.sent_messages = DAY;
        settings.retention.dead_messages = 10 * DAY;
    })
    .await;
    let sweeper = RetentionSweeper::new(server.services.clone());
    let ada = add_human(&server, &server.admin_token, "Ada").await;
    let live_code = create_code(&server, &ada).await;
    let used_code = create_code(&server, &ada).await;
    let mut client = server.grpc_client().await;
    client
        .register_passkey(register_with_code(&ada, &used_code))
        .await
        .expect("RegisterPasskey");
    // The worker is off: this message stays pending, as if its SMTP server were down.
    client
        .create_passkey_registration_link(authorized(send_link(&ada, None), &server.admin_token))
        .await
        .expect("CreatePasskeyRegistrationLink");
    let events_before = server.events(&ada).await.len();

    server.clock.advance(3 * DAY);
    let report = sweeper.sweep_once().await.unwrap().expect("the lease");
    assert_eq!(report.deleted_of(Disposable::PasskeyCodes), 1, "{report:?}");
    assert_eq!(
        report.deleted_of(Disposable::PasskeyRegistrations),
        1,
        "{report:?}"
    );
    let outbox = server.outbox().await;
    assert_eq!(outbox.len(), 1, "a pending message is never swept");
    assert_eq!(server.events(&ada).await.len(), events_before);
    // The live code, three days old, still works.
    client
        .register_passkey(register_with_code(&ada, &live_code))
        .await
        .expect("the live code is kept");

    // A dead message stays for its own retention (10 days), then goes.
    let mut connection = server.database_connection().await;
    sqlx::query("UPDATE outbox SET state = 'dead', next_attempt_at = $1 WHERE id = $2")
        .bind(server.clock.now().0)
        .bind(&outbox[0].id)
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    server.clock.advance(9 * DAY);
    let report = sweeper.sweep_once().await.unwrap().expect("the lease");
    assert_eq!(report.deleted_of(Disposable::DeadMessages), 0);
    assert_eq!(server.outbox().await.len(), 1);
    server.clock.advance(DAY + Duration::from_secs(1));
    let report = sweeper.sweep_once().await.unwrap().expect("the lease");
    assert_eq!(report.deleted_of(Disposable::DeadMessages), 1);
    assert!(server.outbox().await.is_empty());
}

/// Use cases over a second connection to the server's database, as another process has.
async fn second_process(server: &TestServer) -> Arc<Services> {
    let store = SqlStore::connect(&server.database_url()).await.unwrap();
    let settings = server.settings.resolve().unwrap().service;
    passlink::app::services(
        settings,
        store,
        Arc::new(passlink::sealing::NoSecretKey),
        server.clock.clone(),
    )
}

#[tokio::test]
async fn of_two_processes_sharing_a_database_one_sweeps_at_a_time() {
    let server = TestServer::start_with(|settings| {
        settings.retention.interval = Duration::from_secs(3600);
    })
    .await;
    let other = second_process(&server).await;
    let first = RetentionSweeper::new(server.services.clone());
    let second = RetentionSweeper::new(other);
    // The server's own sweeper took the lease at its start; it runs out after an interval.
    server.clock.advance(Duration::from_secs(3601));

    for round in 0..5 {
        let (first_swept, second_swept) = tokio::join!(first.sweep_once(), second.sweep_once());
        let swept: Vec<Option<SweepReport>> = vec![first_swept.unwrap(), second_swept.unwrap()];
        let sweeping = swept.iter().filter(|report| report.is_some()).count();
        assert_eq!(sweeping, 1, "round {round}: {swept:?}");
        // Within the interval, only the holder sweeps again.
        let holder = if swept[0].is_some() { &first } else { &second };
        let waiting = if swept[0].is_some() { &second } else { &first };
        assert!(
            waiting.sweep_once().await.unwrap().is_none(),
            "round {round}"
        );
        assert!(
            holder.sweep_once().await.unwrap().is_some(),
            "round {round}"
        );
        // Once the lease runs out, either may take it.
        server.clock.advance(Duration::from_secs(3601));
        assert!(
            waiting.sweep_once().await.unwrap().is_some(),
            "round {round}"
        );
        server.clock.advance(Duration::from_secs(3601));
    }
}

#[tokio::test]
async fn of_many_processes_taking_the_lease_at_once_exactly_one_gets_it() {
    let server = TestServer::start().await;
    let mut stores = vec![server.store().clone()];
    for _ in 0..3 {
        let other_process: Arc<dyn Store> =
            Arc::new(SqlStore::connect(&server.database_url()).await.unwrap());
        stores.push(other_process);
    }
    for round in 0..10i64 {
        // Far ahead of the server's own sweeper's lease, a fresh hour per round.
        let now = Timestamp(server.clock.now().0 + (round + 1) * 10 * DAY.as_micros() as i64);
        let until = now.plus(Duration::from_secs(3600));
        let attempts = stores.iter().enumerate().flat_map(|(process, store)| {
            (0..5).map(move |task| {
                let store = store.clone();
                let owner = format!("process-{process}-task-{task}");
                async move {
                    let taken = store
                        .take_lease(RETENTION_LEASE, &owner, now, until)
                        .await
                        .unwrap();
                    (owner, taken)
                }
            })
        });
        let outcomes: BTreeMap<String, bool> = futures_util::future::join_all(attempts)
            .await
            .into_iter()
            .collect();
        let holders: Vec<&String> = outcomes
            .iter()
            .filter(|(_, taken)| **taken)
            .map(|(owner, _)| owner)
            .collect();
        assert_eq!(holders.len(), 1, "round {round}: {outcomes:?}");
        // The holder extends it; anyone else is refused until it runs out.
        let holder = holders[0].clone();
        let later = now.plus(Duration::from_secs(60));
        let store = &stores[0];
        assert!(
            store
                .take_lease(RETENTION_LEASE, &holder, later, later.plus(DAY))
                .await
                .unwrap()
        );
        assert!(
            !store
                .take_lease(RETENTION_LEASE, "someone else", later, later.plus(DAY))
                .await
                .unwrap()
        );
        let after = later.plus(DAY);
        assert!(
            store
                .take_lease(RETENTION_LEASE, "someone else", after, after.plus(DAY))
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn return_code_links_count_as_codes_for_the_sweep() {
    // The sweep's rules and the settings agree: a code created by return_code, expired for
    // longer than retention.codes, goes; one expired for less stays.
    let server = TestServer::start_with(|settings| settings.retention.codes = DAY).await;
    let sweeper = RetentionSweeper::new(server.services.clone());
    let ada = add_human(&server, &server.admin_token, "Ada").await;
    server
        .grpc_client()
        .await
        .create_passkey_registration_link(authorized(return_code(&ada), &server.admin_token))
        .await
        .unwrap();
    server.clock.advance(DAY);
    let report = sweeper.sweep_once().await.unwrap().expect("the lease");
    assert_eq!(
        report.deleted_of(Disposable::PasskeyCodes),
        0,
        "expired 23h ago"
    );
    server.clock.advance(Duration::from_secs(3601));
    let report = sweeper.sweep_once().await.unwrap().expect("the lease");
    assert_eq!(report.deleted_of(Disposable::PasskeyCodes), 1);
}

/// Sessions (issue 10): ended and expired sessions go after `retention.sessions`; a session a
/// browser created without a token and never checked goes as soon as its challenge expired;
/// live sessions stay, and every session's events stay.
#[tokio::test]
async fn ended_expired_and_unchecked_public_sessions_are_swept_and_live_ones_kept() {
    use passlink::pb::zitadel::session::v2 as session_pb;
    let server = TestServer::start_with(|settings| settings.retention.sessions = DAY).await;
    let sweeper = RetentionSweeper::new(server.services.clone());
    let channel = tonic::transport::Channel::from_shared(server.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut sessions = session_pb::session_service_client::SessionServiceClient::new(channel);
    let challenge = session_pb::RequestChallenges {
        web_auth_n: Some(session_pb::request_challenges::WebAuthN {
            domain: "localhost".into(),
            user_verification_requirement: session_pb::UserVerificationRequirement::Required as i32,
        }),
        ..Default::default()
    };
    let public = session_pb::CreateSessionRequest {
        challenges: Some(challenge),
        ..Default::default()
    };
    sessions
        .create_session(public)
        .await
        .expect("public CreateSession");
    let admin = |lifetime: Option<u64>| {
        authorized(
            session_pb::CreateSessionRequest {
                lifetime: lifetime.map(|seconds| prost_types::Duration {
                    seconds: seconds as i64,
                    nanos: 0,
                }),
                ..Default::default()
            },
            &server.admin_token,
        )
    };
    let expiring = sessions
        .create_session(admin(Some(3600)))
        .await
        .unwrap()
        .into_inner();
    let ended = sessions
        .create_session(admin(None))
        .await
        .unwrap()
        .into_inner();
    let live = sessions
        .create_session(admin(None))
        .await
        .unwrap()
        .into_inner();
    sessions
        .delete_session(authorized(
            session_pb::DeleteSessionRequest {
                session_id: ended.session_id.clone(),
                session_token: None,
            },
            &server.admin_token,
        ))
        .await
        .expect("DeleteSession");
    assert_eq!(count_rows(&server, "sessions").await, 4);
    let events = count_rows(&server, "session_events").await;

    // Two hours on: the public challenge (5 minutes) is long gone, the rest within retention.
    server.clock.advance(Duration::from_secs(2 * 3600));
    let report = sweeper.sweep_once().await.unwrap().expect("the lease");
    assert_eq!(
        report.deleted_of(Disposable::UncheckedPublicSessions),
        1,
        "{report:?}"
    );
    assert_eq!(report.deleted_of(Disposable::Sessions), 0, "{report:?}");
    assert_eq!(count_rows(&server, "sessions").await, 3);
    assert_eq!(count_rows(&server, "session_challenges").await, 0);

    // Two days on: the expired and the ended session are past `retention.sessions`.
    server.clock.advance(2 * DAY);
    let report = sweeper.sweep_once().await.unwrap().expect("the lease");
    assert_eq!(report.deleted_of(Disposable::Sessions), 2, "{report:?}");
    let mut connection = server.database_connection().await;
    let left: Vec<String> = sqlx::query_scalar("SELECT id FROM sessions")
        .fetch_all(&mut connection)
        .await
        .unwrap();
    assert_eq!(left, [live.session_id], "only the live session is left");
    assert_ne!(expiring.session_id, ended.session_id);
    assert_eq!(
        count_rows(&server, "session_events").await,
        events,
        "events stay"
    );
}
