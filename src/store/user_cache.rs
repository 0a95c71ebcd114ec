//! A bounded cache of users read to build a change (`UserStore::get_user_to_change`), so that
//! a create-link request costs no read on the hot path.
//!
//! Safe because such a caller's change is checked again when it commits: the write path
//! bumps the user's sequence only if the user exists and is not deleted, in the same
//! transaction (`write`, `write_set`), so a user deleted meanwhile, here or in another process
//! sharing the database, refuses the change with `UserNotFound`. Deletion is the only change
//! to a user that can make a cached copy wrong for such a caller: the fields a change is built
//! from (organization, kind, email, profile) are never changed. A deletion committed through
//! this process forgets the user at once; every entry is dropped after `USER_CACHE_TTL` all
//! the same, and unknown users are never cached, so a new user is found at once everywhere.

use std::time::{Duration, Instant};

use crate::domain::user::{User, UserState};

/// How long a cached user is used without reading it again.
pub(super) const USER_CACHE_TTL: Duration = Duration::from_secs(10);

/// The most users kept (a user is a few hundred bytes: some megabytes at most).
const CAPACITY: usize = 20_000;

/// User id → the user as read, and when.
pub(crate) struct UserCache {
    entries: quick_cache::sync::Cache<String, (User, Instant)>,
}

impl Default for UserCache {
    fn default() -> UserCache {
        UserCache {
            entries: quick_cache::sync::Cache::new(CAPACITY),
        }
    }
}

impl UserCache {
    /// The cached user, if read less than `USER_CACHE_TTL` ago.
    pub(super) fn get(&self, user_id: &str) -> Option<User> {
        let (user, read_at) = self.entries.get(user_id)?;
        (read_at.elapsed() < USER_CACHE_TTL).then_some(user)
    }

    /// Remembers a user just read, unless it is deleted (a deleted user is never changed).
    pub(super) fn insert(&self, user: &User) {
        if user.state != UserState::Deleted {
            self.entries
                .insert(user.id.clone(), (user.clone(), Instant::now()));
        }
    }

    /// Forgets a user whose change may have made its cached copy wrong.
    pub(super) fn forget(&self, user_id: &str) {
        self.entries.remove(user_id);
    }
}

#[cfg(test)]
mod tests {

    use crate::domain::user::UserState;
    use crate::service::ports::{ChangeStore, Effect, PasskeyStore, Rejection, UserStore};
    use crate::store::SqlStore;
    use crate::store::tests::{change, code, machine_user, store_with_org};

    /// Two processes on one database: `here` with alice cached, `there` to change her.
    async fn two_processes_with_alice_cached_here(url: &str) -> (SqlStore, SqlStore) {
        let here = store_with_org(url).await;
        let there = SqlStore::connect(url).await.unwrap();
        here.commit(change("alice", vec![machine_user("alice")]))
            .await
            .unwrap()
            .unwrap();
        let alice = here.get_user_to_change("alice").await.unwrap().unwrap();
        assert_eq!(alice.state, UserState::Active);
        (here, there)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_to_a_cached_user_deleted_elsewhere_is_refused_at_commit() {
        let directory = tempfile::tempdir().unwrap();
        let url = crate::store::sqlite_url_in(directory.path());
        let (here, there) = two_processes_with_alice_cached_here(&url).await;
        there
            .commit(change("alice", vec![Effect::DeleteUser]))
            .await
            .unwrap()
            .unwrap();
        // The copy here is stale (that is what the cache allows) ...
        let cached = here.get_user_to_change("alice").await.unwrap().unwrap();
        assert_eq!(cached.state, UserState::Active);
        assert_eq!(
            here.get_user("alice").await.unwrap().unwrap().state,
            UserState::Deleted
        );
        // ... and a change built from it is refused when it commits, writing nothing.
        assert_eq!(
            here.commit(change("alice", vec![code("late")]))
                .await
                .unwrap(),
            Err(Rejection::UserNotFound)
        );
        assert!(here.get_passkey_code("late").await.unwrap().is_none());
        assert_eq!(here.list_events("alice").await.unwrap().len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_deletion_through_this_process_forgets_the_cached_user_at_once() {
        let directory = tempfile::tempdir().unwrap();
        let url = crate::store::sqlite_url_in(directory.path());
        let (here, _there) = two_processes_with_alice_cached_here(&url).await;
        here.commit(change("alice", vec![Effect::DeleteUser]))
            .await
            .unwrap()
            .unwrap();
        let read = here.get_user_to_change("alice").await.unwrap().unwrap();
        assert_eq!(read.state, UserState::Deleted);
    }
}
