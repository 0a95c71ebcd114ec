//! Storage with sqlx: one implementation of `service::ports::Store` that runs the same SQL on
//! SQLite (the embedded default) and PostgreSQL, with a migration set per backend.

mod group_commit;
mod sql;
mod token_cache;

pub use sql::{Backend, SqlStore, sqlite_url_in};
pub use token_cache::TOKEN_CACHE_TTL;
