//! Group commit: one writer task takes the changes callers submit at the same moment and writes
//! them in one transaction, so that many changes share one fsync.
//!
//! Each change runs inside its own SAVEPOINT: a change that fails (its user is gone, say) is
//! rolled back alone and reported to its caller, while the others of the batch go on. Every
//! caller is answered only after the batch's COMMIT has returned, so an acknowledged change is
//! as durable as a change committed on its own. Batches form by themselves: while one batch
//! commits, the next callers queue in the channel, so an idle server commits each change at
//! once and a busy one commits many per fsync.

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::service::ports::{Change, Committed};

use super::sql::apply_change;

/// The most changes one transaction takes.
const MAX_BATCH: usize = 512;

/// How many changes may wait for the writer before callers wait to submit.
const QUEUE_CAPACITY: usize = 4096;

/// How often a batch whose BEGIN or COMMIT meets another process's lock is tried again.
const BATCH_ATTEMPTS: u32 = 5;

type Reply = oneshot::Sender<Result<Committed>>;

/// A handle to the writer task; cheap to clone. The task ends when the last handle is dropped.
#[derive(Clone)]
pub struct GroupCommitWriter {
    queue: mpsc::Sender<(Change, Reply)>,
}

impl GroupCommitWriter {
    /// Starts the writer task on `pool`; `begin` opens each batch's transaction (for SQLite
    /// `BEGIN IMMEDIATE`, which takes the write lock at once or waits for it).
    pub fn start(pool: AnyPool, begin: &'static str) -> GroupCommitWriter {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run_writer(pool, begin, receiver));
        GroupCommitWriter { queue }
    }

    /// Commits a change with the next batch and answers once that batch is durable.
    pub async fn commit(&self, change: Change) -> Result<Committed> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((change, reply))
            .await
            .map_err(|_| Error::internal("STORE-Gc1st", "the writer has stopped"))?;
        answer
            .await
            .map_err(|_| Error::internal("STORE-Gc2rp", "the writer dropped a change"))?
    }
}

async fn run_writer(
    pool: AnyPool,
    begin: &'static str,
    mut receiver: mpsc::Receiver<(Change, Reply)>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Callers that gave up (a cancelled request) need no write.
        batch.retain(|(_, reply): &(Change, Reply)| !reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let mut attempt = 0;
        let outcomes = loop {
            attempt += 1;
            match commit_batch(&pool, begin, &batch).await {
                Err(Error::Aborted { .. }) if attempt < BATCH_ATTEMPTS => continue,
                outcomes => break outcomes,
            }
        };
        match outcomes {
            Ok(outcomes) => {
                for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(error) => {
                // The batch as a whole failed: none of it is written, every caller hears so.
                let failure = error.code();
                tracing::warn!(changes = batch.len(), code = ?failure, "a batch of changes failed");
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(copy_of(&error)));
                }
            }
        }
    }
}

/// Writes a batch in one transaction; the outer error means nothing was committed, the inner
/// results are each change's own outcome.
async fn commit_batch(
    pool: &AnyPool,
    begin: &'static str,
    batch: &[(Change, Reply)],
) -> Result<Vec<Result<Committed>>> {
    let mut transaction = pool
        .begin_with(begin)
        .await
        .map_err(super::sql::conflict_or_internal("STORE-Gc3bg"))?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for (change, _) in batch {
        // Savepoints are never released: a rollback to the newest one undoes only the change
        // that failed, and COMMIT releases them all. That saves a statement per change.
        sqlx::query("SAVEPOINT change")
            .execute(&mut *transaction)
            .await
            .map_err(super::sql::conflict_or_internal("STORE-Gc4sp"))?;
        let outcome = apply_change(&mut transaction, change).await;
        if outcome.is_err() {
            sqlx::query("ROLLBACK TO SAVEPOINT change")
                .execute(&mut *transaction)
                .await
                .map_err(super::sql::conflict_or_internal("STORE-Gc5rb"))?;
        }
        outcomes.push(outcome);
    }
    transaction
        .commit()
        .await
        .map_err(super::sql::conflict_or_internal("STORE-Gc6cm"))?;
    Ok(outcomes)
}

/// The same error again, for each caller of a failed batch (internal causes are logged once
/// and not repeated).
fn copy_of(error: &Error) -> Error {
    match error {
        Error::Aborted { id, text } => Error::Aborted {
            id,
            text: text.clone(),
        },
        other => Error::Internal {
            id: other.id(),
            cause: "the batch this change was part of failed".into(),
        },
    }
}
