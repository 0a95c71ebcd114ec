//! The Prometheus metrics of one server: one registry (`passlink_` prefix) holding the request
//! counters and latencies the API records, the group commit's histograms the store fills, the
//! outbox worker's counters, the rate limit's refusals, the listener's open connections and
//! the TLS reloads; and, read when scraped, the outbox by state, the pool's use and the
//! process's memory. The metric objects are handed to the parts that record them; no part of
//! `domain` or `service` sees them.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::notify::DeliveryMetrics;
use crate::store::SqlStore;

/// The content type of the exposition (OpenMetrics text, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A counter with a label set written as name–value pairs of fixed strings.
pub type LabelledCounter = Family<Vec<(&'static str, &'static str)>, Counter>;

/// The labels of a request: its RPC (a name from the RPC table or a fixed word, never a raw
/// path), its protocol and its outcome's code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `zitadel.user.v2.UserService/AddHumanUser`, or `healthz`, `ui`, `metrics`, `unknown`, ….
    pub rpc: Arc<String>,
    /// `grpc`, `grpc_web`, `connect`, `rest` or `http`.
    pub protocol: &'static str,
    /// `ok`, or the gRPC code's snake_case name (`not_found`, …).
    pub code: &'static str,
}

/// The label of a latency: the request's RPC.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// As in `RequestLabels`.
    pub rpc: Arc<String>,
}

/// The histogram of request latencies: 0.5 ms to about 16 s.
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Latencies by RPC.
pub type LatencyFamily = Family<RpcLabels, Histogram, fn() -> Histogram>;

/// The metrics of one server.
pub struct Metrics {
    registry: Registry,
    /// `passlink_requests_total{rpc,protocol,code}`.
    pub requests: Family<RequestLabels, Counter>,
    /// `passlink_request_duration_seconds{rpc}`.
    pub request_seconds: LatencyFamily,
    /// `passlink_open_connections`.
    pub open_connections: Gauge,
    /// `passlink_rate_limit_refusals_total`.
    pub rate_limit_refusals: Counter,
    /// `passlink_tls_certificate_reloads_total{result}`.
    pub tls_reloads: LabelledCounter,
    /// `passlink_outbox_delivery_attempts_total`, `passlink_outbox_delivery_failures_total`.
    pub deliveries: DeliveryMetrics,
    outbox_messages: Family<Vec<(&'static str, &'static str)>, Gauge>,
    pool_connections: Family<Vec<(&'static str, &'static str)>, Gauge>,
    pool_max_connections: Gauge,
    resident_memory: Gauge,
    store: SqlStore,
}

/// The outbox states a message can be in (the table's CHECK constraint).
const OUTBOX_STATES: [&str; 3] = ["pending", "sent", "dead"];

impl Metrics {
    /// The metrics of a server over `store`, every metric registered.
    pub fn new(store: &SqlStore) -> Metrics {
        let mut registry = Registry::with_prefix("passlink");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by RPC (or fixed path name), protocol and code",
            requests.clone(),
        );
        let request_seconds = LatencyFamily::new_with_constructor(request_histogram);
        registry.register(
            "request_duration_seconds",
            "Time from a request's head to the end of its answer, by RPC",
            request_seconds.clone(),
        );
        let group_commit = store.group_commit_metrics();
        registry.register(
            "group_commit_batch_size",
            "Changes written per group-commit batch",
            group_commit.batch_sizes,
        );
        registry.register(
            "group_commit_duration_seconds",
            "Time one group-commit batch took to write and commit",
            group_commit.commit_seconds,
        );
        let outbox_messages = Family::default();
        registry.register(
            "outbox_messages",
            "Outbox messages by state, counted when scraped",
            outbox_messages.clone(),
        );
        let deliveries = DeliveryMetrics::default();
        registry.register(
            "outbox_delivery_attempts",
            "Delivery attempts of outbox messages by this process",
            deliveries.attempts.clone(),
        );
        registry.register(
            "outbox_delivery_failures",
            "Failed delivery attempts, by whether the message is retried or dead",
            deliveries.failures.clone(),
        );
        let rate_limit_refusals = Counter::default();
        registry.register(
            "rate_limit_refusals",
            "Public calls refused over the per-address rate limit",
            rate_limit_refusals.clone(),
        );
        let pool_connections = Family::default();
        registry.register(
            "db_pool_connections",
            "Connections of the database pool (readers), by state",
            pool_connections.clone(),
        );
        let pool_max_connections = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "Most connections the database pool opens",
            pool_max_connections.clone(),
        );
        let resident_memory = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the process",
            resident_memory.clone(),
        );
        let open_connections = Gauge::default();
        registry.register(
            "open_connections",
            "Client connections open on the listener (TLS handshakes included)",
            open_connections.clone(),
        );
        let tls_reloads = LabelledCounter::default();
        registry.register(
            "tls_certificate_reloads",
            "Certificate reloads after a change of the files or SIGHUP, by result",
            tls_reloads.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            open_connections,
            rate_limit_refusals,
            tls_reloads,
            deliveries,
            outbox_messages,
            pool_connections,
            pool_max_connections,
            resident_memory,
            store: store.clone(),
        }
    }

    /// Reads what is counted at scrape time, then writes every metric in the text format.
    pub async fn scrape(&self) -> String {
        match self.store.outbox_counts_by_state().await {
            Ok(counts) => {
                for state in OUTBOX_STATES {
                    let count = counts
                        .iter()
                        .find(|(counted, _)| counted == state)
                        .map_or(0, |(_, count)| *count);
                    self.outbox_messages
                        .get_or_create(&vec![("state", state)])
                        .set(count);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot count the outbox for the metrics");
            }
        }
        let pool = self.store.pool_use();
        self.pool_connections
            .get_or_create(&vec![("state", "idle")])
            .set(i64::from(pool.idle));
        self.pool_connections
            .get_or_create(&vec![("state", "in_use")])
            .set(i64::from(pool.open.saturating_sub(pool.idle)));
        self.pool_max_connections.set(i64::from(pool.max));
        if let Some(bytes) = resident_memory_bytes() {
            self.resident_memory.set(bytes);
        }
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "cannot encode the metrics");
        }
        text
    }
}

/// The process's resident memory (`VmRSS` of `/proc/self/status`); `None` where there is no
/// such file.
fn resident_memory_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: i64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kilobytes * 1024)
}
