//! The settings delivery runs with: where messages go, the templates, and how the worker
//! retries and leases. The composition root resolves them from passlink's settings; nothing
//! here reads a file or the environment.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;

/// Everything the outbox worker and its mailer need.
#[derive(Clone, Debug)]
pub struct NotifySettings {
    /// Where messages go; `None` when neither an SMTP server nor a mail directory is set.
    pub mailer: Option<MailerSettings>,
    /// Directory whose `passkey_link.txt` / `passkey_link.html` replace the built-in templates.
    pub templates_dir: Option<PathBuf>,
    /// Whether this process runs the delivery worker.
    pub run_worker: bool,
    /// How the worker retries and leases.
    pub worker: WorkerSettings,
}

/// How the worker retries and leases.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Attempts before a message is dead.
    pub max_attempts: u32,
    /// Wait after the first failed attempt, doubled after each further one.
    pub retry_initial: Duration,
    /// Longest wait between attempts.
    pub retry_max: Duration,
    /// How often the worker looks for messages queued elsewhere or due for a retry.
    pub poll_interval: Duration,
    /// How long a claimed message stays reserved to this process.
    pub lease: Duration,
}

/// The sender written in settings as `"Name <address>"`, or why it is not one.
pub fn parse_sender(text: &str) -> Result<Mailbox, String> {
    text.parse()
        .map_err(|error| format!("{text:?} is not \"Name <address>\": {error}"))
}

/// The sender and the way messages leave.
#[derive(Clone, Debug)]
pub struct MailerSettings {
    /// The `From` of every message.
    pub from: Mailbox,
    /// SMTP, or files in a directory.
    pub delivery: MailDelivery,
}

/// Where messages go.
#[derive(Clone, Debug)]
pub enum MailDelivery {
    /// To an SMTP server.
    Smtp(SmtpServer),
    /// Development: `<message id>.eml` files in this directory (created private when missing).
    Directory(PathBuf),
}

/// How TLS is used towards the SMTP server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpEncryption {
    /// Plain text.
    None,
    /// A plain connection upgraded with STARTTLS, which is required.
    Starttls,
    /// TLS from the first byte.
    Tls,
}

/// An SMTP server and how to reach it.
#[derive(Clone, Debug)]
pub struct SmtpServer {
    /// Host name.
    pub host: String,
    /// Port in force (the default for the encryption already filled in).
    pub port: u16,
    /// How TLS is used.
    pub encryption: SmtpEncryption,
    /// SMTP AUTH; none when `None`.
    pub authentication: Option<SmtpAuthentication>,
    /// Time allowed to connect and for each SMTP command.
    pub timeout: Duration,
    /// Most connections the pooled transport keeps open.
    pub max_connections: u32,
}

/// The user name and password for SMTP AUTH.
#[derive(Clone, Debug)]
pub struct SmtpAuthentication {
    /// User name.
    pub username: String,
    /// The password, or where to read it when the mailer is built; empty when `None`.
    pub password: Option<SmtpPassword>,
}

/// Where the SMTP password comes from.
#[derive(Clone)]
pub enum SmtpPassword {
    /// The password itself.
    Value(String),
    /// A file whose first line is the password, read when the mailer is built.
    File(PathBuf),
}

impl std::fmt::Debug for SmtpPassword {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmtpPassword::Value(_) => formatter.write_str("Value(<redacted>)"),
            SmtpPassword::File(path) => formatter.debug_tuple("File").field(path).finish(),
        }
    }
}
