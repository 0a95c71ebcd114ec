//! Mail test helpers: a real SMTP server process (Python `aiosmtpd`, `tests/support/smtp_sink.py`)
//! that stores every received message as JSON, settings that send through it, and the outbox
//! as tests queue and watch it. Tests that start the SMTP server are
//! `#[ignore = "needs Python aiosmtpd …"]`: a plain `cargo test` does not run them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use passlink::config::{Settings, SmtpTls};
use passlink::service::ports::StoredMessage;
use serde::Deserialize;

use super::requests::send_link;
use super::{TestServer, authorized};

/// The sender of the test emails.
pub const FROM: &str = "Passlink Tests <noreply@passlink.test>";

/// Settings that send through the SMTP server on `port` (with the outbox worker on), with
/// short retries for tests.
pub fn smtp_on(port: u16) -> impl FnOnce(&mut Settings) {
    move |settings| {
        settings.smtp.host = Some("127.0.0.1".into());
        settings.smtp.port = Some(port);
        settings.smtp.tls = SmtpTls::None;
        settings.smtp.timeout = Duration::from_secs(2);
        settings.mail.dir = None;
        settings.mail.from = FROM.into();
        settings.outbox.retry_initial = Duration::from_millis(100);
        settings.outbox.retry_max = Duration::from_millis(400);
        settings.outbox.poll_interval = Duration::from_millis(200);
        settings.outbox.lease = Duration::from_secs(10);
        settings.outbox.worker = true;
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on the port.
pub async fn wait_for_port(port: u16, deadline: Duration) {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            start.elapsed() < deadline,
            "nothing listens on port {port} after {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `check` until it returns `Some`, failing after `deadline`.
pub async fn eventually<T>(
    what: &str,
    deadline: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Queues a registration link email for a user (as the admin, over gRPC) and returns its
/// outbox row as stored.
pub async fn queue_link(server: &TestServer, user_id: &str) -> StoredMessage {
    server
        .grpc_client()
        .await
        .create_passkey_registration_link(authorized(send_link(user_id, None), &server.admin_token))
        .await
        .expect("CreatePasskeyRegistrationLink");
    server
        .outbox()
        .await
        .into_iter()
        .rfind(|message| message.user_id == user_id)
        .expect("an outbox row for the user")
}

/// Waits until the outbox message is no longer pending (sent or dead) and returns it.
pub async fn settled(server: &TestServer, message_id: &str) -> StoredMessage {
    eventually(
        "the message to be sent or dead",
        Duration::from_secs(20),
        async || {
            server
                .outbox()
                .await
                .into_iter()
                .find(|message| message.id == message_id && message.state != "pending")
        },
    )
    .await
}

/// One message as the SMTP server received it.
#[derive(Clone, Debug, Deserialize)]
pub struct ReceivedMessage {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub headers: HashMap<String, String>,
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
    pub raw: String,
}

impl ReceivedMessage {
    /// The link of the message: the text part's line that starts with http.
    pub fn link(&self) -> url::Url {
        let text = self.text.as_deref().expect("a text part");
        let line = text
            .lines()
            .map(str::trim)
            .find(|line| line.starts_with("http"))
            .unwrap_or_else(|| panic!("no link in {text}"));
        url::Url::parse(line).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }
}

/// Fails the test unless Python's aiosmtpd is installed.
pub fn require_aiosmtpd() {
    let available = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        available,
        "this test needs Python aiosmtpd: pip install aiosmtpd"
    );
}

/// A running SMTP server process that stores what it receives.
pub struct SmtpServer {
    pub port: u16,
    pub directory: tempfile::TempDir,
    child: Child,
}

impl SmtpServer {
    /// Starts the server on `port` and waits until it accepts connections.
    pub async fn start_on(port: u16) -> SmtpServer {
        require_aiosmtpd();
        let directory = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/support/smtp_sink.py"
            ))
            .args(["--port", &port.to_string(), "--dir"])
            .arg(directory.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("start python3 smtp_sink.py");
        wait_for_port(port, Duration::from_secs(20)).await;
        SmtpServer {
            port,
            directory,
            child,
        }
    }

    /// Starts the server on a free port.
    pub async fn start() -> SmtpServer {
        SmtpServer::start_on(free_port()).await
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.directory.path())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "json")
            })
            .collect();
        paths.sort_by_key(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let (nanos, count) = name.split_once('-').unwrap();
            (
                nanos.parse::<u128>().unwrap(),
                count.parse::<u64>().unwrap(),
            )
        });
        paths
            .iter()
            .map(|path| serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
            .collect()
    }

    /// Waits until at least `count` messages arrived and returns them all.
    pub async fn wait_for(&self, count: usize, deadline: Duration) -> Vec<ReceivedMessage> {
        eventually(&format!("{count} messages"), deadline, async || {
            let messages = self.messages();
            (messages.len() >= count).then_some(messages)
        })
        .await
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
