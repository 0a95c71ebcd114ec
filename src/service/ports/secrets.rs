//! `SecretSealer`: what the use cases need to keep secrets at rest sealed.

use crate::domain::secret::Secret;
use crate::error::Result;

/// Seals secrets that must be kept until they are used but never stored in plain text (the
/// code of a queued email): the store only ever sees the sealed form.
pub trait SecretSealer: Send + Sync + 'static {
    /// Seals `secret`, bound to `context` (the id it belongs to): it opens only with the same
    /// context, so a sealed value cannot be moved to another row.
    fn seal(&self, secret: &str, context: &str) -> Result<String>;

    /// Opens what `seal` made with the same context; the error says why it cannot (sealed with
    /// another key, altered, or meant for another context).
    fn open(&self, sealed: &str, context: &str) -> std::result::Result<Secret, String>;
}
