//! The write path of sessions: `apply_session_change` writes one session change (the new
//! session, the sequence bump with the new token, the event and each effect) inside a
//! transaction the group commit opened, like `write::apply_change` does for users.

use sqlx::{AnyConnection, Executor};

use crate::error::Result;
use crate::service::ports::{
    Committed, NewSession, NewSessionChallenge, Outcome, Rejection, SessionChange, SessionEffect,
};

use super::errors::{DatabaseFailure, conflict, conflict_or_internal};
use super::write::change_one_row;

/// Writes one session change inside an open transaction or savepoint; refusals come back as
/// the `Rejection`, conflicts as `Aborted`.
pub(super) async fn apply_session_change(
    connection: &mut AnyConnection,
    change: &SessionChange,
) -> Result<Outcome<Committed>> {
    for effect in &change.effects {
        if let SessionEffect::InsertSession(session) = effect {
            insert_session(connection, change, session).await?;
        }
    }
    let sequence = match append_session_event(connection, change).await? {
        Ok(sequence) => sequence,
        Err(rejection) => return Ok(Err(rejection)),
    };
    for effect in &change.effects {
        if let Err(rejection) = apply_session_effect(connection, change, effect).await? {
            return Ok(Err(rejection));
        }
    }
    Ok(Ok(Committed {
        sequence,
        org_id: String::new(),
        at: change.at,
    }))
}

async fn insert_session(
    connection: &mut AnyConnection,
    change: &SessionChange,
    session: &NewSession,
) -> Result<()> {
    let user_agent = serde_json::to_string(&session.user_agent)
        .map_err(|error| crate::error::Error::internal("STORE-Si2js", error))?;
    sqlx::query(
        "INSERT INTO sessions (id, sequence, creator_id, public, user_agent, fingerprint_id, \
         expires_at, created_at, changed_at) VALUES ($1, 0, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&session.id)
    .bind(&session.creator_id)
    .bind(i64::from(session.public))
    .bind(user_agent)
    .bind(session.user_agent.fingerprint_id.clone())
    .bind(session.expires_at.map(|at| at.0))
    .bind(change.at.0)
    .execute(connection)
    .await
    .map_err(conflict_or_internal("STORE-Si1in"))?;
    Ok(())
}

/// Bumps the session's sequence, sets its new token and appends the change's event; returns
/// the new sequence. `SessionGone` when the session does not exist or is terminated,
/// `SessionTokenStale` when the change requires a token that is no longer current. The bump
/// locks the session's row (PostgreSQL) first, so concurrent changes to one session queue.
async fn append_session_event(
    connection: &mut AnyConnection,
    change: &SessionChange,
) -> Result<Outcome<u64>> {
    let expected = match &change.expected_token_hash {
        Some(expected) => {
            // Lock the row and read its token before the bump replaces it.
            let current: Option<Option<Vec<u8>>> =
                sqlx::query_scalar(if connection.backend_name() == "PostgreSQL" {
                    "SELECT token_hash FROM sessions WHERE id = $1 FOR UPDATE"
                } else {
                    "SELECT token_hash FROM sessions WHERE id = $1"
                })
                .bind(&change.session_id)
                .fetch_optional(&mut *connection)
                .await
                .map_err(conflict_or_internal("STORE-Sb2tk"))?;
            Some(current.flatten().as_deref() == Some(expected.as_slice()))
        }
        None => None,
    };
    if expected == Some(false) {
        // Of two checks of one challenge made with one token, the loser finds the token
        // rotated by the winner; what it lost is the challenge, and it hears so.
        return Ok(Err(if challenge_taken(connection, change).await? {
            Rejection::ChallengeNotConsumable
        } else {
            Rejection::SessionTokenStale
        }));
    }
    let sequence = sqlx::query_scalar::<_, i64>(
        "UPDATE sessions SET sequence = sequence + 1, changed_at = $2, token_hash = $3 \
         WHERE id = $1 AND terminated_at IS NULL RETURNING sequence",
    )
    .bind(&change.session_id)
    .bind(change.at.0)
    .bind(change.new_token_hash.clone())
    .fetch_optional(&mut *connection)
    .await
    .map_err(conflict_or_internal("STORE-Sb1up"))?;
    let Some(sequence) = sequence else {
        return Ok(Err(Rejection::SessionGone));
    };
    let appended = sqlx::query(
        "INSERT INTO session_events (session_id, sequence, event_type, payload, actor, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&change.session_id)
    .bind(sequence)
    .bind(change.event_type)
    .bind(change.payload.to_string())
    .bind(&change.actor)
    .bind(change.at.0)
    .execute(&mut *connection)
    .await;
    match appended {
        Ok(_) => Ok(Ok(sequence as u64)),
        // Cannot happen while the bump serializes writers; written again if it ever does.
        Err(error) if DatabaseFailure::of(&error) == DatabaseFailure::UniqueViolation => {
            Err(conflict("STORE-Se7cf"))
        }
        Err(error) => Err(conflict_or_internal("STORE-Se8ev")(error)),
    }
}

/// Whether the change consumes a challenge that is gone already.
async fn challenge_taken(connection: &mut AnyConnection, change: &SessionChange) -> Result<bool> {
    let Some(challenge_id) = change.effects.iter().find_map(|effect| match effect {
        SessionEffect::ConsumeChallenge { challenge_id, .. } => Some(challenge_id),
        _ => None,
    }) else {
        return Ok(false);
    };
    let found = sqlx::query("SELECT id FROM session_challenges WHERE id = $1")
        .bind(challenge_id)
        .fetch_optional(connection)
        .await
        .map_err(conflict_or_internal("STORE-Sc8sr"))?;
    Ok(found.is_none())
}

/// Writes one effect of a session change (`InsertSession` is written before the event).
async fn apply_session_effect(
    connection: &mut AnyConnection,
    change: &SessionChange,
    effect: &SessionEffect,
) -> Result<Outcome<()>> {
    let session_id = &change.session_id;
    let at = change.at.0;
    match effect {
        SessionEffect::InsertSession(_) => Ok(Ok(())),
        SessionEffect::CheckUser { user_id, org_id } => {
            let check = sqlx::query(
                "UPDATE sessions SET user_id = $3, user_org_id = $4, user_checked_at = $2 \
                 WHERE id = $1 AND (user_id IS NULL OR user_id = $3)",
            )
            .bind(session_id)
            .bind(at)
            .bind(user_id)
            .bind(org_id);
            let failed = conflict_or_internal("STORE-Su1up");
            change_one_row(
                &mut *connection,
                check,
                Rejection::SessionUserChanged,
                failed,
            )
            .await
        }
        SessionEffect::ConsumeChallenge {
            challenge_id,
            failure_limit,
        } => {
            // The one conditional delete that makes a challenge single-use.
            let consume = sqlx::query(
                "DELETE FROM session_challenges WHERE id = $3 AND session_id = $1 \
                 AND expires_at > $2 AND failures < $4",
            )
            .bind(session_id)
            .bind(at)
            .bind(challenge_id)
            .bind(*failure_limit);
            let failed = conflict_or_internal("STORE-Sc3dl");
            let rejection = Rejection::ChallengeNotConsumable;
            if let Err(rejection) =
                change_one_row(&mut *connection, consume, rejection, failed).await?
            {
                return Ok(Err(rejection));
            }
            // A success uses up the session's other challenges too (§8 #7).
            run(
                connection,
                sqlx::query("DELETE FROM session_challenges WHERE session_id = $1")
                    .bind(session_id),
                "STORE-Sc4dl",
            )
            .await
        }
        SessionEffect::CheckWebAuthn {
            user_verified,
            passkey_id,
            sign_count,
        } => {
            let check = sqlx::query(
                "UPDATE sessions SET webauthn_checked_at = $2, webauthn_user_verified = $3 \
                 WHERE id = $1",
            )
            .bind(session_id)
            .bind(at)
            .bind(i64::from(*user_verified));
            execute(&mut *connection, check, "STORE-Sw1up").await?;
            let count = sqlx::query("UPDATE passkeys SET sign_count = $2 WHERE id = $1")
                .bind(passkey_id)
                .bind(i64::from(*sign_count));
            run(connection, count, "STORE-Sw2up").await
        }
        SessionEffect::InsertChallenge {
            challenge,
            keep,
            failure_limit,
        } => insert_challenge(connection, change, challenge, *keep, *failure_limit).await,
        SessionEffect::SetMetadata {
            key,
            value: Some(value),
        } => {
            let set = sqlx::query(
                "INSERT INTO session_metadata (session_id, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (session_id, key) DO UPDATE SET value = excluded.value",
            )
            .bind(session_id)
            .bind(key)
            .bind(value.clone());
            run(connection, set, "STORE-Sm2in").await
        }
        SessionEffect::SetMetadata { key, value: None } => {
            let delete =
                sqlx::query("DELETE FROM session_metadata WHERE session_id = $1 AND key = $2")
                    .bind(session_id)
                    .bind(key);
            run(connection, delete, "STORE-Sm3dl").await
        }
        SessionEffect::SetExpiration(expires_at) => {
            let set = sqlx::query("UPDATE sessions SET expires_at = $2 WHERE id = $1")
                .bind(session_id)
                .bind(expires_at.map(|at| at.0));
            run(connection, set, "STORE-Sx1up").await
        }
        SessionEffect::Terminate => {
            let challenges = sqlx::query("DELETE FROM session_challenges WHERE session_id = $1")
                .bind(session_id);
            execute(&mut *connection, challenges, "STORE-St2dl").await?;
            let terminate = sqlx::query(
                "UPDATE sessions SET terminated_at = $2, token_hash = NULL WHERE id = $1",
            )
            .bind(session_id)
            .bind(at);
            run(connection, terminate, "STORE-St1up").await
        }
    }
}

/// Stores a challenge after dropping the session's expired and dead ones, then drops the
/// oldest beyond `keep`.
async fn insert_challenge(
    connection: &mut AnyConnection,
    change: &SessionChange,
    challenge: &NewSessionChallenge,
    keep: i64,
    failure_limit: i64,
) -> Result<Outcome<()>> {
    let session_id = &change.session_id;
    let stale = sqlx::query(
        "DELETE FROM session_challenges WHERE session_id = $1 AND (expires_at <= $2 OR failures >= $3)",
    )
    .bind(session_id)
    .bind(change.at.0)
    .bind(failure_limit);
    execute(&mut *connection, stale, "STORE-Sc5dl").await?;
    let insert = sqlx::query(
        "INSERT INTO session_challenges (id, session_id, rp_id, state, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&challenge.id)
    .bind(session_id)
    .bind(&challenge.rp_id)
    .bind(&challenge.state)
    .bind(change.at.0)
    .bind(challenge.expires_at.0);
    execute(&mut *connection, insert, "STORE-Sc6in").await?;
    let oldest = sqlx::query(
        "DELETE FROM session_challenges WHERE session_id = $1 AND id NOT IN \
         (SELECT id FROM session_challenges WHERE session_id = $1 \
          ORDER BY created_at DESC, id DESC LIMIT $2)",
    )
    .bind(session_id)
    .bind(keep);
    run(connection, oldest, "STORE-Sc7dl").await
}

/// Runs a statement that nothing refuses; it is done, or the change fails.
async fn run<'connection>(
    executor: impl Executor<'connection, Database = sqlx::Any>,
    statement: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    error_id: &'static str,
) -> Result<Outcome<()>> {
    execute(executor, statement, error_id).await.map(Ok)
}

/// Runs a statement that nothing refuses, within a larger effect.
async fn execute<'connection>(
    executor: impl Executor<'connection, Database = sqlx::Any>,
    statement: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    error_id: &'static str,
) -> Result<()> {
    statement
        .execute(executor)
        .await
        .map_err(conflict_or_internal(error_id))?;
    Ok(())
}
