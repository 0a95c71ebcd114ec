//! The retention sweep: every process runs a `RetentionSweeper`, which every `interval` takes
//! the sweep's lease in the database (so that of several processes sharing it one sweeps at a
//! time) and deletes, rule by rule and in bounded batches, the rows that have been of no use
//! for longer than the rule's retention. Events are the audit log and stay.
//!
//! The rules are the explicit list `RetentionPolicy::rules`, built from the settings in
//! `config/resolve.rs`: adding a kind of row (the sessions', once their tables exist) is one
//! more `Disposable` with its delete statement and one more rule there.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::time::Timestamp;
use crate::error::Result;

use super::Services;
use super::ports::{Disposable, RETENTION_LEASE};

/// How long one kind of row is kept after it became of no use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionRule {
    /// The kind of row.
    pub rows: Disposable,
    /// How long a row is kept after it became of no use.
    pub keep_for: Duration,
}

/// What the sweep deletes and how often it runs, resolved from `[retention]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// How often each process tries to sweep; also how long the lease of a sweep is held.
    pub interval: Duration,
    /// Most rows one delete statement removes.
    pub batch_size: u32,
    /// The rules, applied in this order.
    pub rules: Vec<RetentionRule>,
}

/// What one sweep deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Rows deleted per kind, in the order of the rules.
    pub deleted: Vec<(Disposable, u64)>,
}

impl SweepReport {
    /// Rows deleted of the kind `rows`.
    pub fn deleted_of(&self, rows: Disposable) -> u64 {
        self.deleted
            .iter()
            .filter(|(kind, _)| *kind == rows)
            .map(|(_, count)| count)
            .sum()
    }
}

/// Sweeps for one process, under its own lease owner id.
pub struct RetentionSweeper {
    services: Arc<Services>,
    /// This process's lease owner id: process id plus a random part (pids repeat).
    owner: String,
}

/// A sweeper running in the background.
pub struct RunningSweeper {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningSweeper {
    /// Lets a batch in flight finish, then stops the sweeper and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the retention sweeper ended abnormally");
        }
    }
}

impl RetentionSweeper {
    /// A sweeper over the use cases' store, clock and retention policy.
    pub fn new(services: Arc<Services>) -> RetentionSweeper {
        let owner = format!(
            "{}-{:04x}{:04x}",
            std::process::id(),
            crate::domain::secret::random_u16(),
            crate::domain::secret::random_u16()
        );
        RetentionSweeper { services, owner }
    }

    /// This sweeper's lease owner id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Sweeps once now and then every `interval`, in a background task, until stopped.
    pub fn spawn(self) -> RunningSweeper {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        RunningSweeper { stop, task }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let interval = self.policy().interval;
        tracing::info!(
            lease.owner = %self.owner,
            interval = %humantime::format_duration(interval),
            "retention sweeper started"
        );
        loop {
            // Errors are logged where they arise; the next interval tries again.
            let _ = self.sweep_logged(Some(&stopped)).await;
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stopped.changed() => break,
            }
            if *stopped.borrow() {
                break;
            }
        }
        tracing::info!(lease.owner = %self.owner, "retention sweeper stopped");
    }

    fn policy(&self) -> &RetentionPolicy {
        &self.services.settings().retention
    }

    /// Takes (or extends) the sweep's lease for one `interval`: `false` when another process
    /// holds it.
    async fn hold_lease(&self) -> Result<bool> {
        let now = self.services.now();
        let until = now.plus(self.policy().interval);
        self.services
            .store
            .take_lease(RETENTION_LEASE, &self.owner, now, until)
            .await
    }

    /// Sweeps once now if this process gets the lease: every rule, batch by batch, extending
    /// the lease before each further batch and stopping when it is lost. `None` when another
    /// process holds the lease.
    pub async fn sweep_once(&self) -> Result<Option<SweepReport>> {
        self.sweep_logged(None).await
    }

    /// `sweep_once`, stopping between batches once `stopped` turns true; logs the outcome.
    async fn sweep_logged(
        &self,
        stopped: Option<&watch::Receiver<bool>>,
    ) -> Result<Option<SweepReport>> {
        let swept = self.sweep_under_lease(stopped).await;
        match &swept {
            Ok(Some(report)) if report.deleted.iter().any(|(_, count)| *count > 0) => {
                let deleted: Vec<String> = report
                    .deleted
                    .iter()
                    .map(|(rows, count)| format!("{}={count}", rows.name()))
                    .collect();
                tracing::info!(
                    lease.owner = %self.owner,
                    deleted = %deleted.join(" "),
                    "retention sweep deleted rows nobody can use any more"
                );
            }
            Ok(Some(_)) => {
                tracing::debug!(lease.owner = %self.owner, "retention sweep: nothing to delete")
            }
            Ok(None) => tracing::debug!(
                lease.owner = %self.owner,
                "retention sweep skipped: another process holds its lease"
            ),
            Err(error) => {
                tracing::error!(%error, "retention sweep failed; it runs again after its interval")
            }
        }
        swept
    }

    async fn sweep_under_lease(
        &self,
        stopped: Option<&watch::Receiver<bool>>,
    ) -> Result<Option<SweepReport>> {
        if !self.hold_lease().await? {
            return Ok(None);
        }
        let policy = self.policy();
        // One cutoff per rule for the whole sweep, so that the batches agree.
        let now = self.services.now();
        let mut report = SweepReport::default();
        for rule in &policy.rules {
            let unused_since = Timestamp(now.0.saturating_sub(micros(rule.keep_for)));
            let mut deleted = 0;
            loop {
                if stopped.is_some_and(|stopped| *stopped.borrow()) {
                    report.deleted.push((rule.rows, deleted));
                    return Ok(Some(report));
                }
                let batch = self
                    .services
                    .store
                    .delete_disposable(rule.rows, unused_since, policy.batch_size)
                    .await?;
                deleted += batch;
                if batch < u64::from(policy.batch_size) {
                    break;
                }
                // Another batch: only while the lease is still this process's.
                if !self.hold_lease().await? {
                    tracing::warn!(lease.owner = %self.owner, "retention sweep lost its lease; another process goes on");
                    report.deleted.push((rule.rows, deleted));
                    return Ok(Some(report));
                }
            }
            report.deleted.push((rule.rows, deleted));
        }
        Ok(Some(report))
    }
}

/// A duration in microseconds, as timestamps count.
fn micros(duration: Duration) -> i64 {
    duration.as_micros().min(i64::MAX as u128) as i64
}
