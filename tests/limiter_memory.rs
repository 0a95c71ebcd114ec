//! The public-call limiter's memory stays bounded however many addresses call: a million
//! distinct clients leave at most `MAX_TRACKED_CLIENTS` buckets. Measured as RSS from /proc,
//! alone in its own test binary, with generous headroom.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;

use passlink::api::public_limit::{MAX_TRACKED_CLIENTS, PublicLimitSettings, PublicRateLimiter};

/// The resident set size of this process in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

#[test]
fn a_million_client_addresses_leave_a_bounded_bucket_table() {
    let limiter = PublicRateLimiter::new(PublicLimitSettings {
        per_minute: NonZeroU32::new(60).unwrap(),
        burst: NonZeroU32::new(20).unwrap(),
    });
    let before = rss_kib();
    for index in 0..500_000u32 {
        let _ = limiter.check(IpAddr::V4(Ipv4Addr::from(index)));
        // IPv6 clients from distinct /64 networks.
        let _ = limiter.check(IpAddr::V6(Ipv6Addr::from(u128::from(index) << 64)));
    }
    let after = rss_kib();
    let tracked = limiter.tracked_clients();
    println!(
        "1,000,000 client addresses: {tracked} buckets, RSS {before} KiB -> {after} KiB \
         (+{} KiB)",
        after.saturating_sub(before)
    );
    assert!(
        tracked <= MAX_TRACKED_CLIENTS + 1,
        "{tracked} buckets for a bound of {MAX_TRACKED_CLIENTS}"
    );
    // About 100 bytes a bucket is expected; 64 MiB is far above it and far below a table of
    // a million.
    assert!(
        after.saturating_sub(before) < 64 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
}
