//! TLS on the one listener, with certificates made here (rcgen): every protocol over https on
//! one port (gRPC through tonic over rustls with ALPN h2; gRPC-Web, Connect, REST and the page
//! over HTTP/1.1), the default `external_url` following the bound port with `https://`, the
//! certificate reloaded when its files change while a broken file keeps the old one, the
//! handshake timeout, and clear startup errors. (SIGHUP, which reaches every server of a
//! process, is tested in `tls_sighup.rs`, a process of its own.)

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::http_clients::http_client_trusting;
use common::log_capture::LogCapture;
use common::protocols::Protocol;
use common::requests::human;
use common::tls::{
    TestCa, served_certificate, start_with_tls, wait_for_certificate, write_replacing,
};
use common::wire::ApiClient;
use common::{TestClock, unique_email};
use passlink::app;
use passlink::config::Settings;
use strum::IntoEnumIterator;
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn every_protocol_and_the_page_answer_over_https_on_one_port() {
    let ca = TestCa::new();
    let (server, _tls_dir) = start_with_tls(&ca.server_certificate("first"), |_| {}).await;
    let port = server.address.port();
    assert_eq!(
        server.external_url,
        format!("https://localhost:{port}"),
        "an unset external_url follows the bound port, with https"
    );
    let ca_pem = ca.pem();
    let mut protocols = 0;
    for protocol in Protocol::iter() {
        let client = ApiClient::new_https(protocol, server.address, ca_pem.as_bytes())
            .await
            .with_token(&server.admin_token);
        let added = client
            .add_human_user(human("Tilly", &unique_email("tilly")))
            .await
            .unwrap_or_else(|failure| panic!("{protocol:?} over https: {failure:?}"));
        let user = client
            .get_user_by_id(&added.user_id)
            .await
            .unwrap_or_else(|failure| panic!("{protocol:?} over https: {failure:?}"))
            .user
            .unwrap();
        assert_eq!(user.user_id, added.user_id, "{protocol:?}");
        protocols += 1;
    }
    assert_eq!(protocols, 6);

    let https = http_client_trusting(&[], Some(ca_pem.as_bytes()));
    let page = https
        .get(format!("https://localhost:{port}/ui/passkey/register"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<html"));
    let probe = https
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.text().await.unwrap(), "ok");

    // No plain HTTP on the TLS port, and no connection for a client that does not trust the CA.
    let plain = common::http_clients::http_client()
        .get(format!("http://localhost:{port}/healthz"))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");
    let untrusting = http_client_trusting(&[], Some(TestCa::new().pem().as_bytes()))
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await;
    assert!(untrusting.is_err(), "{untrusting:?}");
    server.stop().await;
}

#[tokio::test]
async fn new_handshakes_get_a_replaced_certificate_and_a_broken_one_keeps_the_old() {
    let logs = LogCapture::start();
    let ca = TestCa::new();
    let first = ca.server_certificate("first");
    let (server, tls_dir) = start_with_tls(&first, |settings| {
        settings.tls.reload_interval = Duration::from_millis(100);
    })
    .await;
    assert_eq!(served_certificate(server.address, &ca).await, first.der);
    // A connection opened before the change keeps working after it.
    let ca_pem = ca.pem();
    let early = ApiClient::new_https(Protocol::Grpc, server.address, ca_pem.as_bytes())
        .await
        .with_token(&server.admin_token);

    let second = ca.server_certificate("second");
    second.write_to(tls_dir.path());
    wait_for_certificate(server.address, &ca, &second.der).await;
    assert!(
        logs.errors_and_panics().is_empty(),
        "{:?}",
        logs.errors_and_panics()
    );
    early
        .add_human_user(human("Early", &unique_email("early")))
        .await
        .expect("the connection opened before the reload still serves");

    // A broken certificate file, then a key that does not fit: the second certificate stays,
    // and each is logged at ERROR once.
    write_replacing(
        &tls_dir.path().join("cert.pem"),
        b"-----BEGIN CERTIFICATE-----\nnot base64\n",
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(served_certificate(server.address, &ca).await, second.der);
    let third = ca.server_certificate("third");
    write_replacing(&tls_dir.path().join("cert.pem"), third.chain_pem.as_bytes());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        served_certificate(server.address, &ca).await,
        second.der,
        "a certificate whose key is not in key.pem is not taken"
    );
    let errors = logs.errors_and_panics();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors.iter().all(
            |line| line.contains("cannot reload the TLS certificate; keeping the one in force")
        ),
        "{errors:#?}"
    );
    assert!(errors[1].contains("does not fit"), "{errors:#?}");

    // Its key arrives: the third certificate is taken.
    write_replacing(&tls_dir.path().join("key.pem"), third.key_pem.as_bytes());
    wait_for_certificate(server.address, &ca, &third.der).await;
    server.stop().await;
}

#[tokio::test]
async fn a_tls_handshake_that_does_not_finish_in_time_is_closed() {
    let ca = TestCa::new();
    let (server, _tls_dir) = start_with_tls(&ca.server_certificate("first"), |settings| {
        settings.limits.header_read_timeout = Duration::from_millis(500);
    })
    .await;
    let mut silent = tokio::net::TcpStream::connect(server.address)
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut byte))
        .await
        .expect("the server closes a silent connection");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    served_certificate(server.address, &ca).await;
    server.stop().await;
}

#[tokio::test]
async fn missing_or_unusable_certificate_files_stop_the_start_with_a_clear_error() {
    let ca = TestCa::new();
    let certificate = ca.server_certificate("first");
    let other = ca.server_certificate("other");
    let directory = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = certificate.write_to(directory.path());
    let start = |configure: &dyn Fn(&mut Settings)| {
        let data_dir = directory.path().join("data");
        let mut settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir,
            ..Settings::default()
        };
        settings.tls.cert_file = Some(cert_file.clone());
        settings.tls.key_file = Some(key_file.clone());
        configure(&mut settings);
        async move {
            match app::start(settings, Arc::new(TestClock::default())).await {
                Ok(running) => {
                    let _ = running.shutdown.send(());
                    panic!("the server started")
                }
                Err(error) => error,
            }
        }
    };
    let error = start(&|settings| settings.tls.key_file = None).await;
    assert!(
        error.contains("tls.cert_file is set but tls.key_file is not"),
        "{error}"
    );
    let error =
        start(&|settings| settings.tls.cert_file = Some("/nonexistent/cert.pem".into())).await;
    assert!(
        error.contains("cannot read tls.cert_file /nonexistent/cert.pem"),
        "{error}"
    );
    let garbage = directory.path().join("garbage.pem");
    std::fs::write(&garbage, "no PEM here").unwrap();
    let error = start(&|settings| settings.tls.cert_file = Some(garbage.clone())).await;
    assert!(error.contains("holds no certificate"), "{error}");
    let error = start(&|settings| settings.tls.key_file = Some(garbage.clone())).await;
    assert!(error.contains("holds no PEM private key"), "{error}");
    let other_key = directory.path().join("other-key.pem");
    std::fs::write(&other_key, &other.key_pem).unwrap();
    let error = start(&|settings| settings.tls.key_file = Some(other_key.clone())).await;
    assert!(error.contains("does not fit"), "{error}");
}
