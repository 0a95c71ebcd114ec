//! The client address of a request: the TCP peer's, or, when the peer is a trusted proxy, the
//! nearest address the proxies forwarded that is not itself a trusted proxy.
//!
//! Each proxy appends the address it received the request from to `Forwarded` (RFC 7239,
//! `for=`) or `X-Forwarded-For`, so the list is read from the right: entries a client wrote
//! itself come first and are never reached while a trusted proxy's entry follows them.
//! Headers from a peer that is not a trusted proxy are ignored, and a trusted proxy's header
//! that cannot be read falls back to the peer.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use forwarded_header_value::ForwardedHeaderValue;
use http::HeaderMap;
use ipnet::IpNet;

/// The reverse proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
}

impl TrustedProxies {
    /// Proxies in these networks (a single address is a network of one).
    pub fn new(networks: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies { networks }
    }

    fn contains(&self, address: IpAddr) -> bool {
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }

    /// The client address of a request that came from `peer` with `headers`. Without a peer
    /// (a transport that gives no TCP address) every such request shares the unspecified
    /// address, and so one budget.
    pub fn client_address(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
        let Some(peer) = peer.map(|peer| peer.ip().to_canonical()) else {
            tracing::debug!("a request without a peer address");
            return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        };
        if !self.contains(peer) {
            return peer;
        }
        match forwarded_chain(headers) {
            Ok(Some(chain)) => self.nearest_untrusted(chain).unwrap_or(peer),
            Ok(None) => peer,
            Err(problem) => {
                tracing::debug!(%peer, problem, "unreadable forwarding header from a trusted proxy; the proxy counts as the client");
                peer
            }
        }
    }

    /// Walks the forwarded addresses from the right past trusted proxies; the leftmost one
    /// when all of them are trusted.
    fn nearest_untrusted(&self, chain: Vec<IpAddr>) -> Option<IpAddr> {
        let mut nearest = None;
        for address in chain.into_iter().rev() {
            nearest = Some(address);
            if !self.contains(address) {
                break;
            }
        }
        nearest
    }
}

/// The addresses a request was forwarded for, leftmost (remotest) first: from `Forwarded` when
/// present, else from `X-Forwarded-For`; `None` when neither is present. An entry without an
/// address (`for=unknown`, an obfuscated `for=_node`) makes the whole header unreadable: the
/// chain beyond it cannot be trusted.
fn forwarded_chain(headers: &HeaderMap) -> Result<Option<Vec<IpAddr>>, &'static str> {
    let joined = |name: &str| -> Result<Option<String>, &'static str> {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().map_err(|_| "a header that is not text"))
            .collect::<Result<_, _>>()?;
        // Several header lines form one list, in order (RFC 9110 §5.3).
        Ok((!values.is_empty()).then(|| values.join(",")))
    };
    let parsed = if let Some(forwarded) = joined("forwarded")? {
        ForwardedHeaderValue::from_forwarded(&forwarded).map_err(|_| "a malformed Forwarded")?
    } else if let Some(forwarded_for) = joined("x-forwarded-for")? {
        ForwardedHeaderValue::from_x_forwarded_for(&forwarded_for)
            .map_err(|_| "a malformed X-Forwarded-For")?
    } else {
        return Ok(None);
    };
    parsed
        .iter()
        .map(|stanza| {
            stanza
                .forwarded_for_ip()
                .map(|address| address.to_canonical())
                .ok_or("a forwarded entry without an address")
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(networks: &[&str]) -> TrustedProxies {
        TrustedProxies::new(networks.iter().map(|text| text.parse().unwrap()).collect())
    }

    fn client(proxies: &TrustedProxies, peer: &str, headers: &[(&str, &str)]) -> IpAddr {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let peer: SocketAddr = peer.parse().unwrap();
        proxies.client_address(Some(peer), &map)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// The client of a request forwarded by the proxy at 127.0.0.1.
    fn behind_local_proxy(proxies: &TrustedProxies, headers: &[(&str, &str)]) -> IpAddr {
        client(proxies, "127.0.0.1:5000", headers)
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let none = TrustedProxies::default();
        let headers = [
            ("x-forwarded-for", "203.0.113.7"),
            ("forwarded", "for=198.51.100.1"),
        ];
        assert_eq!(client(&none, "192.0.2.1:5000", &headers), ip("192.0.2.1"));
        let other = proxies(&["10.0.0.0/8"]);
        assert_eq!(client(&other, "192.0.2.1:5000", &headers), ip("192.0.2.1"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
        let trusted = proxies(&["127.0.0.1/32"]);
        assert_eq!(
            client(
                &trusted,
                "127.0.0.1:5000",
                &[("x-forwarded-for", "203.0.113.7")]
            ),
            ip("203.0.113.7")
        );
        assert_eq!(
            client(
                &trusted,
                "127.0.0.1:5000",
                &[("forwarded", "for=\"[2001:db8:cafe::17]:4711\";proto=https")]
            ),
            ip("2001:db8:cafe::17")
        );
        // Without a header the proxy itself is the client.
        assert_eq!(behind_local_proxy(&trusted, &[]), ip("127.0.0.1"));
    }

    #[test]
    fn the_chain_is_read_from_the_right_past_trusted_proxies_only() {
        let trusted = proxies(&["10.0.0.0/8", "127.0.0.1/32"]);
        // The client wrote 6.6.6.6 itself; the first proxy appended the real peer, the second
        // proxy appended the first.
        let headers = [("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2")];
        assert_eq!(behind_local_proxy(&trusted, &headers), ip("203.0.113.7"));
        // Several header lines are one list.
        let headers = [
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.8, 10.0.0.2"),
        ];
        assert_eq!(behind_local_proxy(&trusted, &headers), ip("203.0.113.8"));
        let headers = [(
            "forwarded",
            "for=6.6.6.6, for=203.0.113.9;by=10.0.0.2, for=10.0.0.3",
        )];
        assert_eq!(behind_local_proxy(&trusted, &headers), ip("203.0.113.9"));
        // All trusted: the remotest one.
        let headers = [("x-forwarded-for", "10.0.0.5, 10.0.0.2")];
        assert_eq!(behind_local_proxy(&trusted, &headers), ip("10.0.0.5"));
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for() {
        let trusted = proxies(&["127.0.0.1/32"]);
        let headers = [
            ("x-forwarded-for", "203.0.113.1"),
            ("forwarded", "for=203.0.113.2"),
        ];
        assert_eq!(behind_local_proxy(&trusted, &headers), ip("203.0.113.2"));
    }

    #[test]
    fn malformed_headers_from_a_trusted_proxy_leave_the_proxy_as_the_client() {
        let trusted = proxies(&["127.0.0.1/32"]);
        for headers in [
            [("x-forwarded-for", "not an address")],
            [("x-forwarded-for", "203.0.113.7, 999.0.0.1")],
            [("forwarded", "for=unknown")],
            [("forwarded", "for=_hidden")],
            [("forwarded", "for=203.0.113.7;garbage")],
            [("forwarded", "for=\"[not:an:address\"")],
        ] {
            assert_eq!(
                behind_local_proxy(&trusted, &headers),
                ip("127.0.0.1"),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        let trusted = proxies(&["127.0.0.1/32"]);
        assert_eq!(
            client(
                &trusted,
                "[::ffff:127.0.0.1]:5000",
                &[("x-forwarded-for", "203.0.113.7")]
            ),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn without_a_peer_address_every_request_shares_one_address() {
        assert_eq!(
            TrustedProxies::default().client_address(None, &HeaderMap::new()),
            ip("0.0.0.0")
        );
    }
}
