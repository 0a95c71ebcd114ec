//! Online backup (issue 11): `passlink backup --to FILE` copies the embedded SQLite database
//! while a server keeps writing to it; the copy is consistent (integrity check, every user's
//! events, sequence and codes agree), private (0600), and a passlink started on it serves the
//! users it holds. It never overwrites a file, and on PostgreSQL it points at pg_dump and fails.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::process::{PasslinkProcess, passlink_command, passlink_output};
use common::requests::return_code;
use common::{TestServer, add_human, authorized, drop_postgres_database};
use passlink::pb::zitadel::user::v2 as user_pb;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row, SqliteConnection};

/// A server on SQLite, whatever `PASSLINK_TEST_POSTGRES_URL` says: backup is for the
/// embedded database.
async fn server_on_sqlite() -> TestServer {
    let mut unused_postgres = None;
    let server = TestServer::start_with(|settings| {
        unused_postgres = settings.database_url.take();
    })
    .await;
    if let Some(url) = unused_postgres {
        drop_postgres_database(&url);
    }
    server
}

/// Opens a SQLite file read-only.
async fn open_read_only(file: &Path) -> SqliteConnection {
    SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .connect()
        .await
        .expect("open the backup")
}

/// Per user: (sequence, events, codes), all from one file.
async fn user_consistency(connection: &mut SqliteConnection) -> Vec<(String, i64, i64, i64)> {
    sqlx::query(
        "SELECT id, sequence, \
           (SELECT COUNT(*) FROM events WHERE events.user_id = users.id), \
           (SELECT COUNT(*) FROM passkey_codes WHERE passkey_codes.user_id = users.id) \
         FROM users ORDER BY id",
    )
    .fetch_all(connection)
    .await
    .unwrap()
    .into_iter()
    .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_write_load_is_consistent_and_a_passlink_serves_it() {
    let server = server_on_sqlite().await;
    let data_dir = server.data_dir.path().to_path_buf();
    let mut users = Vec::new();
    for name in ["Ada", "Bob", "Cyd"] {
        users.push(add_human(&server, &server.admin_token, name).await);
    }
    // Load: each writer issues codes for its user until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let issued = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for user_id in users.clone() {
        let (stop, issued) = (stop.clone(), issued.clone());
        let (mut client, token) = (server.grpc_client().await, server.admin_token.clone());
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                client
                    .create_passkey_registration_link(authorized(return_code(&user_id), &token))
                    .await
                    .expect("CreatePasskeyRegistrationLink under backup");
                issued.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    while issued.load(Ordering::SeqCst) < 60 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let backup_dir = tempfile::tempdir().unwrap();
    let backup = backup_dir.path().join("passlink-backup.db");
    let issued_before = issued.load(Ordering::SeqCst);
    let (_, stderr) = tokio::task::spawn_blocking({
        let (data_dir, backup) = (data_dir.clone(), backup.clone());
        move || {
            passlink_command(&[
                "backup".as_ref(),
                "--data-dir".as_ref(),
                data_dir.as_os_str(),
                "--to".as_ref(),
                backup.as_os_str(),
            ])
        }
    })
    .await
    .unwrap();
    let issued_during = issued.load(Ordering::SeqCst) - issued_before;
    // The load goes on after the backup too, so the live database moves past it.
    let target = issued.load(Ordering::SeqCst) + 30;
    while issued.load(Ordering::SeqCst) < target {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }
    println!("backup: {stderr}codes issued while it ran: {issued_during}");
    assert!(
        issued_during > 0,
        "the backup ran while codes were being issued"
    );
    assert!(stderr.contains("integrity ok"), "{stderr}");
    assert!(
        stderr.contains("the secret key file is not in it"),
        "{stderr}"
    );
    let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the backup holds what the database holds");

    let mut copy = open_read_only(&backup).await;
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut copy)
        .await
        .unwrap();
    assert_eq!(verdict, "ok");
    // A consistent snapshot: each user's sequence counts its events, and for the users the
    // load wrote to, each code came with one event (plus the user's own creation).
    let in_backup = user_consistency(&mut copy).await;
    copy.close().await.unwrap();
    let mut live = SqliteConnectOptions::new()
        .filename(data_dir.join("passlink.db"))
        .connect()
        .await
        .unwrap();
    let in_live = user_consistency(&mut live).await;
    live.close().await.unwrap();
    let mut codes_in_backup = 0;
    for (user_id, sequence, events, codes) in &in_backup {
        assert_eq!(sequence, events, "user {user_id} in the backup");
        if users.contains(user_id) {
            assert_eq!(*events, codes + 1, "user {user_id} in the backup");
            codes_in_backup += codes;
        }
    }
    let codes_in_live: i64 = in_live
        .iter()
        .filter(|(user_id, ..)| users.contains(user_id))
        .map(|(.., codes)| codes)
        .sum();
    assert!(
        codes_in_backup >= issued_before as i64,
        "{codes_in_backup} codes in the backup, {issued_before} issued before it began"
    );
    assert!(
        codes_in_backup < codes_in_live,
        "the backup is a snapshot: {codes_in_backup} codes, {codes_in_live} live"
    );

    // Restore: the backup as passlink.db of a fresh data directory, started; the old admin
    // token still works (only its hash is stored, in the database).
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&backup, restored.path().join("passlink.db")).unwrap();
    let process = PasslinkProcess::start::<&str>(restored.path(), &[]);
    let user = process
        .client()
        .await
        .get_user_by_id(authorized(
            user_pb::GetUserByIdRequest {
                user_id: users[0].clone(),
            },
            &server.admin_token,
        ))
        .await
        .expect("GetUserByID on the restored database")
        .into_inner();
    let sequence = in_backup
        .iter()
        .find(|(user_id, ..)| *user_id == users[0])
        .unwrap()
        .1;
    assert_eq!(user.user.unwrap().user_id, users[0]);
    assert_eq!(user.details.unwrap().sequence as i64, sequence);
}

#[test]
fn a_backup_never_overwrites_a_file() {
    let directory = tempfile::tempdir().unwrap();
    let existing = directory.path().join("precious.db");
    std::fs::write(&existing, "not a database, but someone's").unwrap();
    let output = passlink_output(&[
        "backup".as_ref(),
        "--data-dir".as_ref(),
        directory.path().as_os_str(),
        "--to".as_ref(),
        existing.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    // The data directory has no database yet: nothing is created to copy from.
    assert!(stderr.contains("there is no database at"), "{stderr}");
    assert!(!directory.path().join("passlink.db").exists());

    // With a database, an existing target is still refused and left as it was.
    passlink_command(&[
        "org".as_ref(),
        "list".as_ref(),
        "--data-dir".as_ref(),
        directory.path().as_os_str(),
    ]);
    let empty = directory.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    for target in [&existing, &empty] {
        let output = passlink_output(&[
            "backup".as_ref(),
            "--data-dir".as_ref(),
            directory.path().as_os_str(),
            "--to".as_ref(),
            target.as_os_str(),
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(
            stderr.contains("exists; passlink backup never overwrites a file"),
            "{stderr}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&existing).unwrap(),
        "not a database, but someone's"
    );
    assert_eq!(std::fs::read_to_string(&empty).unwrap(), "");
}

#[test]
fn on_postgresql_backup_points_at_pg_dump_and_fails() {
    let directory = tempfile::tempdir().unwrap();
    let target = directory.path().join("backup.db");
    let output = passlink_output(&[
        "backup".as_ref(),
        // Nothing listens there: the command must not even try to connect.
        "--database-url".as_ref(),
        "postgres://passlink@127.0.0.1:9/passlink".as_ref(),
        "--to".as_ref(),
        target.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("use pg_dump") || stderr.contains("with pg_dump"),
        "{stderr}"
    );
    assert!(!target.exists());
}
