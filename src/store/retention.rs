//! `RetentionStore` on `SqlStore`: the leases of tasks one process at a time runs, and the
//! bounded deletes of the retention sweep, one statement per kind of row (`delete_statement`).

use async_trait::async_trait;

use crate::domain::time::Timestamp;
use crate::error::Result;
use crate::service::ports::{Disposable, RetentionStore};

use super::SqlStore;
use super::errors::internal;

/// Takes a lease that is free (never taken, run out) or already the owner's, in one
/// statement: the row is written the first time, and later only when the condition holds.
/// PostgreSQL locks the conflicting row and checks the condition on its latest version, and
/// SQLite runs one writer at a time, so of two processes asking at once at most one gets it.
pub(super) const TAKE_LEASE: &str = "INSERT INTO leases (name, owner, held_until) VALUES ($1, $2, $4) \
     ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, held_until = excluded.held_until \
     WHERE leases.held_until <= $3 OR leases.owner = $2";

/// The delete statement of each kind of row (a `match`, so that a new kind does not compile
/// without one): `$1` is the time before which a row must have become of no use, `$2` the
/// most rows to delete. The inner select bounds the batch (so a sweep never holds SQLite's
/// write lock long); the outer condition repeats the inner one, so that a row changed
/// meanwhile (a dead message re-queued) is left alone on PostgreSQL, which re-checks it on
/// the latest version of the row.
///
/// A kind whose rows others reference (sessions: their challenges and metadata) deletes
/// those first, for the same batch of ids, in the same transaction.
pub(super) fn delete_statement(rows: Disposable) -> &'static str {
    match rows {
        // A code is used before it expires, so `used_at < $1` only adds the used ones.
        Disposable::PasskeyCodes => {
            "DELETE FROM passkey_codes WHERE id IN (SELECT id FROM passkey_codes \
               WHERE expires_at < $1 OR used_at < $1 LIMIT $2) \
             AND (expires_at < $1 OR used_at < $1)"
        }
        Disposable::PasskeyRegistrations => {
            "DELETE FROM passkey_registrations WHERE id IN (SELECT id FROM passkey_registrations \
               WHERE expires_at < $1 LIMIT $2) \
             AND expires_at < $1"
        }
        Disposable::SentMessages => {
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
               WHERE state = 'sent' AND sent_at < $1 LIMIT $2) \
             AND state = 'sent' AND sent_at < $1"
        }
        // A dead message's `next_attempt_at` is the time of its last attempt.
        Disposable::DeadMessages => {
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
               WHERE state = 'dead' AND next_attempt_at < $1 LIMIT $2) \
             AND state = 'dead' AND next_attempt_at < $1"
        }
        Disposable::Sessions => {
            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
               WHERE terminated_at < $1 OR expires_at < $1 LIMIT $2) \
             AND (terminated_at < $1 OR expires_at < $1)"
        }
        Disposable::UncheckedPublicSessions => {
            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
               WHERE public = 1 AND webauthn_checked_at IS NULL AND expires_at < $1 LIMIT $2) \
             AND public = 1 AND webauthn_checked_at IS NULL AND expires_at < $1"
        }
    }
}

/// What references the rows a delete statement removes, deleted first for the same rows
/// (`$1`, `$2` as there).
fn referencing_statements(rows: Disposable) -> &'static [&'static str] {
    match rows {
        Disposable::Sessions => &[
            "DELETE FROM session_challenges WHERE session_id IN (SELECT id FROM sessions \
               WHERE terminated_at < $1 OR expires_at < $1 LIMIT $2)",
            "DELETE FROM session_metadata WHERE session_id IN (SELECT id FROM sessions \
               WHERE terminated_at < $1 OR expires_at < $1 LIMIT $2)",
        ],
        Disposable::UncheckedPublicSessions => &[
            "DELETE FROM session_challenges WHERE session_id IN (SELECT id FROM sessions \
               WHERE public = 1 AND webauthn_checked_at IS NULL AND expires_at < $1 LIMIT $2)",
            "DELETE FROM session_metadata WHERE session_id IN (SELECT id FROM sessions \
               WHERE public = 1 AND webauthn_checked_at IS NULL AND expires_at < $1 LIMIT $2)",
        ],
        _ => &[],
    }
}

#[async_trait]
impl RetentionStore for SqlStore {
    async fn take_lease(
        &self,
        lease: &str,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool> {
        let taken = sqlx::query(TAKE_LEASE)
            .bind(lease)
            .bind(owner)
            .bind(now.0)
            .bind(until.0)
            .execute(&self.pool)
            .await
            .map_err(internal("STORE-Ls1tk"))?;
        Ok(taken.rows_affected() == 1)
    }

    async fn delete_disposable(
        &self,
        rows: Disposable,
        unused_since: Timestamp,
        limit: u32,
    ) -> Result<u64> {
        // Each statement commits on its own (no transaction held across them, so the sweep
        // never keeps SQLite's write lock between statements). What references the rows
        // goes first: rows of sessions that are of no use, useless themselves.
        for statement in referencing_statements(rows) {
            sqlx::query(*statement)
                .bind(unused_since.0)
                .bind(i64::from(limit))
                .execute(&self.pool)
                .await
                .map_err(internal("STORE-Rt3dl"))?;
        }
        let deleted = sqlx::query(delete_statement(rows))
            .bind(unused_since.0)
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await
            .map_err(internal("STORE-Rt1dl"))?;
        Ok(deleted.rows_affected())
    }
}
