//! Bounds on connections and requests (`[limits]` in the TOML file): how many connections and
//! HTTP/2 streams the listener holds, how long it waits for headers, bodies and idle peers, how
//! many public calls (without a bearer token) one client address may make, and which proxies
//! name the client.

use std::time::Duration;

use serde::Deserialize;

/// Bounds on connections and requests (`[limits]` in the TOML file).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSettings {
    /// Most connections open at once, default 1024; further connections wait in the listen
    /// backlog until one closes (`PASSLINK_LIMITS_MAX_CONNECTIONS`, `--limits-max-connections`).
    pub max_connections: usize,
    /// Most requests in flight on one HTTP/2 connection (`SETTINGS_MAX_CONCURRENT_STREAMS`),
    /// default 100; further streams are refused (`PASSLINK_LIMITS_HTTP2_MAX_CONCURRENT_STREAMS`,
    /// `--limits-http2-max-concurrent-streams`).
    pub http2_max_concurrent_streams: u32,
    /// Time a connection has to send its first complete request head, and an HTTP/1.1
    /// connection each further one, default 10s (`PASSLINK_LIMITS_HEADER_READ_TIMEOUT`,
    /// `--limits-header-read-timeout`).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Time a request's whole body has to arrive, counted from its head, default 30s
    /// (`PASSLINK_LIMITS_BODY_READ_TIMEOUT`, `--limits-body-read-timeout`).
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// How long a connection stays open with no request in flight, default 60s
    /// (`PASSLINK_LIMITS_IDLE_TIMEOUT`, `--limits-idle-timeout`).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// How long an HTTP/2 connection may stay silent before passlink pings it, default 30s
    /// (`PASSLINK_LIMITS_HTTP2_KEEPALIVE_INTERVAL`, `--limits-http2-keepalive-interval`).
    #[serde(with = "humantime_serde")]
    pub http2_keepalive_interval: Duration,
    /// How long a ping may go unanswered before the connection is closed, default 20s; also
    /// the time a connection asked to close (idle, or at shutdown) gets to finish its goodbye
    /// (`PASSLINK_LIMITS_HTTP2_KEEPALIVE_TIMEOUT`, `--limits-http2-keepalive-timeout`).
    #[serde(with = "humantime_serde")]
    pub http2_keepalive_timeout: Duration,
    /// Public calls (RegisterPasskey with a code, VerifyPasskeyRegistration without a token)
    /// each client address may make per minute, on average; default 60
    /// (`PASSLINK_LIMITS_PUBLIC_PER_MINUTE`, `--limits-public-per-minute`).
    pub public_per_minute: u32,
    /// Public calls a client address may make at once before the per-minute rate applies;
    /// default 20 (`PASSLINK_LIMITS_PUBLIC_BURST`, `--limits-public-burst`).
    pub public_burst: u32,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers name the client: IP addresses or
    /// CIDR networks (`10.0.0.0/8`); none by default, so the TCP peer is the client
    /// (`PASSLINK_LIMITS_TRUSTED_PROXIES`, comma-separated, `--limits-trusted-proxies`).
    pub trusted_proxies: Vec<String>,
}

impl Default for LimitsSettings {
    fn default() -> Self {
        LimitsSettings {
            max_connections: 1024,
            http2_max_concurrent_streams: 100,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            http2_keepalive_interval: Duration::from_secs(30),
            http2_keepalive_timeout: Duration::from_secs(20),
            public_per_minute: 60,
            public_burst: 20,
            trusted_proxies: Vec::new(),
        }
    }
}

impl LimitsSettings {
    /// Checks every bound and says which one is wrong.
    pub fn validate(&self) -> Result<(), String> {
        // tokio's semaphore, which counts the connections, holds at most this many permits.
        const MOST_CONNECTIONS: usize = tokio::sync::Semaphore::MAX_PERMITS;
        if !(1..=MOST_CONNECTIONS).contains(&self.max_connections) {
            return Err(format!(
                "limits.max_connections must be between 1 and {MOST_CONNECTIONS}, got {}",
                self.max_connections
            ));
        }
        if self.http2_max_concurrent_streams == 0 {
            return Err("limits.http2_max_concurrent_streams must be at least 1".into());
        }
        for (name, value) in [
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("idle_timeout", self.idle_timeout),
            ("http2_keepalive_interval", self.http2_keepalive_interval),
            ("http2_keepalive_timeout", self.http2_keepalive_timeout),
        ] {
            if value.is_zero() {
                return Err(format!("limits.{name} must be longer than zero"));
            }
        }
        if self.public_per_minute == 0 || self.public_burst == 0 {
            return Err(
                "limits.public_per_minute and limits.public_burst must be at least 1".into(),
            );
        }
        self.trusted_proxy_networks()?;
        Ok(())
    }

    /// The trusted proxies as networks; a bare address is a network of one.
    pub fn trusted_proxy_networks(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                let text = entry.trim();
                text.parse::<ipnet::IpNet>()
                    .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map(|network| network.trunc())
                    .map_err(|_| {
                        format!(
                            "limits.trusted_proxies: {entry:?} is neither an IP address nor a \
                             network like 10.0.0.0/8"
                        )
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_from_their_section_and_zero_bounds_are_refused() {
        let settings: crate::config::Settings = toml::from_str(
            "[limits]\nmax_connections = 10\nbody_read_timeout = \"2s\"\nidle_timeout = \"1m\"\n",
        )
        .unwrap();
        assert_eq!(settings.limits.max_connections, 10);
        assert_eq!(settings.limits.body_read_timeout, Duration::from_secs(2));
        assert_eq!(settings.limits.idle_timeout, Duration::from_secs(60));
        assert_eq!(settings.limits.http2_max_concurrent_streams, 100);
        settings.validate().unwrap();

        let mut limits = LimitsSettings {
            max_connections: 0,
            ..LimitsSettings::default()
        };
        assert!(limits.validate().unwrap_err().contains("max_connections"));
        limits.max_connections = 1;
        limits.http2_max_concurrent_streams = 0;
        assert!(
            limits
                .validate()
                .unwrap_err()
                .contains("http2_max_concurrent_streams")
        );
        limits.http2_max_concurrent_streams = 1;
        limits.header_read_timeout = Duration::ZERO;
        assert!(
            limits
                .validate()
                .unwrap_err()
                .contains("limits.header_read_timeout")
        );
        let error =
            toml::from_str::<crate::config::Settings>("[limits]\nmax_conections = 1").unwrap_err();
        assert!(
            error.to_string().contains("unknown field `max_conections`"),
            "{error}"
        );
    }
}
