//! Secrets at rest: the 32-byte key file (created private at first start, or named by
//! `secret_key_file`) and the XChaCha20-Poly1305 sealer that implements the service's
//! `SecretSealer` port with it.

mod key_file;
mod xchacha20poly1305;

pub use key_file::{DEFAULT_SECRET_KEY_FILE, SECRET_KEY_BYTES, SecretKey, load_secret_key};
pub use xchacha20poly1305::XChaCha20Poly1305Sealer;

use crate::domain::secret::Secret;
use crate::error::{Error, Result};
use crate::service::ports::SecretSealer;

/// The sealer of processes that load no key (the operator commands, which never seal or open
/// a code): every call fails.
pub struct NoSecretKey;

impl SecretSealer for NoSecretKey {
    fn seal(&self, _secret: &str, _context: &str) -> Result<String> {
        Err(Error::internal(
            "SEAL-Nk1se",
            "this process loaded no secret key and cannot seal",
        ))
    }

    fn open(&self, _sealed: &str, _context: &str) -> std::result::Result<Secret, String> {
        Err("this process loaded no secret key".into())
    }
}
