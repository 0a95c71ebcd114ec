//! The write path: `apply_change` writes one change (the new user, the sequence bump, the
//! event and each effect) inside a transaction the caller opened: per effect, its statement
//! and what its outcome means (done, or the `Rejection` a condition or unique index gives).
//! The group commit (`group_commit`) calls it; nothing here begins or commits.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Executor};

use crate::domain::time::Timestamp;
use crate::domain::user::{UserKind, UserState};
use crate::error::Result;
use crate::service::ports::{
    Change, Committed, Effect, MessageSent, NewMessage, NewPasskey, NewPasskeyCode,
    NewPasskeyRegistration, NewUser, Outcome, Rejection,
};

use super::errors::{
    DatabaseFailure, conflict, conflict_or_internal, internal, refused_when_unique,
};
use super::rows::BumpedRow;

/// Writes one change inside an open transaction or savepoint. Conflicts another writer can
/// cause come back as `Aborted`, which the group commit retries; refusals as the `Rejection`.
/// A caller rolls back whatever did not come back `Ok(Ok(_))`.
pub(super) async fn apply_change(
    connection: &mut AnyConnection,
    change: &Change,
) -> Result<Outcome<Committed>> {
    // The first statement writes, so that SQLite takes its write lock at once instead of
    // upgrading a read lock later (which fails under contention instead of waiting).
    for effect in &change.effects {
        if let Effect::InsertUser(new_user) = effect
            && let Err(rejection) = insert_user(connection, new_user).await?
        {
            return Ok(Err(rejection));
        }
    }
    let bumped = match append_event(connection, change).await? {
        Ok(bumped) => bumped,
        Err(rejection) => return Ok(Err(rejection)),
    };
    for effect in &change.effects {
        if let Err(rejection) = apply_effect(connection, change, effect).await? {
            return Ok(Err(rejection));
        }
    }
    Ok(Ok(Committed {
        sequence: bumped.sequence as u64,
        org_id: bumped.org_id,
        at: change.at,
    }))
}

/// Writes one effect of a change (`InsertUser` is written before the event, by
/// `apply_change`).
async fn apply_effect(
    connection: &mut AnyConnection,
    change: &Change,
    effect: &Effect,
) -> Result<Outcome<()>> {
    match effect {
        Effect::InsertUser(_) => Ok(Ok(())),
        Effect::RequireUserState(state) => {
            // The user's row is locked by the bump before the effects (PostgreSQL), or the
            // batch holds the write lock (SQLite): the state cannot change before COMMIT.
            let found = sqlx::query(USER_IN_STATE)
                .bind(&change.user_id)
                .bind(*state as i64)
                .fetch_optional(connection)
                .await
                .map_err(conflict_or_internal("STORE-Rs1st"))?;
            Ok(found.map(|_| ()).ok_or(Rejection::UserChanged))
        }
        Effect::DeleteUser => {
            let delete = sqlx::query(DELETE_USER)
                .bind(&change.user_id)
                .bind(UserState::Deleted as i64);
            execute(connection, delete, "STORE-Dl6us").await.map(Ok)
        }
        Effect::InsertPasskeyCode(code) => {
            execute(connection, insert_passkey_code(change, code), "STORE-Pc7in")
                .await
                .map(Ok)
        }
        Effect::EnqueueMessage(message) => {
            execute(connection, enqueue_message(change, message), "STORE-Ob2in")
                .await
                .map(Ok)
        }
        Effect::ConsumePasskeyCode {
            code_id,
            failure_limit,
        } => {
            let consume = statement_of(change, CONSUME_PASSKEY_CODE)
                .bind(code_id)
                .bind(*failure_limit);
            let failed = conflict_or_internal("STORE-Pc8cs");
            change_one_row(connection, consume, Rejection::CodeNotConsumable, failed).await
        }
        Effect::RecordPasskeyCodeFailure {
            code_id,
            failure_limit,
        } => {
            let count = statement_of(change, COUNT_PASSKEY_CODE_FAILURE)
                .bind(code_id)
                .bind(*failure_limit);
            let failed = conflict_or_internal("STORE-Pc9fl");
            change_one_row(connection, count, Rejection::CodeNotConsumable, failed).await
        }
        Effect::InsertPasskeyRegistration(registration) => {
            // Expired registrations of the user are of no use any more.
            let delete_expired = statement_of(change, DELETE_EXPIRED_REGISTRATIONS);
            execute(&mut *connection, delete_expired, "STORE-Pr1gc").await?;
            let insert = insert_passkey_registration(change, registration);
            execute(connection, insert, "STORE-Pr2in").await.map(Ok)
        }
        Effect::ConsumePasskeyRegistration { passkey_id } => {
            let consume = statement_of(change, CONSUME_PASSKEY_REGISTRATION).bind(passkey_id);
            let failed = conflict_or_internal("STORE-Pr5cs");
            let rejection = Rejection::RegistrationNotConsumable;
            change_one_row(connection, consume, rejection, failed).await
        }
        Effect::InsertPasskey(passkey) => {
            let inserted = insert_passkey(change, passkey).execute(connection).await;
            let failed = conflict_or_internal("STORE-Pk1in");
            refused_when_unique(inserted, Rejection::CredentialExists, failed)
        }
        Effect::TerminateUserSessions => {
            let challenges = sqlx::query(DELETE_USER_SESSION_CHALLENGES).bind(&change.user_id);
            execute(&mut *connection, challenges, "STORE-Se6tm").await?;
            let terminate = statement_of(change, TERMINATE_USER_SESSIONS);
            execute(connection, terminate, "STORE-Se5tm").await.map(Ok)
        }
        Effect::RemovePasskey { passkey_id } => {
            let remove = sqlx::query(REMOVE_PASSKEY)
                .bind(passkey_id)
                .bind(&change.user_id);
            let failed = conflict_or_internal("STORE-Pk2rm");
            change_one_row(connection, remove, Rejection::PasskeyNotFound, failed).await
        }
        Effect::MarkMessageSent(sent) => mark_message_sent(connection, sent, change.at).await,
    }
}

/// A statement of the write path.
type Statement<'values> = Query<'values, Any, AnyArguments>;

/// A statement of `change`: `$1` is its user, `$2` its time; the effect binds its own values
/// from `$3` on.
fn statement_of<'change>(change: &'change Change, sql: &'static str) -> Statement<'change> {
    sqlx::query(sql).bind(&change.user_id).bind(change.at.0)
}

/// Runs a statement of a change that nothing refuses; a conflict comes back `Aborted` (the
/// group commit writes the change again), any other database error as an internal error,
/// both under `error_id`.
async fn execute(
    connection: &mut AnyConnection,
    statement: Statement<'_>,
    error_id: &'static str,
) -> Result<()> {
    statement
        .execute(connection)
        .await
        .map_err(conflict_or_internal(error_id))?;
    Ok(())
}

/// Runs a conditional statement that must change exactly one row: `rejection` when it
/// changed none (its condition did not hold), a database error mapped by `failed`.
pub(super) async fn change_one_row<'connection>(
    executor: impl Executor<'connection, Database = Any>,
    statement: Statement<'_>,
    rejection: Rejection,
    failed: impl FnOnce(sqlx::Error) -> crate::error::Error,
) -> Result<Outcome<()>> {
    let changed = statement.execute(executor).await.map_err(failed)?;
    Ok(if changed.rows_affected() == 1 {
        Ok(())
    } else {
        Err(rejection)
    })
}

async fn insert_user(connection: &mut AnyConnection, new_user: &NewUser) -> Result<Outcome<()>> {
    let user = &new_user.user;
    let (kind, profile, email, phone, machine) = match &user.kind {
        UserKind::Human {
            profile,
            email,
            phone,
        } => ("human", Some(profile), Some(email), phone.as_ref(), None),
        UserKind::Machine { name, description } => {
            ("machine", None, None, None, Some((name, description)))
        }
    };
    let inserted = sqlx::query(
        "INSERT INTO users (id, org_id, kind, state, username, sequence, created_at, changed_at, \
         given_name, family_name, nick_name, display_name, preferred_language, gender, \
         email, email_verified, email_code_hash, phone, phone_verified, phone_code_hash, \
         machine_name, machine_description) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(&user.id)
    .bind(&user.org_id)
    .bind(kind)
    .bind(user.state as i64)
    .bind(&user.username)
    .bind(user.created_at.0)
    .bind(profile.map(|profile| profile.given_name.clone()))
    .bind(profile.map(|profile| profile.family_name.clone()))
    .bind(profile.and_then(|profile| profile.nick_name.clone()))
    .bind(profile.and_then(|profile| profile.display_name.clone()))
    .bind(profile.and_then(|profile| profile.preferred_language.clone()))
    .bind(profile.and_then(|profile| profile.gender).map(i64::from))
    .bind(email.map(|email| email.address.clone()))
    .bind(email.is_some_and(|email| email.is_verified) as i64)
    .bind(new_user.email_code_hash.clone())
    .bind(phone.map(|phone| phone.number.clone()))
    .bind(phone.is_some_and(|phone| phone.is_verified) as i64)
    .bind(new_user.phone_code_hash.clone())
    .bind(machine.map(|(name, _)| name.clone()))
    .bind(machine.map(|(_, description)| description.clone()))
    .execute(&mut *connection)
    .await;
    if let Err(rejection) =
        refused_when_unique(inserted, Rejection::UserExists, internal("STORE-In5rt"))?
    {
        return Ok(Err(rejection));
    }
    for (key, value) in &new_user.metadata {
        sqlx::query("INSERT INTO user_metadata (user_id, key, value) VALUES ($1, $2, $3)")
            .bind(&user.id)
            .bind(key)
            .bind(value.clone())
            .execute(&mut *connection)
            .await
            .map_err(internal("STORE-Md3qa"))?;
    }
    Ok(Ok(()))
}

/// Bumps the user's sequence and appends the change's event with the new number; returns it
/// and the user's organization, or `Rejection::UserNotFound` when the user does not exist or
/// is deleted. Bumping first serializes concurrent changes to one user: PostgreSQL locks the
/// row (a concurrent writer waits, then reads the bumped value), SQLite holds its single
/// write lock.
async fn append_event(
    connection: &mut AnyConnection,
    change: &Change,
) -> Result<Outcome<BumpedRow>> {
    let payload = change.payload.to_string();
    let postgres = connection.backend_name() == "PostgreSQL";
    let sql = if postgres {
        APPEND_EVENT_POSTGRES
    } else {
        APPEND_EVENT_SQLITE
    };
    let append = sqlx::query_as::<_, BumpedRow>(sql)
        .bind(&change.user_id)
        .bind(change.at.0)
        .bind(change.event_type)
        .bind(&payload)
        .bind(&change.actor)
        .bind(UserState::Deleted as i64);
    let bumped = if postgres {
        append.fetch_optional(&mut *connection).await
    } else {
        // Not fetch_optional: it stops after the first statement's result.
        append
            .fetch_all(&mut *connection)
            .await
            .map(|rows| rows.into_iter().next())
    };
    match bumped {
        Ok(Some(bumped)) => Ok(Ok(bumped)),
        Ok(None) => Ok(Err(Rejection::UserNotFound)),
        // Cannot happen while the bump serializes writers; written again if it ever does.
        Err(error) if DatabaseFailure::of(&error) == DatabaseFailure::UniqueViolation => {
            Err(conflict("STORE-Ev6cf"))
        }
        Err(error) => Err(conflict_or_internal("STORE-Sq8vb")(error)),
    }
}

/// `append_event` on PostgreSQL: one statement instead of two, a round trip to the server
/// saved per change.
pub(super) const APPEND_EVENT_POSTGRES: &str = "WITH bumped AS (UPDATE users \
     SET sequence = sequence + 1, changed_at = $2 \
     WHERE id = $1 AND state <> $6 RETURNING sequence, org_id), \
     event AS (INSERT INTO events (user_id, sequence, event_type, payload, actor, created_at) \
     SELECT $1, sequence, $3, $4, $5, $2 FROM bumped) \
     SELECT sequence, org_id FROM bumped";

/// `append_event` on SQLite: three statements in one call to SQLite's worker thread (numbered
/// parameters are shared), one hand-over instead of two. `changes()` is the row count of the
/// previous statement, so nothing is appended or returned when the user is gone; the writer
/// holds the write lock throughout.
pub(super) const APPEND_EVENT_SQLITE: &str = "UPDATE users SET sequence = sequence + 1, \
     changed_at = $2 WHERE id = $1 AND state <> $6; \
     INSERT INTO events (user_id, sequence, event_type, payload, actor, created_at) \
     SELECT $1, sequence, $3, $4, $5, $2 FROM users \
     WHERE id = $1 AND state <> $6 AND changes() = 1; \
     SELECT sequence, org_id FROM users WHERE id = $1 AND changes() = 1";

/// The user, if in state `$2`.
pub(super) const USER_IN_STATE: &str = "SELECT 1 FROM users WHERE id = $1 AND state = $2";

/// Marks a user deleted.
pub(super) const DELETE_USER: &str = "UPDATE users SET state = $2 WHERE id = $1";

/// Removes one of a user's passkeys.
pub(super) const REMOVE_PASSKEY: &str = "DELETE FROM passkeys WHERE id = $1 AND user_id = $2";

fn insert_passkey_code<'values>(
    change: &'values Change,
    code: &'values NewPasskeyCode,
) -> Statement<'values> {
    statement_of(
        change,
        "INSERT INTO passkey_codes (id, user_id, code_hash, created_at, expires_at) \
         VALUES ($3, $1, $4, $2, $5)",
    )
    .bind(&code.id)
    .bind(&code.code_hash)
    .bind(code.expires_at.0)
}

fn enqueue_message<'values>(
    change: &'values Change,
    message: &'values NewMessage,
) -> Statement<'values> {
    statement_of(
        change,
        "INSERT INTO outbox (id, user_id, kind, payload, next_attempt_at, created_at) \
         VALUES ($3, $1, $4, $5, $2, $2)",
    )
    .bind(&message.id)
    .bind(message.kind)
    .bind(&message.payload)
}

/// Marks a live code used: the one conditional update that makes a code single-use (of two
/// concurrent redemptions only one changes the row). Live: unused, under the failure limit
/// (`$4`), unexpired at the change's time.
pub(super) const CONSUME_PASSKEY_CODE: &str = "UPDATE passkey_codes SET used_at = $2 \
     WHERE id = $3 AND user_id = $1 AND used_at IS NULL AND failures < $4 AND expires_at > $2";

/// Counts a failure on a live code, conditional like the consumption: racing guesses never
/// count past the failure limit, and a code that died meanwhile gets no event.
pub(super) const COUNT_PASSKEY_CODE_FAILURE: &str = "UPDATE passkey_codes SET failures = failures + 1 \
     WHERE id = $3 AND user_id = $1 AND used_at IS NULL AND failures < $4 AND expires_at > $2";

/// A deleted user's sessions end with it: their tokens die, and reads no longer find them.
pub(super) const TERMINATE_USER_SESSIONS: &str = "UPDATE sessions SET terminated_at = $2, token_hash = NULL \
     WHERE user_id = $1 AND terminated_at IS NULL";

pub(super) const DELETE_USER_SESSION_CHALLENGES: &str = "DELETE FROM session_challenges \
     WHERE session_id IN (SELECT id FROM sessions WHERE user_id = $1)";

pub(super) const DELETE_EXPIRED_REGISTRATIONS: &str =
    "DELETE FROM passkey_registrations WHERE user_id = $1 AND expires_at <= $2";

fn insert_passkey_registration<'values>(
    change: &'values Change,
    registration: &'values NewPasskeyRegistration,
) -> Statement<'values> {
    statement_of(
        change,
        "INSERT INTO passkey_registrations (id, user_id, rp_id, state, code_id, created_at, \
         expires_at) VALUES ($3, $1, $4, $5, $6, $2, $7)",
    )
    .bind(&registration.id)
    .bind(&registration.rp_id)
    .bind(&registration.state)
    .bind(&registration.code_id)
    .bind(registration.expires_at.0)
}

/// The one conditional delete that makes a registration single-use: of two concurrent
/// verifications only one removes the row; the other's change, event and passkey included,
/// is undone.
pub(super) const CONSUME_PASSKEY_REGISTRATION: &str =
    "DELETE FROM passkey_registrations WHERE id = $3 AND user_id = $1 AND expires_at > $2";

fn insert_passkey<'values>(
    change: &'values Change,
    passkey: &'values NewPasskey,
) -> Statement<'values> {
    statement_of(
        change,
        "INSERT INTO passkeys (id, user_id, name, rp_id, credential_id, public_key, \
         algorithm, sign_count, aaguid, transports, created_at) \
         VALUES ($3, $1, $4, $5, $6, $7, $8, $9, $10, $11, $2)",
    )
    .bind(&passkey.id)
    .bind(&passkey.name)
    .bind(&passkey.rp_id)
    .bind(&passkey.credential_id)
    .bind(&passkey.public_key)
    .bind(i64::from(passkey.algorithm))
    .bind(i64::from(passkey.sign_count))
    .bind(&passkey.aaguid)
    .bind(&passkey.transports)
}

/// Marks a message sent, and scrubs its payload, if its lease owner still holds it.
pub(super) const MARK_MESSAGE_SENT: &str = "UPDATE outbox SET state = 'sent', sent_at = $3, \
     payload = $4, lease_owner = NULL, lease_until = NULL, last_error = NULL \
     WHERE id = $1 AND lease_owner = $2 AND state = 'pending'";

/// Marks a message sent if `sent.lease_owner` still holds it; `Rejection::LeaseLost`
/// otherwise. Not a conflict: the group commit retries conflicts, and a lost lease stays lost.
pub(super) async fn mark_message_sent<'connection>(
    executor: impl Executor<'connection, Database = Any>,
    sent: &MessageSent,
    at: Timestamp,
) -> Result<Outcome<()>> {
    let mark = sqlx::query(MARK_MESSAGE_SENT)
        .bind(&sent.message_id)
        .bind(&sent.lease_owner)
        .bind(at.0)
        .bind(&sent.scrubbed_payload);
    let failed = conflict_or_internal("STORE-Ms1up");
    change_one_row(executor, mark, Rejection::LeaseLost, failed).await
}
