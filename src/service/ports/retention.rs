//! `RetentionStore`: deleting, in bounded batches, the rows nobody can use any more, and the
//! lease that lets one process at a time do it.

use async_trait::async_trait;

use crate::domain::time::Timestamp;
use crate::error::Result;

/// A kind of row that becomes of no use at a known time: the retention sweep deletes the rows
/// of each kind that have been of no use for longer than its retention. Events are the audit
/// log and are no kind here.
///
/// Adding a kind is a variant here, its delete statement in `store/retention.rs`, and its
/// rule, with its setting, in the list `config/resolve.rs` hands the sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Disposable {
    /// Registration codes that were used, or expired (`passkey_codes`); of no use since
    /// their use or expiry.
    PasskeyCodes,
    /// Pending passkey registrations that expired unfinished (`passkey_registrations`);
    /// of no use since their expiry.
    PasskeyRegistrations,
    /// Outbox messages that were sent; of no use since they were sent.
    SentMessages,
    /// Outbox messages whose delivery failed for good; of no use once an operator had time
    /// to re-queue them, counted from their last attempt.
    DeadMessages,
    /// Sessions that were terminated, or expired; of no use since then. Their events stay.
    Sessions,
    /// Sessions signed in publicly (without a bearer token) that expired before any check
    /// succeeded; of no use since they expired.
    UncheckedPublicSessions,
}

impl Disposable {
    /// A short name for logs: `passkey_codes`, `passkey_registrations`, `sent_messages`,
    /// `dead_messages`.
    pub fn name(self) -> &'static str {
        match self {
            Disposable::PasskeyCodes => "passkey_codes",
            Disposable::PasskeyRegistrations => "passkey_registrations",
            Disposable::SentMessages => "sent_messages",
            Disposable::DeadMessages => "dead_messages",
            Disposable::Sessions => "sessions",
            Disposable::UncheckedPublicSessions => "unchecked_public_sessions",
        }
    }
}

/// The name of the lease the retention sweep runs under.
pub const RETENTION_LEASE: &str = "retention";

/// Deleting what nobody can use any more, and the leases of tasks that one process at a
/// time should run.
#[async_trait]
pub trait RetentionStore: Send + Sync + 'static {
    /// Takes the lease `lease` for `owner` until `until` when it is free at `now` (never
    /// taken, run out, or held by `owner` already, which extends it). One conditional update:
    /// of several processes asking at once, at most one gets it. `true` when `owner` holds it.
    async fn take_lease(
        &self,
        lease: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool>;

    /// Deletes at most `limit` rows of the kind `rows` that have been of no use since before
    /// `unused_since`, in one statement; returns how many it deleted.
    async fn delete_disposable(
        &self,
        rows: Disposable,
        unused_since: Timestamp,
        limit: u32,
    ) -> Result<u64>;
}
