//! The one place that says what a database error means to the store (a unique violation, a
//! conflict with another writer, or a failure), and the errors and refusals each turns into.

use crate::error::Error;
use crate::service::ports::{Outcome, Rejection};

/// What a database error means to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DatabaseFailure {
    /// A primary key or unique index refused the row: the state the write met refuses it.
    UniqueViolation,
    /// Another writer got in the way, so that trying again can succeed: PostgreSQL's
    /// serialization failure (40001) and deadlock (40P01); SQLite's busy (5, and 517 busy
    /// snapshot) and locked (6, and 262 locked shared cache).
    Conflict,
    /// Anything else: the store failed.
    Other,
}

impl DatabaseFailure {
    /// Classifies a database error.
    pub(super) fn of(error: &sqlx::Error) -> DatabaseFailure {
        let sqlx::Error::Database(database_error) = error else {
            return DatabaseFailure::Other;
        };
        if database_error.is_unique_violation() {
            return DatabaseFailure::UniqueViolation;
        }
        match database_error.code().as_deref() {
            Some("40001" | "40P01" | "5" | "6" | "517" | "262") => DatabaseFailure::Conflict,
            _ => DatabaseFailure::Other,
        }
    }
}

/// The text of a conflict; the group commit writes a change that met one again.
const CONFLICT: &str = "The change met a concurrent change; try again";

/// `Aborted` under `id`: the write met a concurrent one and may be tried again.
pub(super) fn conflict(id: &'static str) -> Error {
    Error::aborted(id, CONFLICT)
}

/// Maps any database error to an internal error under `id`.
pub(super) fn internal(id: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |cause| Error::internal(id, cause)
}

/// Maps a database error to `Aborted` when it is a conflict, to an internal error otherwise,
/// both under `id`.
pub(super) fn conflict_or_internal(id: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |cause| match DatabaseFailure::of(&cause) {
        DatabaseFailure::Conflict => conflict(id),
        DatabaseFailure::UniqueViolation | DatabaseFailure::Other => Error::internal(id, cause),
    }
}

/// The outcome of an insert that a unique constraint may refuse: a unique violation is the
/// store's `rejection`, any other error is mapped by `failed`.
pub(super) fn refused_when_unique<T>(
    inserted: Result<T, sqlx::Error>,
    rejection: Rejection,
    failed: impl FnOnce(sqlx::Error) -> Error,
) -> crate::error::Result<Outcome<()>> {
    match inserted {
        Ok(_) => Ok(Ok(())),
        Err(error) if DatabaseFailure::of(&error) == DatabaseFailure::UniqueViolation => {
            Ok(Err(rejection))
        }
        Err(error) => Err(failed(error)),
    }
}
