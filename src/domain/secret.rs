//! Secrets: one-time codes and access tokens drawn from the OS random source, and the hashes
//! that are the only form in which passlink stores them.

use std::fmt;

use rand::Rng;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::seq::IndexedRandom;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The default code alphabet: a–z, A–Z, 0–9.
pub const DEFAULT_CODE_ALPHABET: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A secret string whose `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The secret itself; call only where it must leave the process.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Secret(<redacted>)")
    }
}

fn os_rng() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}

/// Draws `length` characters uniformly from `alphabet` with the OS random source.
pub fn generate_code(alphabet: &[char], length: usize) -> Secret {
    let mut rng = os_rng();
    let code = (0..length)
        .map(|_| {
            *alphabet
                .choose(&mut rng)
                .expect("alphabet is validated non-empty")
        })
        .collect();
    Secret(code)
}

/// A personal access token: 32 random bytes, base64url, with a recognizable prefix.
pub fn generate_token() -> Secret {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    os_rng().fill_bytes(&mut bytes);
    Secret(format!(
        "pl_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// A session token: 32 random bytes, base64url without padding (43 characters).
pub fn generate_session_token() -> Secret {
    use base64::Engine;
    Secret(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// `N` random bytes from the OS random source (keys, nonces).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    os_rng().fill_bytes(&mut bytes);
    bytes
}

/// A random 16-bit number from the OS random source.
pub fn random_u16() -> u16 {
    let mut bytes = [0u8; 2];
    os_rng().fill_bytes(&mut bytes);
    u16::from_le_bytes(bytes)
}

/// Hashes a secret bound to the id it belongs to. Codes carry over 70 bits of entropy and
/// tokens 256, so one SHA-256 pass is enough: no dictionary applies to them.
pub fn hash_secret(owner_id: &str, secret: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(owner_id.as_bytes());
    hasher.update([0]);
    hasher.update(secret.as_bytes());
    hasher.finalize().to_vec()
}

/// Compares a presented secret with a stored hash in constant time.
pub fn secret_matches(owner_id: &str, presented: &str, stored_hash: &[u8]) -> bool {
    hash_secret(owner_id, presented).ct_eq(stored_hash).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_uniform_over_the_whole_alphabet_and_never_repeat() {
        let alphabet: Vec<char> = DEFAULT_CODE_ALPHABET.chars().collect();
        let mut seen_codes = std::collections::HashSet::new();
        let mut counts = std::collections::HashMap::new();
        for _ in 0..20_000 {
            let code = generate_code(&alphabet, 12);
            assert_eq!(code.expose().chars().count(), 12);
            for character in code.expose().chars() {
                assert!(
                    alphabet.contains(&character),
                    "{character} is not in the alphabet"
                );
                *counts.entry(character).or_insert(0u32) += 1;
            }
            assert!(
                seen_codes.insert(code.expose().to_owned()),
                "a code repeated"
            );
        }
        // Every character occurs, the last one included (ZITADEL's modulo bias drops it).
        assert_eq!(counts.len(), alphabet.len());
        // 240,000 draws over 62 characters: about 3,871 each; 5 standard deviations is ±310.
        for (character, count) in counts {
            assert!(
                (3_500..4_250).contains(&count),
                "{character} drawn {count} times"
            );
        }
    }

    #[test]
    fn secret_hash_matches_only_the_same_secret_and_owner() {
        let hash = hash_secret("42", "abc");
        assert!(secret_matches("42", "abc", &hash));
        assert!(!secret_matches("42", "abd", &hash));
        assert!(!secret_matches("43", "abc", &hash));
        assert_eq!(
            format!("{:?}", Secret::new("abc".into())),
            "Secret(<redacted>)"
        );
    }
}
