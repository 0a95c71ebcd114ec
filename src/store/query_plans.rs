//! The SQL of every query passlink runs by key, on the request path and in its background work
//! (outbox, retention), taken from the constants the store runs, for `tests/query_plans.rs`:
//! it asks each backend for each one's plan and fails on a full table scan. Not an API.
//! Statements that only insert rows are left out (they scan nothing); so is listing all
//! organizations (an operator command, a scan by nature).

use crate::service::ports::Disposable;

use super::Backend;

/// Every planned query of `backend`: a name for failure messages and one SQL statement (the
/// SQLite event append, three statements run as one, comes split).
pub fn planned_queries(backend: Backend) -> Vec<(&'static str, String)> {
    let mut queries: Vec<(&'static str, String)> = vec![
        ("get_user", super::users::GET_USER.into()),
        ("find_token_owner", super::tokens::FIND_TOKEN_OWNER.into()),
        ("list_role_grants", super::tokens::LIST_ROLE_GRANTS.into()),
        ("get_org", super::orgs::GET_ORG.into()),
        ("find_org_by_domain", super::orgs::FIND_ORG_BY_DOMAIN.into()),
        ("list_events", super::changes::LIST_EVENTS.into()),
        ("get_passkey_code", super::passkeys::GET_PASSKEY_CODE.into()),
        (
            "list_passkey_code_hashes",
            super::passkeys::LIST_PASSKEY_CODE_HASHES.into(),
        ),
        (
            "get_passkey_registration",
            super::passkeys::GET_PASSKEY_REGISTRATION.into(),
        ),
        ("list_passkeys", super::passkeys::LIST_PASSKEYS.into()),
        (
            "passkey_credential_exists",
            super::passkeys::PASSKEY_CREDENTIAL_EXISTS.into(),
        ),
        ("delete_user", super::write::DELETE_USER.into()),
        ("remove_passkey", super::write::REMOVE_PASSKEY.into()),
        (
            "consume_passkey_code",
            super::write::CONSUME_PASSKEY_CODE.into(),
        ),
        (
            "count_passkey_code_failure",
            super::write::COUNT_PASSKEY_CODE_FAILURE.into(),
        ),
        (
            "delete_expired_registrations",
            super::write::DELETE_EXPIRED_REGISTRATIONS.into(),
        ),
        (
            "consume_passkey_registration",
            super::write::CONSUME_PASSKEY_REGISTRATION.into(),
        ),
        ("mark_message_sent", super::write::MARK_MESSAGE_SENT.into()),
        ("user_in_state", super::write::USER_IN_STATE.into()),
        ("take_lease", super::retention::TAKE_LEASE.into()),
        (
            "find_user_by_login_name",
            super::users::FIND_USER_BY_LOGIN_NAME.into(),
        ),
        ("get_session", super::sessions::get_session_sql()),
        ("session_by_token", super::sessions::session_by_token_sql()),
        (
            "session_token_matches",
            super::sessions::SESSION_TOKEN_MATCHES.into(),
        ),
        (
            "pending_challenges",
            super::sessions::PENDING_CHALLENGES.into(),
        ),
        (
            "record_challenge_failure",
            super::sessions::RECORD_CHALLENGE_FAILURE.into(),
        ),
        ("sign_in_key", super::sessions::SIGN_IN_KEY.into()),
        (
            "terminate_user_sessions",
            super::write::TERMINATE_USER_SESSIONS.into(),
        ),
        (
            "delete_user_session_challenges",
            super::write::DELETE_USER_SESSION_CHALLENGES.into(),
        ),
    ];
    for rows in [
        Disposable::PasskeyCodes,
        Disposable::PasskeyRegistrations,
        Disposable::SentMessages,
        Disposable::DeadMessages,
        Disposable::Sessions,
        Disposable::UncheckedPublicSessions,
    ] {
        queries.push((rows.name(), super::retention::delete_statement(rows).into()));
    }
    match backend {
        Backend::Postgres => {
            queries.push(("append_event", super::write::APPEND_EVENT_POSTGRES.into()));
            queries.push((
                "claim_message",
                super::outbox::CLAIM_MESSAGE_POSTGRES.into(),
            ));
        }
        Backend::Sqlite => {
            for statement in super::write::APPEND_EVENT_SQLITE.split(';') {
                queries.push(("append_event", statement.trim().to_owned()));
            }
            queries.push(("claim_message", super::outbox::CLAIM_MESSAGE_SQLITE.into()));
        }
    }
    queries
}
