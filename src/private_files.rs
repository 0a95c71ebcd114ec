//! Files and directories only their owner may read: the data directory (0700), the SQLite
//! database and its `-wal` / `-shm` companions (0600), the admin token and the development
//! mail directory. Passlink creates them so; a directory that exists with wider bits is left
//! alone with a warning (an operator may have chosen them), while its own database files are
//! tightened.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Creates a directory (and its missing parents) with mode 0700; warns when it exists and
/// group or others may enter it. `setting` names it in messages.
pub fn create_private_dir(path: &Path, setting: &str) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => {
            let mode = metadata.mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    directory = %path.display(),
                    mode = %format!("{mode:04o}"),
                    "{setting} is open to group or others; passlink's files in it are private, \
                     but `chmod 700` on the directory is advised"
                );
            }
            Ok(())
        }
        Ok(_) => Err(format!("{setting} {} is not a directory", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|error| format!("cannot create {setting} {}: {error}", path.display())),
        Err(error) => Err(format!("cannot read {setting} {}: {error}", path.display())),
    }
}

/// Writes a secret to a file only its owner can read (replacing its contents).
pub fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // The mode above applies only to new files; an old file keeps its mode unless reset.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

/// The database file a `sqlite:` URL names; `None` for in-memory databases and other URLs.
pub fn sqlite_file_of(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
}

/// Makes the SQLite database file private before SQLite opens it: a missing file is created
/// empty with mode 0600 (SQLite gives its `-wal` and `-shm` files the database file's mode);
/// an existing one, and its companions, lose group and other bits.
pub fn prepare_private_sqlite_file(path: &Path) -> Result<(), String> {
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(_) => return Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => {
            return Err(format!(
                "cannot create the database file {}: {error}",
                path.display()
            ));
        }
    }
    let mut companions = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        companions.push(PathBuf::from(name));
    }
    for file in companions {
        let Ok(metadata) = std::fs::metadata(&file) else {
            continue;
        };
        let mode = metadata.mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o700))
                .map_err(|error| format!("cannot make {} private: {error}", file.display()))?;
            tracing::warn!(
                file = %file.display(),
                was = %format!("{mode:04o}"),
                "the database file was open to group or others; it is private now"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file_of("sqlite://data/passlink.db?mode=rwc"),
            Some(PathBuf::from("data/passlink.db"))
        );
        assert_eq!(
            sqlite_file_of("sqlite:///var/lib/passlink/p.db"),
            Some(PathBuf::from("/var/lib/passlink/p.db"))
        );
        assert_eq!(sqlite_file_of("sqlite::memory:"), None);
        assert_eq!(sqlite_file_of("postgres://localhost/passlink"), None);
    }

    #[test]
    fn an_existing_database_file_open_to_others_is_tightened() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("p.db");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        prepare_private_sqlite_file(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    }
}
