//! Online backup of the embedded SQLite database: `VACUUM INTO` writes a consistent copy (one
//! read transaction, so writers go on meanwhile) into a new file private to its owner, which
//! is then synced to disk and checked. PostgreSQL has its own tools (`pg_dump`).

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::private_files::sqlite_file_of;

use super::Backend;

/// What a backup wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupReport {
    /// The backup file.
    pub file: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Why `passlink backup` does nothing on PostgreSQL, and what to use instead.
pub const USE_PG_DUMP: &str = "this database is PostgreSQL, which `passlink backup` does not \
     copy: use pg_dump, e.g. `pg_dump --format=custom --file=passlink.dump \"$DATABASE_URL\"`, \
     and pg_restore to restore it";

/// Copies the SQLite database of `database_url` into `target` while other processes keep
/// writing to it: refuses a `target` that exists, creates it with mode 0600 (the copy holds
/// what the database holds), fills it with `VACUUM INTO`, syncs it and its directory to disk,
/// and checks the copy's integrity. A failed backup leaves no file behind.
pub async fn backup_sqlite(database_url: &str, target: &Path) -> Result<BackupReport, String> {
    if Backend::of_url(database_url)? == Backend::Postgres {
        return Err(USE_PG_DUMP.into());
    }
    let source = sqlite_file_of(database_url)
        .ok_or("passlink backup needs a database file, not an in-memory database")?;
    if !source.is_file() {
        return Err(format!("there is no database at {}", source.display()));
    }
    let target = absolute(target)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&target)
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::AlreadyExists => format!(
                "{} exists; passlink backup never overwrites a file",
                target.display()
            ),
            _ => format!("cannot create {}: {error}", target.display()),
        })?;
    let written = copy_into(&source, &target).await;
    match written {
        Ok(bytes) => Ok(BackupReport {
            file: target,
            bytes,
        }),
        Err(error) => {
            let _ = std::fs::remove_file(&target);
            Err(error)
        }
    }
}

/// `VACUUM INTO` the empty file `target`, then sync and check it; returns its size.
async fn copy_into(source: &Path, target: &Path) -> Result<u64, String> {
    // Not read-only: a read-only connection cannot open a WAL database whose -shm file is
    // missing. VACUUM INTO writes nothing to the source.
    let mut connection = SqliteConnectOptions::new()
        .filename(source)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|error| format!("cannot open {}: {error}", source.display()))?;
    let target_text = target
        .to_str()
        .ok_or_else(|| format!("{} is not valid UTF-8", target.display()))?;
    sqlx::query("VACUUM INTO $1")
        .bind(target_text)
        .execute(&mut connection)
        .await
        .map_err(|error| format!("cannot copy the database: {error}"))?;
    connection.close().await.ok();
    // SQLite does not sync what VACUUM INTO writes: a backup must survive a crash.
    let file = std::fs::File::open(target)
        .map_err(|error| format!("cannot open {}: {error}", target.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| file.sync_all())
        .map_err(|error| format!("cannot sync {}: {error}", target.display()))?;
    if let Some(directory) = target.parent() {
        std::fs::File::open(directory)
            .and_then(|directory| directory.sync_all())
            .map_err(|error| format!("cannot sync {}: {error}", directory.display()))?;
    }
    check_integrity(target).await?;
    let bytes = file
        .metadata()
        .map_err(|error| format!("cannot read {}: {error}", target.display()))?
        .len();
    Ok(bytes)
}

/// Runs SQLite's `PRAGMA integrity_check` on the copy, read-only.
async fn check_integrity(file: &Path) -> Result<(), String> {
    let mut connection = SqliteConnectOptions::new()
        .filename(file)
        .read_only(true)
        .connect()
        .await
        .map_err(|error| format!("cannot open the backup {}: {error}", file.display()))?;
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut connection)
        .await
        .map_err(|error| format!("cannot check the backup {}: {error}", file.display()))?;
    connection.close().await.ok();
    if verdict == "ok" {
        Ok(())
    } else {
        Err(format!(
            "the backup {} failed its integrity check: {verdict}",
            file.display()
        ))
    }
}

/// `path` made absolute against the working directory, so that SQLite never reads it as a
/// URI or resolves it elsewhere.
fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|error| format!("invalid file {}: {error}", path.display()))
}
