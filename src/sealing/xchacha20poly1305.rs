//! `XChaCha20Poly1305Sealer`: seals secrets with XChaCha20-Poly1305 (the `chacha20poly1305`
//! crate) under the secret key, with a random 192-bit nonce per secret from the OS source
//! (large enough that random nonces never repeat in practice) and the secret's id as
//! associated data.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::domain::secret::{Secret, random_bytes};
use crate::error::{Error, Result};
use crate::service::ports::SecretSealer;

use super::key_file::SecretKey;

/// The version tag every sealed value starts with, so that the format can change later.
const FORMAT: &str = "v1";
const NONCE_BYTES: usize = 24;
/// Prefixed to the associated data, so that nothing sealed elsewhere with the same key opens.
const ASSOCIATED_DATA_PREFIX: &str = "passlink sealed secret v1\0";

/// Seals and opens secrets as `v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id
/// (public, derived from the key) lets a process with another key say so plainly.
pub struct XChaCha20Poly1305Sealer {
    cipher: XChaCha20Poly1305,
    key_id: String,
}

impl XChaCha20Poly1305Sealer {
    /// A sealer under `key`.
    pub fn new(key: &SecretKey) -> XChaCha20Poly1305Sealer {
        XChaCha20Poly1305Sealer {
            cipher: XChaCha20Poly1305::new(&(*key.expose()).into()),
            key_id: key.id(),
        }
    }

    /// The public id of the key, as sealed values and logs show it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

fn associated_data(context: &str) -> Vec<u8> {
    [ASSOCIATED_DATA_PREFIX.as_bytes(), context.as_bytes()].concat()
}

impl SecretSealer for XChaCha20Poly1305Sealer {
    fn seal(&self, secret: &str, context: &str) -> Result<String> {
        let nonce_bytes: [u8; NONCE_BYTES] = random_bytes();
        let nonce = XNonce::from(nonce_bytes);
        let aad = associated_data(context);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|error| Error::internal("SEAL-Xc1se", error))?;
        let sealed = [nonce_bytes.as_slice(), &ciphertext].concat();
        Ok(format!(
            "{FORMAT}:{}:{}",
            self.key_id,
            URL_SAFE_NO_PAD.encode(sealed)
        ))
    }

    fn open(&self, sealed: &str, context: &str) -> std::result::Result<Secret, String> {
        let malformed = || "the sealed secret is malformed".to_owned();
        let mut parts = sealed.splitn(3, ':');
        let (Some(FORMAT), Some(key_id), Some(encoded)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        if key_id != self.key_id {
            return Err(format!(
                "it was sealed with another secret key (key id {key_id}; this process has \
                 {}): every process sharing the database needs the same secret_key_file",
                self.key_id
            ));
        }
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| malformed())?;
        if bytes.len() < NONCE_BYTES {
            return Err(malformed());
        }
        let (nonce_bytes, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce_bytes).map_err(|_| malformed())?;
        let aad = associated_data(context);
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                "the sealed secret does not open with this secret key (it was altered or \
                 belongs to another message)"
                    .to_owned()
            })?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| malformed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> XChaCha20Poly1305Sealer {
        XChaCha20Poly1305Sealer::new(&SecretKey::from_bytes([byte; 32]))
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let sealer = sealer(1);
        let sealed = sealer.seal("AbCdEf123456", "code-1").unwrap();
        assert!(
            sealed.starts_with(&format!("v1:{}:", sealer.key_id())),
            "{sealed}"
        );
        assert!(!sealed.contains("AbCdEf123456"));
        assert_eq!(
            sealer.open(&sealed, "code-1").unwrap().expose(),
            "AbCdEf123456"
        );
        // A fresh nonce each time: the same secret seals differently.
        assert_ne!(sealer.seal("AbCdEf123456", "code-1").unwrap(), sealed);
        let moved = sealer.open(&sealed, "code-2").unwrap_err();
        assert!(moved.contains("does not open"), "{moved}");
        let other_key = super::super::key_file::SecretKey::from_bytes([2; 32]);
        let wrong = XChaCha20Poly1305Sealer::new(&other_key)
            .open(&sealed, "code-1")
            .unwrap_err();
        assert!(
            wrong.contains("another secret key") && wrong.contains("secret_key_file"),
            "{wrong}"
        );
        let mut altered = sealed.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(sealer.open(&altered, "code-1").is_err());
        for garbage in ["", "v1", "v2:x:y", "plain-code", "v1:abc"] {
            assert!(sealer.open(garbage, "code-1").is_err(), "{garbage}");
        }
    }
}
