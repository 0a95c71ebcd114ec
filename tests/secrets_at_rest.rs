//! Secrets at rest (issue 8): the code of a queued email is sealed with a key from a private
//! file, never stored in plain text, and blanked once sent; the data directory, the SQLite
//! files, the key and the `.eml` files are private to their owner.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::mail::{eventually, queue_link, settled};
use common::requests::{human, send_link};
use common::{TestServer, add_human, authorized, unique_email};
use passlink::app::{self, RunningServer};
use passlink::config::Settings;
use passlink::pb::zitadel::user::v2 as user_pb;
use passlink::service::ports::StoredMessage;

/// Starts another server in-process with the given settings (on a free port, worker on).
async fn start_another(mut settings: Settings) -> Result<RunningServer, String> {
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.outbox.worker = true;
    settings.outbox.poll_interval = Duration::from_millis(100);
    app::start(settings, Arc::new(common::TestClock::default())).await
}

/// Starts another server on the same database with its data in `data_dir`, sealing with the
/// key in `secret_key_file` (or with a key of its own in `data_dir`).
async fn start_on_another_data_dir(
    server: &TestServer,
    data_dir: &Path,
    secret_key_file: Option<PathBuf>,
) -> RunningServer {
    start_another(Settings {
        data_dir: data_dir.to_path_buf(),
        database_url: Some(server.settings.database_url()),
        secret_key_file,
        ..server.settings.clone()
    })
    .await
    .expect("the second server starts")
}

/// Queues a registration link email for a new user and returns the outbox row as stored.
async fn queue_link_for_a_new_user(server: &TestServer) -> StoredMessage {
    let user_id = add_human(server, &server.admin_token, "Ada").await;
    queue_link(server, &user_id).await
}

async fn stop(running: RunningServer) {
    let _ = running.shutdown.send(());
    running.finished.await.unwrap().unwrap();
}

/// The registration code in a written `.eml` file's link (quoted-printable: `=` is `=3D`).
fn code_in_eml(eml: &str) -> String {
    let start = eml.find("&code=3D").expect("a link with a code") + "&code=3D".len();
    eml[start..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect()
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn write_key_file(path: &Path, bytes: &[u8], mode: u32) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn the_outbox_holds_only_a_sealed_code_that_a_restart_on_the_same_data_dir_delivers() {
    let server = TestServer::start().await;
    let queued = queue_link_for_a_new_user(&server).await;
    // A second process on the same data directory (and database) delivers it.
    let second = start_another(server.settings.clone())
        .await
        .expect("a second server on the same data directory starts");
    let mail_dir = server.settings.mail.dir.clone().unwrap();
    let eml_path = mail_dir.join(format!("{}.eml", queued.id));
    let eml = eventually("the .eml file", Duration::from_secs(20), async || {
        std::fs::read_to_string(&eml_path).ok()
    })
    .await;
    let code = code_in_eml(&eml);
    assert_eq!(code.len(), 12, "{eml}");
    assert!(
        !queued.payload.contains(&code),
        "the stored payload holds the plain code: {}",
        queued.payload
    );
    let payload: serde_json::Value = serde_json::from_str(&queued.payload).unwrap();
    assert!(payload.get("code").is_none(), "{payload}");
    let sealed = payload["sealed_code"].as_str().unwrap();
    assert!(sealed.starts_with("v1:"), "{sealed}");
    let sent = settled(&server, &queued.id).await;
    assert_eq!(sent.state, "sent");
    let payload: serde_json::Value = serde_json::from_str(&sent.payload).unwrap();
    assert_eq!(payload["sealed_code"], "", "blanked once sent");
    let key_file = server.data_dir.path().join("secret.key");
    assert_eq!(std::fs::read(&key_file).unwrap().len(), 32);
    assert_eq!(mode_of(&key_file), 0o600);
    stop(second).await;
    server.stop().await;
}

#[tokio::test]
async fn two_data_dirs_sharing_one_key_file_deliver_each_others_messages() {
    let server = TestServer::start().await;
    let queued = queue_link_for_a_new_user(&server).await;
    let other_dir = tempfile::tempdir().unwrap();
    let shared_key = server.data_dir.path().join("secret.key");
    let second = start_on_another_data_dir(&server, other_dir.path(), Some(shared_key)).await;
    assert_eq!(settled(&server, &queued.id).await.state, "sent");
    assert!(!other_dir.path().join("secret.key").exists());
    stop(second).await;
    server.stop().await;
}

#[tokio::test]
async fn a_code_sealed_under_another_key_is_dead_with_a_clear_reason() {
    let server = TestServer::start().await;
    let queued = queue_link_for_a_new_user(&server).await;
    // Another data directory: its own, different key.
    let other_dir = tempfile::tempdir().unwrap();
    let second = start_on_another_data_dir(&server, other_dir.path(), None).await;
    let dead = settled(&server, &queued.id).await;
    assert_eq!(dead.state, "dead", "{dead:?}");
    assert_eq!(dead.attempts, 1, "dead at once: {dead:?}");
    let reason = dead.last_error.clone().unwrap();
    eprintln!("last_error: {reason}");
    assert!(
        reason.contains("another secret key") && reason.contains("secret_key_file"),
        "{reason}"
    );
    stop(second).await;
    server.stop().await;
}

#[tokio::test]
async fn data_dir_database_files_key_and_mail_are_private_to_the_owner() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("data");
    let mail_dir = data_dir.join("mail");
    let database_url = common::fresh_postgres_database().await;
    let running = start_another(Settings {
        data_dir: data_dir.clone(),
        database_url: database_url.clone(),
        mail: passlink::config::MailSettings {
            dir: Some(mail_dir.clone()),
            ..Default::default()
        },
        ..Settings::default()
    })
    .await
    .expect("the server starts");
    let token = std::fs::read_to_string(data_dir.join("admin.pat"))
        .unwrap()
        .trim()
        .to_owned();
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", running.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = user_pb::user_service_client::UserServiceClient::new(channel);
    let user_id = client
        .add_human_user(authorized(human("Ada", &unique_email("ada")), &token))
        .await
        .unwrap()
        .into_inner()
        .user_id;
    client
        .create_passkey_registration_link(authorized(send_link(&user_id, None), &token))
        .await
        .unwrap();
    let eml = eventually("an .eml file", Duration::from_secs(20), async || {
        std::fs::read_dir(&mail_dir)
            .ok()?
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|extension| extension == "eml"))
    })
    .await;
    let mut private = vec![
        (data_dir.clone(), 0o700),
        (mail_dir.clone(), 0o700),
        (eml, 0o600),
        (data_dir.join("secret.key"), 0o600),
        (data_dir.join("admin.pat"), 0o600),
    ];
    if database_url.is_none() {
        for file in ["passlink.db", "passlink.db-wal", "passlink.db-shm"] {
            private.push((data_dir.join(file), 0o600));
        }
    }
    let found: Vec<(String, Option<u32>, u32)> = private
        .iter()
        .map(|(path, mode)| {
            let found = std::fs::metadata(path)
                .ok()
                .map(|metadata| metadata.permissions().mode() & 0o777);
            (path.display().to_string(), found, *mode)
        })
        .collect();
    for (path, found, _) in &found {
        eprintln!(
            "{:>6} {path}",
            found.map_or("-".into(), |mode| format!("{mode:o}"))
        );
    }
    for (path, found, wanted) in found {
        assert_eq!(
            found.map(|mode| format!("{mode:o}")),
            Some(format!("{wanted:o}")),
            "mode of {path}"
        );
    }
    stop(running).await;
    if let Some(url) = &database_url {
        common::drop_postgres_database(url);
    }
}

#[tokio::test]
async fn a_key_file_that_is_missing_short_or_open_to_others_stops_the_start_clearly() {
    let root = tempfile::tempdir().unwrap();
    let key = root.path().join("passlink.key");
    let start_with_key = |data_dir: &str| Settings {
        data_dir: root.path().join(data_dir),
        secret_key_file: Some(key.clone()),
        ..Settings::default()
    };
    let error = start_another(start_with_key("missing"))
        .await
        .err()
        .expect("a configured key file that does not exist is an error");
    assert!(
        error.contains("secret_key_file") && error.contains("does not exist"),
        "{error}"
    );
    write_key_file(&key, &[7; 31], 0o600);
    let error = start_another(start_with_key("short"))
        .await
        .err()
        .expect("31 bytes are an error");
    assert!(error.contains("exactly 32 bytes"), "{error}");
    write_key_file(&key, &[7; 32], 0o644);
    let error = start_another(start_with_key("open"))
        .await
        .err()
        .expect("a key readable by others is an error");
    assert!(
        error.contains("0644") && error.contains("chmod 600"),
        "{error}"
    );
    // The default key in the data directory is checked the same way.
    let data_dir = root.path().join("default");
    std::fs::create_dir(&data_dir).unwrap();
    write_key_file(&data_dir.join("secret.key"), b"too short", 0o600);
    let error = start_another(Settings {
        data_dir,
        ..Settings::default()
    })
    .await
    .err()
    .expect("a short default key is an error");
    assert!(error.contains("exactly 32 bytes"), "{error}");
    // A good key file starts.
    write_key_file(&key, &[7; 32], 0o400);
    let running = start_another(start_with_key("good"))
        .await
        .expect("a 32-byte private key file starts");
    stop(running).await;
}
