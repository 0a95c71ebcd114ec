//! Settings: defaults, then a TOML file, then `PASSLINK_*` environment variables, then flags.
//! Unknown keys and unknown `PASSLINK_*` variables are rejected; everything is validated at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Deserialize;

use crate::domain::secret::DEFAULT_CODE_ALPHABET;

/// Lays every flag (or environment variable) that was given over its setting.
macro_rules! overlay {
    ($args:expr; $($field:ident => $target:expr),* $(,)?) => {
        $(if let Some(value) = &$args.$field { $target = value.clone().into(); })*
    };
}

mod limits;

pub use limits::{LimitsArgs, LimitsSettings};

/// How logs are written.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, ValueEnum)]
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

/// WebAuthn relying party (`[webauthn]` in the TOML file).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
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

/// The WebAuthn settings with every default filled in and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedWebauthn {
    pub rp_id: String,
    pub rp_name: String,
    pub allowed_origins: Vec<String>,
    pub registration_lifetime: Duration,
}
/// How passlink talks TLS to the SMTP server.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, ValueEnum)]
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

/// Every setting of passlink.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address the one listener binds (gRPC, gRPC-Web, Connect, REST, pages).
    pub listen: SocketAddr,
    /// Directory for the SQLite database and the first admin token; created when missing.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; the SQLite file `passlink.db` in `data_dir` when unset.
    pub database_url: Option<String>,
    /// File holding the 32-byte key that seals secrets at rest (the codes of queued emails);
    /// it must exist, hold exactly 32 bytes and be private to its owner (mode 0600 or 0400).
    /// When unset, `data_dir/secret.key` is used and created at first start. Processes sharing
    /// one database must share the key (`PASSLINK_SECRET_KEY_FILE`, `--secret-key-file`).
    pub secret_key_file: Option<PathBuf>,
    /// Where users reach passlink; the default registration link points here.
    pub external_url: String,
    /// `human` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `passlink=debug,info`.
    pub log_level: String,
    /// Largest request body or message accepted, in bytes.
    pub max_request_bytes: usize,
    /// How long shutdown waits for requests in flight.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    pub code: CodeSettings,
    pub webauthn: WebauthnSettings,
    /// `[smtp]`: the SMTP server email goes through.
    pub smtp: SmtpSettings,
    /// `[mail]`: sender, templates, development directory.
    pub mail: MailSettings,
    /// `[outbox]`: retries and leases of queued messages.
    pub outbox: OutboxSettings,
    /// `[limits]`: bounds on connections, streams and request times; the rate of public
    /// calls per client address; trusted proxies.
    pub limits: LimitsSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            secret_key_file: None,
            external_url: "http://localhost:8080".into(),
            log_format: LogFormat::Human,
            log_level: "info".into(),
            max_request_bytes: 4 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(30),
            code: CodeSettings::default(),
            webauthn: WebauthnSettings::default(),
            smtp: SmtpSettings::default(),
            mail: MailSettings::default(),
            outbox: OutboxSettings::default(),
            limits: LimitsSettings::default(),
        }
    }
}

/// Where the database is; shared by `serve` and the operator commands.
#[derive(Args, Clone, Debug, Default)]
pub struct StorageArgs {
    /// TOML settings file.
    #[arg(long, env = "PASSLINK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and the first admin token [default: data].
    #[arg(long, env = "PASSLINK_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL, `sqlite://…` or `postgres://…` [default: DIR/passlink.db].
    #[arg(long, env = "PASSLINK_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
}

/// The settings `passlink serve` takes as flags or environment variables.
#[derive(Args, Clone, Debug, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Listen address [default: 127.0.0.1:8080].
    #[arg(long, env = "PASSLINK_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// File with the 32-byte key sealing secrets at rest; shared by processes sharing a
    /// database [default: DIR/secret.key, created at first start].
    #[arg(long, env = "PASSLINK_SECRET_KEY_FILE", value_name = "FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Public base URL of passlink [default: http://localhost:8080].
    #[arg(long, env = "PASSLINK_EXTERNAL_URL", value_name = "URL")]
    pub external_url: Option<String>,
    /// Log format [default: human].
    #[arg(long, env = "PASSLINK_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter [default: info].
    #[arg(long, env = "PASSLINK_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Largest request body in bytes [default: 4194304].
    #[arg(long, env = "PASSLINK_MAX_REQUEST_BYTES", value_name = "BYTES")]
    pub max_request_bytes: Option<usize>,
    /// Time given to requests in flight at shutdown [default: 30s].
    #[arg(long, env = "PASSLINK_SHUTDOWN_GRACE", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Option<Duration>,
    /// Characters per registration code [default: 12].
    #[arg(long, env = "PASSLINK_CODE_LENGTH", value_name = "N")]
    pub code_length: Option<usize>,
    /// Alphabet of registration codes [default: a-z, A-Z, 0-9].
    #[arg(long, env = "PASSLINK_CODE_ALPHABET", value_name = "CHARS")]
    pub code_alphabet: Option<String>,
    /// Lifetime of registration codes [default: 1h].
    #[arg(long, env = "PASSLINK_CODE_LIFETIME", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub code_lifetime: Option<Duration>,
    /// WebAuthn relying party id [default: the host of the external URL].
    #[arg(long, env = "PASSLINK_WEBAUTHN_RP_ID", value_name = "DOMAIN")]
    pub webauthn_rp_id: Option<String>,
    /// WebAuthn relying party name [default: passlink].
    #[arg(long, env = "PASSLINK_WEBAUTHN_RP_NAME", value_name = "NAME")]
    pub webauthn_rp_name: Option<String>,
    /// Origins passkeys may be created on, comma-separated [default: the external URL's origin].
    #[arg(
        long,
        env = "PASSLINK_WEBAUTHN_ALLOWED_ORIGINS",
        value_name = "ORIGINS",
        value_delimiter = ','
    )]
    pub webauthn_allowed_origins: Option<Vec<String>>,
    /// How long a started passkey registration can be finished [default: 5m].
    #[arg(long, env = "PASSLINK_WEBAUTHN_REGISTRATION_LIFETIME", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub webauthn_registration_lifetime: Option<Duration>,
    #[command(flatten)]
    pub mail: MailArgs,
    #[command(flatten)]
    pub limits: LimitsArgs,
}

/// The email settings `passlink serve` takes as flags or environment variables.
#[derive(Args, Clone, Debug, Default)]
pub struct MailArgs {
    /// SMTP server host; email is sent through it when set.
    #[arg(long, env = "PASSLINK_SMTP_HOST", value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// SMTP server port [default: 25, 587 or 465 by --smtp-tls].
    #[arg(long, env = "PASSLINK_SMTP_PORT", value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// TLS to the SMTP server [default: starttls].
    #[arg(long, env = "PASSLINK_SMTP_TLS", value_enum)]
    pub smtp_tls: Option<SmtpTls>,
    /// SMTP AUTH user name.
    #[arg(long, env = "PASSLINK_SMTP_USERNAME", value_name = "NAME")]
    pub smtp_username: Option<String>,
    /// File holding the SMTP AUTH password.
    #[arg(long, env = "PASSLINK_SMTP_PASSWORD_FILE", value_name = "FILE")]
    pub smtp_password_file: Option<PathBuf>,
    /// SMTP connect and command timeout [default: 10s].
    #[arg(long, env = "PASSLINK_SMTP_TIMEOUT", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub smtp_timeout: Option<Duration>,
    /// Sender, "Name <address>" [default: passlink <passlink@localhost>].
    #[arg(long, env = "PASSLINK_MAIL_FROM", value_name = "FROM")]
    pub mail_from: Option<String>,
    /// Development: write messages as .eml files here when no SMTP host is set.
    #[arg(long, env = "PASSLINK_MAIL_DIR", value_name = "DIR")]
    pub mail_dir: Option<PathBuf>,
    /// Directory with passkey_link.txt / passkey_link.html overriding the built-in templates.
    #[arg(long, env = "PASSLINK_MAIL_TEMPLATES_DIR", value_name = "DIR")]
    pub mail_templates_dir: Option<PathBuf>,
    /// Delivery attempts before a message is dead [default: 10].
    #[arg(long, env = "PASSLINK_OUTBOX_MAX_ATTEMPTS", value_name = "N")]
    pub outbox_max_attempts: Option<u32>,
    /// First retry delay, doubled per attempt [default: 5s].
    #[arg(long, env = "PASSLINK_OUTBOX_RETRY_INITIAL", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub outbox_retry_initial: Option<Duration>,
    /// Longest retry delay [default: 10m].
    #[arg(long, env = "PASSLINK_OUTBOX_RETRY_MAX", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub outbox_retry_max: Option<Duration>,
    /// How often to look for due messages [default: 5s].
    #[arg(long, env = "PASSLINK_OUTBOX_POLL_INTERVAL", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub outbox_poll_interval: Option<Duration>,
    /// How long a claimed message stays reserved to one process [default: 2m].
    #[arg(long, env = "PASSLINK_OUTBOX_LEASE", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub outbox_lease: Option<Duration>,
    /// Run the delivery worker in this process [default: true].
    #[arg(long, env = "PASSLINK_OUTBOX_WORKER", value_name = "BOOL")]
    pub outbox_worker: Option<bool>,
}

impl MailArgs {
    fn apply(&self, settings: &mut Settings) {
        overlay! { self;
            smtp_host => settings.smtp.host,
            smtp_port => settings.smtp.port,
            smtp_tls => settings.smtp.tls,
            smtp_username => settings.smtp.username,
            smtp_password_file => settings.smtp.password_file,
            smtp_timeout => settings.smtp.timeout,
            mail_from => settings.mail.from,
            mail_dir => settings.mail.dir,
            mail_templates_dir => settings.mail.templates_dir,
            outbox_max_attempts => settings.outbox.max_attempts,
            outbox_retry_initial => settings.outbox.retry_initial,
            outbox_retry_max => settings.outbox.retry_max,
            outbox_poll_interval => settings.outbox.poll_interval,
            outbox_lease => settings.outbox.lease,
            outbox_worker => settings.outbox.worker,
        }
        // The password has no flag: flags show in the process list.
        if let Ok(password) = std::env::var(SMTP_PASSWORD_VARIABLE) {
            settings.smtp.password = Some(password);
        }
    }
}

/// The SMTP password is read from the environment only: flags show in the process list.
const SMTP_PASSWORD_VARIABLE: &str = "PASSLINK_SMTP_PASSWORD";

/// Every `PASSLINK_*` variable passlink reads: those clap binds to `serve`'s flags, and the
/// SMTP password.
fn known_variables() -> Vec<String> {
    use clap::Args as _;
    let serve = ServeArgs::augment_args(clap::Command::new("serve"));
    serve
        .get_arguments()
        .filter_map(|argument| argument.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .chain([SMTP_PASSWORD_VARIABLE.to_owned()])
        .collect()
}

fn reject_unknown_variables() -> Result<(), String> {
    let known = known_variables();
    let unknown: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| {
            name.starts_with("PASSLINK_")
                // The test suite's own variables (e.g. PASSLINK_TEST_POSTGRES_URL) are not settings.
                && !name.starts_with("PASSLINK_TEST_")
                && !known.contains(name)
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "unknown environment variable(s) {}; known ones are {}",
            unknown.join(", "),
            known.join(", ")
        ))
    }
}

impl Settings {
    /// Reads a TOML settings file over the defaults.
    pub fn from_file(path: &Path) -> Result<Settings, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        toml::from_str(&text)
            .map_err(|error| format!("invalid settings in {}: {error}", path.display()))
    }

    /// Defaults, then the file, then environment variables and flags (clap has already put
    /// flags over environment variables).
    pub fn load(args: &ServeArgs) -> Result<Settings, String> {
        let mut settings = Settings::layered(&args.storage)?;
        overlay! { args;
            listen => settings.listen,
            secret_key_file => settings.secret_key_file,
            external_url => settings.external_url,
            log_format => settings.log_format,
            log_level => settings.log_level,
            max_request_bytes => settings.max_request_bytes,
            shutdown_grace => settings.shutdown_grace,
            code_length => settings.code.length,
            code_alphabet => settings.code.alphabet,
            code_lifetime => settings.code.lifetime,
            webauthn_rp_id => settings.webauthn.rp_id,
            webauthn_rp_name => settings.webauthn.rp_name,
            webauthn_allowed_origins => settings.webauthn.allowed_origins,
            webauthn_registration_lifetime => settings.webauthn.registration_lifetime,
        }
        args.mail.apply(&mut settings);
        args.limits.apply(&mut settings.limits);
        settings.validate()?;
        Ok(settings)
    }

    /// Settings for the operator commands, which need only the storage.
    pub fn load_storage(args: &StorageArgs) -> Result<Settings, String> {
        let settings = Settings::layered(args)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Defaults, then the file, then the storage flags; unknown variables refused.
    fn layered(args: &StorageArgs) -> Result<Settings, String> {
        reject_unknown_variables()?;
        let mut settings = match &args.config {
            Some(path) => Settings::from_file(path)?,
            None => Settings::default(),
        };
        settings.apply_storage(args);
        Ok(settings)
    }

    fn apply_storage(&mut self, args: &StorageArgs) {
        if let Some(data_dir) = &args.data_dir {
            self.data_dir = data_dir.clone();
        }
        if let Some(database_url) = &args.database_url {
            self.database_url = Some(database_url.clone());
        }
    }

    /// Checks every setting and says which one is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=200).contains(&self.code.length) {
            return Err(format!(
                "code.length must be between 1 and 200, got {}",
                self.code.length
            ));
        }
        let alphabet: Vec<char> = self.code.alphabet.chars().collect();
        if alphabet.len() < 2 {
            return Err("code.alphabet needs at least two characters".into());
        }
        if let Some(bad) = alphabet
            .iter()
            .find(|character| !(character.is_ascii_alphanumeric() || "-._~".contains(**character)))
        {
            return Err(format!(
                "code.alphabet may hold only letters, digits and -._~ (URL-safe), not {bad:?}"
            ));
        }
        let mut distinct = alphabet.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != alphabet.len() {
            return Err(
                "code.alphabet must not repeat a character (codes would not be uniform)".into(),
            );
        }
        if self.code.lifetime.is_zero() {
            return Err("code.lifetime must be longer than zero".into());
        }
        let external = url::Url::parse(&self.external_url).map_err(|error| {
            format!("external_url {:?} is not a URL: {error}", self.external_url)
        })?;
        if !matches!(external.scheme(), "http" | "https") || external.host().is_none() {
            return Err(format!(
                "external_url {:?} must be an http(s) URL with a host",
                self.external_url
            ));
        }
        if self.max_request_bytes < 1024 {
            return Err("max_request_bytes must be at least 1024".into());
        }
        if let Some(url) = &self.database_url {
            crate::store::Backend::of_url(url)?;
        }
        self.webauthn()?;
        self.validate_mail()?;
        self.limits.validate()?;
        tracing_subscriber::EnvFilter::try_new(&self.log_level).map_err(|error| {
            format!(
                "log_level {:?} is not a valid filter: {error}",
                self.log_level
            )
        })?;
        Ok(())
    }

    /// The WebAuthn relying party: defaults filled in from `external_url`, then checked.
    pub fn webauthn(&self) -> Result<ResolvedWebauthn, String> {
        let external = url::Url::parse(&self.external_url).map_err(|error| {
            format!("external_url {:?} is not a URL: {error}", self.external_url)
        })?;
        let rp_id = match &self.webauthn.rp_id {
            Some(rp_id) => rp_id.trim().to_ascii_lowercase(),
            None => external.host_str().unwrap_or_default().to_ascii_lowercase(),
        };
        crate::domain::webauthn::check_rp_id(&rp_id)
            .map_err(|problem| format!("webauthn.rp_id {rp_id:?} {problem}"))?;
        let allowed_origins = if self.webauthn.allowed_origins.is_empty() {
            vec![external.origin().ascii_serialization()]
        } else {
            self.webauthn
                .allowed_origins
                .iter()
                .map(|origin| {
                    crate::domain::webauthn::normalize_origin(origin).map_err(|problem| {
                        format!("webauthn.allowed_origins: {origin:?} {problem}")
                    })
                })
                .collect::<Result<_, _>>()?
        };
        if !allowed_origins
            .iter()
            .any(|origin| crate::domain::webauthn::origin_fits_rp_id(origin, &rp_id))
        {
            return Err(format!(
                "webauthn.rp_id {rp_id:?} must be the host of an allowed origin or a parent \
                 domain of it; allowed origins are {}",
                allowed_origins.join(", ")
            ));
        }
        let registration_lifetime = self
            .webauthn
            .registration_lifetime
            .unwrap_or(Duration::from_secs(300));
        if registration_lifetime.is_zero() {
            return Err("webauthn.registration_lifetime must be longer than zero".into());
        }
        Ok(ResolvedWebauthn {
            rp_id,
            rp_name: self
                .webauthn
                .rp_name
                .clone()
                .filter(|name| !name.trim().is_empty())
                .unwrap_or_else(|| "passlink".into()),
            allowed_origins,
            registration_lifetime,
        })
    }
    fn validate_mail(&self) -> Result<(), String> {
        self.mail
            .from
            .parse::<lettre::message::Mailbox>()
            .map_err(|error| {
                format!(
                    "mail.from {:?} is not \"Name <address>\": {error}",
                    self.mail.from
                )
            })?;
        if self.smtp.host.as_deref().is_some_and(str::is_empty) {
            return Err("smtp.host must not be empty".into());
        }
        if self.smtp.password.is_some() && self.smtp.password_file.is_some() {
            return Err("set smtp.password or smtp.password_file, not both".into());
        }
        if self.smtp.username.is_none()
            && (self.smtp.password.is_some() || self.smtp.password_file.is_some())
        {
            return Err("smtp.password needs smtp.username".into());
        }
        if self.smtp.timeout.is_zero() {
            return Err("smtp.timeout must be longer than zero".into());
        }
        if self.smtp.max_connections == 0 {
            return Err("smtp.max_connections must be at least 1".into());
        }
        let outbox = &self.outbox;
        if outbox.max_attempts == 0 {
            return Err("outbox.max_attempts must be at least 1".into());
        }
        if outbox.retry_initial.is_zero() || outbox.retry_max < outbox.retry_initial {
            return Err(
                "outbox.retry_initial must be above zero and at most outbox.retry_max".into(),
            );
        }
        if outbox.poll_interval.is_zero() {
            return Err("outbox.poll_interval must be longer than zero".into());
        }
        if outbox.lease <= self.smtp.timeout * 2 {
            return Err(format!(
                "outbox.lease ({}) must be longer than twice smtp.timeout ({})",
                humantime::format_duration(outbox.lease),
                humantime::format_duration(self.smtp.timeout)
            ));
        }
        Ok(())
    }

    /// Why email cannot be sent with these settings, naming the missing setting; `None` when
    /// an SMTP host or a development mail directory is set.
    pub fn email_unavailable(&self) -> Option<String> {
        (self.smtp.host.is_none() && self.mail.dir.is_none()).then(|| {
            "Email delivery is not configured: set smtp.host (PASSLINK_SMTP_HOST, --smtp-host), \
             or mail.dir (PASSLINK_MAIL_DIR, --mail-dir) for development"
                .to_owned()
        })
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| crate::store::sqlite_url_in(&self.data_dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_override_defaults_and_unknown_keys_are_rejected() {
        let settings: Settings = toml::from_str(
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/tmp/x\"\n[code]\nlifetime = \"30m\"\n",
        )
        .unwrap();
        assert_eq!(settings.listen.port(), 9000);
        assert_eq!(settings.code.lifetime, Duration::from_secs(1800));
        assert_eq!(settings.code.length, 12);
        let error = toml::from_str::<Settings>("lisen = \"127.0.0.1:9000\"").unwrap_err();
        assert!(
            error.to_string().contains("unknown field `lisen`"),
            "{error}"
        );
    }

    #[test]
    fn webauthn_defaults_come_from_the_external_url_and_ip_addresses_are_refused() {
        let mut settings = Settings {
            external_url: "https://login.example.com:8443/base".into(),
            ..Settings::default()
        };
        let resolved = settings.webauthn().unwrap();
        assert_eq!(resolved.rp_id, "login.example.com");
        assert_eq!(resolved.allowed_origins, ["https://login.example.com:8443"]);
        assert_eq!(resolved.registration_lifetime, Duration::from_secs(300));
        settings.webauthn.rp_id = Some("example.com".into());
        assert_eq!(settings.webauthn().unwrap().rp_id, "example.com");
        settings.webauthn.rp_id = Some("other.org".into());
        assert!(settings.validate().unwrap_err().contains("allowed origin"));
        settings.external_url = "http://127.0.0.1:8080".into();
        settings.webauthn.rp_id = None;
        assert!(settings.validate().unwrap_err().contains("IP address"));
        settings.webauthn.rp_id = Some("localhost".into());
        settings.webauthn.allowed_origins = vec!["http://localhost:8080/".into()];
        assert_eq!(
            settings.webauthn().unwrap().allowed_origins,
            ["http://localhost:8080"]
        );
        let parsed: Settings =
            toml::from_str("[webauthn]\nrp_id = \"localhost\"\nregistration_lifetime = \"2m\"\n")
                .unwrap();
        assert_eq!(
            parsed.webauthn().unwrap().registration_lifetime,
            Duration::from_secs(120)
        );
    }

    #[test]
    fn invalid_alphabets_are_refused() {
        let mut settings = Settings::default();
        settings.code.alphabet = "ab/".into();
        assert!(settings.validate().unwrap_err().contains("URL-safe"));
        settings.code.alphabet = "aab".into();
        assert!(settings.validate().unwrap_err().contains("repeat"));
    }

    #[test]
    fn mail_sections_parse_validate_and_hide_the_password() {
        let settings: Settings = toml::from_str(
            "[smtp]\nhost = \"mail.example.com\"\ntls = \"tls\"\nusername = \"u\"\n\
             password = \"hunter2\"\ntimeout = \"5s\"\n\
             [mail]\nfrom = \"Acme <no-reply@acme.test>\"\n\
             [outbox]\nmax_attempts = 3\nretry_initial = \"1s\"\n",
        )
        .unwrap();
        assert_eq!(settings.smtp.port_or_default(), 465);
        assert_eq!(settings.outbox.max_attempts, 3);
        settings.validate().unwrap();
        assert_eq!(settings.email_unavailable(), None);
        assert!(!format!("{settings:?}").contains("hunter2"));

        let mut invalid = settings.clone();
        invalid.mail.from = "not an address".into();
        assert!(invalid.validate().unwrap_err().contains("mail.from"));
        let mut invalid = settings.clone();
        invalid.outbox.lease = Duration::from_secs(10);
        assert!(invalid.validate().unwrap_err().contains("outbox.lease"));
        let error = toml::from_str::<Settings>("[smtp]\nhots = \"x\"").unwrap_err();
        assert!(
            error.to_string().contains("unknown field `hots`"),
            "{error}"
        );
    }

    #[test]
    fn limits_parse_validate_and_read_trusted_proxies_as_networks() {
        let settings: Settings = toml::from_str(
            "[limits]\npublic_per_minute = 30\npublic_burst = 5\n\
             trusted_proxies = [\"127.0.0.1\", \"10.1.2.3/8\", \"fd00::/8\"]\n",
        )
        .unwrap();
        settings.validate().unwrap();
        assert_eq!(settings.limits.public_per_minute, 30);
        assert_eq!(
            settings.limits.trusted_proxy_networks().unwrap(),
            [
                "127.0.0.1/32".parse::<ipnet::IpNet>().unwrap(),
                "10.0.0.0/8".parse().unwrap(),
                "fd00::/8".parse().unwrap(),
            ]
        );
        let mut invalid = settings.clone();
        invalid.limits.trusted_proxies = vec!["proxy.example.com".into()];
        assert!(
            invalid
                .validate()
                .unwrap_err()
                .contains("limits.trusted_proxies")
        );
        let mut invalid = settings.clone();
        invalid.limits.public_burst = 0;
        assert!(invalid.validate().unwrap_err().contains("public_burst"));
        let defaults = Settings::default().limits;
        assert_eq!(
            (defaults.public_per_minute, defaults.public_burst),
            (60, 20)
        );
        assert!(defaults.trusted_proxies.is_empty());
    }

    #[test]
    fn without_smtp_host_or_mail_dir_email_is_unavailable_naming_the_setting() {
        let mut settings = Settings::default();
        let missing = settings.email_unavailable().unwrap();
        assert!(missing.contains("smtp.host") && missing.contains("PASSLINK_SMTP_HOST"));
        settings.mail.dir = Some(PathBuf::from("/tmp/mail"));
        assert_eq!(settings.email_unavailable(), None);
    }
}

#[cfg(test)]
mod example_file_tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_holds_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("passlink.example.toml");
        assert_eq!(Settings::from_file(&path).unwrap(), Settings::default());
    }
}

#[cfg(test)]
mod variable_tests {
    use super::*;

    #[test]
    fn known_variables_come_from_every_flag_group_and_the_smtp_password() {
        let known = known_variables();
        for name in [
            "PASSLINK_CONFIG",
            "PASSLINK_LISTEN",
            "PASSLINK_CODE_LIFETIME",
            "PASSLINK_WEBAUTHN_RP_ID",
            "PASSLINK_SMTP_HOST",
            "PASSLINK_OUTBOX_WORKER",
            "PASSLINK_LIMITS_BODY_READ_TIMEOUT",
            "PASSLINK_SMTP_PASSWORD",
            "PASSLINK_SECRET_KEY_FILE",
        ] {
            assert!(
                known.iter().any(|known| known == name),
                "{name} missing from {known:?}"
            );
        }
        assert_eq!(known.len(), 43, "{known:?}");
    }
}
