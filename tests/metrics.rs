//! `GET /metrics`: parsed with a Prometheus text parser (`prometheus-parse`), its counters move
//! with requests on every protocol, its labels stay bounded (RPC names, never paths or ids),
//! and with `metrics.listen` it is served there and only there.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::http_clients::http_client;
use common::protocols::Protocol;
use common::requests::{human, register_with_code, return_code, send_link};
use common::{TestServer, unique_email};

/// One scrape, parsed.
struct Scrape(prometheus_parse::Scrape);

const ADD_HUMAN_USER: &str = "zitadel.user.v2.UserService/AddHumanUser";
const GET_USER_BY_ID: &str = "zitadel.user.v2.UserService/GetUserByID";
const REGISTER_PASSKEY: &str = "zitadel.user.v2.UserService/RegisterPasskey";

async fn scrape_at(address: SocketAddr) -> Scrape {
    let response = http_client()
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    assert!(!parsed.samples.is_empty(), "{text}");
    for sample in &parsed.samples {
        assert!(sample.metric.starts_with("passlink_"), "{}", sample.metric);
    }
    Scrape(parsed)
}

impl Scrape {
    /// The value of the sample of `metric` whose labels include `labels`; 0 when none.
    fn value(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .samples
            .iter()
            .filter(|sample| sample.metric == metric)
            .filter(|sample| {
                labels
                    .iter()
                    .all(|(name, value)| sample.labels.get(name) == Some(*value))
            })
            .map(|sample| match sample.value {
                prometheus_parse::Value::Counter(value)
                | prometheus_parse::Value::Gauge(value)
                | prometheus_parse::Value::Untyped(value) => value,
                _ => 0.0,
            })
            .sum()
    }

    fn requests(&self, rpc: &str, protocol: &str, code: &str) -> f64 {
        self.value(
            "passlink_requests_total",
            &[("rpc", rpc), ("protocol", protocol), ("code", code)],
        )
    }

    /// Every value of the label `name` in the scrape.
    fn label_values(&self, name: &str) -> Vec<String> {
        self.0
            .samples
            .iter()
            .filter_map(|sample| sample.labels.get(name).map(str::to_owned))
            .collect()
    }
}

#[tokio::test]
async fn counters_move_with_requests_on_every_protocol_and_labels_stay_bounded() {
    let server = TestServer::start_with(|settings| {
        settings.limits.public_per_minute = 1;
        settings.limits.public_burst = 1;
        settings.outbox.worker = true;
        settings.outbox.poll_interval = Duration::from_millis(50);
    })
    .await;
    let before = scrape_at(server.address).await;

    let mut user_ids = Vec::new();
    for protocol in [
        Protocol::Grpc,
        Protocol::GrpcWeb,
        Protocol::GrpcWebText,
        Protocol::ConnectJson,
        Protocol::Rest,
    ] {
        let client = server.admin(protocol).await;
        let added = client
            .add_human_user(human("Mira", &unique_email("mira")))
            .await
            .unwrap();
        user_ids.push(added.user_id);
        let missing = client.get_user_by_id("404404404").await;
        assert!(missing.is_err(), "{protocol:?}");
    }
    // A public call over its budget is refused.
    let code = common::create_code(&server, &user_ids[0]).await;
    let anonymous = server.client(Protocol::Grpc).await;
    let _ = anonymous
        .register_passkey(register_with_code(&user_ids[0], &code))
        .await;
    let refused = anonymous
        .register_passkey(register_with_code(&user_ids[0], &code))
        .await;
    assert!(refused.is_err());
    // An email is queued and the worker delivers it.
    let admin = server.admin(Protocol::Grpc).await;
    admin
        .create_passkey_registration_link(send_link(&user_ids[1], None))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while server
        .outbox()
        .await
        .iter()
        .any(|message| message.state != "sent")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the email was not sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    admin
        .create_passkey_registration_link(return_code(&user_ids[2]))
        .await
        .unwrap();
    for path in ["/healthz", "/ui/passkey/register", "/no/such/path/123456"] {
        http_client()
            .get(format!("http://{}{path}", server.address))
            .send()
            .await
            .unwrap();
    }

    let after = scrape_at(server.address).await;
    let moved = |rpc: &str, protocol: &str, code: &str| {
        after.requests(rpc, protocol, code) - before.requests(rpc, protocol, code)
    };
    for protocol in ["grpc", "grpc_web", "rest"] {
        let expected = if protocol == "grpc_web" { 2.0 } else { 1.0 };
        assert_eq!(
            moved(ADD_HUMAN_USER, protocol, "ok"),
            expected,
            "{protocol}"
        );
        assert_eq!(
            moved(GET_USER_BY_ID, protocol, "not_found"),
            expected,
            "{protocol}"
        );
    }
    assert_eq!(moved(ADD_HUMAN_USER, "connect", "ok"), 1.0);
    assert_eq!(moved(GET_USER_BY_ID, "connect", "not_found"), 1.0);
    assert_eq!(moved(REGISTER_PASSKEY, "grpc", "resource_exhausted"), 1.0);
    assert_eq!(moved("healthz", "http", "ok"), 1.0);
    assert_eq!(moved("ui", "http", "ok"), 1.0);
    assert_eq!(moved("unknown", "http", "not_found"), 1.0);
    assert!(
        after.value(
            "passlink_request_duration_seconds_count",
            &[("rpc", ADD_HUMAN_USER)]
        ) >= 5.0
    );
    for rpc in after.label_values("rpc") {
        assert!(
            !rpc.contains("123456") && !rpc.contains("404404404") && !rpc.starts_with('/'),
            "a raw path or id as a label: {rpc}"
        );
    }
    let rate_limited = after.value("passlink_rate_limit_refusals_total", &[])
        - before.value("passlink_rate_limit_refusals_total", &[]);
    assert_eq!(rate_limited, 1.0);
    assert!(
        after.value("passlink_group_commit_batch_size_count", &[])
            > before.value("passlink_group_commit_batch_size_count", &[])
    );
    assert!(after.value("passlink_group_commit_duration_seconds_sum", &[]) > 0.0);
    assert_eq!(
        after.value("passlink_outbox_messages", &[("state", "sent")]),
        1.0
    );
    assert_eq!(
        after.value("passlink_outbox_messages", &[("state", "pending")]),
        0.0
    );
    assert_eq!(
        after.value("passlink_outbox_delivery_attempts_total", &[]),
        1.0
    );
    assert_eq!(
        after.value("passlink_outbox_delivery_failures_total", &[]),
        0.0
    );
    assert!(after.value("passlink_process_resident_memory_bytes", &[]) > 1_000_000.0);
    assert!(after.value("passlink_open_connections", &[]) >= 1.0);
    assert!(after.value("passlink_db_pool_max_connections", &[]) >= 1.0);
    assert!(after.value("passlink_db_pool_connections", &[("state", "idle")]) >= 0.0);
    server.stop().await;
}

#[tokio::test]
async fn with_metrics_listen_metrics_are_served_there_and_not_on_the_main_listener() {
    let server = TestServer::start_with(|settings| {
        settings.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let metrics_address = server.metrics_address.expect("a metrics listener");
    assert_ne!(metrics_address, server.address);
    let main = http_client()
        .get(format!("http://{}/metrics", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        main.status(),
        404,
        "/metrics must not be on the main listener"
    );
    server
        .admin(Protocol::Rest)
        .await
        .add_human_user(human("Ola", &unique_email("ola")))
        .await
        .unwrap();
    let scrape = scrape_at(metrics_address).await;
    assert_eq!(scrape.requests(ADD_HUMAN_USER, "rest", "ok"), 1.0);
    assert_eq!(
        scrape.requests("metrics", "http", "not_found"),
        1.0,
        "the refused /metrics on the main listener"
    );
    let other = http_client()
        .get(format!("http://{metrics_address}/v2/users/human"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        404,
        "the metrics listener serves nothing else"
    );
    server.stop().await;
}

#[tokio::test]
async fn with_metrics_off_there_is_no_metrics_endpoint() {
    let server = TestServer::start_with(|settings| settings.metrics.enabled = false).await;
    let response = http_client()
        .get(format!("http://{}/metrics", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    server.stop().await;
}
