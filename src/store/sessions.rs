//! `SessionStore` on `SqlStore`: sessions read from the pool (with their metadata), their
//! pending challenges, ListSessions as one filtered query, and the instance id. Session
//! changes go to the group commit like users' changes (`write_sessions`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::any::AnyArguments;
use sqlx::{Any, AssertSqlSafe};

use crate::domain::session::Session;
use crate::domain::time::Timestamp;
use crate::error::Result;
use crate::service::ports::{
    Committed, Outcome, PendingChallenge, SessionChange, SessionFilter, SessionPage, SessionQuery,
    SessionStore, StoredSignInKey, TimeComparison,
};

use super::SqlStore;
use super::errors::internal;
use super::group_commit::Write;
use super::session_rows::{ChallengeRow, MetadataRow, SESSION_COLUMNS, SessionRow, SignInKeyRow};

/// A session by id (`$1`).
pub(super) fn get_session_sql() -> String {
    format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = $1")
}

/// The session holding a token hash (`$1`).
pub(super) fn session_by_token_sql() -> String {
    format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.token_hash = $1")
}

pub(super) const SESSION_TOKEN_MATCHES: &str =
    "SELECT id FROM sessions WHERE id = $1 AND token_hash = $2";

pub(super) const PENDING_CHALLENGES: &str = "SELECT id, rp_id, state FROM session_challenges \
     WHERE session_id = $1 AND expires_at > $2 AND failures < $3 ORDER BY created_at, id";

pub(super) const RECORD_CHALLENGE_FAILURE: &str = "UPDATE session_challenges \
     SET failures = failures + 1 WHERE session_id = $1 AND expires_at > $2 AND failures < $3";

pub(super) const SIGN_IN_KEY: &str = "SELECT id, user_id, rp_id, credential_id, public_key, \
     algorithm, sign_count FROM passkeys WHERE credential_id = $1";

#[async_trait]
impl SessionStore for SqlStore {
    async fn commit_session(&self, change: SessionChange) -> Result<Outcome<Committed>> {
        self.group_commit.write(Write::Session(change)).await
    }

    async fn get_session(&self, session_id: &str) -> Result<Option<Session>> {
        let row = sqlx::query_as::<_, SessionRow>(AssertSqlSafe(get_session_sql()))
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Se1sr"))?;
        self.with_metadata(row).await
    }

    async fn session_by_token(&self, token_hash: &[u8]) -> Result<Option<Session>> {
        let row = sqlx::query_as::<_, SessionRow>(AssertSqlSafe(session_by_token_sql()))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Se2sr"))?;
        self.with_metadata(row).await
    }

    async fn session_token_matches(&self, session_id: &str, token_hash: &[u8]) -> Result<bool> {
        let row = sqlx::query(SESSION_TOKEN_MATCHES)
            .bind(session_id)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Se3sr"))?;
        Ok(row.is_some())
    }

    async fn pending_challenges(
        &self,
        session_id: &str,
        now: Timestamp,
        failure_limit: i64,
    ) -> Result<Vec<PendingChallenge>> {
        let rows = sqlx::query_as::<_, ChallengeRow>(PENDING_CHALLENGES)
            .bind(session_id)
            .bind(now.0)
            .bind(failure_limit)
            .fetch_all(&self.pool)
            .await
            .map_err(internal("STORE-Sc1sr"))?;
        Ok(rows.into_iter().map(PendingChallenge::from).collect())
    }

    async fn record_challenge_failure(
        &self,
        session_id: &str,
        now: Timestamp,
        failure_limit: i64,
    ) -> Result<()> {
        sqlx::query(RECORD_CHALLENGE_FAILURE)
            .bind(session_id)
            .bind(now.0)
            .bind(failure_limit)
            .execute(&self.pool)
            .await
            .map_err(internal("STORE-Sc2up"))?;
        Ok(())
    }

    async fn list_sessions(&self, query: &SessionQuery) -> Result<SessionPage> {
        let mut count = Sql::new("SELECT COUNT(*) FROM sessions s");
        push_conditions(&mut count, query);
        let total: i64 = count
            .bind_to(sqlx::query_scalar(AssertSqlSafe(count.text.clone())))
            .fetch_one(&self.pool)
            .await
            .map_err(internal("STORE-Sl1ct"))?;
        let mut select = Sql::new(&format!("SELECT {SESSION_COLUMNS} FROM sessions s"));
        push_conditions(&mut select, query);
        select.push(match (query.by_creation_date, query.ascending) {
            (true, true) => " ORDER BY s.created_at ASC, s.id ASC",
            (true, false) => " ORDER BY s.created_at DESC, s.id DESC",
            (false, _) => " ORDER BY s.id ASC",
        });
        select.push(" LIMIT ");
        select.push_bind(Value::Int(query.limit.min(i64::MAX as u64) as i64));
        select.push(" OFFSET ");
        select.push_bind(Value::Int(query.offset.min(i64::MAX as u64) as i64));
        let rows: Vec<SessionRow> = select
            .bind_to(sqlx::query_as(AssertSqlSafe(select.text.clone())))
            .fetch_all(&self.pool)
            .await
            .map_err(internal("STORE-Sl2sr"))?;
        let mut metadata = self.metadata_of(rows.iter().map(SessionRow::id)).await?;
        let sessions = rows
            .into_iter()
            .map(|row| {
                let entries = metadata.remove(row.id()).unwrap_or_default();
                row.into_session(entries)
            })
            .collect();
        Ok(SessionPage {
            total: total.max(0) as u64,
            sessions,
        })
    }

    async fn sign_in_key(&self, credential_id: &[u8]) -> Result<Option<StoredSignInKey>> {
        let row = sqlx::query_as::<_, SignInKeyRow>(SIGN_IN_KEY)
            .bind(credential_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal("STORE-Sk1sr"))?;
        Ok(row.map(StoredSignInKey::from))
    }

    async fn instance_id(&self, candidate: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO instance (singleton, id) VALUES (1, $1) ON CONFLICT (singleton) DO NOTHING",
        )
        .bind(candidate)
        .execute(&self.pool)
        .await
        .map_err(internal("STORE-In1up"))?;
        sqlx::query_scalar("SELECT id FROM instance WHERE singleton = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(internal("STORE-In2sr"))
    }
}

impl SqlStore {
    /// A session row with its metadata, as a session.
    async fn with_metadata(&self, row: Option<SessionRow>) -> Result<Option<Session>> {
        let Some(row) = row else {
            return Ok(None);
        };
        let mut metadata = self.metadata_of(std::iter::once(row.id())).await?;
        let entries = metadata.remove(row.id()).unwrap_or_default();
        Ok(Some(row.into_session(entries)))
    }

    /// The metadata of some sessions, by session id.
    async fn metadata_of<'id>(
        &self,
        session_ids: impl Iterator<Item = &'id str>,
    ) -> Result<BTreeMap<String, BTreeMap<String, Vec<u8>>>> {
        let mut select =
            Sql::new("SELECT session_id, key, value FROM session_metadata WHERE session_id IN (");
        let ids: Vec<Value> = session_ids.map(|id| Value::Text(id.to_owned())).collect();
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        select.push_list(ids);
        select.push(")");
        let rows: Vec<MetadataRow> = select
            .bind_to(sqlx::query_as(AssertSqlSafe(select.text.clone())))
            .fetch_all(&self.pool)
            .await
            .map_err(internal("STORE-Sm1sr"))?;
        let mut metadata: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
        for row in rows {
            metadata
                .entry(row.session_id)
                .or_default()
                .insert(row.key, row.value);
        }
        Ok(metadata)
    }
}

/// The WHERE clause of a ListSessions query: live sessions (not terminated, their user able
/// to open sessions), visible to the caller, matching every filter.
fn push_conditions(builder: &mut Sql, query: &SessionQuery) {
    builder.push(
        " WHERE s.terminated_at IS NULL AND (s.user_id IS NULL OR EXISTS \
         (SELECT 1 FROM users u WHERE u.id = s.user_id AND u.state IN (1, 5)))",
    );
    let visibility = &query.visibility;
    if !visibility.all {
        builder.push(" AND (1 = 0");
        if let Some(own) = &visibility.own_user_id {
            builder.push(" OR s.creator_id = ");
            builder.push_bind(Value::Text(own.clone()));
            builder.push(" OR s.user_id = ");
            builder.push_bind(Value::Text(own.clone()));
        }
        for org in &visibility.user_orgs {
            builder.push(" OR s.user_org_id = ");
            builder.push_bind(Value::Text(org.clone()));
        }
        builder.push(")");
    }
    for filter in &query.filters {
        match filter {
            SessionFilter::Ids(ids) if ids.is_empty() => {
                builder.push(" AND 1 = 0");
            }
            SessionFilter::Ids(ids) => {
                builder.push(" AND s.id IN (");
                builder.push_list(ids.iter().cloned().map(Value::Text).collect());
                builder.push(")");
            }
            SessionFilter::UserId(user_id) => {
                builder.push(" AND s.user_id = ");
                builder.push_bind(Value::Text(user_id.clone()));
            }
            SessionFilter::CreatedAt(comparison, at) => {
                builder.push(&format!(" AND s.created_at {} ", operator(*comparison)));
                builder.push_bind(Value::Int(at.0));
            }
            SessionFilter::ExpiresAt(comparison, at) => {
                let open_ended = matches!(
                    comparison,
                    TimeComparison::Greater | TimeComparison::GreaterOrEquals
                );
                builder.push(if open_ended {
                    " AND (s.expires_at IS NULL OR s.expires_at "
                } else {
                    " AND (s.expires_at "
                });
                builder.push(operator(*comparison));
                builder.push(" ");
                builder.push_bind(Value::Int(at.0));
                builder.push(")");
            }
            SessionFilter::CreatorId(creator) => {
                builder.push(" AND s.creator_id = ");
                builder.push_bind(Value::Text(creator.clone()));
            }
            SessionFilter::FingerprintId(fingerprint) => {
                builder.push(" AND s.fingerprint_id = ");
                builder.push_bind(Value::Text(fingerprint.clone()));
            }
        }
    }
}

fn operator(comparison: TimeComparison) -> &'static str {
    match comparison {
        TimeComparison::Equals => "=",
        TimeComparison::Greater => ">",
        TimeComparison::GreaterOrEquals => ">=",
        TimeComparison::Less => "<",
        TimeComparison::LessOrEquals => "<=",
    }
}

/// A value bound to a statement built at run time.
enum Value {
    Text(String),
    Int(i64),
}

/// A statement built at run time with numbered parameters (`$1`, `$2`, …), which both
/// backends read (sqlx's `QueryBuilder` writes `?` for the `Any` driver, which PostgreSQL
/// does not). Only fixed SQL text is pushed; every value is bound.
struct Sql {
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(text: &str) -> Sql {
        Sql {
            text: text.to_owned(),
            values: Vec::new(),
        }
    }

    fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn push_bind(&mut self, value: Value) {
        self.values.push(value);
        self.text.push_str(&format!("${}", self.values.len()));
    }

    /// Values separated by commas.
    fn push_list(&mut self, values: Vec<Value>) {
        for (index, value) in values.into_iter().enumerate() {
            if index > 0 {
                self.push(", ");
            }
            self.push_bind(value);
        }
    }

    /// Binds the values to a query made from `self.text`.
    fn bind_to<'values, Q: Bindable<'values>>(&'values self, mut query: Q) -> Q {
        for value in &self.values {
            query = match value {
                Value::Text(text) => query.bind_text(text),
                Value::Int(number) => query.bind_int(*number),
            };
        }
        query
    }
}

/// The query types a `Sql` binds its values to.
trait Bindable<'values>: Sized {
    fn bind_text(self, text: &'values str) -> Self;
    fn bind_int(self, number: i64) -> Self;
}

impl<'values, O> Bindable<'values> for sqlx::query::QueryScalar<'values, Any, O, AnyArguments> {
    fn bind_text(self, text: &'values str) -> Self {
        self.bind(text)
    }
    fn bind_int(self, number: i64) -> Self {
        self.bind(number)
    }
}

impl<'values, O> Bindable<'values> for sqlx::query::QueryAs<'values, Any, O, AnyArguments> {
    fn bind_text(self, text: &'values str) -> Self {
        self.bind(text)
    }
    fn bind_int(self, number: i64) -> Self {
        self.bind(number)
    }
}
