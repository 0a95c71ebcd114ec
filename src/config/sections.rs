//! The sections of the settings (`[code]`, `[webauthn]`, `[smtp]`, `[mail]`, `[outbox]`,
//! `[retention]`) and the settings' enumerations, each with its defaults: the one place defaults are written
//! (`[limits]` is in limits.rs).

use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use serde::Deserialize;

use crate::domain::secret::DEFAULT_CODE_ALPHABET;

/// How logs are written.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, ValueEnum)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Passkey registration codes (`[code]` in the TOML file).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
pub struct CodeSettings {
    /// Characters per code.
    pub length: usize,
    /// Characters codes are drawn from, uniformly; letters, digits and `-._~` only.
    pub alphabet: String,
    /// How long a code stays valid after it is created ("1h", "30m", …).
    #[serde(with = "humantime_serde")]
    pub lifetime: Duration,
}

impl Default for CodeSettings {
    fn default() -> Self {
        CodeSettings {
            length: 12,
            alphabet: DEFAULT_CODE_ALPHABET.into(),
            lifetime: Duration::from_secs(3600),
        }
    }
}

/// The name authenticators show when `webauthn.rp_name` is unset.
pub(crate) const DEFAULT_RP_NAME: &str = "passlink";

/// How long a started registration can be finished when `webauthn.registration_lifetime` is
/// unset.
pub(crate) const DEFAULT_REGISTRATION_LIFETIME: Duration = Duration::from_secs(300);

/// WebAuthn relying party (`[webauthn]` in the TOML file).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnSettings {
    /// The relying party id; the host of `external_url` when unset. Never an IP address:
    /// browsers refuse WebAuthn there.
    pub rp_id: Option<String>,
    /// The name authenticators show; "passlink" when unset.
    pub rp_name: Option<String>,
    /// Origins (`scheme://host[:port]`) credentials may be created on; the origin of
    /// `external_url` when empty.
    pub allowed_origins: Vec<String>,
    /// How long a started registration can be finished ("5m" when unset).
    #[serde(default, with = "humantime_serde")]
    pub registration_lifetime: Option<Duration>,
}

/// How passlink talks TLS to the SMTP server.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, ValueEnum)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text; only for a relay on the same host or network (default port 25).
    None,
    /// Plain connection upgraded with STARTTLS, which is required (default port 587).
    #[default]
    Starttls,
    /// TLS from the first byte, "SMTPS" (default port 465).
    Tls,
}

/// The SMTP server that delivers email (`[smtp]` in the TOML file). Email is sent through it
/// when `host` is set.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// Host name of the SMTP server; no email is sent over SMTP when unset
    /// (`PASSLINK_SMTP_HOST`, `--smtp-host`).
    pub host: Option<String>,
    /// Port; 25, 587 or 465 by `tls` when unset (`PASSLINK_SMTP_PORT`, `--smtp-port`).
    pub port: Option<u16>,
    /// `none`, `starttls` (default) or `tls` (`PASSLINK_SMTP_TLS`, `--smtp-tls`).
    pub tls: SmtpTls,
    /// User name for SMTP AUTH; no authentication when unset (`PASSLINK_SMTP_USERNAME`,
    /// `--smtp-username`).
    pub username: Option<String>,
    /// Password for SMTP AUTH (`PASSLINK_SMTP_PASSWORD`); prefer `password_file`.
    pub password: Option<String>,
    /// File whose first line is the SMTP password (`PASSLINK_SMTP_PASSWORD_FILE`,
    /// `--smtp-password-file`); read at start.
    pub password_file: Option<PathBuf>,
    /// Time allowed to connect and for each SMTP command, default 10s (`PASSLINK_SMTP_TIMEOUT`,
    /// `--smtp-timeout`).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Most connections the pooled transport keeps open, default 4.
    pub max_connections: u32,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            host: None,
            port: None,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            password_file: None,
            timeout: Duration::from_secs(10),
            max_connections: 4,
        }
    }
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .field("timeout", &self.timeout)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl SmtpSettings {
    /// The port in force: `port`, else the usual one for `tls`.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }
}

/// The email passlink writes (`[mail]` in the TOML file).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// Sender, `"Name <address>"`, default `"passlink <passlink@localhost>"`
    /// (`PASSLINK_MAIL_FROM`, `--mail-from`).
    pub from: String,
    /// Development: when set and `smtp.host` is not, each message is written to this
    /// directory as `<message id>.eml` instead of being sent (`PASSLINK_MAIL_DIR`,
    /// `--mail-dir`).
    pub dir: Option<PathBuf>,
    /// Directory with operator templates overriding the built-in ones: `passkey_link.txt`
    /// and/or `passkey_link.html`, with the placeholders `{{ greeting_name }}`, `{{ link }}`,
    /// `{{ expires_at }}` and `{{ email }}` (`PASSLINK_MAIL_TEMPLATES_DIR`,
    /// `--mail-templates-dir`).
    pub templates_dir: Option<PathBuf>,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            from: "passlink <passlink@localhost>".into(),
            dir: None,
            templates_dir: None,
        }
    }
}

/// Delivery of queued messages (`[outbox]` in the TOML file).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
pub struct OutboxSettings {
    /// Attempts before a message is marked dead, default 10 (`PASSLINK_OUTBOX_MAX_ATTEMPTS`,
    /// `--outbox-max-attempts`).
    pub max_attempts: u32,
    /// Wait after the first failed attempt, doubled after each further one, with jitter;
    /// default 5s (`PASSLINK_OUTBOX_RETRY_INITIAL`, `--outbox-retry-initial`).
    #[serde(with = "humantime_serde")]
    pub retry_initial: Duration,
    /// Longest wait between attempts, default 10m (`PASSLINK_OUTBOX_RETRY_MAX`,
    /// `--outbox-retry-max`).
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// How often the worker looks for messages queued by other processes or due for a retry,
    /// default 5s (`PASSLINK_OUTBOX_POLL_INTERVAL`, `--outbox-poll-interval`).
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How long a claimed message stays reserved to its process; after a crash another
    /// process sends it once this runs out. Must exceed `2 × smtp.timeout`; default 2m
    /// (`PASSLINK_OUTBOX_LEASE`, `--outbox-lease`).
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Whether this process runs the delivery worker, default true; turn it off on processes
    /// that should only serve the API while others deliver (`PASSLINK_OUTBOX_WORKER`,
    /// `--outbox-worker`). Requests still queue messages.
    pub worker: bool,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            max_attempts: 10,
            retry_initial: Duration::from_secs(5),
            retry_max: Duration::from_secs(600),
            poll_interval: Duration::from_secs(5),
            lease: Duration::from_secs(120),
            worker: true,
        }
    }
}

/// How long rows nobody can use any more are kept before the retention sweep deletes them,
/// and how often the sweep runs (`[retention]` in the TOML file). Events are never deleted.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// How often each process tries to take the sweep's lease and sweep, default 1h; of
    /// several processes sharing a database one sweeps per interval
    /// (`PASSLINK_RETENTION_INTERVAL`, `--retention-interval`).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Most rows one delete statement removes, default 500; a sweep deletes in batches of
    /// this size so that it never holds the write lock long (`PASSLINK_RETENTION_BATCH_SIZE`,
    /// `--retention-batch-size`).
    pub batch_size: u32,
    /// How long a registration code is kept after it was used or expired, default 7d
    /// (`PASSLINK_RETENTION_CODES`, `--retention-codes`).
    #[serde(with = "humantime_serde")]
    pub codes: Duration,
    /// How long a pending passkey registration is kept after it expired, default 7d
    /// (`PASSLINK_RETENTION_REGISTRATIONS`, `--retention-registrations`).
    #[serde(with = "humantime_serde")]
    pub registrations: Duration,
    /// How long a sent outbox message is kept after it was sent, default 7d
    /// (`PASSLINK_RETENTION_SENT_MESSAGES`, `--retention-sent-messages`).
    #[serde(with = "humantime_serde")]
    pub sent_messages: Duration,
    /// How long a dead outbox message is kept after its last attempt, default 30d: time for
    /// an operator to see it and re-queue it (`PASSLINK_RETENTION_DEAD_MESSAGES`,
    /// `--retention-dead-messages`).
    #[serde(with = "humantime_serde")]
    pub dead_messages: Duration,
    /// How long a terminated or expired session is kept, default 7d; sessions signed in
    /// publicly that expired unchecked go at once (`PASSLINK_RETENTION_SESSIONS`,
    /// `--retention-sessions`).
    #[serde(with = "humantime_serde")]
    pub sessions: Duration,
}

/// One day, the unit of the retention defaults.
const DAY: Duration = Duration::from_secs(24 * 3600);

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            interval: Duration::from_secs(3600),
            batch_size: 500,
            codes: 7 * DAY,
            registrations: 7 * DAY,
            sent_messages: 7 * DAY,
            dead_messages: 30 * DAY,
            sessions: 7 * DAY,
        }
    }
}

/// Sign-in with sessions (`[sessions]` in the TOML file, SESSIONS.md §9, §11).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
pub struct SessionsSettings {
    /// A WebAuthn challenge requested without a user gives a discoverable (usernameless)
    /// challenge, default true; false answers like ZITADEL, `User ID missing`
    /// (`PASSLINK_SESSIONS_DISCOVERABLE_LOGIN`, `--sessions-discoverable-login`).
    pub discoverable_login: bool,
    /// Sign-in from a browser without a bearer token (CreateSession with only a discoverable
    /// challenge, SetSession with the session's token and only a passkey check), default true
    /// (`PASSLINK_SESSIONS_PUBLIC_SIGN_IN`, `--sessions-public-sign-in`).
    pub public_sign_in: bool,
    /// Public sign-in may name the user (`checks.user`), default false: it tells strangers
    /// which login names exist (`PASSLINK_SESSIONS_PUBLIC_LOGIN_NAME`,
    /// `--sessions-public-login-name`).
    pub public_login_name: bool,
    /// How long a WebAuthn challenge can be answered, default 5m; its `timeout` in the
    /// request options (`PASSLINK_SESSIONS_CHALLENGE_TIMEOUT`, `--sessions-challenge-timeout`).
    #[serde(with = "humantime_serde")]
    pub challenge_timeout: Duration,
}

impl Default for SessionsSettings {
    fn default() -> Self {
        SessionsSettings {
            discoverable_login: true,
            public_sign_in: true,
            public_login_name: false,
            challenge_timeout: Duration::from_secs(300),
        }
    }
}
