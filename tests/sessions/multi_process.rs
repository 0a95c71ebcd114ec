//! Two passlink processes (the real binary) on one database: a session created, with its
//! challenge, on one process is checked on the other, read back on the first, and its old
//! token is dead on both. `…_on_postgres` needs `PASSLINK_TEST_POSTGRES_URL` (ignored by a plain
//! `cargo test`, failing without a server under `--include-ignored`).

use std::ffi::OsStr;
use std::path::Path;

use crate::common::assertion::get_assertion;
use crate::common::authenticator::{ORIGIN, create_credential, options_of, software_authenticator};
use crate::common::process::{PasslinkProcess, postgres_database, sqlite_file_url};
use crate::common::protocols::Protocol;
use crate::common::requests::{human, register_with_code, return_code, verify_request};
use crate::common::sessions::{create_for, set_webauthn, started};
use crate::common::unique_email;
use crate::common::wire::ApiClient;

use super::support::assert_get_token_refused;

fn start_process(database_url: &str, data_dir: &Path, key_file: Option<&Path>) -> PasslinkProcess {
    let mail_dir = data_dir.join("mail");
    let mut arguments = vec![
        OsStr::new("--database-url"),
        OsStr::new(database_url),
        OsStr::new("--mail-dir"),
        mail_dir.as_os_str(),
        OsStr::new("--outbox-worker"),
        OsStr::new("false"),
        // The software authenticator signs for this origin, whatever port the process binds.
        OsStr::new("--external-url"),
        OsStr::new(ORIGIN),
    ];
    if let Some(key_file) = key_file {
        arguments.extend([OsStr::new("--secret-key-file"), key_file.as_os_str()]);
    }
    PasslinkProcess::start(data_dir, &arguments)
}

async fn a_session_created_on_one_process_is_checked_on_the_other(database_url: &str, root: &Path) {
    let first_dir = root.join("first");
    let first = start_process(database_url, &first_dir, None);
    let admin_token = std::fs::read_to_string(first_dir.join("admin.pat"))
        .expect("the first process bootstraps the database")
        .trim()
        .to_owned();
    let second = start_process(
        database_url,
        &root.join("second"),
        Some(&first_dir.join("secret.key")),
    );
    let one = ApiClient::new(Protocol::Grpc, first.address)
        .await
        .with_token(&admin_token);
    let other = ApiClient::new(Protocol::Grpc, second.address)
        .await
        .with_token(&admin_token);

    let user_id = one
        .add_human_user(human("Multi", &unique_email("multi")))
        .await
        .expect("AddHumanUser")
        .user_id;
    let code = one
        .create_passkey_registration_link(return_code(&user_id))
        .await
        .unwrap()
        .code
        .unwrap();
    let registration = other
        .register_passkey(register_with_code(&user_id, &code))
        .await
        .unwrap();
    let mut authenticator = software_authenticator();
    let credential =
        create_credential(&mut authenticator, ORIGIN, &options_of(&registration)).await;
    one.verify_passkey_registration(verify_request(
        &user_id,
        &registration.passkey_id,
        &credential,
        "key",
    ))
    .await
    .unwrap();

    let begun = started(
        one.create_session(create_for(&user_id))
            .await
            .expect("CreateSession on the first"),
    );
    let assertion = get_assertion(&mut authenticator, &begun.options).await;
    let checked = other
        .set_session(set_webauthn(&begun.session_id, &assertion))
        .await
        .unwrap_or_else(|failure| {
            panic!(
                "the check on the second process: {failure:#?}\n{}",
                second.log_lines().join("\n")
            )
        });
    let session = one
        .without_token()
        .get_session(&begun.session_id, Some(&checked.session_token))
        .await
        .expect("GetSession on the first process with the new token");
    assert_eq!(session.sequence, checked.details.as_ref().unwrap().sequence);
    let factors = session.factors.unwrap();
    assert_eq!(factors.user.unwrap().id, user_id);
    assert!(factors.web_auth_n.unwrap().user_verified);
    for process in [&one, &other] {
        let failure = process
            .without_token()
            .get_session(&begun.session_id, Some(&begun.token))
            .await
            .unwrap_err();
        assert_get_token_refused(&failure);
    }
    // The challenge was used up for both processes.
    let failure = one.webauthn_refused(&begun.session_id, &assertion).await;
    super::support::assert_no_challenge(&failure);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (PASSLINK_TEST_POSTGRES_URL)"]
async fn a_session_created_on_one_process_is_checked_on_another_on_postgres() {
    let database = postgres_database().await;
    let root = tempfile::tempdir().unwrap();
    a_session_created_on_one_process_is_checked_on_the_other(&database.url, root.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_created_on_one_process_is_checked_on_another_on_one_sqlite_file() {
    let root = tempfile::tempdir().unwrap();
    let database_url = sqlite_file_url(root.path(), "shared.db");
    a_session_created_on_one_process_is_checked_on_the_other(&database_url, root.path()).await;
}
