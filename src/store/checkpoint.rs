//! SQLite's WAL checkpoints, off the writer's path. By default the connection whose commit
//! grows the WAL past 1,000 pages copies the WAL into the database file and syncs it, inside
//! that commit: with the group commit that is the writer, so every few dozen batches one
//! batch's callers waited for a checkpoint too. Here a connection of its own checkpoints
//! (`PASSIVE`: it never waits for the writer, nor the writer for it) a few times a second,
//! and the writer checkpoints itself only past 32 MiB of WAL (`SQLITE_WRITER_SETUP`), should
//! this one fall behind. Durability is unchanged: every commit still syncs the WAL.

use std::time::Duration;

use sqlx::{AnyConnection, Executor};

use crate::error::{Error, Result};

use super::group_commit::connect;

/// How often the WAL is checkpointed.
pub(super) const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// Checkpoints the WAL of the database at `url` every `CHECKPOINT_INTERVAL` on a connection
/// of its own (`setup` run on it), forever (the writer's runtime ends it with the writer). A
/// failure is logged and tried again with a new connection.
pub(super) async fn checkpoint_wal(url: String, setup: Option<&'static str>) {
    let mut connection: Option<AnyConnection> = None;
    let mut ticks = tokio::time::interval(CHECKPOINT_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = checkpoint_once(&url, setup, &mut connection).await {
            tracing::warn!(%error, "a WAL checkpoint failed; trying again");
            connection = None;
        }
    }
}

async fn checkpoint_once(
    url: &str,
    setup: Option<&'static str>,
    connection: &mut Option<AnyConnection>,
) -> Result<()> {
    let open = match connection {
        Some(open) => open,
        None => connection.insert(connect(url, setup).await?),
    };
    open.execute("PRAGMA wal_checkpoint(PASSIVE)")
        .await
        .map_err(|error| Error::internal("STORE-Ck1wl", error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, Row};

    use crate::service::ports::ChangeStore;

    use crate::store::tests::{change, machine_user, store_with_org};

    /// A small write (far below the writer's own threshold) reaches the database file itself
    /// within moments: the checkpointer copied it out of the WAL. The file is read as
    /// `immutable`, which ignores the WAL.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpointer_copies_commits_into_the_database_file() {
        let directory = tempfile::tempdir().unwrap();
        let store = store_with_org(&crate::store::sqlite_url_in(directory.path())).await;
        store
            .commit(change("alice", vec![machine_user("alice")]))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(super::CHECKPOINT_INTERVAL * 5).await;
        let file_only = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(directory.path().join("passlink.db"))
            .immutable(true);
        let mut connection = sqlx::SqliteConnection::connect_with(&file_only)
            .await
            .unwrap();
        let users = sqlx::query("SELECT count(*) FROM users WHERE id = 'alice'")
            .fetch_one(&mut connection)
            .await
            .map(|row| row.get::<i64, _>(0));
        assert_eq!(users.ok(), Some(1), "alice is only in the WAL");
    }
}
