//! Email delivery of passkey registration links (issue 3): a real SMTP server process receives
//! what passlink sends, in-process and from real `passlink` processes. The SMTP tests are
//! ignored by a plain `cargo test` (they need Python aiosmtpd); `cargo test --
//! --include-ignored` runs them, and they fail when aiosmtpd is missing.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use common::mail::{
    FROM, ReceivedMessage, SmtpServer, eventually, free_port, queue_link, require_aiosmtpd, smtp_on,
};
use common::process::{PasslinkProcess, fresh_database, passlink_command};
use common::requests::{human, send_link};
use common::{GrpcClient, TestServer, authorized};
use passlink::domain::secret::secret_matches;
use passlink::service::PasskeyLinkMessage;

/// The same as flags of `passlink serve`.
fn smtp_flags(port: &str) -> Vec<&str> {
    vec![
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        port,
        "--smtp-tls",
        "none",
        "--smtp-timeout",
        "1s",
        "--mail-from",
        FROM,
        "--outbox-retry-initial",
        "100ms",
        "--outbox-retry-max",
        "400ms",
        "--outbox-poll-interval",
        "200ms",
        "--outbox-lease",
        "3s",
    ]
}

/// Starts `passlink serve` on the database with the SMTP flags (and `extra`), logging at info
/// (so that each sent email is logged).
fn start_process(data_dir: &Path, database_url: &str, flags: &[&str]) -> PasslinkProcess {
    PasslinkProcess::start_logging(
        data_dir,
        "info",
        &[&["--database-url", database_url][..], flags].concat(),
    )
}

/// Adds a human with a display name and returns its id and address.
async fn add_person(
    client: &mut GrpcClient,
    token: &str,
    display_name: Option<&str>,
) -> (String, String) {
    let address = format!("ada-{}@example.com", common::uuid_like());
    let mut request = human("Ada", &address);
    request.profile.as_mut().unwrap().display_name = display_name.map(str::to_owned);
    let user_id = client
        .add_human_user(authorized(request, token))
        .await
        .expect("AddHumanUser")
        .into_inner()
        .user_id;
    (user_id, address)
}

/// The first admin's token, once the first process has bootstrapped and written it.
async fn admin_token(data_dir: &Path) -> String {
    let path = data_dir.join("admin.pat");
    eventually("admin.pat", Duration::from_secs(20), async || {
        std::fs::read_to_string(&path)
            .ok()
            .filter(|token| token.ends_with('\n'))
            .map(|token| token.trim().to_owned())
    })
    .await
}

fn query(link: &url::Url, name: &str) -> String {
    link.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {link}"))
}

/// The message as an operator would quote it: headers and text part, code redacted.
fn redacted(message: &ReceivedMessage, code: &str) -> String {
    let headers = message.raw.split("\r\n\r\n").next().unwrap_or_default();
    format!(
        "{headers}\n\n--- text/plain ---\n{}",
        message.text.as_deref().unwrap_or_default()
    )
    .replace(code, "<REDACTED>")
}

#[tokio::test]
#[ignore = "needs Python aiosmtpd (pip install aiosmtpd)"]
async fn registration_link_email_arrives_over_smtp_with_both_parts_and_the_stored_code() {
    require_aiosmtpd();
    let smtp = SmtpServer::start().await;
    let server = TestServer::start_with(|settings| {
        smtp_on(smtp.port)(settings);
        settings.external_url = Some("http://localhost:9999".into());
    })
    .await;
    let mut client = server.grpc_client().await;
    let (user_id, address) =
        add_person(&mut client, &server.admin_token, Some("Ada Lovelace")).await;
    let custom = "https://app.example.test/passkey/{{.UserID}}/{{ .OrgID }}?codeID={{.CodeID}}&code={{ .Code }}";
    for template in [Some(custom), None] {
        let answer = client
            .create_passkey_registration_link(authorized(
                send_link(&user_id, template),
                &server.admin_token,
            ))
            .await
            .expect("CreatePasskeyRegistrationLink")
            .into_inner();
        assert!(answer.code.is_none(), "send_link must not return the code");
    }
    let messages = smtp.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(messages.len(), 2);
    let org_id = server.default_org_id().await;
    let codes = server
        .store()
        .list_passkey_code_hashes(&user_id)
        .await
        .unwrap();
    assert_eq!(codes.len(), 2);
    let mut default_message = None;
    for message in &messages {
        assert_eq!(message.header("Subject"), "Add Passkey Login");
        assert_eq!(message.header("From"), FROM);
        assert_eq!(message.header("To"), format!("Ada Lovelace <{address}>"));
        assert_eq!(message.rcpt_tos, vec![address.clone()]);
        assert_eq!(message.mail_from, "noreply@passlink.test");
        assert_eq!(message.content_type, "multipart/alternative");
        assert!(message.header("Message-ID").ends_with("@passlink.test>"));
        let text = message.text.as_deref().unwrap();
        let html = message.html.as_deref().expect("an HTML part");
        assert!(text.contains("Hello Ada Lovelace,"), "{text}");
        assert!(html.contains("Hello Ada Lovelace,"), "{html}");
        assert!(
            text.contains("valid until 20") && text.contains(" UTC"),
            "{text}"
        );
        let link = message.link();
        // The HTML part carries the same link as a button (escaped for the attribute).
        let escaped = link.as_str().replace('&', "&amp;");
        assert!(
            html.contains(&format!("<a href=\"{escaped}\" style=")),
            "{html}"
        );
        let (code_id, code) = if link.as_str().starts_with("https://app.example.test/") {
            assert_eq!(link.path(), format!("/passkey/{user_id}/{org_id}"));
            (query(&link, "codeID"), query(&link, "code"))
        } else {
            assert!(
                link.as_str()
                    .starts_with("http://localhost:9999/ui/passkey/register?userID="),
                "{link}"
            );
            assert_eq!(query(&link, "userID"), user_id);
            assert_eq!(query(&link, "orgID"), org_id);
            default_message = Some((message.clone(), query(&link, "code")));
            (query(&link, "codeID"), query(&link, "code"))
        };
        assert_eq!(code.len(), 12);
        let (_, hash) = codes
            .iter()
            .find(|(id, _)| *id == code_id)
            .unwrap_or_else(|| panic!("no stored code {code_id}"));
        assert!(
            secret_matches(&code_id, &code, hash),
            "the code in the link is the stored one"
        );
    }
    let (message, code) = default_message.expect("one message with the default link");
    eprintln!(
        "=== received message (code redacted) ===\n{}",
        redacted(&message, &code)
    );

    // The user's sequence shows the sends; the outbox no longer holds the codes.
    let sent_events = eventually("two sent events", Duration::from_secs(10), async || {
        let events = server.events(&user_id).await;
        let sent: Vec<_> = events
            .into_iter()
            .filter(|event| event.event_type == "user.passkey.code.sent")
            .collect();
        (sent.len() == 2).then_some(sent)
    })
    .await;
    assert_eq!(
        sent_events
            .iter()
            .map(|event| event.sequence)
            .collect::<Vec<_>>(),
        vec![4, 5]
    );
    for stored in server.outbox().await {
        assert_eq!(stored.state, "sent");
        let payload: PasskeyLinkMessage = serde_json::from_str(&stored.payload).unwrap();
        assert_eq!(
            payload.sealed_code, "",
            "the sealed code is scrubbed once sent"
        );
    }
    server.stop().await;
}

#[tokio::test]
#[ignore = "needs Python aiosmtpd (pip install aiosmtpd)"]
async fn email_requested_while_smtp_is_down_arrives_exactly_once_when_it_comes_back() {
    require_aiosmtpd();
    let port = free_port();
    let server = TestServer::start_with(smtp_on(port)).await;
    let (user_id, _) = add_person(&mut server.grpc_client().await, &server.admin_token, None).await;
    // The request succeeds while SMTP is down.
    queue_link(&server, &user_id).await;
    eventually("failed attempts", Duration::from_secs(10), async || {
        let messages = server.outbox().await;
        (messages[0].attempts >= 2 && messages[0].state == "pending").then_some(())
    })
    .await;
    let smtp = SmtpServer::start_on(port).await;
    let received = smtp.wait_for(1, Duration::from_secs(20)).await;
    assert!(received[0].text.as_deref().unwrap().contains("Hello Ada,"));
    eventually("the row marked sent", Duration::from_secs(10), async || {
        let messages = server.outbox().await;
        (messages[0].state == "sent").then_some(())
    })
    .await;
    // Several poll intervals later, still exactly one.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(smtp.messages().len(), 1);
    server.stop().await;
}

#[tokio::test]
#[ignore = "needs Python aiosmtpd (pip install aiosmtpd)"]
async fn message_acknowledged_before_kill_9_is_delivered_after_restart() {
    require_aiosmtpd();
    let directory = tempfile::tempdir().unwrap();
    let database = fresh_database(directory.path()).await;
    let database_url = database.url.clone();
    let smtp_port = free_port().to_string();
    let flags = smtp_flags(&smtp_port);
    let mut first = start_process(directory.path(), &database_url, &flags);
    let token = admin_token(directory.path()).await;
    let token = token.as_str();
    let mut client = first.client().await;
    let (user_id, address) = add_person(&mut client, token, None).await;
    client
        .create_passkey_registration_link(authorized(send_link(&user_id, None), token))
        .await
        .expect("CreatePasskeyRegistrationLink");
    // SMTP is down, so the message cannot have left yet.
    first.kill_9();
    let smtp = SmtpServer::start_on(smtp_port.parse().unwrap()).await;
    let second = start_process(directory.path(), &database_url, &flags);
    let received = smtp.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(received[0].rcpt_tos, vec![address]);
    assert_eq!(query(&received[0].link(), "userID"), user_id);
    let listed = eventually("the row marked sent", Duration::from_secs(10), async || {
        let (listed, _) = passlink_command(&[
            "outbox",
            "list",
            "--data-dir",
            directory.path().to_str().unwrap(),
            "--database-url",
            &database_url,
        ]);
        listed.contains("\tsent\t").then_some(listed)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        smtp.messages().len(),
        1,
        "{listed}\n{}",
        second.log_lines().join("\n")
    );
}

#[tokio::test]
#[ignore = "needs Python aiosmtpd (pip install aiosmtpd)"]
async fn two_processes_sharing_a_database_deliver_200_messages_exactly_once() {
    require_aiosmtpd();
    const MESSAGES: usize = 200;
    let smtp = SmtpServer::start().await;
    let directory = tempfile::tempdir().unwrap();
    let second_directory = tempfile::tempdir().unwrap();
    let database = fresh_database(directory.path()).await;
    let database_url = database.url.clone();
    let smtp_port = smtp.port.to_string();
    let flags = smtp_flags(&smtp_port);
    let first = start_process(directory.path(), &database_url, &flags);
    // The second process starts once the first has bootstrapped the shared database.
    let token = admin_token(directory.path()).await;
    // Processes sharing a database share the secret key that seals the queued codes.
    let shared_key = directory.path().join("secret.key");
    let second_flags = [
        &flags[..],
        &["--secret-key-file", shared_key.to_str().unwrap()],
    ]
    .concat();
    let second = start_process(second_directory.path(), &database_url, &second_flags);
    let (user_id, _) = add_person(&mut first.client().await, &token, None).await;
    // Four callers per process, each asking its process for 25 links.
    let mut callers = Vec::new();
    for address in [first.address, second.address] {
        for _ in 0..4 {
            let (token, user_id) = (token.clone(), user_id.clone());
            callers.push(tokio::spawn(async move {
                let mut client = common::grpc_client_at(address).await;
                for _ in 0..MESSAGES / 8 {
                    client
                        .create_passkey_registration_link(authorized(
                            send_link(&user_id, None),
                            &token,
                        ))
                        .await
                        .expect("CreatePasskeyRegistrationLink");
                }
            }));
        }
    }
    for caller in callers {
        caller.await.unwrap();
    }
    smtp.wait_for(MESSAGES, Duration::from_secs(120)).await;
    // Time for any duplicate to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = smtp.messages();
    let message_ids: HashSet<String> = received
        .iter()
        .map(|message| message.header("Message-ID").to_owned())
        .collect();
    let code_ids: HashSet<String> = received
        .iter()
        .map(|message| query(&message.link(), "codeID"))
        .collect();
    let sent_by = |process: &PasslinkProcess| {
        process
            .log_lines()
            .iter()
            .filter(|line| line.contains("registration link email sent"))
            .count()
    };
    eprintln!(
        "received {} messages; first process sent {}, second sent {}",
        received.len(),
        sent_by(&first),
        sent_by(&second)
    );
    assert_eq!(received.len(), MESSAGES);
    assert_eq!(message_ids.len(), MESSAGES);
    assert_eq!(code_ids.len(), MESSAGES);
    assert_eq!(sent_by(&first) + sent_by(&second), MESSAGES);
}

#[tokio::test]
#[ignore = "needs Python aiosmtpd (pip install aiosmtpd)"]
async fn message_that_keeps_failing_ends_dead_is_listed_and_retry_requeues_it() {
    require_aiosmtpd();
    let port = free_port();
    let server = TestServer::start_with(|settings| {
        smtp_on(port)(settings);
        settings.outbox.max_attempts = 3;
        settings.outbox.retry_initial = Duration::from_millis(50);
        settings.outbox.retry_max = Duration::from_millis(100);
    })
    .await;
    let (user_id, _) = add_person(&mut server.grpc_client().await, &server.admin_token, None).await;
    queue_link(&server, &user_id).await;
    let dead = eventually("a dead message", Duration::from_secs(15), async || {
        let messages = server.outbox().await;
        (messages[0].state == "dead").then(|| messages[0].clone())
    })
    .await;
    assert_eq!(dead.attempts, 3);
    let last_error = dead.last_error.clone().unwrap();
    assert!(last_error.contains("SMTP"), "{last_error}");
    // It stays dead: no fourth attempt.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.outbox().await[0].attempts, 3);

    let database_url = server.settings.database_url();
    let data_dir = server.data_dir.path().to_str().unwrap().to_owned();
    let storage = ["--data-dir", &data_dir, "--database-url", &database_url];
    let (listed, _) =
        passlink_command(&[&["outbox", "list", "--state", "dead"][..], &storage].concat());
    assert!(
        listed.starts_with(&format!(
            "{}\tdead\t3\t{user_id}\tpasskey_registration_link\tSMTP",
            dead.id
        )),
        "{listed}"
    );
    let sealed_code = serde_json::from_str::<PasskeyLinkMessage>(&dead.payload)
        .unwrap()
        .sealed_code;
    let code_id = serde_json::from_str::<PasskeyLinkMessage>(&dead.payload)
        .unwrap()
        .code_id;
    let code = server
        .services
        .sealer()
        .open(&sealed_code, &code_id)
        .unwrap();
    assert!(!listed.contains(&sealed_code) && !listed.contains(code.expose()));
    eprintln!("passlink outbox list --state dead:\n{listed}");

    let smtp = SmtpServer::start_on(port).await;
    passlink_command(&[&["outbox", "retry", &dead.id][..], &storage].concat());
    smtp.wait_for(1, Duration::from_secs(20)).await;
    eventually("the row marked sent", Duration::from_secs(10), async || {
        let messages = server.outbox().await;
        (messages[0].state == "sent").then_some(())
    })
    .await;
    assert_eq!(smtp.messages().len(), 1);
    server.stop().await;
}

/// Queues a registration link for a new user and waits for its `.eml` file in the mail
/// directory: the user's id and the file.
async fn eml_of_a_queued_link(server: &TestServer) -> (String, String) {
    let mail_dir = server.settings.mail.dir.clone().unwrap();
    let user_id = common::add_human(server, &server.admin_token, "Ada").await;
    let message_id = queue_link(server, &user_id).await.id;
    let path = mail_dir.join(format!("{message_id}.eml"));
    let eml = eventually("the .eml file", Duration::from_secs(10), async || {
        std::fs::read_to_string(&path).ok()
    })
    .await;
    (user_id, eml)
}

#[tokio::test]
async fn mail_dir_receives_each_message_as_an_eml_file() {
    let server = TestServer::start_with(|settings| settings.outbox.worker = true).await;
    let (_, eml) = eml_of_a_queued_link(&server).await;
    assert!(eml.contains("Subject: Add Passkey Login"), "{eml}");
    assert!(eml.contains("multipart/alternative"), "{eml}");
    assert!(eml.contains("text/html"), "{eml}");
    server.stop().await;
}

#[tokio::test]
async fn with_external_url_unset_the_emailed_link_points_at_the_bound_port() {
    let server = TestServer::start_with(|settings| {
        settings.external_url = None;
        settings.outbox.worker = true;
    })
    .await;
    let port = server.address.port();
    assert_ne!(port, 8080);
    assert_eq!(server.external_url, format!("http://localhost:{port}"));
    let (user_id, eml) = eml_of_a_queued_link(&server).await;
    // Quoted-printable: soft line breaks out, `=3D` back to `=`.
    let text = eml
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(
        text.contains(&format!(
            "http://localhost:{port}/ui/passkey/register?userID={user_id}"
        )),
        "{text}"
    );
    server.stop().await;
}
