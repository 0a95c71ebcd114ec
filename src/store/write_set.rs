//! The set-based write path: changes that only insert rows with fresh ids (a registration
//! code, a queued message: what CreatePasskeyRegistrationLink writes) are written for a whole
//! batch by one database call instead of two or three statements per change.
//!
//! The batch travels as JSON parameters (one row per change, per code, per message), so the
//! SQL is the same for every batch size and stays prepared. One call bumps each user's
//! sequence once by the number of its changes, appends the events numbered without gaps in
//! submission order, and inserts the codes and messages of the users that exist and are not
//! deleted (and, for a change that requires it, in the required state); a change whose user
//! is gone writes nothing and comes back `UserNotFound` (`UserChanged` when it required a
//! state), as on the per-change path. On PostgreSQL the call is one statement (a round trip per batch) that
//! locks the users' rows in id order first, as every process's batches do; on SQLite it is
//! several statements in one hand-over to the connection's thread, under the write lock the
//! batch holds.

use serde::Serialize;
use sqlx::AnyConnection;

use crate::domain::user::UserState;
use crate::error::Result;
use crate::service::ports::{Change, Committed, Effect, Outcome, Rejection};

use super::errors::conflict_or_internal;

/// Whether a change can be written set-based: every effect inserts a row under a fresh id or
/// requires the user's state, so nothing but its user being gone or changed can refuse it.
pub(super) fn is_plain(change: &Change) -> bool {
    change.effects.iter().all(|effect| {
        matches!(
            effect,
            Effect::InsertPasskeyCode(_) | Effect::EnqueueMessage(_) | Effect::RequireUserState(_)
        )
    })
}

/// The state a change requires its user to be in, if any.
fn required_state(change: &Change) -> Option<i64> {
    change.effects.iter().find_map(|effect| match effect {
        Effect::RequireUserState(state) => Some(*state as i64),
        _ => None,
    })
}

/// No user is in this state: the required state of a user whose changes in one call require
/// different ones (or some one and some none), which refuses them all alike.
const NO_STATE: i64 = -1;

/// A change's row: its index in the call, its user, its place among that user's changes in
/// the call (`offset` of `count`), and its event.
#[derive(Serialize)]
struct ChangeRow<'a> {
    index: usize,
    user_id: &'a str,
    offset: usize,
    count: usize,
    event_type: &'a str,
    payload: String,
    actor: &'a str,
    at: i64,
    /// The state the user must be in (`NO_STATE` refuses), or none.
    required_state: Option<i64>,
}

/// A registration code's row.
#[derive(Serialize)]
struct CodeRow<'a> {
    id: &'a str,
    user_id: &'a str,
    code_hash: String,
    at: i64,
    expires_at: i64,
    /// Its change's `required_state`.
    required_state: Option<i64>,
}

/// A queued message's row.
#[derive(Serialize)]
struct MessageRow<'a> {
    id: &'a str,
    user_id: &'a str,
    kind: &'a str,
    payload: &'a str,
    at: i64,
    /// Its change's `required_state`.
    required_state: Option<i64>,
}

/// What the call returns per change whose user exists.
#[derive(sqlx::FromRow)]
struct NumberedRow {
    index: i64,
    sequence: i64,
    org_id: String,
}

/// Writes plain changes (`is_plain`), sorted by user with each user's changes in submission
/// order, inside an open transaction or savepoint; one outcome per change. An error means the
/// call failed as a whole (the caller rolls back).
pub(super) async fn apply_plain_changes(
    connection: &mut AnyConnection,
    changes: &[&Change],
) -> Result<Vec<Outcome<Committed>>> {
    let (change_rows, code_rows, message_rows) = rows_of(changes);
    let postgres = connection.backend_name() == "PostgreSQL";
    let sql = if postgres {
        WRITE_PLAIN_POSTGRES
    } else {
        WRITE_PLAIN_SQLITE
    };
    let numbered = sqlx::query_as::<_, NumberedRow>(sql)
        .bind(to_json(&change_rows))
        .bind(to_json(&code_rows))
        .bind(to_json(&message_rows))
        .bind(UserState::Deleted as i64)
        .fetch_all(&mut *connection)
        .await
        .map_err(conflict_or_internal("STORE-Ws1pl"))?;
    let mut outcomes: Vec<Outcome<Committed>> = changes
        .iter()
        .map(|change| match required_state(change) {
            Some(_) => Err(Rejection::UserChanged),
            None => Err(Rejection::UserNotFound),
        })
        .collect();
    for row in numbered {
        let index = row.index as usize;
        outcomes[index] = Ok(Committed {
            sequence: row.sequence as u64,
            org_id: row.org_id,
            at: changes[index].at,
        });
    }
    Ok(outcomes)
}

/// The rows of the call: each change numbered within its user, and its codes and messages.
fn rows_of<'a>(
    changes: &[&'a Change],
) -> (Vec<ChangeRow<'a>>, Vec<CodeRow<'a>>, Vec<MessageRow<'a>>) {
    let mut change_rows = Vec::with_capacity(changes.len());
    let mut code_rows = Vec::new();
    let mut message_rows = Vec::new();
    // Each user's changes are contiguous. Changes of one user that disagree on the state they
    // require all require `NO_STATE`, so that the user is bumped for all of them or none.
    for user_changes in changes.chunk_by(|first, second| first.user_id == second.user_id) {
        let first = required_state(user_changes[0]);
        let required_state = if user_changes
            .iter()
            .all(|change| required_state(change) == first)
        {
            first
        } else {
            Some(NO_STATE)
        };
        for (offset, change) in user_changes.iter().enumerate() {
            let user_id = change.user_id.as_str();
            let at = change.at.0;
            change_rows.push(ChangeRow {
                index: change_rows.len(),
                user_id,
                offset,
                count: user_changes.len(),
                event_type: change.event_type,
                payload: change.payload.to_string(),
                actor: &change.actor,
                at,
                required_state,
            });
            for effect in &change.effects {
                match effect {
                    Effect::InsertPasskeyCode(code) => code_rows.push(CodeRow {
                        id: &code.id,
                        user_id,
                        code_hash: hex::encode(&code.code_hash),
                        at,
                        expires_at: code.expires_at.0,
                        required_state,
                    }),
                    Effect::EnqueueMessage(message) => message_rows.push(MessageRow {
                        id: &message.id,
                        user_id,
                        kind: message.kind,
                        payload: &message.payload,
                        at,
                        required_state,
                    }),
                    Effect::RequireUserState(_) => {}
                    other => unreachable!("not a plain effect: {other:?}"),
                }
            }
        }
    }
    (change_rows, code_rows, message_rows)
}

/// Rows as one JSON array parameter.
fn to_json<T: Serialize>(rows: &[T]) -> String {
    serde_json::to_string(rows).expect("rows of strings and numbers serialize")
}

/// The set-based write on PostgreSQL, one statement: `$1` the changes, `$2` the codes, `$3`
/// the messages (JSON arrays), `$4` the deleted state. The users' rows are locked in id order
/// (as the per-change path and every other process lock them), each bumped once by its
/// number of changes; the events are numbered from the bumped sequence; only the rows of
/// users that were bumped are inserted. The users are found through `= ANY (ARRAY(…))`, which
/// the planner turns into primary key lookups whatever it guesses of the batch's size (with
/// `IN (SELECT …)` it scanned the whole table: 80 ms a batch on 10,000 users). Data-modifying
/// CTEs run exactly once whether or not the final SELECT reads them.
const WRITE_PLAIN_POSTGRES: &str = "WITH batch AS MATERIALIZED (\
       SELECT * FROM json_to_recordset($1::json) AS b(\"index\" BIGINT, user_id TEXT, \
       \"offset\" BIGINT, count BIGINT, event_type TEXT, payload TEXT, actor TEXT, at BIGINT, \
       required_state BIGINT)), \
     per_user AS (SELECT user_id, max(count) AS count, max(at) AS at, \
       max(required_state) AS required_state FROM batch GROUP BY user_id), \
     locked AS MATERIALIZED (SELECT users.id FROM users JOIN per_user ON per_user.user_id = users.id \
       WHERE users.id = ANY (ARRAY(SELECT user_id FROM per_user)) AND users.state <> $4 \
       AND (per_user.required_state IS NULL OR users.state = per_user.required_state) \
       ORDER BY users.id FOR UPDATE OF users), \
     bumped AS (UPDATE users SET sequence = users.sequence + per_user.count, changed_at = per_user.at \
       FROM per_user WHERE users.id = per_user.user_id AND users.id = ANY (ARRAY(SELECT id FROM locked)) \
       RETURNING users.id, users.sequence, users.org_id), \
     numbered AS MATERIALIZED (SELECT batch.*, bumped.sequence - batch.count + batch.\"offset\" + 1 \
       AS sequence, bumped.org_id FROM batch JOIN bumped ON bumped.id = batch.user_id), \
     events AS (INSERT INTO events (user_id, sequence, event_type, payload, actor, created_at) \
       SELECT user_id, sequence, event_type, payload, actor, at FROM numbered), \
     codes AS (INSERT INTO passkey_codes (id, user_id, code_hash, created_at, expires_at) \
       SELECT c.id, c.user_id, decode(c.code_hash, 'hex'), c.at, c.expires_at \
       FROM json_to_recordset($2::json) AS c(id TEXT, user_id TEXT, code_hash TEXT, at BIGINT, \
       expires_at BIGINT) WHERE c.user_id IN (SELECT id FROM bumped)), \
     messages AS (INSERT INTO outbox (id, user_id, kind, payload, next_attempt_at, created_at) \
       SELECT m.id, m.user_id, m.kind, m.payload, m.at, m.at \
       FROM json_to_recordset($3::json) AS m(id TEXT, user_id TEXT, kind TEXT, payload TEXT, \
       at BIGINT) WHERE m.user_id IN (SELECT id FROM bumped)) \
     SELECT \"index\", sequence, org_id FROM numbered";

/// The set-based write on SQLite: the same steps as statements run in one call (numbered
/// parameters are shared). The batch holds the write lock, so the users read back after the
/// bump are the bumped ones: a user that is gone, deleted or not in the required state (the
/// same for all its rows) was not bumped and matches none.
const WRITE_PLAIN_SQLITE: &str = "UPDATE users SET sequence = users.sequence + per_user.count, \
       changed_at = per_user.at \
       FROM (SELECT value ->> 'user_id' AS user_id, max(value ->> 'count') AS count, \
       max(value ->> 'at') AS at, max(value ->> 'required_state') AS required_state \
       FROM json_each($1) GROUP BY 1) AS per_user \
       WHERE users.id = per_user.user_id AND users.state <> $4 \
       AND (per_user.required_state IS NULL OR users.state = per_user.required_state); \
     INSERT INTO events (user_id, sequence, event_type, payload, actor, created_at) \
       SELECT users.id, users.sequence - (b.value ->> 'count') + (b.value ->> 'offset') + 1, \
       b.value ->> 'event_type', b.value ->> 'payload', b.value ->> 'actor', b.value ->> 'at' \
       FROM json_each($1) AS b JOIN users ON users.id = b.value ->> 'user_id' AND users.state <> $4 \
       AND (b.value ->> 'required_state' IS NULL OR users.state = b.value ->> 'required_state'); \
     INSERT INTO passkey_codes (id, user_id, code_hash, created_at, expires_at) \
       SELECT c.value ->> 'id', users.id, unhex(c.value ->> 'code_hash'), c.value ->> 'at', \
       c.value ->> 'expires_at' \
       FROM json_each($2) AS c JOIN users ON users.id = c.value ->> 'user_id' AND users.state <> $4 \
       AND (c.value ->> 'required_state' IS NULL OR users.state = c.value ->> 'required_state'); \
     INSERT INTO outbox (id, user_id, kind, payload, next_attempt_at, created_at) \
       SELECT m.value ->> 'id', users.id, m.value ->> 'kind', m.value ->> 'payload', \
       m.value ->> 'at', m.value ->> 'at' \
       FROM json_each($3) AS m JOIN users ON users.id = m.value ->> 'user_id' AND users.state <> $4 \
       AND (m.value ->> 'required_state' IS NULL OR users.state = m.value ->> 'required_state'); \
     SELECT CAST(b.value ->> 'index' AS INTEGER) AS \"index\", \
       CAST(users.sequence - (b.value ->> 'count') + (b.value ->> 'offset') + 1 AS INTEGER) AS sequence, \
       users.org_id AS org_id \
       FROM json_each($1) AS b JOIN users ON users.id = b.value ->> 'user_id' AND users.state <> $4 \
       AND (b.value ->> 'required_state' IS NULL OR users.state = b.value ->> 'required_state')";

#[cfg(test)]
#[path = "write_set_tests.rs"]
mod tests;
