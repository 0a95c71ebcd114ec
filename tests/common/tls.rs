//! TLS for tests: a certificate authority made with rcgen, server certificates for
//! `localhost` it signs, written as the PEM files passlink reads, and a server started with
//! them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use passlink::config::Settings;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, PublicKeyData};
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::Digest;

use super::TestServer;

/// A test certificate authority.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate for `localhost` and its key, in PEM, as passlink reads them.
pub struct ServerCertificate {
    /// The server's certificate, then the CA's: a chain.
    pub chain_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
    /// base64 of the SHA-256 of the server key's SubjectPublicKeyInfo, as Chromium's
    /// `--ignore-certificate-errors-spki-list` takes it.
    pub spki_sha256_base64: String,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "passlink test CA");
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// The CA certificate, DER.
    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A new server certificate for `localhost` with a new key.
    pub fn server_certificate(&self, name: &str) -> ServerCertificate {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        ServerCertificate {
            chain_pem: format!("{}{}", certificate.pem(), self.pem()),
            key_pem: key.serialize_pem(),
            der: certificate.der().clone(),
            spki_sha256_base64: base64::engine::general_purpose::STANDARD
                .encode(sha2::Sha256::digest(key.subject_public_key_info())),
        }
    }
}

impl ServerCertificate {
    /// Writes the chain and the key to `directory/cert.pem` and `directory/key.pem`.
    pub fn write_to(&self, directory: &Path) -> (PathBuf, PathBuf) {
        let (cert_file, key_file) = (directory.join("cert.pem"), directory.join("key.pem"));
        write_replacing(&cert_file, self.chain_pem.as_bytes());
        write_replacing(&key_file, self.key_pem.as_bytes());
        (cert_file, key_file)
    }
}

/// Replaces a file at once, as certificate tools do (write aside, then rename).
pub fn write_replacing(path: &Path, contents: &[u8]) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, contents).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

/// Starts a server serving TLS with `certificate`, after `configure`.
pub async fn start_with_tls(
    certificate: &ServerCertificate,
    configure: impl FnOnce(&mut Settings),
) -> (TestServer, tempfile::TempDir) {
    let tls_dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = certificate.write_to(tls_dir.path());
    let server = TestServer::start_with(|settings| {
        // The default: https://localhost:PORT.
        settings.external_url = None;
        settings.tls.cert_file = Some(cert_file);
        settings.tls.key_file = Some(key_file);
        configure(settings);
    })
    .await;
    (server, tls_dir)
}

/// The certificate a new TLS handshake with the server gets, trusting `ca`.
pub async fn served_certificate(address: SocketAddr, ca: &TestCa) -> CertificateDer<'static> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
        .expect("a TLS handshake");
    stream.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// Waits up to 10 s for new handshakes to get `expected`.
pub async fn wait_for_certificate(address: SocketAddr, ca: &TestCa, expected: &CertificateDer<'_>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while served_certificate(address, ca).await != *expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "new handshakes still get the old certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
