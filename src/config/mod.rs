//! Settings: defaults, then a TOML file, then `PASSLINK_*` environment variables, then flags.
//! Unknown keys and unknown `PASSLINK_*` variables are rejected; everything is validated at once.
//!
//! `sections.rs` and `limits.rs` hold the sections and their defaults, `flags.rs` the flags,
//! `environment.rs` the variables, and `resolve.rs` the checks and the resolution into the
//! settings each part of passlink takes (`RuntimeSettings`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod edge;
mod environment;
mod flags;
mod limits;
mod resolve;
mod sections;
#[cfg(test)]
mod tests;

pub use edge::{EdgeArgs, MetricsExposure, MetricsSettings, TlsSettings};
pub use environment::{Environment, known_variables};
pub use flags::{
    LimitsArgs, MailArgs, RetentionArgs, ServeArgs, SessionsArgs, StorageArgs, with_variable_names,
};
pub use limits::LimitsSettings;
pub use resolve::RuntimeSettings;
pub use sections::{
    CodeSettings, LogFormat, MailSettings, OutboxSettings, RetentionSettings, SessionsSettings,
    SmtpSettings, SmtpTls, WebauthnSettings,
};

/// Every setting of passlink.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize))]
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
    /// Where users reach passlink; the default registration link points here. When unset,
    /// `http://localhost:PORT` (`https://` with TLS) with the port the listener bound.
    pub external_url: Option<String>,
    /// `human` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `passlink=debug,info`.
    pub log_level: String,
    /// Largest request body or message accepted, in bytes.
    pub max_request_bytes: usize,
    /// How long shutdown waits for requests in flight.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// `[code]`: registration codes.
    pub code: CodeSettings,
    /// `[webauthn]`: the relying party.
    pub webauthn: WebauthnSettings,
    /// `[smtp]`: the SMTP server email goes through.
    pub smtp: SmtpSettings,
    /// `[mail]`: sender, templates, development directory.
    pub mail: MailSettings,
    /// `[outbox]`: retries and leases of queued messages.
    pub outbox: OutboxSettings,
    /// `[retention]`: how long unusable codes, registrations and messages are kept, and how
    /// often the sweep that deletes them runs.
    pub retention: RetentionSettings,
    /// `[limits]`: bounds on connections, streams and request times; the rate of public
    /// calls per client address; trusted proxies.
    pub limits: LimitsSettings,
    /// `[sessions]`: sign-in with passkeys.
    pub sessions: SessionsSettings,
    /// `[tls]`: the certificate the listener serves TLS with.
    pub tls: TlsSettings,
    /// `[metrics]`: whether and where `GET /metrics` is served.
    pub metrics: MetricsSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            secret_key_file: None,
            external_url: None,
            log_format: LogFormat::Human,
            log_level: "info".into(),
            max_request_bytes: 4 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(30),
            code: CodeSettings::default(),
            webauthn: WebauthnSettings::default(),
            smtp: SmtpSettings::default(),
            mail: MailSettings::default(),
            outbox: OutboxSettings::default(),
            retention: RetentionSettings::default(),
            limits: LimitsSettings::default(),
            sessions: SessionsSettings::default(),
            tls: TlsSettings::default(),
            metrics: MetricsSettings::default(),
        }
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

    /// The settings of `passlink serve`: the defaults, then the file (`--config`, else
    /// `PASSLINK_CONFIG`), then the variables of `environment`, then `flags`; validated.
    pub fn load(flags: &ServeArgs, environment: &Environment) -> Result<Settings, String> {
        let variables: ServeArgs = environment.flags()?;
        let mut settings = Settings::from_config(&flags.storage, &variables.storage)?;
        variables.apply(&mut settings);
        flags.apply(&mut settings);
        if let Some(password) = environment.smtp_password()? {
            settings.smtp.password = Some(password);
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Settings for the operator commands, which read only the storage flags and variables.
    pub fn load_storage(
        flags: &StorageArgs,
        environment: &Environment,
    ) -> Result<Settings, String> {
        let variables: StorageArgs = environment.flags()?;
        let mut settings = Settings::from_config(flags, &variables)?;
        variables.apply(&mut settings);
        flags.apply(&mut settings);
        settings.validate()?;
        Ok(settings)
    }

    /// The defaults, or the file the flag names, else the one the variable names.
    fn from_config(flags: &StorageArgs, variables: &StorageArgs) -> Result<Settings, String> {
        match flags.config.as_ref().or(variables.config.as_ref()) {
            Some(path) => Settings::from_file(path),
            None => Ok(Settings::default()),
        }
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| crate::store::sqlite_url_in(&self.data_dir))
    }
}
