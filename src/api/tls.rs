//! TLS on the one listener: rustls (ring provider) with ALPN `h2` and `http/1.1`, a
//! certificate read from two PEM files, and a reloader that swaps in a new certificate when
//! the files change (polled) or on SIGHUP. A new pair that cannot be read, parsed or matched
//! keeps the certificate in force and is logged at ERROR; handshakes in progress and open
//! connections are never disturbed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// The certificate files of the listener, resolved from `[tls]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM certificate chain, the server's certificate first.
    pub cert_file: PathBuf,
    /// PEM private key of that certificate.
    pub key_file: PathBuf,
    /// How often the files are checked for a change; `None`: only on SIGHUP.
    pub reload_interval: Option<Duration>,
}

/// The outcome of one certificate reload, a label of `passlink_tls_reloads_total`.
pub type ReloadCounter = Family<Vec<(&'static str, &'static str)>, Counter>;

/// The certificate every new handshake gets; swapped whole on reload.
pub struct CurrentCertificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for CurrentCertificate {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("CurrentCertificate")
    }
}

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone(),
        )
    }
}

impl CurrentCertificate {
    fn replace(&self, certificate: Arc<CertifiedKey>) {
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = certificate;
    }
}

/// The contents of the two files, as last read.
#[derive(Clone, PartialEq, Eq)]
struct FileContents {
    cert: Vec<u8>,
    key: Vec<u8>,
}

/// The listener's TLS: the acceptor for new connections, and what the reloader needs.
pub struct ServerTls {
    settings: TlsSettings,
    certificate: Arc<CurrentCertificate>,
    acceptor: TlsAcceptor,
    loaded: FileContents,
}

impl ServerTls {
    /// Reads the certificate and key; an error names the file and what is wrong with it, so
    /// that passlink does not start without a usable certificate.
    pub fn load(settings: &TlsSettings) -> Result<ServerTls, String> {
        let contents = read_files(settings)?;
        let certified = certified_key(settings, &contents)?;
        tracing::info!(
            cert_file = %settings.cert_file.display(),
            sha256 = %fingerprint(&certified),
            "TLS is on: serving h2 and http/1.1 with this certificate"
        );
        let certificate = Arc::new(CurrentCertificate {
            current: RwLock::new(Arc::new(certified)),
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| format!("cannot set up TLS: {error}"))?
            .with_no_client_auth()
            .with_cert_resolver(certificate.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ServerTls {
            settings: settings.clone(),
            certificate,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            loaded: contents,
        })
    }

    /// The acceptor of new connections; it always presents the certificate in force.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }

    /// Starts the reloader: it checks the files every `reload_interval` and on SIGHUP, until
    /// `stop` changes. Fails when the SIGHUP handler cannot be installed.
    pub fn spawn_reloader(
        &self,
        reloads: ReloadCounter,
        mut stop: watch::Receiver<()>,
    ) -> Result<tokio::task::JoinHandle<()>, String> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = signal(SignalKind::hangup())
            .map_err(|error| format!("cannot install the SIGHUP handler: {error}"))?;
        let mut reloader = Reloader {
            settings: self.settings.clone(),
            certificate: self.certificate.clone(),
            in_force: self.loaded.clone(),
            refused: None,
            reloads,
        };
        let mut ticks = self.settings.reload_interval.map(|interval| {
            let mut ticks =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks
        });
        Ok(tokio::spawn(async move {
            loop {
                let tick = async {
                    match &mut ticks {
                        Some(ticks) => {
                            ticks.tick().await;
                        }
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = tick => reloader.check(false),
                    Some(()) = hangup.recv() => {
                        tracing::info!("SIGHUP: reloading the TLS certificate");
                        reloader.check(true);
                    }
                    _ = stop.changed() => return,
                }
            }
        }))
    }
}

/// Watches the two files and swaps the certificate when they change.
struct Reloader {
    settings: TlsSettings,
    certificate: Arc<CurrentCertificate>,
    /// The contents of the certificate in force.
    in_force: FileContents,
    /// Contents already refused (and logged), so that a bad file is reported once, not at
    /// every poll; SIGHUP tries them again.
    refused: Option<FileContents>,
    reloads: ReloadCounter,
}

impl Reloader {
    fn check(&mut self, forced: bool) {
        let contents = match read_files(&self.settings) {
            Ok(contents) => contents,
            Err(error) => {
                // A file being replaced may be missing for a moment; report it once.
                let unreadable = FileContents {
                    cert: Vec::new(),
                    key: error.clone().into_bytes(),
                };
                if forced || self.refused.as_ref() != Some(&unreadable) {
                    tracing::error!(%error, "cannot reload the TLS certificate; keeping the one in force");
                    self.count("error");
                    self.refused = Some(unreadable);
                }
                return;
            }
        };
        if contents == self.in_force && !forced {
            return;
        }
        if !forced && self.refused.as_ref() == Some(&contents) {
            return;
        }
        match certified_key(&self.settings, &contents) {
            Ok(certified) => {
                tracing::info!(
                    cert_file = %self.settings.cert_file.display(),
                    sha256 = %fingerprint(&certified),
                    "reloaded the TLS certificate: new connections get it"
                );
                self.certificate.replace(Arc::new(certified));
                self.in_force = contents;
                self.refused = None;
                self.count("ok");
            }
            Err(error) => {
                tracing::error!(%error, "cannot reload the TLS certificate; keeping the one in force");
                self.refused = Some(contents);
                self.count("error");
            }
        }
    }

    fn count(&self, result: &'static str) {
        self.reloads.get_or_create(&vec![("result", result)]).inc();
    }
}

fn read_file(path: &Path, setting: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path)
        .map_err(|error| format!("cannot read {setting} {}: {error}", path.display()))
}

fn read_files(settings: &TlsSettings) -> Result<FileContents, String> {
    Ok(FileContents {
        cert: read_file(&settings.cert_file, "tls.cert_file")?,
        key: read_file(&settings.key_file, "tls.key_file")?,
    })
}

/// The certificate chain and key of `contents`, checked to belong together.
fn certified_key(settings: &TlsSettings, contents: &FileContents) -> Result<CertifiedKey, String> {
    let cert_file = settings.cert_file.display();
    let key_file = settings.key_file.display();
    let chain = CertificateDer::pem_slice_iter(&contents.cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            format!(
                "tls.cert_file {cert_file} is not a PEM certificate chain: {}",
                pem_problem(&error)
            )
        })?;
    if chain.is_empty() {
        return Err(format!(
            "tls.cert_file {cert_file} holds no certificate (expected -----BEGIN CERTIFICATE-----)"
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&contents.key).map_err(|error| {
        format!(
            "tls.key_file {key_file} holds no PEM private key (PKCS#8, PKCS#1 or SEC1): {}",
            pem_problem(&error)
        )
    })?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, key, &provider).map_err(|error| {
        format!("tls.key_file {key_file} does not fit tls.cert_file {cert_file}: {error}")
    })
}

/// What is wrong with a PEM file, in words (the library's own text shows bytes as numbers).
fn pem_problem(error: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match error {
        Error::MissingSectionEnd { end_marker } => format!(
            "a section has no end line ({})",
            String::from_utf8_lossy(end_marker)
        ),
        Error::IllegalSectionStart { line } => {
            format!("a malformed BEGIN line ({})", String::from_utf8_lossy(line))
        }
        Error::Base64Decode(problem) => format!("a section is not valid base64 ({problem})"),
        Error::NoItemsFound => "no section of the expected kind".to_owned(),
        other => other.to_string(),
    }
}

/// The SHA-256 of the server's certificate, in hex, for logs.
fn fingerprint(certified: &CertifiedKey) -> String {
    certified
        .cert
        .first()
        .map(|certificate| {
            Sha256::digest(certificate.as_ref())
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect()
        })
        .unwrap_or_default()
}
