//! SIGHUP reloads the certificate at once, also when polling is off. A process of its own:
//! the signal reaches every server in the process.

mod common;

use std::time::Duration;

use common::tls::{TestCa, served_certificate, start_with_tls, wait_for_certificate};

#[tokio::test]
async fn sighup_reloads_the_certificate_when_polling_is_off() {
    let ca = TestCa::new();
    let first = ca.server_certificate("first");
    let (server, tls_dir) = start_with_tls(&first, |settings| {
        settings.tls.reload_interval = Duration::ZERO;
    })
    .await;
    let second = ca.server_certificate("second");
    second.write_to(tls_dir.path());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        served_certificate(server.address, &ca).await,
        first.der,
        "without polling nothing changes before SIGHUP"
    );
    // The server installed its SIGHUP handler at start, so the signal does not end the process.
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for_certificate(server.address, &ca, &second.der).await;
    server.stop().await;
}
