//! What the store tells the metrics: the group commit's batch sizes and commit times (kept as
//! histograms the writer fills), the connection pool's use, and the outbox messages by state
//! (counted when metrics are scraped).

use std::time::Duration;

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use crate::error::Result;

use super::SqlStore;
use super::errors::internal;

/// The group commit's histograms; clones share their values.
#[derive(Clone, Debug)]
pub struct GroupCommitMetrics {
    /// Changes per written batch.
    pub batch_sizes: Histogram,
    /// Seconds one batch took to write and commit.
    pub commit_seconds: Histogram,
}

impl Default for GroupCommitMetrics {
    fn default() -> Self {
        GroupCommitMetrics {
            // 1, 2, 4, … 512 (the largest batch).
            batch_sizes: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            // 100 µs to about 3.3 s.
            commit_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
        }
    }
}

impl GroupCommitMetrics {
    /// Records one written batch.
    pub(super) fn observe(&self, changes: usize, took: Duration) {
        self.batch_sizes.observe(changes as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }
}

/// The connection pool's use (the readers' pool; the writer has its own connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections open, idle or in use.
    pub open: u32,
    /// Connections open and idle.
    pub idle: u32,
    /// Most connections the pool opens.
    pub max: u32,
}

impl SqlStore {
    /// The group commit's histograms.
    pub fn group_commit_metrics(&self) -> GroupCommitMetrics {
        self.group_commit_metrics.clone()
    }

    /// The connection pool's use now.
    pub fn pool_use(&self) -> PoolUse {
        PoolUse {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    /// How many outbox messages are in each state (`pending`, `sent`, `dead`); states without
    /// a message are left out.
    pub async fn outbox_counts_by_state(&self) -> Result<Vec<(String, i64)>> {
        sqlx::query_as::<_, (String, i64)>("SELECT state, COUNT(*) FROM outbox GROUP BY state")
            .fetch_all(&self.pool)
            .await
            .map_err(internal("STORE-Mt1ob"))
    }
}
