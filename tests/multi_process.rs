//! Several passlink processes (the real binary) on one database: concurrent changes to the same
//! users keep every user's events gap-free and complete; and every acknowledged change survives
//! `kill -9`. The tests named `*_on_postgres` are ignored by a plain `cargo test` (they need a
//! PostgreSQL server named by `PASSLINK_TEST_POSTGRES_URL`); `cargo test -- --include-ignored`
//! runs them, and they fail without one.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{PasslinkProcess, passlink_command, postgres_database, sqlite_file_url};
use common::requests::{human, return_code, send_link};
use common::{authorized, uuid_like};
use passlink::pb::zitadel::user::v2 as user_pb;
use sqlx::{Connection, Row};
use tonic::transport::Channel;

type Client = user_pb::user_service_client::UserServiceClient<Channel>;

/// Starts the real binary on `database_url`. send_link needs a way to mail; the worker stays off
/// so that the only events are the ones the test's requests make.
fn start_process(database_url: &str, data_dir: &Path) -> PasslinkProcess {
    let mail_dir = data_dir.join("mail");
    PasslinkProcess::start(
        data_dir,
        &[
            OsStr::new("--database-url"),
            OsStr::new(database_url),
            OsStr::new("--mail-dir"),
            mail_dir.as_os_str(),
            OsStr::new("--outbox-worker"),
            OsStr::new("false"),
        ],
    )
}

async fn add_user(client: &mut Client, token: &str) -> String {
    let email = format!("user-{}@example.com", uuid_like());
    client
        .add_human_user(authorized(human("Multi", &email), token))
        .await
        .expect("AddHumanUser")
        .into_inner()
        .user_id
}

/// Each user's event sequences, in order.
async fn event_sequences(database_url: &str, user_ids: &[String]) -> BTreeMap<String, Vec<i64>> {
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(database_url).await.unwrap();
    let mut sequences = BTreeMap::new();
    for user_id in user_ids {
        let rows = sqlx::query("SELECT sequence FROM events WHERE user_id = $1 ORDER BY sequence")
            .bind(user_id)
            .fetch_all(&mut connection)
            .await
            .unwrap();
        let user_sequences = rows
            .iter()
            .map(|row| row.get::<i64, _>("sequence"))
            .collect();
        sequences.insert(user_id.clone(), user_sequences);
    }
    sequences
}

/// Two processes take turns changing the same few users from many concurrent tasks; every
/// change must be acknowledged, and every user's events must number 1..=n with n the number
/// of acknowledged changes plus its creation.
async fn two_processes_keep_events_gap_free(database_url: &str, data_root: &Path) {
    const USERS: usize = 4;
    const TASKS: usize = 24;
    const CHANGES_PER_TASK: usize = 20;
    let first = start_process(database_url, &data_root.join("first"));
    let token = std::fs::read_to_string(data_root.join("first").join("admin.pat"))
        .expect("the first process bootstraps the database")
        .trim()
        .to_owned();
    let second = start_process(database_url, &data_root.join("second"));
    let clients = [first.client().await, second.client().await];
    let mut setup = clients[0].clone();
    let mut user_ids = Vec::new();
    for _ in 0..USERS {
        user_ids.push(add_user(&mut setup, &token).await);
    }
    let acknowledged: Arc<Mutex<BTreeMap<String, Vec<u64>>>> = Arc::default();
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let clients = clients.clone();
        let user_ids = user_ids.clone();
        let token = token.clone();
        let acknowledged = acknowledged.clone();
        tasks.push(tokio::spawn(async move {
            for change in 0..CHANGES_PER_TASK {
                let mut client = clients[(task + change) % 2].clone();
                let user_id = &user_ids[(task * 7 + change) % USERS];
                let answer = client
                    .create_passkey_registration_link(authorized(
                        if change % 3 != 0 {
                            return_code(user_id)
                        } else {
                            send_link(user_id, None)
                        },
                        &token,
                    ))
                    .await
                    .unwrap_or_else(|status| {
                        panic!("a concurrent change to {user_id} failed: {status:?}")
                    })
                    .into_inner();
                acknowledged
                    .lock()
                    .unwrap()
                    .entry(user_id.clone())
                    .or_default()
                    .push(answer.details.unwrap().sequence);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let stored = event_sequences(database_url, &user_ids).await;
    let mut total = 0;
    for user_id in &user_ids {
        let mut answered = acknowledged.get(user_id).cloned().unwrap_or_default();
        answered.sort_unstable();
        let events = &stored[user_id];
        let expected: Vec<i64> = (1..=answered.len() as i64 + 1).collect();
        assert_eq!(
            events, &expected,
            "user {user_id}: events must be 1..=acknowledged+1"
        );
        let expected_answers: Vec<u64> = (2..=answered.len() as u64 + 1).collect();
        assert_eq!(
            answered, expected_answers,
            "user {user_id}: each acknowledged change reports its own sequence"
        );
        total += answered.len();
    }
    assert_eq!(total, TASKS * CHANGES_PER_TASK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (PASSLINK_TEST_POSTGRES_URL)"]
async fn two_processes_keep_every_users_events_gap_free_on_postgres() {
    let database = postgres_database().await;
    let data_root = tempfile::tempdir().unwrap();
    two_processes_keep_events_gap_free(&database.url, data_root.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_sqlite_file_keep_every_users_events_gap_free() {
    let data_root = tempfile::tempdir().unwrap();
    let database_url = sqlite_file_url(data_root.path(), "shared.db");
    two_processes_keep_events_gap_free(&database_url, data_root.path()).await;
}

/// Runs create-link requests from 64 tasks, kills the process with SIGKILL in the middle of
/// them, and checks that every code whose creation was acknowledged is in the database.
async fn acknowledged_links_survive_kill_9(database_url: &str, data_dir: &Path) {
    let mut process = start_process(database_url, data_dir);
    let token = std::fs::read_to_string(data_dir.join("admin.pat"))
        .unwrap()
        .trim()
        .to_owned();
    let mut client = process.client().await;
    let user_id = add_user(&mut client, &token).await;
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let mut client = client.clone();
        let (user_id, token, acknowledged) = (user_id.clone(), token.clone(), acknowledged.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                match client
                    .create_passkey_registration_link(authorized(return_code(&user_id), &token))
                    .await
                {
                    Ok(answer) => acknowledged
                        .lock()
                        .unwrap()
                        .push(answer.into_inner().code.unwrap().id),
                    // After the kill every request fails; those were never acknowledged.
                    Err(_) => break,
                }
            }
        }));
    }
    // Let the load build up, then kill the process while requests are in flight.
    let started = Instant::now();
    while acknowledged.lock().unwrap().len() < 300 && started.elapsed() < Duration::from_secs(8) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    process.kill_9();
    let acknowledged_at_kill = acknowledged.lock().unwrap().len();
    for task in tasks {
        task.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 100,
        "too few acknowledged requests ({}) to prove anything",
        acknowledged.len()
    );
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(database_url).await.unwrap();
    let stored: HashSet<String> = sqlx::query("SELECT id FROM passkey_codes WHERE user_id = $1")
        .bind(&user_id)
        .fetch_all(&mut connection)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>("id"))
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|code_id| !stored.contains(*code_id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged codes were lost after kill -9: {:?}",
        lost.len(),
        acknowledged.len(),
        &lost[..lost.len().min(5)]
    );
    eprintln!(
        "kill -9: {} codes acknowledged ({acknowledged_at_kill} when the kill was sent), all stored; {} stored in total",
        acknowledged.len(),
        stored.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_links_survive_kill_9_on_sqlite() {
    let data_dir = tempfile::tempdir().unwrap();
    let database_url = sqlite_file_url(data_dir.path(), "passlink.db");
    acknowledged_links_survive_kill_9(&database_url, data_dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (PASSLINK_TEST_POSTGRES_URL)"]
async fn acknowledged_links_survive_kill_9_on_postgres() {
    let database = postgres_database().await;
    let data_dir = tempfile::tempdir().unwrap();
    acknowledged_links_survive_kill_9(&database.url, data_dir.path()).await;
}

/// A token revoked by another process stops working within the token cache's time to live.
async fn revocation_by_another_process_takes_effect_within_the_cache_ttl(
    database_url: &str,
    data_dir: &Path,
) {
    let server = start_process(database_url, data_dir);
    let admin_token = std::fs::read_to_string(data_dir.join("admin.pat"))
        .unwrap()
        .trim()
        .to_owned();
    let mut client = server.client().await;
    let user_id = add_user(&mut client, &admin_token).await;
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(database_url).await.unwrap();
    let admin_user_id: String = sqlx::query("SELECT user_id FROM personal_access_tokens")
        .fetch_one(&mut connection)
        .await
        .unwrap()
        .get("user_id");
    let (token, created) = passlink_command(&[
        "token",
        "create",
        "--user",
        &admin_user_id,
        "--database-url",
        database_url,
    ]);
    let token = token.trim().to_owned();
    // stderr may also carry log lines (a warning about the data directory, say).
    let token_id = created
        .lines()
        .find_map(|line| line.strip_prefix("token id "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("`token create` names the token id")
        .to_owned();
    let get_user = |client: &mut Client| {
        let mut client = client.clone();
        let request = authorized(
            user_pb::GetUserByIdRequest {
                user_id: user_id.clone(),
            },
            &token,
        );
        async move { client.get_user_by_id(request).await }
    };
    get_user(&mut client)
        .await
        .expect("the new token works (and is now cached)");
    passlink_command(&[
        "token",
        "revoke",
        "--id",
        &token_id,
        "--database-url",
        database_url,
    ]);
    let revoked_at = Instant::now();
    let ttl = passlink::store::TOKEN_CACHE_TTL;
    loop {
        match get_user(&mut client).await {
            Err(status) if status.code() == tonic::Code::Unauthenticated => break,
            Err(status) => panic!("unexpected error {status:?}"),
            Ok(_) => assert!(
                revoked_at.elapsed() < ttl + Duration::from_millis(500),
                "a revoked token still works {:?} after the revocation",
                revoked_at.elapsed()
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "the revocation took effect after {:?} (cache TTL {ttl:?})",
        revoked_at.elapsed()
    );
}

#[tokio::test]
async fn a_token_revoked_by_another_process_stops_working_within_a_second_on_sqlite() {
    let data_dir = tempfile::tempdir().unwrap();
    let database_url = sqlite_file_url(data_dir.path(), "passlink.db");
    revocation_by_another_process_takes_effect_within_the_cache_ttl(&database_url, data_dir.path())
        .await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL (PASSLINK_TEST_POSTGRES_URL)"]
async fn a_token_revoked_by_another_process_stops_working_within_a_second_on_postgres() {
    let database = postgres_database().await;
    let data_dir = tempfile::tempdir().unwrap();
    revocation_by_another_process_takes_effect_within_the_cache_ttl(&database.url, data_dir.path())
        .await;
}
