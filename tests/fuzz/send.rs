//! Sends generated requests concurrently over kept-alive connections (HTTP/2 for gRPC,
//! HTTP/1.1 through reqwest), reads each answer's HTTP status and gRPC status (from headers,
//! trailers or a gRPC-Web trailer frame), and tallies what broke the rules.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;

use super::common::http_clients::http_client;
use super::common::raw_grpc::RawGrpcConnection;
use super::corpus::Corpus;
use super::inputs::{self, FuzzRequest, Transport};
use super::server::ServerProcess;

/// How long one request may take before it counts as unanswered.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How many broken answers are described in full.
const DESCRIBED_FAILURES: usize = 25;

/// What came back: the HTTP status and the gRPC status, when there was one.
#[derive(Debug)]
struct Answer {
    http_status: u16,
    grpc_status: Option<i32>,
}

impl Answer {
    fn outcome(&self) -> String {
        match self.grpc_status {
            Some(code) if self.http_status == 200 => format!("grpc-status {code}"),
            Some(code) => format!("HTTP {} grpc-status {code}", self.http_status),
            None => format!("HTTP {}", self.http_status),
        }
    }

    /// What is wrong with this answer: Internal, or a server error other than 501 and 504
    /// (gRPC codes that stand for HTTP 500 or 503 count as such).
    fn broken_rule(&self) -> Option<String> {
        let bad_http = self.http_status >= 500 && ![501, 504].contains(&self.http_status);
        let bad_grpc = self
            .grpc_status
            .is_some_and(|code| [2, 13, 14, 15].contains(&code));
        (bad_http || bad_grpc).then(|| self.outcome())
    }
}

/// The requests sent and what they got, per protocol family.
#[derive(Default)]
pub struct Tally {
    pub sent: u64,
    /// Requests sent a second time after their connection failed, and the first few reasons.
    pub resent: u64,
    resent_because: Vec<String>,
    outcomes: BTreeMap<(&'static str, String), u64>,
    pub failure_count: u64,
    pub failures: Vec<String>,
}

impl Tally {
    fn record(
        &mut self,
        index: u64,
        request: &FuzzRequest,
        answer: Result<Answer, String>,
        resent_because: Option<String>,
    ) {
        self.sent += 1;
        if let Some(reason) = resent_because {
            self.resent += 1;
            if self.resent_because.len() < DESCRIBED_FAILURES {
                self.resent_because.push(describe(index, request, &reason));
            }
        }
        let (outcome, broken) = match &answer {
            Ok(answer) => (answer.outcome(), answer.broken_rule()),
            Err(error) => ("no answer".to_owned(), Some(error.clone())),
        };
        *self.outcomes.entry((request.family, outcome)).or_default() += 1;
        if let Some(broken) = broken {
            self.failure_count += 1;
            if self.failures.len() < DESCRIBED_FAILURES {
                self.failures.push(describe(index, request, &broken));
            }
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.sent += other.sent;
        self.resent += other.resent;
        self.resent_because.extend(other.resent_because);
        self.resent_because.truncate(DESCRIBED_FAILURES);
        for (key, count) in other.outcomes {
            *self.outcomes.entry(key).or_default() += count;
        }
        self.failure_count += other.failure_count;
        for failure in other.failures {
            if self.failures.len() < DESCRIBED_FAILURES {
                self.failures.push(failure);
            }
        }
    }

    /// One line per protocol family: how many requests, and the answers they got.
    pub fn summary(&self) -> String {
        let mut families: BTreeMap<&str, (u64, Vec<String>)> = BTreeMap::new();
        for ((family, outcome), count) in &self.outcomes {
            let entry = families.entry(family).or_default();
            entry.0 += count;
            entry.1.push(format!("{outcome} ×{count}"));
        }
        let mut lines = vec![format!(
            "fuzz: {} requests ({} sent again after a connection failed), {} broke the rules",
            self.sent, self.resent, self.failure_count
        )];
        for (family, (count, outcomes)) in families {
            lines.push(format!("  {family}: {count} — {}", outcomes.join(", ")));
        }
        for reason in &self.resent_because {
            lines.push(format!("  sent again: {reason}"));
        }
        lines.join("\n")
    }
}

fn describe(index: u64, request: &FuzzRequest, broken: &str) -> String {
    let content_type = request
        .headers
        .iter()
        .find(|(name, _)| name == "content-type")
        .map(|(_, value)| value.as_str())
        .unwrap_or("-");
    let prefix: String = request
        .body
        .iter()
        .take(32)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!(
        "#{index} {} over {:?}: {} {} [{content_type}] body {} bytes {prefix}… → {broken}",
        request.kind,
        request.transport,
        request.method,
        request.path,
        request.body.len()
    )
}

/// The gRPC status in a gRPC-Web body's trailer frame (binary or base64 text), read leniently.
fn grpc_web_trailer_status(content_type: &str, body: &[u8]) -> Option<i32> {
    let decoded;
    let mut frames: &[u8] = if content_type.contains("text") {
        let clean: Vec<u8> = body
            .iter()
            .copied()
            .filter(|byte| !byte.is_ascii_whitespace())
            .collect();
        decoded = clean
            .chunks(4)
            .flat_map(|quad| {
                base64::engine::general_purpose::STANDARD
                    .decode(quad)
                    .unwrap_or_default()
            })
            .collect::<Vec<u8>>();
        &decoded
    } else {
        body
    };
    let mut status = None;
    while frames.len() >= 5 {
        let flag = frames[0];
        let length = u32::from_be_bytes(frames[1..5].try_into().unwrap()) as usize;
        let payload = &frames[5..(5 + length).min(frames.len())];
        if flag & 0x80 != 0 {
            let text = String::from_utf8_lossy(payload);
            status = text
                .split("\r\n")
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("grpc-status"))
                .and_then(|(_, value)| value.trim().parse().ok())
                .or(status);
        }
        frames = &frames[(5 + length).min(frames.len())..];
    }
    status
}

fn answer_of(
    http_status: u16,
    header: impl Fn(&str) -> Option<String>,
    trailer_status: Option<i32>,
    body: &[u8],
) -> Answer {
    let content_type = header("content-type").unwrap_or_default();
    let web_status = content_type
        .starts_with("application/grpc-web")
        .then(|| grpc_web_trailer_status(&content_type, body))
        .flatten();
    let header_status = header("grpc-status").and_then(|value| value.trim().parse().ok());
    Answer {
        http_status,
        grpc_status: trailer_status.or(web_status).or(header_status),
    }
}

async fn send_http2(
    connection: &mut RawGrpcConnection,
    address: SocketAddr,
    request: &FuzzRequest,
) -> Result<Answer, String> {
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let call = connection.call(&request.method, &request.path, &headers, &request.body);
    match tokio::time::timeout(ANSWER_TIMEOUT, call).await {
        Err(_) => Err(format!("no answer within {ANSWER_TIMEOUT:?}")),
        Ok(Err(error)) => {
            // The connection may be gone: the next request gets a fresh one.
            *connection = RawGrpcConnection::connect(address).await;
            Err(format!("HTTP/2 error: {error}"))
        }
        Ok(Ok(answer)) => {
            let trailer_status = answer
                .trailers
                .get("grpc-status")
                .and_then(|value| value.trim().parse().ok());
            Ok(answer_of(
                answer.http_status,
                |name| answer.headers.get(name).cloned(),
                trailer_status,
                &answer.body,
            ))
        }
    }
}

async fn send_http1(
    http: &reqwest::Client,
    address: SocketAddr,
    request: &FuzzRequest,
) -> Result<Answer, String> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
    let mut builder = http
        .request(method, format!("http://{address}{}", request.path))
        .timeout(ANSWER_TIMEOUT);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    let response = builder
        .send()
        .await
        .map_err(|error| format!("HTTP/1.1 error: {error:?}"))?;
    let http_status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|error| format!("HTTP/1.1 error reading the body: {error:?}"))?;
    Ok(answer_of(
        http_status,
        |name| Some(headers.get(name)?.to_str().ok()?.to_owned()),
        None,
        &body,
    ))
}

/// An HTTP/1.1 client that opens a new connection for each request.
fn fresh_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// Sends requests `indexes` of the run with `seed`, `concurrency` at a time, and tallies them.
pub async fn run(
    server: &ServerProcess,
    corpus: &Arc<Corpus>,
    seed: u64,
    indexes: Range<u64>,
    concurrency: usize,
) -> Tally {
    let next = Arc::new(AtomicU64::new(indexes.start));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let http = http_client();
    let address = server.address;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (next, tally, http, corpus) =
            (next.clone(), tally.clone(), http.clone(), corpus.clone());
        let end = indexes.end;
        workers.push(tokio::spawn(async move {
            let mut connection = RawGrpcConnection::connect(address).await;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= end {
                    break;
                }
                let request = inputs::generate(&corpus, seed, index);
                let mut answer = match request.transport {
                    Transport::Http2 => send_http2(&mut connection, address, &request).await,
                    Transport::Http1 => send_http1(&http, address, &request).await,
                };
                // A kept-alive connection can end between two requests (HTTP/1.1's race when
                // the server closes it after an answer given before the body was read): such a
                // request is sent once more, on a fresh connection. A server that fails the
                // same request again, or that is gone, still fails the test.
                let mut resent_because = None;
                if matches!(&answer, Err(error) if !error.starts_with("no answer")) {
                    let first = answer.unwrap_err();
                    resent_because = Some(first.clone());
                    let again = match request.transport {
                        Transport::Http2 => send_http2(&mut connection, address, &request).await,
                        Transport::Http1 => {
                            send_http1(&fresh_http_client(), address, &request).await
                        }
                    };
                    answer = again.map_err(|second| format!("{first}; sent again: {second}"));
                }
                tally
                    .lock()
                    .unwrap()
                    .record(index, &request, answer, resent_because);
            }
        }));
    }
    for worker in workers {
        worker.await.expect("a sender panicked");
    }
    Arc::try_unwrap(tally)
        .ok()
        .expect("every sender has finished")
        .into_inner()
        .unwrap()
}
