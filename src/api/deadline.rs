//! The one deadline of a call, on every protocol: `grpc-timeout` (sent by gRPC and gRPC-Web
//! clients, and by grpc-gateway style REST clients too) and, on Connect, `connect-timeout-ms`;
//! the nearer one counts. A call whose deadline passes is answered DeadlineExceeded with the
//! error detail, in its protocol's shape. passlink serves with its own listener, not tonic's
//! server, so this is the one place the headers are enforced.

use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderMap;

use crate::error::Error;

use super::errors;
use super::protocol::Protocol;

/// The `grpc-timeout` header as a duration: up to 8 digits and a unit (`H M S m u n`).
fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (amount, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if amount.is_empty() || amount.len() > 8 || !amount.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = amount.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// The `connect-timeout-ms` header as a duration.
fn connect_timeout(headers: &HeaderMap) -> Option<Duration> {
    let milliseconds: u64 = headers
        .get("connect-timeout-ms")?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    Some(Duration::from_millis(milliseconds))
}

/// The time a call of `protocol` with `headers` has, and the error once it has passed.
fn deadline_of(protocol: Protocol, headers: &HeaderMap) -> Option<(Duration, fn() -> Error)> {
    let grpc =
        grpc_timeout(headers).map(|timeout| (timeout, grpc_timeout_expired as fn() -> Error));
    let connect = match protocol {
        Protocol::Connect(_) => connect_timeout(headers)
            .map(|timeout| (timeout, connect_timeout_expired as fn() -> Error)),
        _ => None,
    };
    match (grpc, connect) {
        (Some(grpc), Some(connect)) => Some(if connect.0 < grpc.0 { connect } else { grpc }),
        (grpc, connect) => grpc.or(connect),
    }
}

fn grpc_timeout_expired() -> Error {
    Error::deadline_exceeded("API-Dl4gt", "the deadline given by grpc-timeout expired")
}

fn connect_timeout_expired() -> Error {
    Error::deadline_exceeded(
        "CONNECT-Dl3tm",
        "the deadline given by connect-timeout-ms expired",
    )
}

/// Ends a call whose deadline passes with DeadlineExceeded in its protocol's shape.
pub(super) async fn deadline(request: Request, next: Next) -> Response {
    let protocol = Protocol::of(&request);
    let Some((timeout, expired)) = deadline_of(protocol, request.headers()) else {
        return next.run(request).await;
    };
    // A deadline that has passed on arrival fails at once; a zero timer would still let a
    // fast handler finish (and change state) before the timer's first tick.
    if timeout.is_zero() {
        return errors::answer(protocol, &expired());
    }
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => errors::answer(protocol, &expired()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::protocol::Format;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| (http::HeaderName::from_static(name), value.parse().unwrap()))
            .collect()
    }

    fn parsed(value: &str) -> Option<Duration> {
        grpc_timeout(&headers(&[("grpc-timeout", value)]))
    }

    #[test]
    fn grpc_timeout_reads_every_unit_and_refuses_malformed_values() {
        assert_eq!(parsed("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parsed("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parsed("4S"), Some(Duration::from_secs(4)));
        assert_eq!(parsed("5m"), Some(Duration::from_millis(5)));
        assert_eq!(parsed("6u"), Some(Duration::from_micros(6)));
        assert_eq!(parsed("0n"), Some(Duration::ZERO));
        for malformed in ["", "m", "123456789m", "5x", "-5m", "5 m"] {
            assert_eq!(parsed(malformed), None, "{malformed:?}");
        }
    }

    #[test]
    fn connect_timeout_counts_on_connect_only_and_the_nearer_deadline_wins() {
        let both = headers(&[("grpc-timeout", "5S"), ("connect-timeout-ms", "2000")]);
        let connect = Protocol::Connect(Format::Json);
        let (timeout, expired) = deadline_of(connect, &both).unwrap();
        assert_eq!(timeout, Duration::from_secs(2));
        assert_eq!(expired().id(), "CONNECT-Dl3tm");
        let (timeout, expired) = deadline_of(Protocol::Rest, &both).unwrap();
        assert_eq!(timeout, Duration::from_secs(5));
        assert_eq!(expired().id(), "API-Dl4gt");
        let only_connect = headers(&[("connect-timeout-ms", "2000")]);
        assert!(deadline_of(Protocol::Grpc, &only_connect).is_none());
        let nearer_grpc = headers(&[("grpc-timeout", "1S"), ("connect-timeout-ms", "2000")]);
        assert_eq!(
            deadline_of(connect, &nearer_grpc).unwrap().1().id(),
            "API-Dl4gt"
        );
    }
}
