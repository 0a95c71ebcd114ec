//! Storage with sqlx: one implementation of `service::ports::Store` that runs the same SQL on
//! SQLite (the embedded default) and PostgreSQL, with a migration set per backend.

mod sql;

pub use sql::{Backend, SqlStore, sqlite_url_in};
