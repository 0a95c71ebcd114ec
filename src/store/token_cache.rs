//! A short-lived cache of token owners, so that authenticating a request costs no query on the
//! hot path.
//!
//! Staleness is bounded: an entry lives at most `TOKEN_CACHE_TTL` (1 s). A revocation, role
//! grant or change of the token's owner made through this process clears the affected entries
//! at once; made through another process sharing the database, it takes effect here within
//! `TOKEN_CACHE_TTL`. A token's own expiry is checked on every use. Unknown tokens are never
//! cached, so a newly created token works at once everywhere.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::time::Timestamp;
use crate::service::ports::TokenOwner;

/// How long a cached token owner is trusted without asking the database again.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(1);

/// More entries than this clears the cache (it then refills with the tokens in use).
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    owner: TokenOwner,
    token_expires_at: Option<Timestamp>,
    cached_at: Instant,
}

/// Token hash → owner, with a time to live.
#[derive(Default)]
pub(crate) struct TokenOwnerCache {
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
}

impl TokenOwnerCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached owner of a token, if fresh and the token has not expired by `now`.
    pub(crate) fn get(&self, token_hash: &[u8], now: Timestamp) -> Option<TokenOwner> {
        let entries = self.entries();
        let entry = entries.get(token_hash)?;
        let fresh = entry.cached_at.elapsed() < TOKEN_CACHE_TTL;
        let unexpired = entry
            .token_expires_at
            .is_none_or(|expires_at| expires_at > now);
        (fresh && unexpired).then(|| entry.owner.clone())
    }

    /// Remembers the owner of a valid token.
    pub(crate) fn insert(
        &self,
        token_hash: &[u8],
        owner: TokenOwner,
        token_expires_at: Option<Timestamp>,
    ) {
        let mut entries = self.entries();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            token_hash.to_vec(),
            Entry {
                owner,
                token_expires_at,
                cached_at: Instant::now(),
            },
        );
    }

    /// Forgets every token of a user (after a change to that user or its roles).
    pub(crate) fn forget_user(&self, user_id: &str) {
        let mut entries = self.entries();
        if !entries.is_empty() {
            entries.retain(|_, entry| entry.owner.user_id != user_id);
        }
    }

    /// Forgets everything (after a revocation, whose token hash this side does not know).
    pub(crate) fn clear(&self) {
        self.entries().clear();
    }
}
