//! The acceptance test of input hardening: tens of thousands of generated malformed requests —
//! random bytes, mutated messages, broken frames and base64, mutated JSON, random paths,
//! methods and content types — over gRPC, gRPC-Web (binary and text), Connect (JSON and proto)
//! and REST, against one real `passlink serve` process, half of them with the admin's token.
//! None may answer Internal (grpc-status 13, HTTP 500) or any 5xx but 501 and 504, the log
//! must show no error and no panic, and the process's memory must come back to where it was.
//!
//! The run is reproducible: `PASSLINK_TEST_FUZZ_SEED=<seed>` repeats it (the seed is printed),
//! `PASSLINK_TEST_FUZZ_REQUESTS=<n>` changes its length.

// `unreachable_pub` is a lint for the library's API; in a test binary `pub` only shares
// helpers between its modules.
#![allow(unreachable_pub)]
#[path = "../common/mod.rs"]
mod common;
mod corpus;
mod inputs;
mod json_inputs;
mod random;
mod send;
mod server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::requests::human;
use common::{authorized, unique_email};
use corpus::Corpus;
use send::Tally;
use server::ServerProcess;

const DEFAULT_SEED: u64 = 0x5EED_2024_F022;
const DEFAULT_REQUESTS: u64 = 20_000;
const WARM_UP_REQUESTS: u64 = 3_000;
/// Requests in flight at once.
const CONCURRENCY: usize = 24;
/// How far the resident memory may be above its level after the warm-up.
const MEMORY_HEADROOM_PERCENT: u64 = 10;

fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")),
        Err(_) => default,
    }
}

/// Users for the requests to reach deep into the server (the last one is for DeleteUser), and
/// the id of their organization.
async fn create_users(server: &ServerProcess) -> (Vec<String>, String) {
    let mut client = common::grpc_client_at(server.address).await;
    let mut user_ids = Vec::new();
    let mut org_id = String::new();
    for name in ["Ada", "Grace", "Edsger", "Doomed"] {
        let added = client
            .add_human_user(authorized(
                human(name, &unique_email(name)),
                &server.admin_token,
            ))
            .await
            .expect("AddHumanUser")
            .into_inner();
        user_ids.push(added.user_id);
        org_id = added.details.expect("details").resource_owner;
    }
    (user_ids, org_id)
}

/// Waits for the memory of the server to settle after a burst and returns the lowest of a few
/// readings, in KiB.
async fn settled_resident_kib(server: &ServerProcess) -> u64 {
    let mut lowest = u64::MAX;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        lowest = lowest.min(server.resident_kib());
    }
    lowest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_on_every_protocol_never_answer_internal_panic_or_leak() {
    let seed = setting("PASSLINK_TEST_FUZZ_SEED", DEFAULT_SEED);
    let requests = setting("PASSLINK_TEST_FUZZ_REQUESTS", DEFAULT_REQUESTS);
    println!(
        "fuzz: seed {seed}, {requests} requests after {WARM_UP_REQUESTS} to warm up, \
         {CONCURRENCY} in flight (repeat with PASSLINK_TEST_FUZZ_SEED={seed})"
    );
    let database_url = common::fresh_postgres_database().await;
    let mut server = ServerProcess::start(database_url.as_deref());
    let (user_ids, org_id) = create_users(&server).await;
    let corpus = Arc::new(Corpus::new(user_ids, org_id, server.admin_token.clone()));
    let started = Instant::now();

    let warm_up = send::run(&server, &corpus, seed, 0..WARM_UP_REQUESTS, CONCURRENCY).await;
    let resident_before = settled_resident_kib(&server).await;
    let run_started = Instant::now();
    let tally = send::run(
        &server,
        &corpus,
        seed,
        WARM_UP_REQUESTS..WARM_UP_REQUESTS + requests,
        CONCURRENCY,
    )
    .await;
    let run_time = run_started.elapsed();
    let resident_after = settled_resident_kib(&server).await;
    // The server still answers a valid request after all that.
    let alive = server.is_running() && create_users(&server).await.0.len() == 4;

    let mut total = Tally::default();
    total.merge(warm_up);
    total.merge(tally);
    println!("{}", total.summary());
    println!(
        "fuzz: {} requests in {:.1} s ({:.0} per second) after a warm-up; whole test {:.1} s",
        requests,
        run_time.as_secs_f64(),
        requests as f64 / run_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let errors = server.errors_and_panics();
    println!(
        "fuzz: server VmRSS {resident_before} KiB after the warm-up, {resident_after} KiB after \
         the run ({:+.1} %); {} ERROR or panic lines and {} WARN lines in its log",
        (resident_after as f64 - resident_before as f64) * 100.0 / resident_before as f64,
        errors.len(),
        server.warning_count()
    );
    drop(server);
    if let Some(database_url) = &database_url {
        common::drop_postgres_database(database_url);
    }

    assert!(alive, "the server must survive the run and still answer");
    assert!(
        total.failures.is_empty(),
        "{} answers broke the rules (seed {seed}); the first ones:\n{}",
        total.failure_count,
        total.failures.join("\n")
    );
    assert!(
        errors.is_empty(),
        "the server logged {} errors or panics (seed {seed}); the first ones:\n{}",
        errors.len(),
        errors
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        resident_after <= resident_before + resident_before * MEMORY_HEADROOM_PERCENT / 100,
        "the server's memory grew from {resident_before} KiB to {resident_after} KiB"
    );
}
