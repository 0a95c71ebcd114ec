//! Use cases that read and end sessions: GetSession, ListSessions and DeleteSession
//! (SESSIONS.md §6.3–§6.5), with who may see or end which session (§5).

use crate::domain::permission::{Caller, Permission};
use crate::domain::secret::hash_secret;
use crate::domain::session::Session;
use crate::domain::user::User;
use crate::error::{Error, Result};

use super::authentication::missing_authorization;
use super::ports::{SessionChange, SessionEffect, SessionFilter, SessionQuery, SessionVisibility};
use super::session_errors::{
    permission_denied, session_not_found, session_read_denied, session_token_invalid,
    session_token_malformed,
};
use super::sessions::SESSION_TOKEN_HASH_OWNER;
use super::{ChangeDetails, Services};

/// The most sessions one ListSessions answers; a larger (or no) limit is cut to it.
pub const MAX_LISTED_SESSIONS: u64 = 1000;

/// A session as answered, with the user it checked (for its login and display names).
#[derive(Clone, Debug)]
pub struct SessionView {
    /// The session.
    pub session: Session,
    /// The user the session checked, if it checked one and the user still exists.
    pub user: Option<User>,
}

/// One condition of a ListSessions request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListFilter {
    /// A condition as the store runs it.
    Plain(SessionFilter),
    /// Sessions created by a user (by default the caller).
    Creator(OwnFilter),
    /// Sessions of a user agent fingerprint (by default the caller's token's agent).
    UserAgent(OwnFilter),
}

/// What ListSessions asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListSessions {
    /// The conditions, all of which must hold.
    pub filters: Vec<ListFilter>,
    /// Order by creation date instead of by id.
    pub by_creation_date: bool,
    /// Oldest (or lowest id) first when set.
    pub ascending: bool,
    /// How many matching sessions to skip.
    pub offset: u64,
    /// How many sessions to return at most; 0 means `MAX_LISTED_SESSIONS`.
    pub limit: u64,
}

/// A page of ListSessions.
#[derive(Clone, Debug)]
pub struct SessionList {
    /// How many sessions match, before offset and limit.
    pub total: u64,
    /// The sessions of this page.
    pub sessions: Vec<SessionView>,
    /// When the list was read.
    pub at: crate::domain::time::Timestamp,
}

/// How a filter on the caller's own creator or agent id is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnFilter {
    /// The given id.
    Given(String),
    /// The caller's own.
    Own,
}

impl Services {
    /// Reads a session: with its current token (no bearer needed), or as a caller who may see
    /// it. Expired sessions are answered (clients compare `expiration_date`); terminated ones,
    /// and those of users who may no longer open one, are not found.
    pub async fn get_session(
        &self,
        caller: Option<&Caller>,
        session_id: &str,
        session_token: Option<&str>,
    ) -> Result<SessionView> {
        let token = session_token.filter(|token| !token.is_empty());
        if token.is_none() && caller.is_none() {
            return Err(missing_authorization());
        }
        let view = self
            .visible_session(session_id)
            .await?
            .ok_or_else(session_not_found)?;
        match (token, caller) {
            (Some(token), _) => {
                let presented = hash_secret(SESSION_TOKEN_HASH_OWNER, token);
                if !self
                    .store
                    .session_token_matches(session_id, &presented)
                    .await?
                {
                    return Err(session_read_denied());
                }
            }
            (None, Some(caller)) if may_read(caller, &view.session) => {}
            (None, _) => return Err(permission_denied()),
        }
        Ok(view)
    }

    /// Lists the sessions the caller may see among those the filters select; the total counts
    /// only those too (§8 #10).
    pub async fn list_sessions(&self, caller: &Caller, list: ListSessions) -> Result<SessionList> {
        if caller.session_id.is_some() {
            return Err(permission_denied());
        }
        let visibility = SessionVisibility {
            all: caller.has_instance_permission(Permission::SessionRead),
            user_orgs: caller
                .grants
                .iter()
                .filter_map(|grant| grant.org_id.clone())
                .filter(|org| caller.has_permission(Permission::SessionRead, org))
                .collect(),
            own_user_id: Some(caller.user_id.clone()),
        };
        let limit = match list.limit {
            0 => MAX_LISTED_SESSIONS,
            limit => limit.min(MAX_LISTED_SESSIONS),
        };
        let filters = list
            .filters
            .into_iter()
            .map(|filter| {
                Ok(match filter {
                    ListFilter::Plain(filter) => filter,
                    ListFilter::Creator(given) => SessionFilter::CreatorId(own_filter(
                        given,
                        Some(&caller.user_id),
                        "GRPC-x8n24uh",
                    )?),
                    // Personal access tokens carry no user agent, so the caller has none.
                    ListFilter::UserAgent(given) => {
                        SessionFilter::FingerprintId(own_filter(given, None, "GRPC-x8n23uh")?)
                    }
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let at = self.now();
        let page = self
            .store
            .list_sessions(&SessionQuery {
                filters,
                visibility,
                by_creation_date: list.by_creation_date,
                ascending: list.ascending,
                offset: list.offset,
                limit,
            })
            .await?;
        let mut sessions = Vec::with_capacity(page.sessions.len());
        let mut users: std::collections::HashMap<String, Option<User>> = Default::default();
        for session in page.sessions {
            let user = match &session.user {
                Some(checked) => match users.get(&checked.id) {
                    Some(user) => user.clone(),
                    None => {
                        let user = self.store.get_user(&checked.id).await?;
                        users.insert(checked.id.clone(), user.clone());
                        user
                    }
                },
                None => None,
            };
            sessions.push(SessionView { session, user });
        }
        Ok(SessionList {
            total: page.total,
            sessions,
            at,
        })
    }

    /// Terminates a session: with its current token, or as its user, or with
    /// `session.delete`. An unknown or already terminated session is fine (idempotent): the
    /// answer then carries no change (`None`).
    pub async fn delete_session(
        &self,
        caller: Option<&Caller>,
        session_id: &str,
        session_token: Option<&str>,
    ) -> Result<Option<ChangeDetails>> {
        let token = session_token.filter(|token| !token.is_empty());
        let session = self.store.get_session(session_id).await?;
        match (token, caller) {
            (Some(token), _) => {
                if !is_base64url(token) {
                    return Err(session_token_malformed());
                }
                let presented = hash_secret(SESSION_TOKEN_HASH_OWNER, token);
                let matches = session.is_some()
                    && self
                        .store
                        .session_token_matches(session_id, &presented)
                        .await?;
                if !matches {
                    return Err(session_token_invalid());
                }
            }
            (None, None) => return Err(missing_authorization()),
            (None, Some(caller)) => {
                let allowed = match &session {
                    Some(session) => may_delete(caller, session),
                    None => {
                        caller.session_id.is_none()
                            && caller.has_permission_anywhere(Permission::SessionDelete)
                    }
                };
                if !allowed {
                    return Err(permission_denied());
                }
            }
        }
        let Some(session) = session.filter(|session| session.terminated_at.is_none()) else {
            return Ok(None);
        };
        let now = self.now();
        let committed = self
            .commit_session(SessionChange {
                session_id: session.id.clone(),
                event_type: crate::domain::events::SESSION_TERMINATED,
                payload: serde_json::json!({}),
                actor: caller
                    .map(|caller| caller.user_id.clone())
                    .unwrap_or_default(),
                at: now,
                new_token_hash: None,
                expected_token_hash: None,
                effects: vec![SessionEffect::Terminate],
            })
            .await;
        match committed {
            Ok(committed) => {
                tracing::info!(session.id = %session.id, "session terminated");
                Ok(Some(self.session_details(committed.sequence, now).await?))
            }
            // Terminated meanwhile by another request: the outcome the caller asked for.
            Err(error) if error.id() == "COMMAND-Hewfq" => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// A session that reads may show: not terminated, and its user (if any) still able to
    /// open sessions.
    async fn visible_session(&self, session_id: &str) -> Result<Option<SessionView>> {
        let Some(session) = self.store.get_session(session_id).await? else {
            return Ok(None);
        };
        if session.terminated_at.is_some() {
            return Ok(None);
        }
        let user = match &session.user {
            Some(checked) => match self.store.get_user(&checked.id).await? {
                Some(user) if user.may_open_session() => Some(user),
                _ => return Ok(None),
            },
            None => None,
        };
        Ok(Some(SessionView { session, user }))
    }

    /// The caller a session token authenticates as (§11.6): the user of a live session whose
    /// passkey check verified the user, with no grants; `None` for any other token.
    pub(super) async fn session_caller(
        &self,
        token: &str,
        org_hint: Option<String>,
    ) -> Result<Option<Caller>> {
        let presented = hash_secret(SESSION_TOKEN_HASH_OWNER, token);
        let Some(session) = self.store.session_by_token(&presented).await? else {
            return Ok(None);
        };
        let Some(checked) = session.signed_in_user(self.now()) else {
            return Ok(None);
        };
        let Some(user) = self
            .store
            .get_user(&checked.id)
            .await?
            .filter(User::may_open_session)
        else {
            return Ok(None);
        };
        Ok(Some(Caller {
            user_id: user.id,
            org_id: user.org_id,
            grants: Vec::new(),
            org_hint,
            session_id: Some(session.id),
        }))
    }
}

/// Whether `caller` may read `session` without its token: its own session (for a session
/// token), else its creator, its user, or `session.read` on its user's org (the instance
/// when it has none).
fn may_read(caller: &Caller, session: &Session) -> bool {
    if let Some(own) = &caller.session_id {
        return own == &session.id;
    }
    let user = session.user.as_ref();
    session.creator_id == caller.user_id
        || user.is_some_and(|user| user.id == caller.user_id)
        || match user {
            Some(user) => caller.has_permission(Permission::SessionRead, &user.org_id),
            None => caller.has_instance_permission(Permission::SessionRead),
        }
}

/// Whether `caller` may terminate `session` without its token: its own session (for a
/// session token), else its user, or `session.delete` on its user's org (the instance when
/// it has none). The creator alone may not (§5).
fn may_delete(caller: &Caller, session: &Session) -> bool {
    if let Some(own) = &caller.session_id {
        return own == &session.id;
    }
    let user = session.user.as_ref();
    user.is_some_and(|user| user.id == caller.user_id)
        || match user {
            Some(user) => caller.has_permission(Permission::SessionDelete, &user.org_id),
            None => caller.has_instance_permission(Permission::SessionDelete),
        }
}

/// Whether a token is base64url text (padded or not).
fn is_base64url(token: &str) -> bool {
    token
        .trim_end_matches('=')
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// ListSessions' filters that default to the caller: a creator or user agent query without
/// an id uses the caller's; an empty id is refused (§6.4).
fn own_filter(
    filter: OwnFilter,
    caller_value: Option<&str>,
    error_id: &'static str,
) -> Result<String> {
    let value = match filter {
        OwnFilter::Given(value) => Some(value),
        OwnFilter::Own => caller_value.map(str::to_owned),
    };
    value
        .filter(|value| !value.is_empty())
        .ok_or_else(|| Error::invalid_argument(error_id, "List.Query.Invalid"))
}
