//! Abuse of the one listener: HTTP/2 streams that never finish, bodies that trickle, connections
//! that say nothing, peers that never answer a ping, more connections than allowed. The server
//! stays within a memory bound, keeps answering small requests, and cuts the abusers by its
//! `[limits]`.

mod common;

use std::time::{Duration, Instant};

use common::process::PasslinkProcess;
use common::raw_h2::RawHttp2;
use common::raw_http::{parse_answer, trickled_request};
use common::requests::human;
use common::{TestServer, authorized, unique_email};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const GRPC_PATH: &str = "/zitadel.user.v2.UserService/AddHumanUser";
const MEBIBYTE: u64 = 1024 * 1024;

type Client = passlink::pb::zitadel::user::v2::user_service_client::UserServiceClient<
    tonic::transport::Channel,
>;

/// Small requests legitimate clients make during the abuse: a health check on a new
/// connection, and AddHumanUser over gRPC on a new connection and on `existing` (a connection
/// opened before the abuse). Returns how long they took.
async fn small_requests(server: &PasslinkProcess, existing: &mut Client, token: &str) -> Duration {
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let health = http
        .get(format!("http://{}/healthz", server.address))
        .send()
        .await
        .expect("GET /healthz answers");
    assert_eq!(health.status().as_u16(), 200);
    let added = server
        .client()
        .await
        .add_human_user(authorized(human("Small", &unique_email("small")), token))
        .await
        .expect("AddHumanUser answers");
    assert!(!added.into_inner().user_id.is_empty());
    let added = existing
        .add_human_user(authorized(human("Small", &unique_email("small")), token))
        .await
        .expect("AddHumanUser answers on an existing connection");
    assert!(!added.into_inner().user_id.is_empty());
    started.elapsed()
}

/// 8 HTTP/2 connections × 1,000 streams that send a head and never a body, 200 HTTP/1.1
/// connections trickling a body a byte a second, and 50 connections that send only the HTTP/2
/// preface: the server (the real binary, so that its memory is its own) refuses the streams
/// beyond its advertised limit, cuts the trickles at the body timeout and the silent
/// connections at the header timeout, stays within 100 MiB of its idle memory, comes back
/// near it afterwards, and answers small requests all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_that_never_finish_and_trickled_bodies_stay_bounded_while_small_requests_answer() {
    const CONNECTIONS: usize = 8;
    const STREAMS: usize = 1000;
    const STREAM_LIMIT: u32 = 100;
    const TRICKLES: usize = 200;
    const SILENT: usize = 50;
    let data_dir = tempfile::tempdir().unwrap();
    let server = PasslinkProcess::start(
        data_dir.path(),
        &[
            "--limits-http2-max-concurrent-streams",
            &STREAM_LIMIT.to_string(),
            "--limits-body-read-timeout",
            "3s",
            "--limits-header-read-timeout",
            "2s",
            "--limits-idle-timeout",
            "2s",
            "--limits-http2-keepalive-timeout",
            "1s",
            "--limits-max-connections",
            "1000",
        ],
    );
    let token = std::fs::read_to_string(data_dir.path().join("admin.pat"))
        .unwrap()
        .trim()
        .to_owned();
    let mut existing = server.client().await;
    for _ in 0..20 {
        small_requests(&server, &mut existing, &token).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = server.resident_bytes();

    let mut streams = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut connection = RawHttp2::connect(server.address).await;
        connection
            .open_streams_without_body(STREAMS, GRPC_PATH, "application/grpc")
            .await;
        streams.push(connection);
    }
    let authorization = format!("Bearer {token}");
    let trickles: Vec<_> = (0..TRICKLES)
        .map(|_| {
            let (address, authorization) = (server.address, authorization.clone());
            tokio::spawn(async move {
                let headers = [
                    ("content-type", "application/json"),
                    ("authorization", authorization.as_str()),
                ];
                let trickle = trickled_request(
                    address,
                    "/v2/users/human",
                    &headers,
                    1000,
                    Duration::from_secs(1),
                );
                tokio::time::timeout(Duration::from_secs(25), trickle).await
            })
        })
        .collect();
    let mut silent = Vec::new();
    for _ in 0..SILENT {
        silent.push(RawHttp2::connect(server.address).await);
    }

    // Abuse in progress: sample the memory, and make small requests, until the trickles end.
    let mut peak = idle;
    let mut slowest_small_request = Duration::ZERO;
    let abuse_started = Instant::now();
    while !trickles.iter().all(|trickle| trickle.is_finished())
        && abuse_started.elapsed() < Duration::from_secs(26)
    {
        let took = tokio::time::timeout(
            Duration::from_secs(10),
            small_requests(&server, &mut existing, &token),
        )
        .await
        .expect("small requests answer within 10 s during the abuse");
        slowest_small_request = slowest_small_request.max(took);
        peak = peak.max(server.resident_bytes());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut trickles_cut = 0;
    let mut trickles_answered_408 = 0;
    for trickle in trickles {
        if let Ok(received) = trickle.await.unwrap() {
            trickles_cut += 1;
            if !received.is_empty() && parse_answer(&received).status == 408 {
                trickles_answered_408 += 1;
            }
        }
    }
    // One deadline for all the waits below, so that a red run still ends in time.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream_events = Vec::new();
    for connection in &streams {
        let left = deadline.saturating_duration_since(Instant::now());
        stream_events.push(connection.wait_for(left, |events| events.closed).await);
    }
    let mut silent_closed = 0;
    for connection in &silent {
        let left = deadline.saturating_duration_since(Instant::now());
        if connection
            .wait_for(left, |events| events.closed)
            .await
            .closed
        {
            silent_closed += 1;
        }
    }
    drop(streams);
    drop(silent);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.resident_bytes();

    let mebibytes = |bytes: u64| bytes as f64 / MEBIBYTE as f64;
    eprintln!(
        "RSS idle {:.1} MiB, peak {:.1} MiB (+{:.1}), after close {:.1} MiB (+{:.1}); \
         slowest small request {slowest_small_request:?}; trickles cut {trickles_cut}/{TRICKLES} \
         (408: {trickles_answered_408}); silent closed {silent_closed}/{SILENT}",
        mebibytes(idle),
        mebibytes(peak),
        mebibytes(peak.saturating_sub(idle)),
        mebibytes(after),
        mebibytes(after.saturating_sub(idle)),
    );
    for events in &stream_events {
        eprintln!("HTTP/2 connection: {events:?}");
    }

    for events in &stream_events {
        assert_eq!(
            events.max_concurrent_streams,
            Some(STREAM_LIMIT),
            "the server advertises SETTINGS_MAX_CONCURRENT_STREAMS: {events:?}"
        );
        assert!(
            events.refused_streams >= STREAMS - 2 * STREAM_LIMIT as usize,
            "streams beyond the limit are refused: {events:?}"
        );
        assert_eq!(
            events.refused_streams + events.answered_streams,
            STREAMS,
            "every stream is refused or answered (the body timeout): {events:?}"
        );
        assert!(events.closed, "the connection closes once idle: {events:?}");
    }
    assert_eq!(
        (trickles_cut, trickles_answered_408),
        (TRICKLES, TRICKLES),
        "every trickled body is answered 408 and its connection closed"
    );
    assert_eq!(silent_closed, SILENT, "preface-only connections are closed");
    assert!(
        peak.saturating_sub(idle) < 100 * MEBIBYTE,
        "memory under abuse stays within 100 MiB of idle"
    );
    assert!(
        after.saturating_sub(idle) < 30 * MEBIBYTE,
        "memory comes back within 30 MiB of idle once the abusers are gone"
    );
}

/// The parts of a trickled request's answer the tests check.
async fn trickle_answer(
    server: &TestServer,
    path: &str,
    content_type: &str,
) -> common::raw_http::RawAnswer {
    let authorization = format!("Bearer {}", server.admin_token);
    let headers = [
        ("content-type", content_type),
        ("authorization", authorization.as_str()),
    ];
    let received = tokio::time::timeout(
        Duration::from_secs(15),
        trickled_request(
            server.address,
            path,
            &headers,
            1000,
            Duration::from_millis(300),
        ),
    )
    .await
    .expect("the server cuts a trickled body and closes the connection");
    parse_answer(&received)
}

#[tokio::test]
async fn a_trickled_body_is_answered_deadline_exceeded_in_the_shape_of_each_protocol() {
    let server = TestServer::start_with(|settings| {
        settings.limits.body_read_timeout = Duration::from_secs(1);
    })
    .await;
    let expected_text = "the request body did not arrive within 1s";

    let rest = trickle_answer(&server, "/v2/users/human", "application/json").await;
    assert_eq!(rest.status, 408, "{rest:?}");
    let answer = common::http_clients::JsonAnswer {
        status: rest.status,
        content_type: rest.header("content-type").unwrap_or_default().to_owned(),
        body: rest.json(),
    };
    let failure = common::failure::rest_failure(common::protocols::Protocol::Rest, &answer);
    assert_eq!(failure.code, tonic::Code::DeadlineExceeded, "{failure:?}");
    assert!(failure.message.contains(expected_text), "{failure:?}");
    assert!(failure.detail.is_some(), "{failure:?}");

    let connect = trickle_answer(&server, GRPC_PATH, "application/json").await;
    assert_eq!(connect.status, 408, "{connect:?}");
    let failure = common::failure::connect_failure(
        common::protocols::Protocol::ConnectJson,
        connect.status,
        &connect.body,
    );
    assert_eq!(failure.code, tonic::Code::DeadlineExceeded, "{failure:?}");
    assert!(failure.message.contains(expected_text), "{failure:?}");

    let grpc_web = trickle_answer(&server, GRPC_PATH, "application/grpc-web+proto").await;
    assert_eq!(grpc_web.status, 200, "trailers-only gRPC-Web: {grpc_web:?}");
    assert_eq!(
        grpc_web.header("grpc-status"),
        Some("4"),
        "DeadlineExceeded: {grpc_web:?}"
    );
    assert!(
        grpc_web
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/grpc-web")),
        "{grpc_web:?}"
    );

    // gRPC over HTTP/2: a head and never a body.
    let tcp = TcpStream::connect(server.address).await.unwrap();
    let (mut client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let request = http::Request::post(format!("http://{}{GRPC_PATH}", server.address))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("authorization", format!("Bearer {}", server.admin_token))
        .body(())
        .unwrap();
    let (response, _body_never_sent) = client.send_request(request, false).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(15), response)
        .await
        .expect("the server answers a gRPC call whose body never comes")
        .unwrap();
    let headers = response.headers();
    assert_eq!(headers["grpc-status"], "4", "DeadlineExceeded: {headers:?}");
    let message = common::grpc_web::percent_decode(headers["grpc-message"].to_str().unwrap());
    assert!(message.contains(expected_text), "{message}");
    assert!(
        headers.contains_key("grpc-status-details-bin"),
        "{headers:?}"
    );
}

/// Reads from a socket until the server closes it; `true` when it did within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    tokio::time::timeout(within, async {
        let mut buffer = [0u8; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn silent_half_sent_and_idle_connections_are_closed() {
    let server = TestServer::start_with(|settings| {
        settings.limits.header_read_timeout = Duration::from_secs(1);
        settings.limits.idle_timeout = Duration::from_secs(1);
        settings.limits.http2_keepalive_timeout = Duration::from_secs(1);
    })
    .await;
    let within = Duration::from_secs(15);

    let preface_only = RawHttp2::connect(server.address).await;
    let mut idle_after_a_request = RawHttp2::connect(server.address).await;
    idle_after_a_request.get("/healthz").await;
    let mut half_an_http2_head = RawHttp2::connect(server.address).await;
    half_an_http2_head.send_half_a_head("/healthz").await;
    let mut half_a_head = TcpStream::connect(server.address).await.unwrap();
    half_a_head
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: passlink\r\n")
        .await
        .unwrap();
    let mut nothing_at_all = TcpStream::connect(server.address).await.unwrap();
    let mut keep_alive = TcpStream::connect(server.address).await.unwrap();
    keep_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: passlink\r\n\r\n")
        .await
        .unwrap();

    let events = preface_only.wait_for(within, |events| events.closed).await;
    assert!(
        events.closed,
        "a connection sending only the preface: {events:?}"
    );
    let events = idle_after_a_request
        .wait_for(within, |events| events.closed)
        .await;
    assert_eq!(events.answered_streams, 1, "{events:?}");
    assert!(
        events.closed,
        "an HTTP/2 connection idle after a request: {events:?}"
    );
    let events = half_an_http2_head
        .wait_for(within, |events| events.closed)
        .await;
    assert!(
        events.closed,
        "an HTTP/2 header block never finished: {events:?}"
    );
    assert!(closed_within(&mut half_a_head, within).await, "half a head");
    assert!(
        closed_within(&mut nothing_at_all, within).await,
        "a silent connection"
    );
    assert!(
        closed_within(&mut keep_alive, within).await,
        "an HTTP/1.1 keep-alive connection idle after a request"
    );
}

#[tokio::test]
async fn a_peer_that_never_answers_pings_is_disconnected() {
    let server = TestServer::start_with(|settings| {
        settings.limits.http2_keepalive_interval = Duration::from_secs(1);
        settings.limits.http2_keepalive_timeout = Duration::from_secs(1);
    })
    .await;
    let mut connection = RawHttp2::connect(server.address).await;
    // A request in flight (its body never comes before the 30 s body timeout): not idle.
    connection
        .open_streams_without_body(1, GRPC_PATH, "application/grpc")
        .await;
    let events = connection
        .wait_for(Duration::from_secs(15), |events| events.closed)
        .await;
    assert!(
        events.pings >= 1,
        "the server pings a silent peer: {events:?}"
    );
    assert!(
        events.closed,
        "and closes the connection when it never answers: {events:?}"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    const LIMIT: usize = 4;
    let server = TestServer::start_with(|settings| {
        settings.limits.max_connections = LIMIT;
    })
    .await;
    let mut holders = Vec::new();
    for _ in 0..LIMIT {
        let holder = RawHttp2::connect(server.address).await;
        let events = holder
            .wait_for(Duration::from_secs(10), |events| events.settings_received)
            .await;
        assert!(
            events.settings_received,
            "held connections are served: {events:?}"
        );
        holders.push(holder);
    }
    let mut waiting = TcpStream::connect(server.address).await.unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: passlink\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut first_byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_secs(1), waiting.read(&mut first_byte)).await;
    assert!(
        early.is_err(),
        "a connection beyond the limit is not served while the limit is reached: {early:?}"
    );
    holders.pop();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        let read = waiting.read(&mut first_byte).await.unwrap();
        received.extend_from_slice(&first_byte[..read]);
        waiting.read_to_end(&mut received).await.unwrap();
    })
    .await
    .expect("served once a connection closes");
    let answer = parse_answer(&received);
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn request_heads_over_16_kib_are_refused() {
    let server = TestServer::start().await;
    let padding = "x".repeat(20 * 1024);
    let mut http1 = TcpStream::connect(server.address).await.unwrap();
    http1
        .write_all(
            format!(
                "GET /healthz HTTP/1.1\r\nHost: passlink\r\nX-Padding: {padding}\r\n\
                 Connection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), http1.read_to_end(&mut received))
        .await
        .expect("an answer")
        .unwrap();
    assert_eq!(parse_answer(&received).status, 431, "HTTP/1.1");

    let tcp = TcpStream::connect(server.address).await.unwrap();
    let (mut client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let request = http::Request::get(format!("http://{}/healthz", server.address))
        .header("x-padding", padding)
        .body(())
        .unwrap();
    let answered = match client.send_request(request, true) {
        Ok((response, _)) => response.await.map(|response| response.status().as_u16()),
        Err(error) => Err(error),
    };
    assert!(
        !matches!(answered, Ok(200)),
        "HTTP/2 refuses the header list: {answered:?}"
    );
}
