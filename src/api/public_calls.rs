//! Public calls: calls a client may make without a bearer token (RegisterPasskey with a code,
//! VerifyPasskeyRegistration, later public sign-in). Made without an Authorization header they
//! are counted against the budget of the client's address before any work is done; over it
//! they answer ResourceExhausted with `retry-after`. A call with an Authorization header is
//! authenticated instead and never counted.
//!
//! Every protocol reaches the handlers as a `tonic::Request` that carries the connection's
//! `TcpConnectInfo` (REST and Connect pass it over from their HTTP request), so one budget
//! covers a client on all four protocols.

use std::net::IpAddr;

use tonic::{Request, Status};

use super::client_address::TrustedProxies;
use super::public_limit::{PublicLimitSettings, PublicRateLimiter};
use super::status;

/// The limiter and the trusted proxies, shared by every service with public calls.
pub struct PublicCalls {
    limiter: PublicRateLimiter,
    trusted_proxies: TrustedProxies,
}

impl PublicCalls {
    /// Public calls limited by `settings`, with client addresses read through `trusted_proxies`.
    pub fn new(settings: PublicLimitSettings, trusted_proxies: TrustedProxies) -> PublicCalls {
        PublicCalls {
            limiter: PublicRateLimiter::new(settings),
            trusted_proxies,
        }
    }

    /// The address whose budget a request counts against.
    pub fn client_address<T>(&self, request: &Request<T>) -> IpAddr {
        self.trusted_proxies
            .client_address(request.remote_addr(), request.metadata().as_ref())
    }

    /// Admits a call to a public path: free with an Authorization header (the token is checked
    /// next), counted against the client address's budget without one.
    pub fn admit<T>(&self, request: &Request<T>) -> Result<(), Status> {
        if request.metadata().contains_key("authorization") {
            return Ok(());
        }
        let client = self.client_address(request);
        self.limiter.check(client).map_err(|retry_after| {
            tracing::info!(client.address = %client, retry_after = retry_after.seconds(), "public call refused: over the limit");
            status::too_many_requests(retry_after)
        })
    }
}
