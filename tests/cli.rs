//! The operator command line and the first start: organizations, machine users, tokens and
//! role grants without the API, and the admin token written once to a private file.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::requests::human;
use common::{TestServer, authorized};
use passlink::pb::zitadel::user::v2 as user_pb;
use passlink::store::TOKEN_CACHE_TTL;

/// Runs `passlink ARGS… --data-dir/--database-url` against the server's database and returns stdout.
fn passlink(server: &TestServer, args: &[&str]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_passlink"));
    command
        .args(args)
        .arg("--data-dir")
        .arg(server.data_dir.path());
    if let Some(url) = &server.settings.database_url {
        command.arg("--database-url").arg(url);
    }
    let output = command.output().expect("run passlink");
    assert!(
        output.status.success(),
        "passlink {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn operator_creates_org_machine_user_token_and_grant_that_the_api_accepts() {
    let server = TestServer::start().await;
    let org_id = passlink(
        &server,
        &[
            "org",
            "create",
            "--name",
            "Acme",
            "--domain",
            "acme.localhost",
        ],
    );
    assert!(org_id.parse::<u64>().is_ok(), "org id {org_id:?}");
    assert!(passlink(&server, &["org", "list"]).contains("acme.localhost"));
    let user_id = passlink(
        &server,
        &[
            "machine-user",
            "create",
            "--org",
            &org_id,
            "--username",
            "ci-bot",
        ],
    );
    let token = passlink(&server, &["token", "create", "--user", &user_id]);
    assert!(token.starts_with("pl_"), "token {token:?}");

    let mut client = server.grpc_client().await;
    // Without a role the token authenticates but may not create users.
    let denied = client
        .add_human_user(authorized(human("Eve", "eve@example.com"), &token))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    passlink(
        &server,
        &[
            "role",
            "grant",
            "--user",
            &user_id,
            "--role",
            "ORG_OWNER",
            "--org",
            &org_id,
        ],
    );
    // The server caches token owners for at most TOKEN_CACHE_TTL: a grant made by another
    // process (this CLI) must take effect within that bound.
    let granted_at = Instant::now();
    let added = loop {
        match client
            .add_human_user(authorized(human("Eve", "eve@example.com"), &token))
            .await
        {
            Ok(answer) => break answer.into_inner(),
            Err(status) if status.code() == tonic::Code::PermissionDenied => {
                assert!(
                    granted_at.elapsed() < TOKEN_CACHE_TTL + Duration::from_millis(500),
                    "the grant did not take effect within the cache bound"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => panic!("AddHumanUser failed: {status:?}"),
        }
    };
    assert_eq!(added.details.unwrap().resource_owner, org_id);
    let link = client
        .create_passkey_registration_link(authorized(
            user_pb::CreatePasskeyRegistrationLinkRequest {
                user_id: added.user_id,
                medium: Some(
                    user_pb::create_passkey_registration_link_request::Medium::ReturnCode(
                        user_pb::ReturnPasskeyRegistrationCode {},
                    ),
                ),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(link.code.is_some());

    // A revoked token stops working at once.
    let token_id = {
        let output = Command::new(env!("CARGO_BIN_EXE_passlink"))
            .args(["token", "create", "--user", &user_id, "--data-dir"])
            .arg(server.data_dir.path())
            .args(
                server
                    .settings
                    .database_url
                    .iter()
                    .flat_map(|url| ["--database-url", url.as_str()]),
            )
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        let second_token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
        let id = stderr
            .split_whitespace()
            .skip_while(|word| *word != "id")
            .nth(1)
            .expect("token create names the token id")
            .to_owned();
        (id, second_token)
    };
    passlink(&server, &["token", "revoke", "--id", &token_id.0]);
    let revoked_at = Instant::now();
    let revoked = loop {
        match client
            .add_human_user(authorized(human("Mal", "mal@example.com"), &token_id.1))
            .await
        {
            Err(status) => break status,
            Ok(_) => {
                assert!(
                    revoked_at.elapsed() < TOKEN_CACHE_TTL + Duration::from_millis(500),
                    "the revocation did not take effect within the cache bound"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(revoked.code(), tonic::Code::Unauthenticated);
    assert!(revoked.message().starts_with("Token is invalid"));
    server.stop().await;
}

#[test]
fn operator_commands_reject_unknown_roles_and_missing_orgs() {
    let data_dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_passlink"))
        .args([
            "role",
            "grant",
            "--user",
            "1",
            "--role",
            "ROOT",
            "--data-dir",
        ])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown role"));
    let output = Command::new(env!("CARGO_BIN_EXE_passlink"))
        .args([
            "machine-user",
            "create",
            "--org",
            "42",
            "--username",
            "x",
            "--data-dir",
        ])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("Organization could not be found"));
}

/// Starts `passlink serve` on a data directory, waits for "serving", stops it, returns its log.
fn serve_once(data_dir: &std::path::Path) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_passlink"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("NO_COLOR", "1");
    serve_until_ready(command)
}

/// Runs a `passlink serve` command with its log piped, waits for "serving", stops it with
/// SIGTERM, checks that it exits cleanly and returns its log.
fn serve_until_ready(mut command: Command) -> String {
    let mut child = command
        .stderr(Stdio::piped())
        .spawn()
        .expect("start passlink serve");
    let mut log = String::new();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        log.push_str(&line);
        log.push('\n');
        if line.contains("passlink is serving") {
            break;
        }
    }
    // SIGTERM: the server drains and exits cleanly.
    Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "passlink exited with {status} after SIGTERM; log:\n{log}"
    );
    log
}

#[test]
fn human_logs_written_to_a_pipe_carry_no_colour_codes() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_passlink"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "human"])
        .arg("--data-dir")
        .arg(data_dir.path())
        // Colour must depend on where the log goes, not on the environment asking for none.
        .env_remove("NO_COLOR");
    let log = serve_until_ready(command);
    assert!(log.contains("passlink is serving"), "{log}");
    assert!(
        !log.contains("\x1b["),
        "a log written to a pipe carries ANSI escape codes: {log:?}"
    );
}

#[test]
fn first_start_writes_the_admin_token_privately_and_later_starts_never_print_it() {
    let data_dir = tempfile::tempdir().unwrap();
    let first_log = serve_once(data_dir.path());
    let token_file = data_dir.path().join("admin.pat");
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(token.starts_with("pl_"));
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        first_log.contains(&token_file.display().to_string()),
        "{first_log}"
    );
    assert!(
        !first_log.contains(&token),
        "the log must never contain the token"
    );

    let second_log = serve_once(data_dir.path());
    assert!(!second_log.contains("admin.pat"), "{second_log}");
    assert!(!second_log.contains(&token));
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap().trim(),
        token,
        "the token file is left alone"
    );
}

/// The README's login backend (issue 10): a machine user granted IAM_LOGIN_CLIENT on the
/// command line creates sessions with its token (REST 201), which it could not before.
#[tokio::test]
async fn a_login_client_granted_on_the_command_line_creates_sessions() {
    let server = TestServer::start().await;
    let org_id = server.default_org_id().await;
    let user_id = passlink(
        &server,
        &[
            "machine-user",
            "create",
            "--org",
            &org_id,
            "--username",
            "login-ui",
        ],
    );
    let token = passlink(&server, &["token", "create", "--user", &user_id]);
    let create = || async {
        common::http_clients::http_client()
            .post(server.url("/v2/sessions"))
            .bearer_auth(&token)
            .body("{}")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(create().await, 403, "no session.write without the role");
    passlink(
        &server,
        &[
            "role",
            "grant",
            "--user",
            &user_id,
            "--role",
            "IAM_LOGIN_CLIENT",
        ],
    );
    let granted_at = Instant::now();
    loop {
        match create().await {
            201 => break,
            403 if granted_at.elapsed() < TOKEN_CACHE_TTL + Duration::from_millis(500) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            status => panic!("CreateSession answered {status}"),
        }
    }
    server.stop().await;
}
