//! What an adapter knows of a call besides its message, read once from the request's headers
//! (for gRPC, tonic's metadata) and extensions, whatever the protocol: the bearer token, the
//! org hint and the client's address. Adapters authenticate through it, or declare a call
//! public through it.

use std::net::IpAddr;
use std::sync::Arc;

use http::{Extensions, HeaderMap};
use tonic::transport::server::TcpConnectInfo;

use crate::domain::permission::Caller;
use crate::domain::secret::Secret;
use crate::error::Result;
use crate::service::Services;

use super::public_calls::PublicCalls;

/// The context of one call.
pub struct CallContext {
    /// The bearer token; an empty one for an Authorization header of another scheme, which
    /// then fails as an invalid token. `None` without an Authorization header.
    bearer: Option<Secret>,
    /// The org to act in when the request names none (`x-zitadel-orgid`).
    org_hint: Option<String>,
    /// The address whose budget a public call counts against.
    client: IpAddr,
    public_calls: Arc<PublicCalls>,
}

impl CallContext {
    /// The context of a request with these headers and extensions (the listener puts the
    /// connection's `TcpConnectInfo` there); public calls are gated by `public_calls`.
    pub fn new(
        headers: &HeaderMap,
        extensions: &Extensions,
        public_calls: &Arc<PublicCalls>,
    ) -> CallContext {
        let bearer = headers.get(http::header::AUTHORIZATION).map(|value| {
            let value = value.to_str().unwrap_or_default();
            let token = value
                .split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim())
                .unwrap_or_default();
            Secret::new(token.to_owned())
        });
        let org_hint = headers
            .get("x-zitadel-orgid")
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
            .map(str::to_owned);
        let peer = extensions
            .get::<TcpConnectInfo>()
            .and_then(|info| info.remote_addr);
        CallContext {
            bearer,
            org_hint,
            client: public_calls.client_address(peer, headers),
            public_calls: public_calls.clone(),
        }
    }

    /// The caller behind the bearer token; Unauthenticated without a valid one.
    pub async fn caller(&self, services: &Services) -> Result<Caller> {
        services
            .authenticate(
                self.bearer.as_ref().map(Secret::expose),
                self.org_hint.clone(),
            )
            .await
    }

    /// The caller of a public call (one that something in the request authorizes instead of
    /// a token): `None` without an Authorization header, after counting the call against the
    /// client's budget (ResourceExhausted with `retry-after` when it is spent); with one, the
    /// caller behind the token, never counted.
    pub async fn public_caller(&self, services: &Services) -> Result<Option<Caller>> {
        if self.bearer.is_some() {
            return self.caller(services).await.map(Some);
        }
        self.public_calls.admit(self.client)?;
        Ok(None)
    }
}
