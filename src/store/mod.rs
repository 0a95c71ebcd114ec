//! Storage with sqlx: `SqlStore` implements every role of `service::ports` (one file per
//! role) and runs the same SQL on SQLite (the embedded default) and PostgreSQL through the
//! `Any` driver, with a migration set per backend. The SQL is portable (`$n` parameters,
//! `RETURNING`, partial indexes); the few dialect differences live in `Backend`.
//!
//! Changes are written by the group commit (`group_commit`, one writer with its own
//! connection) through the write path (`write`); reads and the other writes use the pool.
//! What a database error means is decided in `errors`; rows are read into `rows`, most of
//! them by one key (`read`). `backup` copies the embedded database while it is in use.

pub mod backup;
mod changes;
mod checkpoint;
mod errors;
mod group_commit;
pub mod metrics;
mod orgs;
mod outbox;
mod passkeys;
#[doc(hidden)]
pub mod query_plans;
mod read;
mod retention;
mod rows;
mod session_rows;
mod sessions;
#[cfg(test)]
mod tests;
mod token_cache;
mod tokens;
mod user_cache;
mod users;
mod write;
mod write_sessions;
mod write_set;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use group_commit::{GroupCommitWriter, WriterSettings};
use token_cache::TokenOwnerCache;
use user_cache::UserCache;

pub use token_cache::TOKEN_CACHE_TTL;

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The backend of a `sqlite:` or `postgres:` URL.
    pub fn of_url(url: &str) -> Result<Backend, String> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(format!(
                "database_url must start with sqlite: or postgres:, got {:?}",
                url.split(':').next().unwrap_or_default()
            ))
        }
    }
}

/// The SQLite URL of the database file inside a data directory.
pub fn sqlite_url_in(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("passlink.db").display()
    )
}

/// Storage on SQLite or PostgreSQL through one connection pool.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// The writer: changes are committed in batches (see `group_commit`), on both backends.
    group_commit: GroupCommitWriter,
    token_owners: Arc<TokenOwnerCache>,
    /// Users read to build a change (see `user_cache`).
    users_to_change: Arc<UserCache>,
    id_node: u16,
    /// The group commit's histograms, for the metrics.
    group_commit_metrics: metrics::GroupCommitMetrics,
}

/// Run on every SQLite connection. WAL lets readers run beside the one writer; FULL makes
/// every acknowledged commit survive a crash (fsync per commit); the busy timeout queues
/// writers of other processes.
macro_rules! sqlite_setup {
    () => {
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
         PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;"
    };
}
const SQLITE_SETUP: &str = sqlite_setup!();

/// The writer's connection: as every connection, but it checkpoints the WAL itself only past
/// 8,192 pages (32 MiB); below, the checkpointer beside it does (`checkpoint`).
const SQLITE_WRITER_SETUP: &str = concat!(sqlite_setup!(), " PRAGMA wal_autocheckpoint = 8192;");

impl SqlStore {
    /// Connects, applies the backend's migrations and returns the store.
    pub async fn connect(url: &str) -> Result<SqlStore, String> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let options = AnyPoolOptions::new()
            // Readers only (the writer has its own connection). Each SQLite connection is a
            // thread: on a small machine a few busy ones beat many that sleep and wake.
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            // The default pings every connection on every acquire: a round trip per query.
            // A broken connection fails its query instead, and the pool replaces it.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10));
        let options = match backend {
            Backend::Sqlite => options.after_connect(|connection, _| {
                Box::pin(async move {
                    connection.execute(SQLITE_SETUP).await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options
            .connect(url)
            .await
            .map_err(|error| format!("cannot open the database: {error}"))?;
        let migrated = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await,
        };
        migrated.map_err(|error| format!("cannot migrate the database: {error}"))?;
        let group_commit_metrics = metrics::GroupCommitMetrics::default();
        let group_commit = GroupCommitWriter::start(match backend {
            Backend::Sqlite => WriterSettings {
                url: url.to_owned(),
                setup: Some(SQLITE_WRITER_SETUP),
                begin: "BEGIN IMMEDIATE",
                metrics: group_commit_metrics.clone(),
                checkpoints_wal: true,
            },
            Backend::Postgres => WriterSettings {
                url: url.to_owned(),
                setup: None,
                begin: "BEGIN",
                metrics: group_commit_metrics.clone(),
                checkpoints_wal: false,
            },
        })?;
        let id_node = lease_id_node(&pool).await?;
        Ok(SqlStore {
            pool,
            backend,
            group_commit,
            token_owners: Arc::default(),
            users_to_change: Arc::default(),
            id_node,
            group_commit_metrics,
        })
    }

    /// The id node number this store leased when it opened the database.
    pub fn id_node(&self) -> u16 {
        self.id_node
    }

    /// Closes every connection; pending writes are finished first.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Leases a node number for id generation: each process that opens the database gets the next
/// of 1024 numbers in turn, so processes running at the same time get distinct numbers (unless
/// more than 1024 open it while the first still runs; primary keys still refuse a clash).
///
/// Another process holding SQLite's write lock past the busy timeout (a commit stalled on a
/// busy disk) is waited out a few times before the start fails: an operator command or a
/// second process starting beside a busy server should wait, not fail.
async fn lease_id_node(pool: &AnyPool) -> Result<u16, String> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let leased = sqlx::query_scalar::<_, i64>(
            "UPDATE id_node_counter SET next_node = next_node + 1 RETURNING next_node",
        )
        .fetch_one(pool)
        .await;
        match leased {
            Ok(next) => return Ok((next - 1).rem_euclid(1024) as u16),
            Err(error)
                if attempt < LEASE_ATTEMPTS
                    && errors::DatabaseFailure::of(&error) == errors::DatabaseFailure::Conflict =>
            {
                tracing::warn!(attempt, %error, "the database is busy; waiting to lease an id node number");
            }
            Err(error) => return Err(format!("cannot lease an id node number: {error}")),
        }
    }
}

/// How often leasing an id node number meets a busy database before the start fails.
const LEASE_ATTEMPTS: u32 = 4;
