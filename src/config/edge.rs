//! The settings of passlink's edge: TLS on the listener (`[tls]`) and the Prometheus metrics
//! (`[metrics]`), with their defaults, flags and checks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use crate::api::tls::TlsSettings as ListenerTls;

/// TLS on the one listener (`[tls]` in the TOML file). TLS is on when both files are set.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// PEM certificate chain, the server's certificate first (`PASSLINK_TLS_CERT_FILE`,
    /// `--tls-cert-file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of that certificate: PKCS#8, PKCS#1 or SEC1 (`PASSLINK_TLS_KEY_FILE`,
    /// `--tls-key-file`).
    pub key_file: Option<PathBuf>,
    /// How often the two files are checked for a change, default 10s; `0s` checks only on
    /// SIGHUP (`PASSLINK_TLS_RELOAD_INTERVAL`, `--tls-reload-interval`).
    #[serde(with = "humantime_serde")]
    pub reload_interval: Duration,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            cert_file: None,
            key_file: None,
            reload_interval: Duration::from_secs(10),
        }
    }
}

impl TlsSettings {
    /// The listener's TLS when both files are set, `None` when neither is; an error names the
    /// one that is missing.
    pub(super) fn resolve(&self) -> Result<Option<ListenerTls>, String> {
        match (&self.cert_file, &self.key_file) {
            (None, None) => Ok(None),
            (Some(cert_file), Some(key_file)) => Ok(Some(ListenerTls {
                cert_file: cert_file.clone(),
                key_file: key_file.clone(),
                reload_interval: (!self.reload_interval.is_zero()).then_some(self.reload_interval),
            })),
            (Some(_), None) => {
                Err("tls.cert_file is set but tls.key_file is not: set both to serve TLS".into())
            }
            (None, Some(_)) => {
                Err("tls.key_file is set but tls.cert_file is not: set both to serve TLS".into())
            }
        }
    }
}

/// Prometheus metrics (`[metrics]` in the TOML file).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Whether metrics are recorded and `GET /metrics` is served, default true
    /// (`PASSLINK_METRICS_ENABLED`, `--metrics-enabled`).
    pub enabled: bool,
    /// A listener of its own for `GET /metrics` (plain HTTP); when set, the main listener does
    /// not serve it (`PASSLINK_METRICS_LISTEN`, `--metrics-listen`).
    pub listen: Option<SocketAddr>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            enabled: true,
            listen: None,
        }
    }
}

/// Where `GET /metrics` is served, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricsExposure {
    /// Metrics are off.
    Off,
    /// On the main listener.
    MainListener,
    /// On a listener of their own, at this address.
    OwnListener(SocketAddr),
}

impl MetricsSettings {
    /// Where metrics are served; refuses a metrics listener on the main listener's address, or
    /// one set while metrics are off.
    pub(super) fn resolve(&self, main_listen: SocketAddr) -> Result<MetricsExposure, String> {
        match (self.enabled, self.listen) {
            (false, None) => Ok(MetricsExposure::Off),
            (false, Some(_)) => {
                Err("metrics.listen is set but metrics.enabled is false: unset one of them".into())
            }
            (true, None) => Ok(MetricsExposure::MainListener),
            (true, Some(listen)) if listen == main_listen && listen.port() != 0 => Err(format!(
                "metrics.listen ({listen}) must differ from listen; unset it to serve /metrics \
                 on the main listener"
            )),
            (true, Some(listen)) => Ok(MetricsExposure::OwnListener(listen)),
        }
    }
}

/// The TLS and metrics settings `passlink serve` takes as flags or environment variables.
#[derive(Args, Clone, Debug, Default)]
pub struct EdgeArgs {
    /// PEM certificate chain; TLS is on when this and --tls-key-file are set.
    #[arg(long, value_name = "FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, value_name = "FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// How often the certificate files are checked for a change; 0s: only on SIGHUP
    /// [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub tls_reload_interval: Option<Duration>,
    /// Record metrics and serve GET /metrics [default: true].
    #[arg(long, value_name = "BOOL")]
    pub metrics_enabled: Option<bool>,
    /// Serve GET /metrics on this address instead of the main listener.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

impl EdgeArgs {
    /// Lays the flags (or environment variables) that were given over `tls` and `metrics`.
    pub fn apply(&self, tls: &mut TlsSettings, metrics: &mut MetricsSettings) {
        if let Some(cert_file) = &self.tls_cert_file {
            tls.cert_file = Some(cert_file.clone());
        }
        if let Some(key_file) = &self.tls_key_file {
            tls.key_file = Some(key_file.clone());
        }
        if let Some(interval) = self.tls_reload_interval {
            tls.reload_interval = interval;
        }
        if let Some(enabled) = self.metrics_enabled {
            metrics.enabled = enabled;
        }
        if let Some(listen) = self.metrics_listen {
            metrics.listen = Some(listen);
        }
    }
}
