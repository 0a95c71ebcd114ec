//! What the outbox worker tells the metrics: delivery attempts, and failures by whether the
//! message will be tried again or is dead.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// The worker's counters; clones share their values.
#[derive(Clone, Debug, Default)]
pub struct DeliveryMetrics {
    /// Messages the worker tried to deliver (each try counts).
    pub attempts: Counter,
    /// Failed tries, labelled `outcome="retry"` (tried again later) or `outcome="dead"`.
    pub failures: Family<Vec<(&'static str, &'static str)>, Counter>,
}

impl DeliveryMetrics {
    /// Counts a failed try; `dead` when the message will not be tried again.
    pub(super) fn failed(&self, dead: bool) {
        let outcome = if dead { "dead" } else { "retry" };
        self.failures
            .get_or_create(&vec![("outcome", outcome)])
            .inc();
    }
}
