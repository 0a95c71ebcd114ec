//! Mail test helpers: a real SMTP server process (Python `aiosmtpd`, `tests/support/smtp_sink.py`)
//! that stores every received message as JSON, settings that send through it, and the real
//! `passlink` binary as a child process. Tests that start the SMTP server are
//! `#[ignore = "needs Python aiosmtpd …"]`: a plain `cargo test` does not run them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
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

/// A `passlink serve` child process.
pub struct PasslinkProcess {
    pub port: u16,
    pub log: PathBuf,
    child: Child,
}

impl PasslinkProcess {
    /// Starts `passlink serve` on a free port with the given data directory, database and
    /// extra flags, and waits until it accepts connections.
    pub async fn start(data_dir: &Path, database_url: &str, flags: &[&str]) -> PasslinkProcess {
        let port = free_port();
        let log = data_dir.join(format!("passlink-{port}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_passlink"))
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--database-url", database_url])
            .args(flags)
            // The test's own variables would be refused as unknown settings.
            .env_remove("PASSLINK_TEST_POSTGRES_URL")
            .env("PASSLINK_LOG_LEVEL", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start passlink serve");
        let mut process = PasslinkProcess { port, log, child };
        let start = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Some(status) = process.child.try_wait().unwrap() {
                panic!(
                    "passlink exited with {status}:\n{}",
                    std::fs::read_to_string(&process.log).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "passlink did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        process.port = port;
        process
    }

    /// The process's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the process with SIGKILL: no shutdown code runs.
    pub fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Stops the process with SIGTERM and waits for it.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for PasslinkProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A database for child processes; a PostgreSQL one is dropped with this value.
pub struct ProcessDatabase {
    pub url: String,
}

impl Drop for ProcessDatabase {
    fn drop(&mut self) {
        super::drop_postgres_database(&self.url);
    }
}

/// A fresh database for child processes: a new PostgreSQL database when
/// `PASSLINK_TEST_POSTGRES_URL` is set, else a SQLite file in `directory`. Declare it before
/// the processes, so that it is dropped after them.
pub async fn fresh_database(directory: &Path) -> ProcessDatabase {
    let url = match super::fresh_postgres_database().await {
        Some(url) => url,
        None => format!(
            "sqlite://{}?mode=rwc",
            directory.join("shared.db").display()
        ),
    };
    ProcessDatabase { url }
}

/// Runs the `passlink` binary with arguments and returns its standard output; panics on
/// failure.
pub fn passlink_command(arguments: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_passlink"))
        .args(arguments)
        .env_remove("PASSLINK_TEST_POSTGRES_URL")
        .output()
        .expect("run passlink");
    assert!(
        output.status.success(),
        "passlink {arguments:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
