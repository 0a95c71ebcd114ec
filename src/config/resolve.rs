//! Checks every setting, and resolves the settings, once, into the types the parts of
//! passlink take: the use cases' `ServiceSettings` (with the WebAuthn relying party), the
//! delivery's `NotifySettings`, the transports' `ApiSettings` and the listener's bounds. No
//! part of passlink reads `Settings` itself, so no part keeps defaults of its own.

use std::num::NonZeroU32;

use crate::api::ApiSettings;
use crate::api::client_address::TrustedProxies;
use crate::api::listener::ListenerSettings;
use crate::api::public_limit::PublicLimitSettings;
use crate::api::tls::TlsSettings as ListenerTls;
use crate::domain::webauthn;
use crate::notify::{
    MailDelivery, MailerSettings, NotifySettings, SmtpAuthentication, SmtpEncryption, SmtpPassword,
    SmtpServer, WorkerSettings,
};
use crate::service::ports::Disposable;
use crate::service::{
    PasskeySettings, RetentionPolicy, RetentionRule, ServiceSettings, SessionSettings,
};

use super::Settings;
use super::edge::MetricsExposure;
use super::sections::{DEFAULT_REGISTRATION_LIFETIME, DEFAULT_RP_NAME, SmtpTls};

/// The settings resolved into the types each part of passlink takes.
#[derive(Clone, Debug)]
pub struct RuntimeSettings {
    /// The use cases' settings. `id_node` is `None`: the composition root fills in the node
    /// the store leased.
    pub service: ServiceSettings,
    /// Delivery of queued messages.
    pub notify: NotifySettings,
    /// The transports.
    pub api: ApiSettings,
    /// The listener's bounds.
    pub listener: ListenerSettings,
    /// The listener's certificate files, when it serves TLS.
    pub tls: Option<ListenerTls>,
    /// Where `GET /metrics` is served.
    pub metrics: MetricsExposure,
    /// `external_url`, or its default for the port the listener bound.
    pub external_url: String,
}

impl Settings {
    /// Checks every setting and says which one is wrong.
    pub fn validate(&self) -> Result<(), String> {
        self.resolve().map(|_| ())
    }

    /// Checks every setting (saying which one is wrong) and resolves the settings into the
    /// types the parts of passlink take, for the port `listen` names.
    pub fn resolve(&self) -> Result<RuntimeSettings, String> {
        self.resolve_for_port(self.listen.port())
    }

    /// `external_url` when set; else `http://localhost:PORT` (`https://` with TLS) with the
    /// port the listener bound (`listen_port`), so that the links passlink makes reach it.
    pub fn external_url_for_port(&self, listen_port: u16) -> String {
        match &self.external_url {
            Some(external_url) => external_url.clone(),
            None => {
                let scheme = if self.tls.cert_file.is_some() || self.tls.key_file.is_some() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://localhost:{listen_port}")
            }
        }
    }

    /// As `resolve`, with the defaults that follow the listen port (`external_url`, and from
    /// it the WebAuthn relying party) taken from `listen_port`, the port the listener bound.
    pub fn resolve_for_port(&self, listen_port: u16) -> Result<RuntimeSettings, String> {
        let external_url = self.external_url_for_port(listen_port);
        self.check_code()?;
        check_external_url(&external_url)?;
        if self.max_request_bytes < 1024 {
            return Err("max_request_bytes must be at least 1024".into());
        }
        if let Some(url) = &self.database_url {
            crate::store::Backend::of_url(url)?;
        }
        let passkeys = self.relying_party(&external_url)?;
        let tls = self.tls.resolve()?;
        let metrics = self.metrics.resolve(self.listen)?;
        let notify = self.notify_settings()?;
        let retention = self.retention_policy()?;
        self.limits.validate()?;
        tracing_subscriber::EnvFilter::try_new(&self.log_level).map_err(|error| {
            format!(
                "log_level {:?} is not a valid filter: {error}",
                self.log_level
            )
        })?;
        Ok(RuntimeSettings {
            service: ServiceSettings {
                code_alphabet: self.code.alphabet.chars().collect(),
                code_length: self.code.length,
                code_lifetime: self.code.lifetime,
                external_url: external_url.clone(),
                passkeys,
                email_unavailable: self.email_unavailable(),
                id_node: None,
                retention,
                sessions: self.session_settings()?,
            },
            notify,
            api: self.api_settings()?,
            listener: self.listener_settings(),
            tls,
            metrics,
            external_url,
        })
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

    fn check_code(&self) -> Result<(), String> {
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
        Ok(())
    }

    /// The WebAuthn relying party: defaults filled in from `external_url` (the one in force),
    /// then checked.
    pub(super) fn relying_party(&self, external_url: &str) -> Result<PasskeySettings, String> {
        let external = check_external_url(external_url)?;
        let rp_id = match &self.webauthn.rp_id {
            Some(rp_id) => rp_id.trim().to_ascii_lowercase(),
            None => external.host_str().unwrap_or_default().to_ascii_lowercase(),
        };
        webauthn::check_rp_id(&rp_id)
            .map_err(|problem| format!("webauthn.rp_id {rp_id:?} {problem}"))?;
        let allowed_origins = if self.webauthn.allowed_origins.is_empty() {
            vec![external.origin().ascii_serialization()]
        } else {
            self.webauthn
                .allowed_origins
                .iter()
                .map(|origin| {
                    webauthn::normalize_origin(origin).map_err(|problem| {
                        format!("webauthn.allowed_origins: {origin:?} {problem}")
                    })
                })
                .collect::<Result<_, _>>()?
        };
        if !allowed_origins
            .iter()
            .any(|origin| webauthn::origin_fits_rp_id(origin, &rp_id))
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
            .unwrap_or(DEFAULT_REGISTRATION_LIFETIME);
        if registration_lifetime.is_zero() {
            return Err("webauthn.registration_lifetime must be longer than zero".into());
        }
        Ok(PasskeySettings {
            rp_id,
            rp_name: self
                .webauthn
                .rp_name
                .clone()
                .filter(|name| !name.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_RP_NAME.into()),
            allowed_origins,
            registration_lifetime,
        })
    }

    /// `[mail]`, `[smtp]` and `[outbox]`, checked, as delivery takes them.
    fn notify_settings(&self) -> Result<NotifySettings, String> {
        let from = crate::notify::parse_sender(&self.mail.from)
            .map_err(|problem| format!("mail.from {problem}"))?;
        let smtp = &self.smtp;
        if smtp.host.as_deref().is_some_and(str::is_empty) {
            return Err("smtp.host must not be empty".into());
        }
        if smtp.password.is_some() && smtp.password_file.is_some() {
            return Err("set smtp.password or smtp.password_file, not both".into());
        }
        if smtp.username.is_none() && (smtp.password.is_some() || smtp.password_file.is_some()) {
            return Err("smtp.password needs smtp.username".into());
        }
        if smtp.timeout.is_zero() {
            return Err("smtp.timeout must be longer than zero".into());
        }
        if smtp.max_connections == 0 {
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
        if outbox.lease <= smtp.timeout * 2 {
            return Err(format!(
                "outbox.lease ({}) must be longer than twice smtp.timeout ({})",
                humantime::format_duration(outbox.lease),
                humantime::format_duration(smtp.timeout)
            ));
        }
        let delivery = match (&smtp.host, &self.mail.dir) {
            (Some(host), _) => Some(MailDelivery::Smtp(self.smtp_server(host))),
            (None, Some(directory)) => Some(MailDelivery::Directory(directory.clone())),
            (None, None) => None,
        };
        Ok(NotifySettings {
            mailer: delivery.map(|delivery| MailerSettings { from, delivery }),
            templates_dir: self.mail.templates_dir.clone(),
            run_worker: outbox.worker,
            worker: WorkerSettings {
                max_attempts: outbox.max_attempts,
                retry_initial: outbox.retry_initial,
                retry_max: outbox.retry_max,
                poll_interval: outbox.poll_interval,
                lease: outbox.lease,
            },
        })
    }

    fn smtp_server(&self, host: &str) -> SmtpServer {
        let smtp = &self.smtp;
        let password = match (&smtp.password, &smtp.password_file) {
            (Some(password), _) => Some(SmtpPassword::Value(password.clone())),
            (None, Some(path)) => Some(SmtpPassword::File(path.clone())),
            (None, None) => None,
        };
        SmtpServer {
            host: host.to_owned(),
            port: smtp.port_or_default(),
            encryption: match smtp.tls {
                SmtpTls::None => SmtpEncryption::None,
                SmtpTls::Starttls => SmtpEncryption::Starttls,
                SmtpTls::Tls => SmtpEncryption::Tls,
            },
            authentication: smtp
                .username
                .clone()
                .map(|username| SmtpAuthentication { username, password }),
            timeout: smtp.timeout,
            max_connections: smtp.max_connections,
        }
    }

    /// `[sessions]`, checked, as the session use cases take it.
    fn session_settings(&self) -> Result<SessionSettings, String> {
        let sessions = &self.sessions;
        let timeout = sessions.challenge_timeout;
        if timeout < std::time::Duration::from_secs(10)
            || timeout > std::time::Duration::from_secs(3600)
        {
            return Err("sessions.challenge_timeout must be between 10s and 1h".into());
        }
        Ok(SessionSettings {
            discoverable_login: sessions.discoverable_login,
            public_sign_in: sessions.public_sign_in,
            public_login_name: sessions.public_login_name,
            challenge_timeout: timeout,
        })
    }

    /// `[retention]`, checked, as the sweep takes it: the explicit list of its rules.
    fn retention_policy(&self) -> Result<RetentionPolicy, String> {
        let retention = &self.retention;
        if retention.interval < std::time::Duration::from_secs(1) {
            return Err("retention.interval must be at least 1s".into());
        }
        if !(1..=100_000).contains(&retention.batch_size) {
            return Err(format!(
                "retention.batch_size must be between 1 and 100000, got {}",
                retention.batch_size
            ));
        }
        let rule = |rows, keep_for| RetentionRule { rows, keep_for };
        Ok(RetentionPolicy {
            interval: retention.interval,
            batch_size: retention.batch_size,
            // The sweep's rules, in order.
            rules: vec![
                rule(Disposable::PasskeyCodes, retention.codes),
                rule(Disposable::PasskeyRegistrations, retention.registrations),
                rule(Disposable::SentMessages, retention.sent_messages),
                rule(Disposable::DeadMessages, retention.dead_messages),
                rule(Disposable::Sessions, retention.sessions),
                // Nobody can ever use a public sign-in that expired unchecked.
                rule(
                    Disposable::UncheckedPublicSessions,
                    std::time::Duration::ZERO,
                ),
            ],
        })
    }

    /// The transports' settings.
    fn api_settings(&self) -> Result<ApiSettings, String> {
        let limits = &self.limits;
        let at_least_one = |value: u32, name: &str| {
            NonZeroU32::new(value).ok_or_else(|| format!("limits.{name} must be at least 1"))
        };
        Ok(ApiSettings {
            max_request_bytes: self.max_request_bytes,
            body_read_timeout: limits.body_read_timeout,
            public_limits: PublicLimitSettings {
                per_minute: at_least_one(limits.public_per_minute, "public_per_minute")?,
                burst: at_least_one(limits.public_burst, "public_burst")?,
            },
            trusted_proxies: TrustedProxies::new(limits.trusted_proxy_networks()?),
        })
    }

    /// The bounds of the listener, from `[limits]`.
    fn listener_settings(&self) -> ListenerSettings {
        let limits = &self.limits;
        ListenerSettings {
            max_connections: limits.max_connections,
            http2_max_concurrent_streams: limits.http2_max_concurrent_streams,
            header_read_timeout: limits.header_read_timeout,
            idle_timeout: limits.idle_timeout,
            http2_keepalive_interval: limits.http2_keepalive_interval,
            http2_keepalive_timeout: limits.http2_keepalive_timeout,
            shutdown_grace: self.shutdown_grace,
        }
    }
}

/// `external_url`, parsed: an http(s) URL with a host.
fn check_external_url(external_url: &str) -> Result<url::Url, String> {
    let external = url::Url::parse(external_url)
        .map_err(|error| format!("external_url {external_url:?} is not a URL: {error}"))?;
    if !matches!(external.scheme(), "http" | "https") || external.host().is_none() {
        return Err(format!(
            "external_url {external_url:?} must be an http(s) URL with a host"
        ));
    }
    Ok(external)
}
