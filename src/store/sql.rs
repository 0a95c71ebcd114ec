//! `SqlStore`: the `Store` port on sqlx's `Any` driver. The SQL is portable (`$n` parameters,
//! `RETURNING`, partial indexes); the few dialect differences live in `Backend`.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

use crate::domain::permission::{Role, RoleGrant};
use crate::domain::time::Timestamp;
use crate::domain::user::{Email, Org, Phone, Profile, User, UserKind, UserState};
use crate::error::{Error, Result};
use crate::service::ports::{
    Change, Committed, Effect, MessageFailure, MessageSent, NewPasskeyRegistration, NewToken,
    PendingPasskeyRegistration, Store, StoredEvent, StoredMessage, StoredPasskeyCode,
    StoredPasskeyInfo, TokenOwner,
};

use super::group_commit::{GroupCommitWriter, WriterSettings};
use super::token_cache::TokenOwnerCache;

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`, for logs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The backend of a `sqlite:` or `postgres:` URL.
    pub fn of_url(url: &str) -> Result<Backend, String> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(format!(
                "database_url must start with sqlite: or postgres:, got {:?}",
                url.split(':').next().unwrap_or_default()
            ))
        }
    }
}

/// The SQLite URL of the database file inside a data directory.
pub fn sqlite_url_in(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("passlink.db").display()
    )
}

/// Storage on SQLite or PostgreSQL through one connection pool.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// The writer: changes are committed in batches (see `group_commit`), on both backends.
    group_commit: GroupCommitWriter,
    token_owners: Arc<TokenOwnerCache>,
    id_node: u16,
}

/// Run on every SQLite connection. WAL lets readers run beside the one writer; FULL makes
/// every acknowledged commit survive a crash (fsync per commit); the busy timeout queues
/// writers of other processes.
const SQLITE_SETUP: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;";

const USER_NOT_FOUND: &str = "User could not be found";

fn internal(id: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |cause| Error::internal(id, cause)
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database_error) if database_error.is_unique_violation())
}

const CONFLICT: &str = "The change met a concurrent change; try again";

/// Whether another writer caused the error, so that trying again can succeed: PostgreSQL's
/// serialization failure (40001) and deadlock (40P01), SQLite's busy and locked (5, 6).
fn is_conflict(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(database_error) = error else {
        return false;
    };
    matches!(
        database_error.code().as_deref(),
        Some("40001" | "40P01" | "5" | "6" | "517" | "262")
    )
}

/// Maps a database error to `Aborted` when it is a conflict, to an internal error otherwise.
pub(super) fn conflict_or_internal(id: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |cause| {
        if is_conflict(&cause) {
            Error::aborted(id, CONFLICT)
        } else {
            Error::internal(id, cause)
        }
    }
}

impl SqlStore {
    /// Connects, applies the backend's migrations and returns the store.
    pub async fn connect(url: &str) -> Result<SqlStore, String> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let options = AnyPoolOptions::new()
            // Readers only (the writer has its own connection). Each SQLite connection is a
            // thread: on a small machine a few busy ones beat many that sleep and wake.
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            // The default pings every connection on every acquire: a round trip per query.
            // A broken connection fails its query instead, and the pool replaces it.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10));
        let options = match backend {
            Backend::Sqlite => options.after_connect(|connection, _| {
                Box::pin(async move {
                    connection.execute(SQLITE_SETUP).await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options
            .connect(url)
            .await
            .map_err(|error| format!("cannot open the database: {error}"))?;
        let migrated = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await,
        };
        migrated.map_err(|error| format!("cannot migrate the database: {error}"))?;
        let group_commit = GroupCommitWriter::start(match backend {
            Backend::Sqlite => WriterSettings {
                url: url.to_owned(),
                setup: Some(SQLITE_SETUP),
                begin: "BEGIN IMMEDIATE",
            },
            Backend::Postgres => WriterSettings {
                url: url.to_owned(),
                setup: None,
                begin: "BEGIN",
            },
        })?;
        let id_node = lease_id_node(&pool).await?;
        Ok(SqlStore {
            pool,
            backend,
            group_commit,
            token_owners: Arc::default(),
            id_node,
        })
    }

    /// The id node number this store leased when it opened the database.
    pub fn id_node(&self) -> u16 {
        self.id_node
    }

    /// Closes every connection; pending writes are finished first.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Leases a node number for id generation: each process that opens the database gets the next
/// of 1024 numbers in turn, so processes running at the same time get distinct numbers (unless
/// more than 1024 open it while the first still runs; primary keys still refuse a clash).
async fn lease_id_node(pool: &AnyPool) -> Result<u16, String> {
    let row =
        sqlx::query("UPDATE id_node_counter SET next_node = next_node + 1 RETURNING next_node")
            .fetch_one(pool)
            .await
            .map_err(|error| format!("cannot lease an id node number: {error}"))?;
    let next: i64 = row
        .try_get("next_node")
        .map_err(|error| format!("cannot lease an id node number: {error}"))?;
    Ok((next - 1).rem_euclid(1024) as u16)
}

fn user_from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    let state_number: i64 = row.try_get("state")?;
    let state = UserState::from_number(state_number)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown user state {state_number}").into()))?;
    let kind: String = row.try_get("kind")?;
    let kind = if kind == "machine" {
        UserKind::Machine {
            name: row
                .try_get::<Option<String>, _>("machine_name")?
                .unwrap_or_default(),
            description: row
                .try_get::<Option<String>, _>("machine_description")?
                .unwrap_or_default(),
        }
    } else {
        let phone: Option<String> = row.try_get("phone")?;
        UserKind::Human {
            profile: Profile {
                given_name: row
                    .try_get::<Option<String>, _>("given_name")?
                    .unwrap_or_default(),
                family_name: row
                    .try_get::<Option<String>, _>("family_name")?
                    .unwrap_or_default(),
                nick_name: row.try_get("nick_name")?,
                display_name: row.try_get("display_name")?,
                preferred_language: row.try_get("preferred_language")?,
                gender: row
                    .try_get::<Option<i64>, _>("gender")?
                    .map(|number| number as i32),
            },
            email: Email {
                address: row
                    .try_get::<Option<String>, _>("email")?
                    .unwrap_or_default(),
                is_verified: row.try_get::<i64, _>("email_verified")? != 0,
            },
            phone: match phone {
                Some(number) => Some(Phone {
                    number,
                    is_verified: row.try_get::<i64, _>("phone_verified")? != 0,
                }),
                None => None,
            },
        }
    };
    Ok(User {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        state,
        username: row.try_get("username")?,
        sequence: row.try_get::<i64, _>("sequence")? as u64,
        created_at: Timestamp(row.try_get("created_at")?),
        changed_at: Timestamp(row.try_get("changed_at")?),
        kind,
    })
}

fn message_from_row(row: &AnyRow) -> Result<StoredMessage, sqlx::Error> {
    Ok(StoredMessage {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        kind: row.try_get("kind")?,
        payload: row.try_get("payload")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
    })
}

/// Marks a message sent if `sent.lease_owner` still holds it; false otherwise.
async fn mark_message_sent(
    executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
    sent: &MessageSent,
    at: Timestamp,
) -> Result<bool> {
    let updated = sqlx::query(
        "UPDATE outbox SET state = 'sent', sent_at = $3, payload = $4, lease_owner = NULL, \
         lease_until = NULL, last_error = NULL \
         WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
    )
    .bind(&sent.message_id)
    .bind(&sent.lease_owner)
    .bind(at.0)
    .bind(&sent.scrubbed_payload)
    .execute(executor)
    .await
    .map_err(conflict_or_internal("STORE-Ms1up"))?;
    Ok(updated.rows_affected() == 1)
}

fn org_from_row(row: &AnyRow) -> Result<Org, sqlx::Error> {
    Ok(Org {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        domain: row.try_get("domain")?,
    })
}

async fn insert_user(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    new_user: &crate::service::ports::NewUser,
) -> Result<()> {
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
    .execute(&mut **transaction)
    .await;
    match inserted {
        Err(error) if is_unique_violation(&error) => {
            return Err(Error::already_exists("STORE-Uq7xk", "User already exists"));
        }
        Err(error) => return Err(Error::internal("STORE-In5rt", error)),
        Ok(_) => {}
    }
    for (key, value) in &new_user.metadata {
        sqlx::query("INSERT INTO user_metadata (user_id, key, value) VALUES ($1, $2, $3)")
            .bind(&user.id)
            .bind(key)
            .bind(value.clone())
            .execute(&mut **transaction)
            .await
            .map_err(internal("STORE-Md3qa"))?;
    }
    Ok(())
}

async fn insert_passkey_registration(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    created_at: Timestamp,
    registration: &NewPasskeyRegistration,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO passkey_registrations (id, user_id, rp_id, state, code_id, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&registration.id)
    .bind(user_id)
    .bind(&registration.rp_id)
    .bind(&registration.state)
    .bind(registration.code_id.clone())
    .bind(created_at.0)
    .bind(registration.expires_at.0)
    .execute(&mut **transaction)
    .await
    .map_err(conflict_or_internal("STORE-Pr2in"))?;
    Ok(())
}

/// Bumps the user's sequence and appends the change's event with the new number; returns it
/// and the user's organization. Bumping first serializes concurrent changes to one user:
/// PostgreSQL locks the row (a concurrent writer waits, then reads the bumped value), SQLite
/// holds its single write lock.
async fn append_event(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    change: &Change,
) -> Result<(i64, String)> {
    let payload = change.payload.to_string();
    let bumped = if transaction.backend_name() == "PostgreSQL" {
        // One statement instead of two: a round trip to the server saved per change.
        sqlx::query(
            "WITH bumped AS (UPDATE users SET sequence = sequence + 1, changed_at = $2 \
             WHERE id = $1 AND state <> 3 RETURNING sequence, org_id), \
             event AS (INSERT INTO events (user_id, sequence, event_type, payload, actor, created_at) \
             SELECT $1, sequence, $3, $4, $5, $2 FROM bumped) \
             SELECT sequence, org_id FROM bumped",
        )
        .bind(&change.user_id)
        .bind(change.at.0)
        .bind(change.event_type)
        .bind(&payload)
        .bind(&change.actor)
        .fetch_optional(&mut **transaction)
        .await
    } else {
        // Three statements in one call to SQLite's worker thread (numbered parameters are
        // shared): one hand-over instead of two. `changes()` is the row count of the previous
        // statement, so nothing is appended or returned when the user is gone; the writer
        // holds the write lock throughout.
        sqlx::query(
            "UPDATE users SET sequence = sequence + 1, changed_at = $2 \
             WHERE id = $1 AND state <> 3; \
             INSERT INTO events (user_id, sequence, event_type, payload, actor, created_at) \
             SELECT $1, sequence, $3, $4, $5, $2 FROM users \
             WHERE id = $1 AND state <> 3 AND changes() = 1; \
             SELECT sequence, org_id FROM users WHERE id = $1 AND changes() = 1",
        )
        .bind(&change.user_id)
        .bind(change.at.0)
        .bind(change.event_type)
        .bind(&payload)
        .bind(&change.actor)
        // Not fetch_optional: it stops after the first statement's result.
        .fetch_all(&mut **transaction)
        .await
        .map(|rows| rows.into_iter().next())
    };
    let bumped = match bumped {
        // Cannot happen while the bump serializes writers; written again if it ever does.
        Err(error) if is_unique_violation(&error) => {
            return Err(Error::aborted("STORE-Ev6cf", CONFLICT));
        }
        Err(error) => return Err(conflict_or_internal("STORE-Sq8vb")(error)),
        Ok(None) => return Err(Error::not_found("STORE-Nf2us", USER_NOT_FOUND)),
        Ok(Some(bumped)) => bumped,
    };
    let sequence: i64 = bumped
        .try_get("sequence")
        .map_err(internal("STORE-Sq9dc"))?;
    let org_id: String = bumped.try_get("org_id").map_err(internal("STORE-Or3dc"))?;
    Ok((sequence, org_id))
}

/// Writes one change inside an open transaction or savepoint: (the new user,) the sequence
/// bump, the event and the effects. Conflicts another writer can cause come back as `Aborted`,
/// which callers retry; nothing here commits.
pub(super) async fn apply_change(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    change: &Change,
) -> Result<Committed> {
    // The first statement writes, so that SQLite takes its write lock at once instead of
    // upgrading a read lock later (which fails under contention instead of waiting).
    for effect in &change.effects {
        if let Effect::InsertUser(new_user) = effect {
            insert_user(transaction, new_user).await?;
        }
    }
    let (sequence, org_id) = append_event(transaction, change).await?;
    for effect in &change.effects {
        match effect {
            Effect::InsertUser(_) => {}
            Effect::DeleteUser => {
                sqlx::query("UPDATE users SET state = 3 WHERE id = $1")
                    .bind(&change.user_id)
                    .execute(&mut **transaction)
                    .await
                    .map_err(conflict_or_internal("STORE-Dl6us"))?;
            }
            Effect::InsertPasskeyCode(code) => {
                sqlx::query(
                    "INSERT INTO passkey_codes (id, user_id, code_hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&code.id)
                .bind(&change.user_id)
                .bind(code.code_hash.clone())
                .bind(change.at.0)
                .bind(code.expires_at.0)
                .execute(&mut **transaction)
                .await
                .map_err(conflict_or_internal("STORE-Pc7in"))?;
            }
            Effect::EnqueueMessage(message) => {
                sqlx::query(
                    "INSERT INTO outbox (id, user_id, kind, payload, next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(&message.id)
                .bind(&change.user_id)
                .bind(message.kind)
                .bind(message.payload.clone())
                .bind(change.at.0)
                .execute(&mut **transaction)
                .await
                .map_err(conflict_or_internal("STORE-Ob2in"))?;
            }
            Effect::ConsumePasskeyCode { code_id } => {
                // The one conditional update that makes a code single-use: of two
                // concurrent redemptions only one changes the row.
                let consumed = sqlx::query(
                    "UPDATE passkey_codes SET used_at = $3 WHERE id = $1 AND user_id = $2 \
                     AND used_at IS NULL AND failures < 3 AND expires_at > $3",
                )
                .bind(code_id)
                .bind(&change.user_id)
                .bind(change.at.0)
                .execute(&mut **transaction)
                .await
                .map_err(conflict_or_internal("STORE-Pc8cs"))?;
                if consumed.rows_affected() != 1 {
                    return Err(Error::invalid_argument("COMMAND-Eeb2a", "Code is invalid"));
                }
            }
            Effect::RecordPasskeyCodeFailure { code_id } => {
                // Conditional like the consumption: racing guesses never count past the third
                // failure, and a code that died meanwhile gets no event.
                let counted = sqlx::query(
                    "UPDATE passkey_codes SET failures = failures + 1 \
                     WHERE id = $1 AND user_id = $2 AND used_at IS NULL AND failures < 3 \
                     AND expires_at > $3",
                )
                .bind(code_id)
                .bind(&change.user_id)
                .bind(change.at.0)
                .execute(&mut **transaction)
                .await
                .map_err(conflict_or_internal("STORE-Pc9fl"))?;
                if counted.rows_affected() != 1 {
                    return Err(Error::failed_precondition(
                        "STORE-Pc6lv",
                        "The code is no longer live",
                    ));
                }
            }
            Effect::InsertPasskeyRegistration(registration) => {
                // Expired registrations of the user are of no use any more.
                sqlx::query(
                    "DELETE FROM passkey_registrations WHERE user_id = $1 AND expires_at <= $2",
                )
                .bind(&change.user_id)
                .bind(change.at.0)
                .execute(&mut **transaction)
                .await
                .map_err(conflict_or_internal("STORE-Pr1gc"))?;
                insert_passkey_registration(transaction, &change.user_id, change.at, registration)
                    .await?;
            }
            Effect::ConsumePasskeyRegistration { passkey_id } => {
                // The one conditional delete that makes a registration single-use: of two
                // concurrent verifications only one removes the row; the other's change,
                // event and passkey included, is undone.
                let consumed = sqlx::query(
                    "DELETE FROM passkey_registrations WHERE id = $1 AND user_id = $2 \
                     AND expires_at > $3",
                )
                .bind(passkey_id)
                .bind(&change.user_id)
                .bind(change.at.0)
                .execute(&mut **transaction)
                .await
                .map_err(conflict_or_internal("STORE-Pr5cs"))?;
                if consumed.rows_affected() != 1 {
                    return Err(Error::not_found(
                        "COMMAND-Pk6cs",
                        "WebAuthN Token could not be found",
                    ));
                }
            }
            Effect::InsertPasskey(passkey) => {
                let inserted = sqlx::query(
                    "INSERT INTO passkeys (id, user_id, name, rp_id, credential_id, public_key, \
                     algorithm, sign_count, aaguid, transports, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&passkey.id)
                .bind(&change.user_id)
                .bind(&passkey.name)
                .bind(&passkey.rp_id)
                .bind(passkey.credential_id.clone())
                .bind(passkey.public_key.clone())
                .bind(i64::from(passkey.algorithm))
                .bind(i64::from(passkey.sign_count))
                .bind(passkey.aaguid.clone())
                .bind(passkey.transports.clone())
                .bind(change.at.0)
                .execute(&mut **transaction)
                .await;
                match inserted {
                    Err(error) if is_unique_violation(&error) => {
                        return Err(Error::already_exists(
                            "COMMAND-Pk3dp",
                            "The passkey is already registered",
                        ));
                    }
                    Err(error) => return Err(conflict_or_internal("STORE-Pk1in")(error)),
                    Ok(_) => {}
                }
            }
            Effect::RemovePasskey { passkey_id } => {
                let removed = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
                    .bind(passkey_id)
                    .bind(&change.user_id)
                    .execute(&mut **transaction)
                    .await
                    .map_err(conflict_or_internal("STORE-Pk2rm"))?;
                if removed.rows_affected() != 1 {
                    return Err(Error::not_found(
                        "COMMAND-Pk4nf",
                        "WebAuthN Token could not be found",
                    ));
                }
            }
            Effect::MarkMessageSent(sent) => {
                if !mark_message_sent(&mut **transaction, sent, change.at).await? {
                    // Not Aborted: the batch writer retries Aborted, and a lost lease stays lost.
                    return Err(Error::failed_precondition(
                        "STORE-Ms3ls",
                        "The message is no longer leased by this process",
                    ));
                }
            }
        }
    }
    Ok(Committed {
        sequence: sequence as u64,
        org_id,
        at: change.at,
    })
}

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(internal("STORE-Pg1nq"))?;
        Ok(())
    }

    async fn commit(&self, change: Change) -> Result<Committed> {
        let user_id = change.user_id.clone();
        let committed = self.group_commit.commit(change).await;
        // A change to a token owner (its deletion, say) takes effect at once in this process.
        self.token_owners.forget_user(&user_id);
        committed
    }

    async fn queue(&self, change: Change) -> Result<()> {
        let user_id = change.user_id.clone();
        self.group_commit.queue(change).await?;
        // Forgotten before the change is written: a token request in between reads the
        // owner as it is now, and may cache it for at most the cache's bound.
        self.token_owners.forget_user(&user_id);
        Ok(())
    }

    async fn get_user(&self, user_id: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Gu1sr"))?;
        row.map(|row| user_from_row(&row))
            .transpose()
            .map_err(internal("STORE-Gu2dc"))
    }

    async fn find_token_owner(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> Result<Option<TokenOwner>> {
        if let Some(owner) = self.token_owners.get(token_hash, now) {
            return Ok(Some(owner));
        }
        let owner = sqlx::query(
            "SELECT users.id, users.org_id, tokens.expires_at FROM personal_access_tokens AS tokens \
             JOIN users ON users.id = tokens.user_id \
             WHERE tokens.token_hash = $1 AND tokens.revoked_at IS NULL \
             AND (tokens.expires_at IS NULL OR tokens.expires_at > $2) AND users.state = 1",
        )
        .bind(token_hash.to_vec())
        .bind(now.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal("STORE-Tk1sr"))?;
        let Some(owner) = owner else {
            return Ok(None);
        };
        let user_id: String = owner.try_get("id").map_err(internal("STORE-Tk2dc"))?;
        let org_id: String = owner.try_get("org_id").map_err(internal("STORE-Tk3dc"))?;
        let token_expires_at: Option<i64> = owner
            .try_get("expires_at")
            .map_err(internal("STORE-Tk4dc"))?;
        let rows = sqlx::query("SELECT role, org_id FROM role_grants WHERE user_id = $1")
            .bind(&user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(internal("STORE-Rg1sr"))?;
        let mut grants = Vec::with_capacity(rows.len());
        for row in rows {
            let role: String = row.try_get("role").map_err(internal("STORE-Rg2dc"))?;
            let grant_org: String = row.try_get("org_id").map_err(internal("STORE-Rg3dc"))?;
            let role =
                Role::from_str(&role).map_err(|error| Error::internal("STORE-Rg4dc", error))?;
            grants.push(RoleGrant {
                role,
                org_id: (!grant_org.is_empty()).then_some(grant_org),
            });
        }
        let owner = TokenOwner {
            user_id,
            org_id,
            grants,
        };
        self.token_owners
            .insert(token_hash, owner.clone(), token_expires_at.map(Timestamp));
        Ok(Some(owner))
    }

    async fn get_org(&self, org_id: &str) -> Result<Option<Org>> {
        let row = sqlx::query("SELECT id, name, domain FROM orgs WHERE id = $1")
            .bind(org_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Og1sr"))?;
        row.map(|row| org_from_row(&row))
            .transpose()
            .map_err(internal("STORE-Og2dc"))
    }

    async fn find_org_by_domain(&self, domain: &str) -> Result<Option<Org>> {
        let row = sqlx::query("SELECT id, name, domain FROM orgs WHERE domain = $1")
            .bind(domain)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Od1sr"))?;
        row.map(|row| org_from_row(&row))
            .transpose()
            .map_err(internal("STORE-Od2dc"))
    }

    async fn list_orgs(&self) -> Result<Vec<Org>> {
        let rows = sqlx::query("SELECT id, name, domain FROM orgs ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(internal("STORE-Ol1sr"))?;
        rows.iter()
            .map(org_from_row)
            .collect::<Result<_, _>>()
            .map_err(internal("STORE-Ol2dc"))
    }

    async fn create_org(&self, org: &Org, at: Timestamp) -> Result<()> {
        let inserted =
            sqlx::query("INSERT INTO orgs (id, name, domain, created_at) VALUES ($1, $2, $3, $4)")
                .bind(&org.id)
                .bind(&org.name)
                .bind(&org.domain)
                .bind(at.0)
                .execute(&self.pool)
                .await;
        match inserted {
            Err(error) if is_unique_violation(&error) => Err(Error::already_exists(
                "STORE-Oq5ex",
                "Organization already exists",
            )),
            Err(error) => Err(Error::internal("STORE-Oc1in", error)),
            Ok(_) => Ok(()),
        }
    }

    async fn create_token(&self, token: NewToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO personal_access_tokens (id, user_id, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token.id)
        .bind(&token.user_id)
        .bind(token.token_hash)
        .bind(token.created_at.0)
        .bind(token.expires_at.map(|at| at.0))
        .execute(&self.pool)
        .await
        .map_err(internal("STORE-Tc1in"))?;
        Ok(())
    }

    async fn revoke_token(&self, token_id: &str, at: Timestamp) -> Result<()> {
        let revoked = sqlx::query(
            "UPDATE personal_access_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(token_id)
        .bind(at.0)
        .execute(&self.pool)
        .await
        .map_err(internal("STORE-Tr1up"))?;
        self.token_owners.clear();
        if revoked.rows_affected() == 1 {
            Ok(())
        } else {
            Err(Error::not_found("STORE-Tr2nf", "Token could not be found"))
        }
    }

    async fn grant_role(&self, user_id: &str, grant: &RoleGrant) -> Result<()> {
        self.token_owners.forget_user(user_id);
        let inserted =
            sqlx::query("INSERT INTO role_grants (user_id, role, org_id) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(grant.role.as_str())
                .bind(grant.org_id.clone().unwrap_or_default())
                .execute(&self.pool)
                .await;
        match inserted {
            Err(error) if is_unique_violation(&error) => Err(Error::already_exists(
                "STORE-Rq2ex",
                "The user already holds this role",
            )),
            Err(error) => Err(Error::internal("STORE-Rg5in", error)),
            Ok(_) => Ok(()),
        }
    }

    async fn list_events(&self, user_id: &str) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "SELECT sequence, event_type, payload, actor, created_at FROM events \
             WHERE user_id = $1 ORDER BY sequence",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(internal("STORE-El1sr"))?;
        rows.iter()
            .map(|row| {
                Ok(StoredEvent {
                    sequence: row.try_get::<i64, _>("sequence")? as u64,
                    event_type: row.try_get("event_type")?,
                    payload: row.try_get("payload")?,
                    actor: row.try_get("actor")?,
                    at: Timestamp(row.try_get("created_at")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(internal("STORE-El2dc"))
    }

    async fn list_messages(&self) -> Result<Vec<StoredMessage>> {
        let rows = sqlx::query(
            "SELECT id, user_id, kind, payload, state, attempts, last_error FROM outbox \
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(internal("STORE-Ml1sr"))?;
        rows.iter()
            .map(message_from_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(internal("STORE-Ml2dc"))
    }

    async fn get_passkey_code(&self, code_id: &str) -> Result<Option<StoredPasskeyCode>> {
        let row = sqlx::query(
            "SELECT id, user_id, code_hash, expires_at, failures, used_at FROM passkey_codes \
             WHERE id = $1",
        )
        .bind(code_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal("STORE-Pc1sr"))?;
        row.map(|row| {
            Ok(StoredPasskeyCode {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
                code_hash: row.try_get("code_hash")?,
                expires_at: Timestamp(row.try_get("expires_at")?),
                failures: row.try_get("failures")?,
                used: row.try_get::<Option<i64>, _>("used_at")?.is_some(),
            })
        })
        .transpose()
        .map_err(internal("STORE-Pc2dc"))
    }

    async fn get_passkey_registration(
        &self,
        passkey_id: &str,
        user_id: &str,
        now: Timestamp,
    ) -> Result<Option<PendingPasskeyRegistration>> {
        let row = sqlx::query(
            "SELECT id, user_id, rp_id, state, code_id, created_at, expires_at \
             FROM passkey_registrations WHERE id = $1 AND user_id = $2 AND expires_at > $3",
        )
        .bind(passkey_id)
        .bind(user_id)
        .bind(now.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal("STORE-Pr3sr"))?;
        row.map(|row| {
            Ok(PendingPasskeyRegistration {
                user_id: row.try_get("user_id")?,
                created_at: Timestamp(row.try_get("created_at")?),
                registration: NewPasskeyRegistration {
                    id: row.try_get("id")?,
                    rp_id: row.try_get("rp_id")?,
                    state: row.try_get("state")?,
                    code_id: row.try_get("code_id")?,
                    expires_at: Timestamp(row.try_get("expires_at")?),
                },
            })
        })
        .transpose()
        .map_err(internal("STORE-Pr4dc"))
    }

    async fn list_passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskeyInfo>> {
        let rows = sqlx::query(
            "SELECT id, name, credential_id, transports FROM passkeys WHERE user_id = $1 \
             ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(internal("STORE-Pk5sr"))?;
        rows.iter()
            .map(|row| {
                Ok(StoredPasskeyInfo {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    credential_id: row.try_get("credential_id")?,
                    transports: row.try_get("transports")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(internal("STORE-Pk6dc"))
    }

    async fn passkey_credential_exists(&self, credential_id: &[u8]) -> Result<bool> {
        let row = sqlx::query("SELECT id FROM passkeys WHERE credential_id = $1")
            .bind(credential_id.to_vec())
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Pk7sr"))?;
        Ok(row.is_some())
    }
    async fn claim_message(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<StoredMessage>> {
        // The outer WHERE repeats the conditions: PostgreSQL re-checks them on a row another
        // transaction changed meanwhile, so two claimers never both get it; SKIP LOCKED lets
        // them pass each other's candidates. SQLite runs one writer at a time.
        let sql = match self.backend {
            Backend::Postgres => {
                "UPDATE outbox SET lease_owner = $1, lease_until = $3, attempts = attempts + 1 \
                 WHERE id = (SELECT id FROM outbox WHERE state = 'pending' \
                   AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2) \
                   ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 AND state = 'pending' AND (lease_until IS NULL OR lease_until < $2) \
                 RETURNING id, user_id, kind, payload, state, attempts, last_error"
            }
            Backend::Sqlite => {
                "UPDATE outbox SET lease_owner = $1, lease_until = $3, attempts = attempts + 1 \
                 WHERE id = (SELECT id FROM outbox WHERE state = 'pending' \
                   AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $2) \
                   ORDER BY next_attempt_at, id LIMIT 1) \
                 AND state = 'pending' AND (lease_until IS NULL OR lease_until < $2) \
                 RETURNING id, user_id, kind, payload, state, attempts, last_error"
            }
        };
        let row = sqlx::query(sql)
            .bind(owner)
            .bind(now.0)
            .bind(lease_until.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Mc1up"))?;
        row.map(|row| message_from_row(&row))
            .transpose()
            .map_err(internal("STORE-Mc2dc"))
    }

    async fn record_message_failure(
        &self,
        failure: MessageFailure,
        now: Timestamp,
    ) -> Result<bool> {
        let (state, next_attempt_at) = match failure.retry_at {
            Some(at) => ("pending", at.0),
            None => ("dead", now.0),
        };
        let updated = sqlx::query(
            "UPDATE outbox SET state = $3, next_attempt_at = $4, last_error = $5, \
             lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
        )
        .bind(&failure.message_id)
        .bind(&failure.lease_owner)
        .bind(state)
        .bind(next_attempt_at)
        .bind(&failure.error)
        .execute(&self.pool)
        .await
        .map_err(internal("STORE-Mf1up"))?;
        Ok(updated.rows_affected() == 1)
    }

    async fn mark_message_sent_without_event(
        &self,
        sent: MessageSent,
        now: Timestamp,
    ) -> Result<bool> {
        mark_message_sent(&self.pool, &sent, now).await
    }

    async fn retry_message(&self, message_id: &str, now: Timestamp) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $2, \
             lease_owner = NULL, lease_until = NULL WHERE id = $1 AND state = 'dead'",
        )
        .bind(message_id)
        .bind(now.0)
        .execute(&self.pool)
        .await
        .map_err(internal("STORE-Mr1up"))?;
        if updated.rows_affected() == 1 {
            Ok(())
        } else {
            Err(Error::not_found(
                "STORE-Mr2nf",
                "No dead outbox message has this id",
            ))
        }
    }

    async fn list_passkey_code_hashes(&self, user_id: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let rows = sqlx::query(
            "SELECT id, code_hash FROM passkey_codes WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(internal("STORE-Pl1sr"))?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("code_hash")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(internal("STORE-Pl2dc"))
    }
}
