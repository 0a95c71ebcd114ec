//! The write path: `apply_change` writes one change (the new user, the sequence bump, the
//! event and each effect) inside a transaction the caller opened, one function per effect.
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
    let user_id = change.user_id.as_str();
    let at = change.at;
    match effect {
        Effect::InsertUser(_) => Ok(Ok(())),
        Effect::DeleteUser => delete_user(connection, user_id).await.map(Ok),
        Effect::InsertPasskeyCode(code) => insert_passkey_code(connection, user_id, at, code)
            .await
            .map(Ok),
        Effect::EnqueueMessage(message) => enqueue_message(connection, user_id, at, message)
            .await
            .map(Ok),
        Effect::ConsumePasskeyCode {
            code_id,
            failure_limit,
        } => consume_passkey_code(connection, user_id, at, code_id, *failure_limit).await,
        Effect::RecordPasskeyCodeFailure {
            code_id,
            failure_limit,
        } => record_passkey_code_failure(connection, user_id, at, code_id, *failure_limit).await,
        Effect::InsertPasskeyRegistration(registration) => {
            insert_passkey_registration(connection, user_id, at, registration)
                .await
                .map(Ok)
        }
        Effect::ConsumePasskeyRegistration { passkey_id } => {
            consume_passkey_registration(connection, user_id, at, passkey_id).await
        }
        Effect::InsertPasskey(passkey) => insert_passkey(connection, user_id, at, passkey).await,
        Effect::RemovePasskey { passkey_id } => {
            remove_passkey(connection, user_id, passkey_id).await
        }
        Effect::MarkMessageSent(sent) => mark_message_sent(connection, sent, at).await,
    }
}

/// Runs a conditional statement that must change exactly one row: `rejection` when it
/// changed none (its condition did not hold), a database error mapped by `failed`.
pub(super) async fn change_one_row<'connection, 'query>(
    executor: impl Executor<'connection, Database = Any>,
    statement: Query<'query, Any, AnyArguments>,
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
    let bumped = if connection.backend_name() == "PostgreSQL" {
        // One statement instead of two: a round trip to the server saved per change.
        sqlx::query_as::<_, BumpedRow>(
            "WITH bumped AS (UPDATE users SET sequence = sequence + 1, changed_at = $2 \
             WHERE id = $1 AND state <> $6 RETURNING sequence, org_id), \
             event AS (INSERT INTO events (user_id, sequence, event_type, payload, actor, created_at) \
             SELECT $1, sequence, $3, $4, $5, $2 FROM bumped) \
             SELECT sequence, org_id FROM bumped",
        )
        .bind(&change.user_id)
        .bind(change.at.0)
        .bind(change.event_type)
        .bind(&payload)
        .bind(&change.actor)
        .bind(UserState::Deleted as i64)
        .fetch_optional(&mut *connection)
        .await
    } else {
        // Three statements in one call to SQLite's worker thread (numbered parameters are
        // shared): one hand-over instead of two. `changes()` is the row count of the previous
        // statement, so nothing is appended or returned when the user is gone; the writer
        // holds the write lock throughout.
        sqlx::query_as::<_, BumpedRow>(
            "UPDATE users SET sequence = sequence + 1, changed_at = $2 \
             WHERE id = $1 AND state <> $6; \
             INSERT INTO events (user_id, sequence, event_type, payload, actor, created_at) \
             SELECT $1, sequence, $3, $4, $5, $2 FROM users \
             WHERE id = $1 AND state <> $6 AND changes() = 1; \
             SELECT sequence, org_id FROM users WHERE id = $1 AND changes() = 1",
        )
        .bind(&change.user_id)
        .bind(change.at.0)
        .bind(change.event_type)
        .bind(&payload)
        .bind(&change.actor)
        .bind(UserState::Deleted as i64)
        // Not fetch_optional: it stops after the first statement's result.
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

async fn delete_user(connection: &mut AnyConnection, user_id: &str) -> Result<()> {
    sqlx::query("UPDATE users SET state = $2 WHERE id = $1")
        .bind(user_id)
        .bind(UserState::Deleted as i64)
        .execute(connection)
        .await
        .map_err(conflict_or_internal("STORE-Dl6us"))?;
    Ok(())
}

async fn insert_passkey_code(
    connection: &mut AnyConnection,
    user_id: &str,
    at: Timestamp,
    code: &NewPasskeyCode,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO passkey_codes (id, user_id, code_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&code.id)
    .bind(user_id)
    .bind(code.code_hash.clone())
    .bind(at.0)
    .bind(code.expires_at.0)
    .execute(connection)
    .await
    .map_err(conflict_or_internal("STORE-Pc7in"))?;
    Ok(())
}

async fn enqueue_message(
    connection: &mut AnyConnection,
    user_id: &str,
    at: Timestamp,
    message: &NewMessage,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox (id, user_id, kind, payload, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&message.id)
    .bind(user_id)
    .bind(message.kind)
    .bind(message.payload.clone())
    .bind(at.0)
    .execute(connection)
    .await
    .map_err(conflict_or_internal("STORE-Ob2in"))?;
    Ok(())
}

/// The one conditional update that makes a code single-use: of two concurrent redemptions
/// only one changes the row.
async fn consume_passkey_code(
    connection: &mut AnyConnection,
    user_id: &str,
    at: Timestamp,
    code_id: &str,
    failure_limit: i64,
) -> Result<Outcome<()>> {
    let consume = sqlx::query(
        "UPDATE passkey_codes SET used_at = $3 WHERE id = $1 AND user_id = $2 \
         AND used_at IS NULL AND failures < $4 AND expires_at > $3",
    );
    let consume = consume
        .bind(code_id)
        .bind(user_id)
        .bind(at.0)
        .bind(failure_limit);
    let failed = conflict_or_internal("STORE-Pc8cs");
    change_one_row(connection, consume, Rejection::CodeNotConsumable, failed).await
}

/// Conditional like the consumption: racing guesses never count past the failure limit, and
/// a code that died meanwhile gets no event.
async fn record_passkey_code_failure(
    connection: &mut AnyConnection,
    user_id: &str,
    at: Timestamp,
    code_id: &str,
    failure_limit: i64,
) -> Result<Outcome<()>> {
    let count = sqlx::query(
        "UPDATE passkey_codes SET failures = failures + 1 WHERE id = $1 AND user_id = $2 \
         AND used_at IS NULL AND failures < $4 AND expires_at > $3",
    );
    let count = count
        .bind(code_id)
        .bind(user_id)
        .bind(at.0)
        .bind(failure_limit);
    let failed = conflict_or_internal("STORE-Pc9fl");
    change_one_row(connection, count, Rejection::CodeNotConsumable, failed).await
}

/// Stores a registration, after deleting the user's expired ones (of no use any more).
async fn insert_passkey_registration(
    connection: &mut AnyConnection,
    user_id: &str,
    at: Timestamp,
    registration: &NewPasskeyRegistration,
) -> Result<()> {
    sqlx::query("DELETE FROM passkey_registrations WHERE user_id = $1 AND expires_at <= $2")
        .bind(user_id)
        .bind(at.0)
        .execute(&mut *connection)
        .await
        .map_err(conflict_or_internal("STORE-Pr1gc"))?;
    sqlx::query(
        "INSERT INTO passkey_registrations (id, user_id, rp_id, state, code_id, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&registration.id)
    .bind(user_id)
    .bind(&registration.rp_id)
    .bind(&registration.state)
    .bind(registration.code_id.clone())
    .bind(at.0)
    .bind(registration.expires_at.0)
    .execute(connection)
    .await
    .map_err(conflict_or_internal("STORE-Pr2in"))?;
    Ok(())
}

/// The one conditional delete that makes a registration single-use: of two concurrent
/// verifications only one removes the row; the other's change, event and passkey included,
/// is undone.
async fn consume_passkey_registration(
    connection: &mut AnyConnection,
    user_id: &str,
    at: Timestamp,
    passkey_id: &str,
) -> Result<Outcome<()>> {
    let consume = sqlx::query(
        "DELETE FROM passkey_registrations WHERE id = $1 AND user_id = $2 AND expires_at > $3",
    )
    .bind(passkey_id)
    .bind(user_id)
    .bind(at.0);
    let failed = conflict_or_internal("STORE-Pr5cs");
    change_one_row(
        connection,
        consume,
        Rejection::RegistrationNotConsumable,
        failed,
    )
    .await
}

async fn insert_passkey(
    connection: &mut AnyConnection,
    user_id: &str,
    at: Timestamp,
    passkey: &NewPasskey,
) -> Result<Outcome<()>> {
    let inserted = sqlx::query(
        "INSERT INTO passkeys (id, user_id, name, rp_id, credential_id, public_key, \
         algorithm, sign_count, aaguid, transports, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&passkey.id)
    .bind(user_id)
    .bind(&passkey.name)
    .bind(&passkey.rp_id)
    .bind(passkey.credential_id.clone())
    .bind(passkey.public_key.clone())
    .bind(i64::from(passkey.algorithm))
    .bind(i64::from(passkey.sign_count))
    .bind(passkey.aaguid.clone())
    .bind(passkey.transports.clone())
    .bind(at.0)
    .execute(connection)
    .await;
    refused_when_unique(
        inserted,
        Rejection::CredentialExists,
        conflict_or_internal("STORE-Pk1in"),
    )
}

async fn remove_passkey(
    connection: &mut AnyConnection,
    user_id: &str,
    passkey_id: &str,
) -> Result<Outcome<()>> {
    let remove = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
        .bind(passkey_id)
        .bind(user_id);
    let failed = conflict_or_internal("STORE-Pk2rm");
    change_one_row(connection, remove, Rejection::PasskeyNotFound, failed).await
}

/// Marks a message sent if `sent.lease_owner` still holds it; `Rejection::LeaseLost`
/// otherwise. Not a conflict: the group commit retries conflicts, and a lost lease stays lost.
pub(super) async fn mark_message_sent<'connection>(
    executor: impl Executor<'connection, Database = Any>,
    sent: &MessageSent,
    at: Timestamp,
) -> Result<Outcome<()>> {
    let mark = sqlx::query(
        "UPDATE outbox SET state = 'sent', sent_at = $3, payload = $4, lease_owner = NULL, \
         lease_until = NULL, last_error = NULL \
         WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
    )
    .bind(&sent.message_id)
    .bind(&sent.lease_owner)
    .bind(at.0)
    .bind(&sent.scrubbed_payload);
    let failed = conflict_or_internal("STORE-Ms1up");
    change_one_row(executor, mark, Rejection::LeaseLost, failed).await
}
