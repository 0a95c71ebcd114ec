//! Public calls: calls a client may make without a bearer token (RegisterPasskey with a code,
//! VerifyPasskeyRegistration, later public sign-in). An adapter declares a call public by asking
//! `CallContext::public_caller` for its caller: made without an Authorization header, the call
//! is counted against the budget of the client's address before any work is done; over it, it
//! answers ResourceExhausted with `retry-after`. A call with an Authorization header is
//! authenticated instead and never counted.
//!
//! Every protocol builds its `CallContext` from the request's headers and the connection's
//! `TcpConnectInfo`, so one budget covers a client on all four protocols.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http::HeaderMap;
use prometheus_client::metrics::counter::Counter;

use crate::error::{Error, Result};

use super::client_address::TrustedProxies;
use super::public_limit::{PublicLimitSettings, PublicRateLimiter};

/// The limiter and the trusted proxies, shared by every service with public calls.
pub struct PublicCalls {
    limiter: PublicRateLimiter,
    trusted_proxies: TrustedProxies,
    /// Counts the calls refused over the limit (`passlink_rate_limit_refusals_total`).
    refusals: Counter,
}

impl PublicCalls {
    /// Public calls limited by `settings`, with client addresses read through `trusted_proxies`.
    pub fn new(settings: PublicLimitSettings, trusted_proxies: TrustedProxies) -> PublicCalls {
        PublicCalls {
            limiter: PublicRateLimiter::new(settings),
            trusted_proxies,
            refusals: Counter::default(),
        }
    }

    /// Counts the calls refused over the limit in `refusals`.
    pub fn counting_refusals_in(self, refusals: Counter) -> PublicCalls {
        PublicCalls { refusals, ..self }
    }

    /// The address whose budget a request from `peer` with `headers` counts against.
    pub fn client_address(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
        self.trusted_proxies.client_address(peer, headers)
    }

    /// Counts a public call of `client`; ResourceExhausted with `retry-after` over its budget.
    pub fn admit(&self, client: IpAddr) -> Result<()> {
        self.limiter.check(client).map_err(|retry_after| {
            let seconds = retry_after.seconds();
            self.refusals.inc();
            tracing::info!(client.address = %client, retry_after = seconds, "public call refused: over the limit");
            Error::resource_exhausted(
                "API-Rl4pb",
                format!("Too many requests from this address; try again in {seconds} seconds"),
            )
            .with_retry_after(Duration::from_secs(seconds))
        })
    }
}
