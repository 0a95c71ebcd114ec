//! The settings as command-line flags (clap), and how given flags lay over the settings. Every
//! flag of `passlink serve` also has an environment variable named after it
//! (`--smtp-host` is `PASSLINK_SMTP_HOST`, see `variable_name`); environment.rs reads those.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::Settings;
use super::edge::EdgeArgs;
use super::limits::LimitsSettings;
use super::sections::{LogFormat, RetentionSettings, SessionsSettings, SmtpTls};

/// Lays every flag (or environment variable) that was given over its setting.
macro_rules! overlay {
    ($args:expr; $($field:ident => $target:expr),* $(,)?) => {
        $(if let Some(value) = &$args.$field { $target = value.clone().into(); })*
    };
}

/// Where the database is; shared by `serve` and the operator commands.
#[derive(Args, Clone, Debug, Default)]
pub struct StorageArgs {
    /// TOML settings file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and the first admin token [default: data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL, `sqlite://…` or `postgres://…` [default: DIR/passlink.db].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

/// The settings `passlink serve` takes as flags or environment variables.
#[derive(Args, Clone, Debug, Default)]
pub struct ServeArgs {
    /// Where the data lives: the data directory and the database.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Listen address [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// File with the 32-byte key sealing secrets at rest; shared by processes sharing a
    /// database [default: DIR/secret.key, created at first start].
    #[arg(long, value_name = "FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Public base URL of passlink [default: http://localhost:PORT, https:// with TLS, PORT
    /// the one bound].
    #[arg(long, value_name = "URL")]
    pub external_url: Option<String>,
    /// Log format [default: human].
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter [default: info].
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Largest request body in bytes [default: 4194304].
    #[arg(long, value_name = "BYTES")]
    pub max_request_bytes: Option<usize>,
    /// Time given to requests in flight at shutdown [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Option<Duration>,
    /// Characters per registration code [default: 12].
    #[arg(long, value_name = "N")]
    pub code_length: Option<usize>,
    /// Alphabet of registration codes [default: a-z, A-Z, 0-9].
    #[arg(long, value_name = "CHARS")]
    pub code_alphabet: Option<String>,
    /// Lifetime of registration codes [default: 1h].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub code_lifetime: Option<Duration>,
    /// WebAuthn relying party id [default: the host of the external URL].
    #[arg(long, value_name = "DOMAIN")]
    pub webauthn_rp_id: Option<String>,
    /// WebAuthn relying party name [default: passlink].
    #[arg(long, value_name = "NAME")]
    pub webauthn_rp_name: Option<String>,
    /// Origins passkeys may be created on, comma-separated [default: the external URL's origin].
    #[arg(long, value_name = "ORIGINS", value_delimiter = ',')]
    pub webauthn_allowed_origins: Option<Vec<String>>,
    /// How long a started passkey registration can be finished [default: 5m].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub webauthn_registration_lifetime: Option<Duration>,
    /// Email delivery: SMTP, the mail directory, the outbox worker and templates.
    #[command(flatten)]
    pub mail: MailArgs,
    /// Limits on public calls, connections and trusted proxies.
    #[command(flatten)]
    pub limits: LimitsArgs,
    /// What the retention sweep deletes, and when.
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// Sign-in with sessions.
    #[command(flatten)]
    pub sessions: SessionsArgs,
    /// TLS and metrics on the listener.
    #[command(flatten)]
    pub edge: EdgeArgs,
}

/// The email settings `passlink serve` takes as flags or environment variables.
#[derive(Args, Clone, Debug, Default)]
pub struct MailArgs {
    /// SMTP server host; email is sent through it when set.
    #[arg(long, value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// SMTP server port [default: 25, 587 or 465 by --smtp-tls].
    #[arg(long, value_name = "PORT")]
    pub smtp_port: Option<u16>,
    /// TLS to the SMTP server [default: starttls].
    #[arg(long, value_enum)]
    pub smtp_tls: Option<SmtpTls>,
    /// SMTP AUTH user name.
    #[arg(long, value_name = "NAME")]
    pub smtp_username: Option<String>,
    /// File holding the SMTP AUTH password.
    #[arg(long, value_name = "FILE")]
    pub smtp_password_file: Option<PathBuf>,
    /// SMTP connect and command timeout [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub smtp_timeout: Option<Duration>,
    /// Sender, "Name <address>" [default: passlink <passlink@localhost>].
    #[arg(long, value_name = "FROM")]
    pub mail_from: Option<String>,
    /// Development: write messages as .eml files here when no SMTP host is set.
    #[arg(long, value_name = "DIR")]
    pub mail_dir: Option<PathBuf>,
    /// Directory with passkey_link.txt / passkey_link.html overriding the built-in templates.
    #[arg(long, value_name = "DIR")]
    pub mail_templates_dir: Option<PathBuf>,
    /// Delivery attempts before a message is dead [default: 10].
    #[arg(long, value_name = "N")]
    pub outbox_max_attempts: Option<u32>,
    /// First retry delay, doubled per attempt [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub outbox_retry_initial: Option<Duration>,
    /// Longest retry delay [default: 10m].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub outbox_retry_max: Option<Duration>,
    /// How often to look for due messages [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub outbox_poll_interval: Option<Duration>,
    /// How long a claimed message stays reserved to one process [default: 2m].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub outbox_lease: Option<Duration>,
    /// Run the delivery worker in this process [default: true].
    #[arg(long, value_name = "BOOL")]
    pub outbox_worker: Option<bool>,
}

impl StorageArgs {
    /// Lays the storage flags that were given over `settings` (`config` names the file the
    /// settings are read from, and is no setting itself).
    pub fn apply(&self, settings: &mut Settings) {
        overlay! { self;
            data_dir => settings.data_dir,
            database_url => settings.database_url,
        }
    }
}

impl ServeArgs {
    /// Lays the flags that were given over `settings`.
    pub fn apply(&self, settings: &mut Settings) {
        self.storage.apply(settings);
        overlay! { self;
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
        self.mail.apply(settings);
        self.limits.apply(&mut settings.limits);
        self.retention.apply(&mut settings.retention);
        self.sessions.apply(&mut settings.sessions);
        self.edge.apply(&mut settings.tls, &mut settings.metrics);
    }
}

impl MailArgs {
    /// Lays the email flags that were given over `settings`. The SMTP password has no flag:
    /// flags show in the process list.
    pub fn apply(&self, settings: &mut Settings) {
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
    }
}

/// The bounds `passlink serve` takes as flags or environment variables.
#[derive(Args, Clone, Debug, Default)]
pub struct LimitsArgs {
    /// Most connections open at once [default: 1024].
    #[arg(long, value_name = "N")]
    pub limits_max_connections: Option<usize>,
    /// Most requests in flight on one HTTP/2 connection [default: 100].
    #[arg(long, value_name = "N")]
    pub limits_http2_max_concurrent_streams: Option<u32>,
    /// Time allowed for a request head [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub limits_header_read_timeout: Option<Duration>,
    /// Time allowed for a whole request body [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub limits_body_read_timeout: Option<Duration>,
    /// Time a connection stays open without a request in flight [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub limits_idle_timeout: Option<Duration>,
    /// Silence on an HTTP/2 connection before it is pinged [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub limits_http2_keepalive_interval: Option<Duration>,
    /// Time a ping may go unanswered [default: 20s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub limits_http2_keepalive_timeout: Option<Duration>,
    /// Public calls per client address and minute [default: 60].
    #[arg(long, value_name = "N")]
    pub limits_public_per_minute: Option<u32>,
    /// Public calls a client address may make at once [default: 20].
    #[arg(long, value_name = "N")]
    pub limits_public_burst: Option<u32>,
    /// Proxies whose Forwarded / X-Forwarded-For headers are believed: addresses or CIDR
    /// networks, comma-separated [default: none].
    #[arg(long, value_name = "NETWORKS", value_delimiter = ',')]
    pub limits_trusted_proxies: Option<Vec<String>>,
}

impl LimitsArgs {
    /// Lays the flags (or environment variables) that were given over `limits`.
    pub fn apply(&self, limits: &mut LimitsSettings) {
        overlay! { self;
            limits_max_connections => limits.max_connections,
            limits_http2_max_concurrent_streams => limits.http2_max_concurrent_streams,
            limits_header_read_timeout => limits.header_read_timeout,
            limits_body_read_timeout => limits.body_read_timeout,
            limits_idle_timeout => limits.idle_timeout,
            limits_http2_keepalive_interval => limits.http2_keepalive_interval,
            limits_http2_keepalive_timeout => limits.http2_keepalive_timeout,
            limits_public_per_minute => limits.public_per_minute,
            limits_public_burst => limits.public_burst,
            limits_trusted_proxies => limits.trusted_proxies,
        }
    }
}

/// The retention sweep's settings as `passlink serve` takes them as flags or environment
/// variables.
#[derive(Args, Clone, Debug, Default)]
pub struct RetentionArgs {
    /// How often to sweep rows nobody can use any more [default: 1h].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retention_interval: Option<Duration>,
    /// Most rows one delete statement of the sweep removes [default: 500].
    #[arg(long, value_name = "N")]
    pub retention_batch_size: Option<u32>,
    /// How long used or expired registration codes are kept [default: 7d].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retention_codes: Option<Duration>,
    /// How long expired pending passkey registrations are kept [default: 7d].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retention_registrations: Option<Duration>,
    /// How long sent outbox messages are kept [default: 7d].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retention_sent_messages: Option<Duration>,
    /// How long dead outbox messages are kept after their last attempt [default: 30d].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retention_dead_messages: Option<Duration>,
    /// How long terminated or expired sessions are kept [default: 7d].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retention_sessions: Option<Duration>,
}

impl RetentionArgs {
    /// Lays the flags (or environment variables) that were given over `retention`.
    pub fn apply(&self, retention: &mut RetentionSettings) {
        overlay! { self;
            retention_interval => retention.interval,
            retention_batch_size => retention.batch_size,
            retention_codes => retention.codes,
            retention_registrations => retention.registrations,
            retention_sent_messages => retention.sent_messages,
            retention_dead_messages => retention.dead_messages,
            retention_sessions => retention.sessions,
        }
    }
}

/// Sign-in settings as `passlink serve` takes them as flags or environment variables.
#[derive(Args, Clone, Debug, Default)]
pub struct SessionsArgs {
    /// A challenge without a user is discoverable (usernameless sign-in) [default: true].
    #[arg(long, value_name = "BOOL")]
    pub sessions_discoverable_login: Option<bool>,
    /// Browsers may sign in without a bearer token [default: true].
    #[arg(long, value_name = "BOOL")]
    pub sessions_public_sign_in: Option<bool>,
    /// Public sign-in may name the user [default: false].
    #[arg(long, value_name = "BOOL")]
    pub sessions_public_login_name: Option<bool>,
    /// How long a WebAuthn sign-in challenge can be answered [default: 5m].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub sessions_challenge_timeout: Option<Duration>,
}

impl SessionsArgs {
    /// Lays the flags (or environment variables) that were given over `sessions`.
    pub fn apply(&self, sessions: &mut SessionsSettings) {
        overlay! { self;
            sessions_discoverable_login => sessions.discoverable_login,
            sessions_public_sign_in => sessions.public_sign_in,
            sessions_public_login_name => sessions.public_login_name,
            sessions_challenge_timeout => sessions.challenge_timeout,
        }
    }
}

/// The environment variable standing for the flag `--long`: `PASSLINK_` and the flag's name in
/// capitals with `_` for `-` (`--smtp-host` is `PASSLINK_SMTP_HOST`).
pub(crate) fn variable_name(long: &str) -> String {
    format!("PASSLINK_{}", long.replace('-', "_").to_ascii_uppercase())
}

/// The long names of `passlink serve`'s flags: the settings that have a flag.
fn setting_flags() -> Vec<String> {
    ServeArgs::augment_args(clap::Command::new("serve"))
        .get_arguments()
        .filter_map(|argument| argument.get_long().map(str::to_owned))
        .collect()
}

/// `command` with every setting's flag, in it and in its subcommands, naming its environment
/// variable in the help (`[env: PASSLINK_LISTEN]`). passlink reads the variables itself
/// (environment.rs) instead of letting clap read them, so that the environment is an input.
pub fn with_variable_names(command: clap::Command) -> clap::Command {
    name_variables(command, &setting_flags())
}

fn name_variables(command: clap::Command, settings: &[String]) -> clap::Command {
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|subcommand| subcommand.get_name().to_owned())
        .collect();
    let mut command = command.mut_args(|argument| {
        let Some(long) = argument
            .get_long()
            .filter(|long| settings.iter().any(|setting| setting == long))
            .map(str::to_owned)
        else {
            return argument;
        };
        let variable = format!("[env: {}]", variable_name(&long));
        let help = match argument.get_help() {
            Some(help) => format!("{help} {variable}"),
            None => variable.clone(),
        };
        let long_help = argument
            .get_long_help()
            .map(|long_help| format!("{long_help}\n\n{variable}"));
        let argument = argument.help(help);
        match long_help {
            Some(long_help) => argument.long_help(long_help),
            None => argument,
        }
    });
    for name in subcommands {
        command = command.mut_subcommand(name, |subcommand| name_variables(subcommand, settings));
    }
    command
}
