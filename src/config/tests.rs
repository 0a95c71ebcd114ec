//! The settings' own tests: the file format, checks, and the resolution of defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Settings;

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
        external_url: Some("https://login.example.com:8443/base".into()),
        ..Settings::default()
    };
    let resolved = settings
        .relying_party(&settings.external_url_for_port(8080))
        .unwrap();
    assert_eq!(resolved.rp_id, "login.example.com");
    assert_eq!(resolved.allowed_origins, ["https://login.example.com:8443"]);
    assert_eq!(resolved.registration_lifetime, Duration::from_secs(300));
    settings.webauthn.rp_id = Some("example.com".into());
    assert_eq!(
        settings
            .relying_party(&settings.external_url_for_port(8080))
            .unwrap()
            .rp_id,
        "example.com"
    );
    settings.webauthn.rp_id = Some("other.org".into());
    assert!(settings.validate().unwrap_err().contains("allowed origin"));
    settings.external_url = Some("http://127.0.0.1:8080".into());
    settings.webauthn.rp_id = None;
    assert!(settings.validate().unwrap_err().contains("IP address"));
    settings.webauthn.rp_id = Some("localhost".into());
    settings.webauthn.allowed_origins = vec!["http://localhost:8080/".into()];
    assert_eq!(
        settings
            .relying_party(&settings.external_url_for_port(8080))
            .unwrap()
            .allowed_origins,
        ["http://localhost:8080"]
    );
    let parsed: Settings =
        toml::from_str("[webauthn]\nrp_id = \"localhost\"\nregistration_lifetime = \"2m\"\n")
            .unwrap();
    assert_eq!(
        parsed
            .relying_party(&parsed.external_url_for_port(8080))
            .unwrap()
            .registration_lifetime,
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

#[test]
fn the_example_file_parses_and_holds_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("passlink.example.toml");
    assert_eq!(Settings::from_file(&path).unwrap(), Settings::default());
}

#[test]
fn retention_resolves_into_the_sweeps_rules_and_bad_values_are_refused() {
    use crate::service::ports::Disposable;
    let settings: Settings =
        toml::from_str("[retention]\ninterval = \"10m\"\ncodes = \"2d\"\nbatch_size = 50\n")
            .unwrap();
    let policy = settings.resolve().unwrap().service.retention;
    assert_eq!(policy.interval, Duration::from_secs(600));
    assert_eq!(policy.batch_size, 50);
    let rules: Vec<(Disposable, Duration)> = policy
        .rules
        .iter()
        .map(|rule| (rule.rows, rule.keep_for))
        .collect();
    let day = Duration::from_secs(86_400);
    assert_eq!(
        rules,
        [
            (Disposable::PasskeyCodes, 2 * day),
            (Disposable::PasskeyRegistrations, 7 * day),
            (Disposable::SentMessages, 7 * day),
            (Disposable::DeadMessages, 30 * day),
            (Disposable::Sessions, 7 * day),
            (Disposable::UncheckedPublicSessions, Duration::ZERO),
        ]
    );
    let mut invalid = settings.clone();
    invalid.retention.interval = Duration::ZERO;
    assert!(
        invalid
            .validate()
            .unwrap_err()
            .contains("retention.interval")
    );
    let mut invalid = settings;
    invalid.retention.batch_size = 0;
    assert!(
        invalid
            .validate()
            .unwrap_err()
            .contains("retention.batch_size")
    );
}

#[test]
fn an_unset_external_url_follows_the_bound_port_and_tls_and_a_set_one_wins() {
    let mut settings: Settings = toml::from_str("listen = \"127.0.0.1:9000\"\n").unwrap();
    let resolved = settings.resolve().unwrap();
    assert_eq!(resolved.external_url, "http://localhost:9000");
    assert_eq!(resolved.service.external_url, "http://localhost:9000");
    assert_eq!(
        resolved.service.passkeys.allowed_origins,
        ["http://localhost:9000"]
    );
    assert_eq!(resolved.service.passkeys.rp_id, "localhost");
    let bound = settings.resolve_for_port(41234).unwrap();
    assert_eq!(bound.external_url, "http://localhost:41234");
    assert_eq!(
        bound.service.passkeys.allowed_origins,
        ["http://localhost:41234"]
    );
    settings.tls.cert_file = Some("cert.pem".into());
    settings.tls.key_file = Some("key.pem".into());
    let with_tls = settings.resolve_for_port(8443).unwrap();
    assert_eq!(with_tls.external_url, "https://localhost:8443");
    assert_eq!(
        with_tls.service.passkeys.allowed_origins,
        ["https://localhost:8443"]
    );
    settings.external_url = Some("https://login.example.com".into());
    let explicit = settings.resolve_for_port(8443).unwrap();
    assert_eq!(explicit.external_url, "https://login.example.com");
    assert_eq!(
        explicit.service.passkeys.allowed_origins,
        ["https://login.example.com"]
    );
}

#[test]
fn tls_needs_both_files_and_metrics_listen_needs_metrics_on() {
    let mut settings = Settings::default();
    assert!(settings.resolve().unwrap().tls.is_none());
    settings.tls.cert_file = Some("cert.pem".into());
    let error = settings.validate().unwrap_err();
    assert!(error.contains("tls.key_file is not"), "{error}");
    settings.tls = Default::default();
    settings.tls.key_file = Some("key.pem".into());
    let error = settings.validate().unwrap_err();
    assert!(error.contains("tls.cert_file is not"), "{error}");
    settings.tls.cert_file = Some("cert.pem".into());
    let tls = settings.resolve().unwrap().tls.unwrap();
    assert_eq!(tls.reload_interval, Some(Duration::from_secs(10)));
    settings.tls.reload_interval = Duration::ZERO;
    assert_eq!(
        settings.resolve().unwrap().tls.unwrap().reload_interval,
        None
    );

    use super::MetricsExposure;
    let mut settings = Settings::default();
    assert_eq!(
        settings.resolve().unwrap().metrics,
        MetricsExposure::MainListener
    );
    settings.metrics.listen = Some("127.0.0.1:9100".parse().unwrap());
    assert_eq!(
        settings.resolve().unwrap().metrics,
        MetricsExposure::OwnListener("127.0.0.1:9100".parse().unwrap())
    );
    settings.metrics.listen = Some(settings.listen);
    assert!(settings.validate().unwrap_err().contains("must differ"));
    settings.metrics.listen = None;
    settings.metrics.enabled = false;
    assert_eq!(settings.resolve().unwrap().metrics, MetricsExposure::Off);
    settings.metrics.listen = Some("127.0.0.1:9100".parse().unwrap());
    assert!(settings.validate().unwrap_err().contains("metrics.enabled"));
}
