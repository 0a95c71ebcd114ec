//! The rate limit on public calls (those without a bearer token): a token bucket per client
//! address (governor's GCRA), `per_minute` on average with bursts of up to `burst`.
//!
//! Memory stays bounded however many addresses call: buckets that are full again (idle for
//! `burst / per_minute`) are dropped by a cleanup that the calls themselves run, at most every
//! `CLEANUP_INTERVAL`; at most `MAX_TRACKED_CLIENTS` addresses have a bucket of their own, and
//! while the table is full, addresses without a bucket share one. IPv6 clients are counted by
//! their /64 network, the block one subscriber usually holds, so that one subscriber cannot
//! spread its calls over 2^64 addresses.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::{DashMapStateStore, ShrinkableKeyedStateStore};
use governor::{Quota, RateLimiter};

/// Addresses (IPv4, or IPv6 /64 networks) that get a bucket of their own.
pub const MAX_TRACKED_CLIENTS: usize = 100_000;

/// How often idle buckets are dropped.
const CLEANUP_INTERVAL: Duration = Duration::from_secs(30);

/// The rate of public calls each client may make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicLimitSettings {
    /// Calls per minute, on average.
    pub per_minute: NonZeroU32,
    /// Calls at once before the rate applies.
    pub burst: NonZeroU32,
}

/// How long a client over its limit should wait before its next call goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryAfter(Duration);

impl RetryAfter {
    /// Whole seconds, rounded up, at least 1: the value of a `retry-after` header.
    pub fn seconds(&self) -> u64 {
        self.0.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// Whose bucket a call counts against.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum ClientKey {
    /// An IPv4 address, or the /64 network of an IPv6 address.
    Address(IpAddr),
    /// The bucket addresses share while the table is full.
    Overflow,
}

impl ClientKey {
    fn of(client: IpAddr) -> ClientKey {
        ClientKey::Address(match client.to_canonical() {
            IpAddr::V6(address) => {
                let network = u128::from(address) & !((1u128 << 64) - 1);
                IpAddr::V6(network.into())
            }
            v4 => v4,
        })
    }
}

/// governor's concurrent map of buckets, with a bound on the number of keys.
struct BoundedClientStore {
    buckets: DashMapStateStore<ClientKey>,
    capacity: usize,
}

impl StateStore for BoundedClientStore {
    type Key = ClientKey;

    fn measure_and_replace<T, F, E>(&self, key: &ClientKey, decide: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let key = if self.buckets.len() >= self.capacity && !self.buckets.contains_key(key) {
            &ClientKey::Overflow
        } else {
            key
        };
        self.buckets.measure_and_replace(key, decide)
    }
}

impl ShrinkableKeyedStateStore<ClientKey> for BoundedClientStore {
    fn retain_recent(&self, drop_below: Nanos) {
        self.buckets.retain_recent(drop_below);
    }

    fn shrink_to_fit(&self) {
        self.buckets.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.buckets.len()
    }

    fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// Counts public calls per client address and refuses those over the limit. One instance
/// serves every public path, so a client's calls share one budget across them.
pub struct PublicRateLimiter<C: Clock = DefaultClock> {
    limiter: RateLimiter<ClientKey, BoundedClientStore, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    started: C::Instant,
    /// Nanoseconds after `started` of the last cleanup.
    last_cleanup: AtomicU64,
    /// Addresses that get a bucket of their own (the store enforces it; this copy decides
    /// how soon to clean up).
    capacity: usize,
}

impl PublicRateLimiter {
    /// A limiter on the system clock.
    pub fn new(settings: PublicLimitSettings) -> PublicRateLimiter {
        PublicRateLimiter::with_clock(settings, DefaultClock::default(), MAX_TRACKED_CLIENTS)
    }
}

impl<C: Clock + Clone> PublicRateLimiter<C> {
    /// A limiter on `clock` that gives at most `capacity` addresses a bucket of their own.
    pub fn with_clock(settings: PublicLimitSettings, clock: C, capacity: usize) -> Self {
        let quota = Quota::per_minute(settings.per_minute).allow_burst(settings.burst);
        let store = BoundedClientStore {
            buckets: DashMapStateStore::default(),
            capacity,
        };
        let started = clock.now();
        PublicRateLimiter {
            limiter: RateLimiter::new(quota, store, clock.clone()),
            clock,
            started,
            last_cleanup: AtomicU64::new(0),
            capacity,
        }
    }

    /// Counts one public call of `client`; `Err` with the wait when it is over its limit.
    pub fn check(&self, client: IpAddr) -> Result<(), RetryAfter> {
        self.clean_up_when_due();
        self.limiter
            .check_key(&ClientKey::of(client))
            .map_err(|not_until| RetryAfter(not_until.wait_time_from(self.clock.now())))
    }

    /// How many buckets are held.
    pub fn tracked_clients(&self) -> usize {
        self.limiter.len()
    }

    /// Drops full buckets every `CLEANUP_INTERVAL`, or every second while the table is full.
    fn clean_up_when_due(&self) {
        let now = u64::from(self.clock.now().duration_since(self.started));
        let last = self.last_cleanup.load(Ordering::Relaxed);
        let since = Duration::from_nanos(now.saturating_sub(last));
        if since < Duration::from_secs(1)
            || (since < CLEANUP_INTERVAL && self.limiter.len() < self.capacity)
        {
            return;
        }
        // One caller cleans; the others go on.
        if self
            .last_cleanup
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limiter_on_fake_clock(
        per_minute: u32,
        burst: u32,
        capacity: usize,
    ) -> (PublicRateLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let settings = PublicLimitSettings {
            per_minute: NonZeroU32::new(per_minute).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        };
        (
            PublicRateLimiter::with_clock(settings, clock.clone(), capacity),
            clock,
        )
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// One call from each of the first `count` IPv4 addresses, each admitted.
    fn admit_addresses(limiter: &PublicRateLimiter<FakeRelativeClock>, count: u32) {
        for index in 0..count {
            limiter.check(IpAddr::V4(index.into())).unwrap();
        }
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_for_the_rate() {
        let (limiter, clock) = limiter_on_fake_clock(60, 3, 100);
        for _ in 0..3 {
            limiter.check(ip("192.0.2.1")).unwrap();
        }
        let refused = limiter.check(ip("192.0.2.1")).unwrap_err();
        assert_eq!(refused.seconds(), 1, "60 a minute: one call a second");
        clock.advance(Duration::from_millis(1000));
        limiter.check(ip("192.0.2.1")).unwrap();
        assert!(limiter.check(ip("192.0.2.1")).is_err());
        let (slow, _) = limiter_on_fake_clock(2, 1, 100);
        slow.check(ip("192.0.2.1")).unwrap();
        assert_eq!(slow.check(ip("192.0.2.1")).unwrap_err().seconds(), 30);
    }

    #[test]
    fn each_address_and_each_ipv6_64_network_has_its_own_bucket() {
        let (limiter, _) = limiter_on_fake_clock(60, 1, 100);
        limiter.check(ip("192.0.2.1")).unwrap();
        limiter.check(ip("192.0.2.2")).unwrap();
        limiter.check(ip("2001:db8:0:1::1")).unwrap();
        assert!(
            limiter.check(ip("2001:db8:0:1::2")).is_err(),
            "one /64 is one client"
        );
        limiter.check(ip("2001:db8:0:2::1")).unwrap();
        assert!(
            limiter.check(ip("::ffff:192.0.2.1")).is_err(),
            "an IPv4-mapped address is the IPv4 client"
        );
    }

    #[test]
    fn the_buckets_stay_bounded_and_new_addresses_share_one_when_full() {
        let (limiter, _) = limiter_on_fake_clock(60, 2, 100);
        admit_addresses(&limiter, 100);
        assert_eq!(limiter.tracked_clients(), 100);
        // The table is full: newcomers share the overflow bucket, two calls in all.
        limiter.check(ip("203.0.113.1")).unwrap();
        limiter.check(ip("203.0.113.2")).unwrap();
        assert!(limiter.check(ip("203.0.113.3")).is_err());
        // Clients with a bucket keep it.
        limiter.check(IpAddr::V4(7u32.into())).unwrap();
        for index in 0..10_000u32 {
            let _ = limiter.check(IpAddr::V4((1_000_000 + index).into()));
        }
        assert_eq!(
            limiter.tracked_clients(),
            101,
            "100 clients and the shared bucket"
        );
    }

    #[test]
    fn idle_buckets_are_dropped_by_the_periodic_cleanup() {
        let (limiter, clock) = limiter_on_fake_clock(60, 5, 100);
        admit_addresses(&limiter, 50);
        assert_eq!(limiter.tracked_clients(), 50);
        // Five seconds refill a bucket of five; the cleanup runs every 30 seconds.
        clock.advance(Duration::from_secs(10));
        limiter.check(ip("192.0.2.1")).unwrap();
        assert_eq!(limiter.tracked_clients(), 51, "not due yet");
        clock.advance(CLEANUP_INTERVAL);
        limiter.check(ip("192.0.2.2")).unwrap();
        assert_eq!(
            limiter.tracked_clients(),
            1,
            "only the client that just called keeps a bucket"
        );
    }

    #[test]
    fn a_full_table_is_cleaned_every_second() {
        let (limiter, clock) = limiter_on_fake_clock(6000, 1, 10);
        admit_addresses(&limiter, 10);
        // 6000 a minute refills a bucket of one in 10 ms.
        clock.advance(Duration::from_secs(1));
        limiter.check(ip("192.0.2.1")).unwrap();
        assert_eq!(limiter.tracked_clients(), 1);
    }
}
