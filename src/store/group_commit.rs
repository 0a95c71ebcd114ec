//! Group commit: one writer (a thread with its own connection) takes the changes callers
//! submit at the same moment and writes them in one transaction, so that many changes share
//! one fsync and, on PostgreSQL, one hold of a hot user's row lock.
//!
//! Changes that only insert rows under fresh ids (`write_set::is_plain`: a registration link's
//! code and message) are written set-based, one call for a run of users (`write_set`); the
//! others one by one through `write`. Rows are locked in the batch's order either way.
//!
//! A failing change (its user is gone, say) fails alone: the batch is first written without
//! savepoints (the common case, one statement fewer per change); if a change fails, that pass
//! is rolled back and the batch is written again with a SAVEPOINT before each change, where a
//! rollback to the savepoint undoes only the failed change. Every caller is answered only after
//! the batch's COMMIT has returned, so an acknowledged change is as durable as a change
//! committed on its own (SQLite `synchronous=FULL`, PostgreSQL `synchronous_commit`). Batches
//! form by themselves: while one batch commits, the next callers queue in the channel, so an
//! idle server commits each change at once and a busy one commits many per fsync.
//!
//! Several processes: SQLite admits one writer at a time anyway (`BEGIN IMMEDIATE` waits for
//! another process's lock up to the busy timeout). On PostgreSQL each batch is sorted by user
//! id, so two processes' batches lock rows in the same order and never deadlock; a change that
//! still meets a deadlock or serialization failure is written again with the next pass, and a
//! batch whose BEGIN or COMMIT meets a lock conflict is retried whole.

use sqlx::{AnyConnection, Connection, Executor};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Code, Error, Result};
use crate::service::ports::{Change, Committed, Outcome, SessionChange};

use super::checkpoint::checkpoint_wal;
use super::errors::conflict_or_internal;
use super::write::apply_change;
use super::write_sessions::apply_session_change;
use super::write_set::{apply_plain_changes, is_plain};

/// The most changes one transaction takes.
const MAX_BATCH: usize = 512;

/// How many changes may wait for the writer before callers wait to submit.
const QUEUE_CAPACITY: usize = 4096;

/// How often a batch whose BEGIN or COMMIT meets another process's lock is tried, and how
/// often a change that meets another process's change (deadlock, serialization failure).
const BATCH_ATTEMPTS: u32 = 5;

/// Who hears the outcome of a change.
enum Reply {
    /// A caller waiting for it.
    Waiting(oneshot::Sender<Result<Outcome<Committed>>>),
    /// Nobody: the change was queued without waiting, and a failure is logged here (internal
    /// causes are logged where they arise).
    Logged,
}

impl Reply {
    /// A waiting caller that gave up (a cancelled request) needs no write.
    fn is_abandoned(&self) -> bool {
        matches!(self, Reply::Waiting(sender) if sender.is_closed())
    }

    fn send(self, outcome: Result<Outcome<Committed>>) {
        match self {
            Reply::Waiting(sender) => {
                let _ = sender.send(outcome);
            }
            Reply::Logged => match outcome {
                Ok(Ok(_)) => {}
                Ok(Err(rejection)) => {
                    tracing::debug!(?rejection, "a change queued without waiting was refused");
                }
                Err(error) => {
                    tracing::debug!(%error, "a change queued without waiting was not written");
                }
            },
        }
    }
}

/// A write the writer takes: a change to a user, or to a session.
#[derive(Debug)]
pub(super) enum Write {
    User(Change),
    Session(SessionChange),
}

impl Write {
    /// The order batches take their writes in: users by id, then sessions by id (a total
    /// order every process shares, so their row locks never wait in a cycle).
    fn lock_order(&self) -> (u8, &str) {
        match self {
            Write::User(change) => (0, &change.user_id),
            Write::Session(change) => (1, &change.session_id),
        }
    }
}

/// Writes one write inside an open transaction or savepoint.
async fn apply_write(connection: &mut AnyConnection, write: &Write) -> Result<Outcome<Committed>> {
    match write {
        Write::User(change) => apply_change(connection, change).await,
        Write::Session(change) => apply_session_change(connection, change).await,
    }
}

/// How one connection is opened and each batch begun.
pub(crate) struct WriterSettings {
    /// The database URL.
    pub(crate) url: String,
    /// Statements run once on the new connection (SQLite's PRAGMAs), if any.
    pub(crate) setup: Option<&'static str>,
    /// Opens each batch's transaction (for SQLite `BEGIN IMMEDIATE`, which takes the write
    /// lock at once or waits for it, so no statement of the batch fails on a lock upgrade).
    pub(crate) begin: &'static str,
    /// Where each batch's size and commit time are recorded.
    pub(crate) metrics: super::metrics::GroupCommitMetrics,
    /// Whether a connection beside the writer checkpoints SQLite's WAL (`checkpoint`).
    pub(crate) checkpoints_wal: bool,
}

/// A handle to the writer; cheap to clone. The writer ends when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct GroupCommitWriter {
    queue: mpsc::Sender<(Write, Reply)>,
}

impl GroupCommitWriter {
    /// Starts the writer on a thread of its own, with its own connection. A thread of its own
    /// matters on a busy machine: the writer awaits one statement after another, and as a task
    /// on the shared runtime each of those wake-ups would queue behind the request tasks.
    pub(crate) fn start(settings: WriterSettings) -> Result<GroupCommitWriter, String> {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start the writer's runtime: {error}"))?;
        std::thread::Builder::new()
            .name("passlink-writer".into())
            .spawn(move || {
                runtime.block_on(async move {
                    if settings.checkpoints_wal {
                        tokio::spawn(checkpoint_wal(settings.url.clone(), settings.setup));
                    }
                    run_writer(settings, receiver).await
                })
            })
            .map_err(|error| format!("cannot start the writer thread: {error}"))?;
        Ok(GroupCommitWriter { queue })
    }

    /// Commits a change with the next batch and answers once that batch is durable.
    pub(crate) async fn commit(&self, change: Change) -> Result<Outcome<Committed>> {
        self.write(Write::User(change)).await
    }

    /// Commits a write with the next batch and answers once that batch is durable.
    pub(super) async fn write(&self, write: Write) -> Result<Outcome<Committed>> {
        let (reply, answer) = oneshot::channel();
        self.submit(write, Reply::Waiting(reply)).await?;
        answer
            .await
            .map_err(|_| Error::internal("STORE-Gc2rp", "the writer dropped a change"))?
    }

    /// Queues a change for the next batch and returns at once; a failure is only logged. The
    /// writer keeps each user's changes in the order they were queued or committed.
    pub(crate) async fn queue(&self, change: Change) -> Result<()> {
        self.submit(Write::User(change), Reply::Logged).await
    }

    async fn submit(&self, write: Write, reply: Reply) -> Result<()> {
        self.queue
            .send((write, reply))
            .await
            .map_err(|_| Error::internal("STORE-Gc1st", "the writer has stopped"))
    }
}

/// Whether a change met another process's change (and can be written again).
fn is_conflict(outcome: &Result<Outcome<Committed>>) -> bool {
    matches!(outcome, Err(error) if error.code() == Code::Aborted)
}

/// Opens a connection of its own to `url` and runs `setup` on it.
pub(super) async fn connect(url: &str, setup: Option<&'static str>) -> Result<AnyConnection> {
    let mut connection = AnyConnection::connect(url)
        .await
        .map_err(|error| Error::internal("STORE-Gc7cn", error))?;
    if let Some(setup) = setup {
        connection
            .execute(setup)
            .await
            .map_err(|error| Error::internal("STORE-Gc8pr", error))?;
    }
    Ok(connection)
}

async fn run_writer(settings: WriterSettings, mut receiver: mpsc::Receiver<(Write, Reply)>) {
    let mut connection: Option<AnyConnection> = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        batch.retain(|(_, reply): &(Write, Reply)| !reply.is_abandoned());
        // Row locks are taken in user id order in every process, so that two processes'
        // batches never wait for each other in a cycle (PostgreSQL). The sort is stable: the
        // changes to one user keep the order they were submitted in.
        batch.sort_by(|(first, _), (second, _)| first.lock_order().cmp(&second.lock_order()));
        let mut attempt = 0;
        while !batch.is_empty() {
            attempt += 1;
            let started = std::time::Instant::now();
            let outcomes = commit_with_retries(&settings, &mut connection, &batch).await;
            tracing::debug!(
                changes = batch.len(),
                micros = started.elapsed().as_micros() as u64,
                "wrote a batch"
            );
            settings.metrics.observe(batch.len(), started.elapsed());
            let mut again = Vec::new();
            match outcomes {
                Ok(outcomes) => {
                    for ((change, reply), outcome) in batch.drain(..).zip(outcomes) {
                        // A change that met another process's change is written again.
                        if is_conflict(&outcome) && attempt < BATCH_ATTEMPTS {
                            again.push((change, reply));
                        } else {
                            reply.send(outcome);
                        }
                    }
                }
                Err(error) => {
                    // The batch as a whole failed: none of it is written, every caller hears so.
                    tracing::warn!(changes = batch.len(), code = ?error.code(), "a batch of changes failed");
                    for (_, reply) in batch.drain(..) {
                        reply.send(Err(error.duplicate()));
                    }
                }
            }
            batch = again;
        }
    }
}

/// Commits a batch, opening the connection when needed and trying again when BEGIN or COMMIT
/// meets another process's lock.
async fn commit_with_retries(
    settings: &WriterSettings,
    connection: &mut Option<AnyConnection>,
    batch: &[(Write, Reply)],
) -> Result<Vec<Result<Outcome<Committed>>>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let open = match connection.as_mut() {
            Some(open) => open,
            None => connection.insert(connect(&settings.url, settings.setup).await?),
        };
        match commit_batch(open, settings.begin, batch).await {
            Err(error) if error.code() == Code::Aborted && attempt < BATCH_ATTEMPTS => continue,
            Err(error) => {
                // The connection may be broken; the next batch opens a new one.
                *connection = None;
                return Err(error);
            }
            outcomes => return outcomes,
        }
    }
}

/// Writes a batch in one transaction; the outer error means nothing was committed, the inner
/// results are each change's own outcome.
///
/// The first pass writes the changes one after another without savepoints, the cheap common
/// case. If any change fails, that pass is rolled back and the batch is written again with a
/// SAVEPOINT before each change, so that a failing change is undone alone.
async fn commit_batch(
    connection: &mut AnyConnection,
    begin: &'static str,
    batch: &[(Write, Reply)],
) -> Result<Vec<Result<Outcome<Committed>>>> {
    if let Some(outcomes) = write_batch(connection, begin, batch, false).await? {
        return Ok(outcomes);
    }
    Ok(write_batch(connection, begin, batch, true)
        .await?
        .expect("with savepoints every change has its own outcome"))
}

/// One pass over the batch; `None` when a change failed without savepoints (nothing is then
/// committed).
async fn write_batch(
    connection: &mut AnyConnection,
    begin: &'static str,
    batch: &[(Write, Reply)],
    savepoints: bool,
) -> Result<Option<Vec<Result<Outcome<Committed>>>>> {
    let mut transaction = connection
        .begin_with(begin)
        .await
        .map_err(conflict_or_internal("STORE-Gc3bg"))?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for part in parts(batch) {
        if savepoints {
            // Savepoints are never released: a rollback to the newest one undoes only the
            // part that failed, and COMMIT releases them all.
            sqlx::query("SAVEPOINT change")
                .execute(&mut *transaction)
                .await
                .map_err(conflict_or_internal("STORE-Gc4sp"))?;
        }
        // A refused change is undone like a failed one: it wrote nothing. A plain change
        // whose user is gone wrote nothing in the first place and needs no rollback.
        let (written, failed) = match part {
            Part::One(write) => {
                let outcome = apply_write(&mut transaction, write).await;
                let failed = !matches!(outcome, Ok(Ok(_)));
                (vec![outcome], failed)
            }
            Part::Plain(changes) => match apply_plain_changes(&mut transaction, &changes).await {
                Ok(plain) => (plain.into_iter().map(Ok).collect(), false),
                Err(error) => (
                    changes.iter().map(|_| Err(error.duplicate())).collect(),
                    true,
                ),
            },
        };
        if failed {
            if !savepoints {
                transaction
                    .rollback()
                    .await
                    .map_err(conflict_or_internal("STORE-Gc9rb"))?;
                return Ok(None);
            }
            sqlx::query("ROLLBACK TO SAVEPOINT change")
                .execute(&mut *transaction)
                .await
                .map_err(conflict_or_internal("STORE-Gc5rb"))?;
        }
        outcomes.extend(written);
    }
    transaction
        .commit()
        .await
        .map_err(conflict_or_internal("STORE-Gc6cm"))?;
    Ok(Some(outcomes))
}

/// A stretch of a sorted batch written by one call: a change or a session change on its own,
/// or the changes of consecutive users whose changes in the batch are all plain (`is_plain`).
enum Part<'batch> {
    One(&'batch Write),
    Plain(Vec<&'batch Change>),
}

/// Splits a batch sorted by `Write::lock_order` into the parts it is written in, in order, so
/// that rows are still locked in the batch's order. A user with any change that is not plain
/// has all its changes written one by one, which keeps its sequence in submission order.
fn parts(batch: &[(Write, Reply)]) -> Vec<Part<'_>> {
    let mut parts = Vec::new();
    let mut plain: Vec<&Change> = Vec::new();
    let mut rest = batch;
    while let Some((first, _)) = rest.first() {
        let same = rest
            .iter()
            .take_while(|(write, _)| write.lock_order() == first.lock_order())
            .count();
        let (group, after) = rest.split_at(same);
        rest = after;
        let changes: Option<Vec<&Change>> = group
            .iter()
            .map(|(write, _)| match write {
                Write::User(change) if is_plain(change) => Some(change),
                _ => None,
            })
            .collect();
        match changes {
            Some(changes) => plain.extend(changes),
            None => {
                if !plain.is_empty() {
                    parts.push(Part::Plain(std::mem::take(&mut plain)));
                }
                parts.extend(group.iter().map(|(write, _)| Part::One(write)));
            }
        }
    }
    if !plain.is_empty() {
        parts.push(Part::Plain(plain));
    }
    parts
}

#[cfg(test)]
mod tests {

    use crate::service::ports::{ChangeStore, Rejection};

    use crate::store::tests::{change, machine_user, store_with_org};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_change_in_a_batch_leaves_the_others_committed() {
        let directory = tempfile::tempdir().unwrap();
        let store = store_with_org(&crate::store::sqlite_url_in(directory.path())).await;
        store
            .commit(change("alice", vec![machine_user("alice")]))
            .await
            .unwrap()
            .unwrap();
        // Submitted together, these share batches: the changes to a user that does not exist
        // and the second insert of an existing user fail, the others must not.
        let mut submitted = Vec::new();
        for index in 0..60 {
            let store = store.clone();
            submitted.push(tokio::spawn(async move {
                let change = match index % 3 {
                    0 => change("nobody", Vec::new()),
                    1 => change("alice", Vec::new()),
                    _ => change("alice", vec![machine_user("alice")]),
                };
                store.commit(change).await
            }));
        }
        let mut sequences = Vec::new();
        for (index, task) in submitted.into_iter().enumerate() {
            let outcome = task.await.unwrap();
            match index % 3 {
                0 => assert!(
                    matches!(&outcome, Ok(Err(Rejection::UserNotFound))),
                    "{outcome:?}"
                ),
                1 => sequences.push(outcome.unwrap().unwrap().sequence),
                _ => assert!(
                    matches!(&outcome, Ok(Err(Rejection::UserExists))),
                    "{outcome:?}"
                ),
            }
        }
        sequences.sort_unstable();
        assert_eq!(sequences, (2..=21).collect::<Vec<u64>>());
        let events = store.list_events("alice").await.unwrap();
        assert_eq!(
            events
                .iter()
                .map(|event| event.sequence)
                .collect::<Vec<_>>(),
            (1..=21).collect::<Vec<u64>>()
        );
        assert!(store.list_events("nobody").await.unwrap().is_empty());
    }
}
