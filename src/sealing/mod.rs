//! Secrets at rest: the 32-byte key file (created private at first start, or named by
//! `secret_key_file`) and the XChaCha20-Poly1305 sealer that implements the service's
//! `SecretSealer` port with it.

mod key_file;
mod xchacha20poly1305;

pub use key_file::{DEFAULT_SECRET_KEY_FILE, SECRET_KEY_BYTES, SecretKey, load_secret_key};
pub use xchacha20poly1305::XChaCha20Poly1305Sealer;
