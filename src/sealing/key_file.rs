//! The secret key file: 32 bytes, private to its owner. The default one in the data
//! directory is created at first start (atomically, so that processes starting together agree
//! on one key); a configured one (`secret_key_file`) must exist already.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::domain::secret::{random_bytes, random_u16};

/// The key file's name in the data directory when `secret_key_file` is unset.
pub const DEFAULT_SECRET_KEY_FILE: &str = "secret.key";
/// Length of the key in bytes.
pub const SECRET_KEY_BYTES: usize = 32;

/// The key that seals secrets at rest; its `Debug` output is redacted.
#[derive(Clone)]
pub struct SecretKey([u8; SECRET_KEY_BYTES]);

impl SecretKey {
    /// Wraps key bytes.
    pub fn from_bytes(bytes: [u8; SECRET_KEY_BYTES]) -> SecretKey {
        SecretKey(bytes)
    }

    /// The key itself, for the cipher.
    pub fn expose(&self) -> &[u8; SECRET_KEY_BYTES] {
        &self.0
    }

    /// A public id of the key: 16 hex digits of a hash, safe to log and to store.
    pub fn id(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"passlink secret key id\0")
            .chain_update(self.0)
            .finalize();
        digest[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "SecretKey(id {})", self.id())
    }
}

const CREATE_HINT: &str = "create one with `head -c 32 /dev/urandom > FILE` and `chmod 600 FILE`";

/// Reads the configured key file, or the data directory's `secret.key`, creating that one
/// when it does not exist yet.
pub fn load_secret_key(configured: Option<&Path>, data_dir: &Path) -> Result<SecretKey, String> {
    if let Some(path) = configured {
        return match std::fs::metadata(path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(format!(
                "secret_key_file {} does not exist; {CREATE_HINT} (passlink creates a key only \
                 in the data directory, when secret_key_file is unset)",
                path.display()
            )),
            _ => read_key_file(path, "secret_key_file"),
        };
    }
    let path = data_dir.join(DEFAULT_SECRET_KEY_FILE);
    match std::fs::symlink_metadata(&path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => create_key_file(&path),
        _ => read_key_file(&path, "the secret key file"),
    }
}

/// Reads a key file, refusing one that others may read or that does not hold 32 bytes.
fn read_key_file(path: &Path, what: &str) -> Result<SecretKey, String> {
    let metadata = std::fs::metadata(path)
        .map_err(|error| format!("cannot read {what} {}: {error}", path.display()))?;
    if !metadata.is_file() {
        return Err(format!("{what} {} is not a file", path.display()));
    }
    let mode = metadata.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{what} {} is open to group or others (mode {mode:04o}); make it private with \
             `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|error| format!("cannot read {what} {}: {error}", path.display()))?;
    let key: [u8; SECRET_KEY_BYTES] = bytes.as_slice().try_into().map_err(|_| {
        format!(
            "{what} {} must hold exactly 32 bytes, it holds {}; {CREATE_HINT}",
            path.display(),
            bytes.len()
        )
    })?;
    Ok(SecretKey(key))
}

/// Writes a new random key to a private temporary file, then links it into place: the link
/// fails if the file exists (O_EXCL semantics), so of two processes starting together one
/// key wins and both use it, and a reader never sees a half-written key.
fn create_key_file(path: &Path) -> Result<SecretKey, String> {
    let failed = |error: std::io::Error| {
        format!(
            "cannot create the secret key file {}: {error}",
            path.display()
        )
    };
    let key = SecretKey(random_bytes());
    let temporary = path.with_file_name(format!(
        ".{DEFAULT_SECRET_KEY_FILE}.{}-{:04x}.tmp",
        std::process::id(),
        random_u16()
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(key.expose())?;
        file.sync_all()?;
        std::fs::hard_link(&temporary, path)
    })();
    let _ = std::fs::remove_file(&temporary);
    match written {
        Ok(()) => {
            if let Some(directory) = path.parent()
                && let Ok(directory) = std::fs::File::open(directory)
            {
                let _ = directory.sync_all();
            }
            tracing::info!(
                file = %path.display(),
                key.id = %key.id(),
                "first start: created the secret key that seals codes at rest; keep it with the database"
            );
            Ok(key)
        }
        // Another process created it first: use that one.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            read_key_file(path, "the secret key file")
        }
        Err(error) => Err(failed(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_key_is_created_once_private_and_then_read() {
        let directory = tempfile::tempdir().unwrap();
        let created = load_secret_key(None, directory.path()).unwrap();
        let path = directory.path().join(DEFAULT_SECRET_KEY_FILE);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let read = load_secret_key(None, directory.path()).unwrap();
        assert_eq!(created.expose(), read.expose());
        assert_eq!(created.id().len(), 16);
        assert!(!format!("{created:?}").contains(&format!("{:?}", created.expose())));
        let leftovers: Vec<_> = std::fs::read_dir(directory.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [DEFAULT_SECRET_KEY_FILE]);
    }

    #[test]
    fn processes_starting_together_agree_on_one_key() {
        let directory = tempfile::tempdir().unwrap();
        let keys: Vec<SecretKey> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| load_secret_key(None, directory.path()).unwrap()))
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .collect()
        });
        assert!(keys.iter().all(|key| key.expose() == keys[0].expose()));
    }
}
