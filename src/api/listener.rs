//! The one listener: accepts TCP connections up to a limit, serves HTTP/1.1 and HTTP/2 (prior
//! knowledge) on each with hyper, closes connections that stay silent or idle, and drains on
//! shutdown. Every request carries tonic's `TcpConnectInfo`, as under tonic's own server.
//!
//! Beyond `max_connections`, connections are not accepted: they wait in the kernel's listen
//! backlog until one closes (as Go's `netutil.LimitListener` does), so a burst of legitimate
//! clients is served late rather than reset, while the silent and idle timeouts below free the
//! places abusers hold.
//!
//! With TLS, each connection's handshake runs in its own task, holding its place, and must
//! finish within `header_read_timeout` (the time a connection has to send its first request
//! head includes its handshake); ALPN offers `h2` and `http/1.1`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::TcpConnectInfo;
use tower::ServiceExt;

use super::body::GuardedBody;

/// Largest request head: an HTTP/1.1 request line and headers (hyper's read buffer), and an
/// HTTP/2 header list (`SETTINGS_MAX_HEADER_LIST_SIZE`). hyper answers 431 above it.
const MAX_HEADER_BYTES: usize = 16 * 1024;
/// HTTP/2 streams a peer may open and reset before the server has accepted them, and local
/// error resets before the connection is closed: hyper's defaults against the rapid-reset
/// attack (CVE-2023-44487), set here so that a hyper upgrade cannot quietly change them.
const MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
const MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;
/// How long accepting pauses after an error other than a failed handshake (such as running
/// out of file descriptors), so that the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);
/// The connection limit being reached is logged at most this often.
const LIMIT_REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// The bounds of the listener.
#[derive(Clone, Debug)]
pub struct ListenerSettings {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most requests in flight on one HTTP/2 connection.
    pub http2_max_concurrent_streams: u32,
    /// Time a connection has to send its first request head (and an HTTP/1.1 connection each
    /// further one).
    pub header_read_timeout: Duration,
    /// How long a connection stays open with no request in flight.
    pub idle_timeout: Duration,
    /// Silence on an HTTP/2 connection before it is pinged.
    pub http2_keepalive_interval: Duration,
    /// Time a ping may go unanswered; also the time a connection asked to close (idle, or at
    /// shutdown) gets to finish its goodbye.
    pub http2_keepalive_timeout: Duration,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

/// What the listener does with each connection besides bounding it.
#[derive(Clone, Default)]
pub struct ListenerOptions {
    /// TLS, when the listener serves it.
    pub tls: Option<TlsAcceptor>,
    /// Counts the connections open (or in their TLS handshake).
    pub open_connections: Gauge,
}

/// Serves `router` on `listener` until `signal`; then stops accepting, lets requests in flight
/// finish for up to `shutdown_grace`, and closes what is left.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ListenerSettings,
    options: ListenerOptions,
    signal: impl Future<Output = ()>,
) -> Result<(), String> {
    let places = Arc::new(Semaphore::new(settings.max_connections));
    let builder = Arc::new(connection_builder(&settings));
    let (closing, closing_receiver) = watch::channel(());
    let mut connections = JoinSet::new();
    let mut limit_reported_at: Option<tokio::time::Instant> = None;
    tokio::pin!(signal);
    loop {
        while connections.try_join_next().is_some() {}
        let place = match places.clone().try_acquire_owned() {
            Ok(place) => place,
            Err(_) => {
                if limit_reported_at.is_none_or(|at| at.elapsed() >= LIMIT_REPORT_INTERVAL) {
                    tracing::warn!(
                        max_connections = settings.max_connections,
                        "connection limit reached: new connections wait until one closes"
                    );
                    limit_reported_at = Some(tokio::time::Instant::now());
                }
                tokio::select! {
                    place = places.clone().acquire_owned() => {
                        place.map_err(|error| format!("the connection count failed: {error}"))?
                    }
                    () = &mut signal => break,
                }
            }
        };
        let (stream, remote_addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    tracing::error!(%error, "cannot accept a connection; pausing before the next try");
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                        () = &mut signal => break,
                    }
                }
            },
            () = &mut signal => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let connect_info = connect_info(&stream, remote_addr);
        let (router, builder, settings) = (router.clone(), builder.clone(), settings.clone());
        let mut closing = closing_receiver.clone();
        let tls = options.tls.clone();
        let open = OpenConnection::count(&options.open_connections);
        connections.spawn(async move {
            match tls {
                None => {
                    serve_connection(stream, connect_info, router, builder, settings, closing).await
                }
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(settings.header_read_timeout, acceptor.accept(stream));
                    let handshake = tokio::select! {
                        handshake = handshake => Some(handshake),
                        _ = closing.changed() => None,
                    };
                    match handshake {
                        Some(Ok(Ok(stream))) => {
                            serve_connection(
                                stream,
                                connect_info,
                                router,
                                builder,
                                settings,
                                closing,
                            )
                            .await
                        }
                        Some(Ok(Err(error))) => tracing::debug!(%error, "a TLS handshake failed"),
                        Some(Err(_)) => tracing::debug!(
                            "a TLS handshake did not finish in time; closing the connection"
                        ),
                        None => {}
                    }
                }
            }
            drop(open);
            drop(place);
        });
    }
    // Closing the listening socket at once: new clients are refused instead of left waiting.
    drop(listener);
    let _ = closing.send(());
    let drained = tokio::time::timeout(settings.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            grace = ?settings.shutdown_grace,
            connections = connections.len(),
            "requests still in flight after the grace period; stopping anyway"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// The addresses tonic's server puts in every request (`tonic::Request::remote_addr` reads it).
fn connect_info(stream: &TcpStream, remote_addr: std::net::SocketAddr) -> TcpConnectInfo {
    TcpConnectInfo {
        local_addr: stream.local_addr().ok(),
        remote_addr: Some(remote_addr),
    }
}

/// Errors of one failed handshake, after which accepting goes on at once.
fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// HTTP/1.1 and HTTP/2 on one connection, told apart by the HTTP/2 preface.
fn connection_builder(settings: &ListenerSettings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.http2_max_concurrent_streams)
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(MAX_LOCAL_ERROR_RESET_STREAMS)
        .keep_alive_interval(settings.http2_keepalive_interval)
        .keep_alive_timeout(settings.http2_keepalive_timeout);
    builder
}

/// Serves one connection until it ends. It is asked to close gracefully when it stays idle
/// (or sends no request) too long, or when the server shuts down; then it gets
/// `http2_keepalive_timeout` to finish its goodbye (an HTTP/2 peer must answer a ping) before it
/// is closed, unless a request is still in flight.
async fn serve_connection<Io>(
    io: Io,
    connect_info: TcpConnectInfo,
    router: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    settings: ListenerSettings,
    mut closing: watch::Receiver<()>,
) where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (in_flight, activity) = watch::channel(0usize);
    let in_flight = Arc::new(in_flight);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(connect_info.clone());
        let request_in_flight = RequestInFlight::start(in_flight.clone());
        let answer = router.clone().oneshot(request);
        async move {
            let response = answer.await?;
            // The request stays counted in flight until its response is sent.
            Ok::<_, Infallible>(response.map(|body| GuardedBody::new(body, request_in_flight)))
        }
    });
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let idle = idle(
        activity.clone(),
        settings.header_read_timeout,
        settings.idle_timeout,
    );
    tokio::pin!(idle);
    let goodbye = tokio::time::sleep(Duration::MAX);
    tokio::pin!(goodbye);
    let mut closing_gracefully = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = &mut idle, if !closing_gracefully => {}
            _ = closing.changed(), if !closing_gracefully => {}
            () = &mut goodbye, if closing_gracefully => {
                if *activity.borrow() == 0 {
                    tracing::debug!("a connection did not finish its goodbye in time; closing it");
                    return;
                }
                // Requests in flight are bounded by the body timeout and their handlers: wait.
                goodbye
                    .as_mut()
                    .reset(tokio::time::Instant::now() + settings.http2_keepalive_timeout);
                continue;
            }
        }
        // Idle, or the server shuts down: ask the connection to close.
        connection.as_mut().graceful_shutdown();
        closing_gracefully = true;
        goodbye
            .as_mut()
            .reset(tokio::time::Instant::now() + settings.http2_keepalive_timeout);
    }
}

/// Completes when a connection has had no request in flight for `idle_timeout`, or before its
/// first request for `first_request_timeout`. Every request that starts or ends restarts the
/// clock.
async fn idle(
    mut activity: watch::Receiver<usize>,
    first_request_timeout: Duration,
    idle_timeout: Duration,
) {
    let mut allowance = first_request_timeout;
    loop {
        let busy = *activity.borrow_and_update() > 0;
        let changed = if busy {
            Ok(activity.changed().await)
        } else {
            tokio::time::timeout(allowance, activity.changed()).await
        };
        match changed {
            Err(_elapsed) => return,
            Ok(Ok(())) => allowance = idle_timeout,
            // The connection's service is gone, and with it the connection: never idle.
            Ok(Err(_)) => std::future::pending().await,
        }
    }
}

/// Counts a connection open from its accept until its task ends (or is aborted).
struct OpenConnection(Gauge);

impl OpenConnection {
    fn count(open_connections: &Gauge) -> OpenConnection {
        open_connections.inc();
        OpenConnection(open_connections.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Counts a request in flight on its connection from its head until its response is sent (or
/// dropped).
struct RequestInFlight(Arc<watch::Sender<usize>>);

impl RequestInFlight {
    fn start(in_flight: Arc<watch::Sender<usize>>) -> RequestInFlight {
        in_flight.send_modify(|count| *count += 1);
        RequestInFlight(in_flight)
    }
}

impl Drop for RequestInFlight {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count -= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The remote address as a tonic handler reads it (`tonic::Request::remote_addr`), and the
    /// local one.
    async fn addresses(request: axum::extract::Request) -> String {
        let local = request
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(|info| info.local_addr);
        let remote = tonic::Request::from_http(request).remote_addr();
        format!("{local:?} {remote:?}")
    }

    #[tokio::test]
    async fn every_request_carries_the_tcp_connect_info_over_http1_and_http2() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = Router::new().route("/", axum::routing::get(addresses));
        let settings = ListenerSettings {
            max_connections: 8,
            http2_max_concurrent_streams: 8,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(10),
            http2_keepalive_interval: Duration::from_secs(10),
            http2_keepalive_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            router,
            settings,
            ListenerOptions::default(),
            async {
                let _ = stopped.await;
            },
        ));

        let mut http1 = TcpStream::connect(address).await.unwrap();
        let client = http1.local_addr().unwrap();
        http1
            .write_all(b"GET / HTTP/1.1\r\nHost: passlink\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        http1.read_to_string(&mut answer).await.unwrap();
        assert!(
            answer.ends_with(&format!("Some({address}) Some({client})")),
            "{answer}"
        );

        let http2 = TcpStream::connect(address).await.unwrap();
        let client = http2.local_addr().unwrap();
        let (mut sender, connection) = h2::client::handshake(http2).await.unwrap();
        tokio::spawn(connection);
        let request = http::Request::get(format!("http://{address}/"))
            .body(())
            .unwrap();
        let (response, _) = sender.send_request(request, true).unwrap();
        let mut body = response.await.unwrap().into_body();
        let mut answer = Vec::new();
        while let Some(chunk) = body.data().await {
            answer.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(
            String::from_utf8(answer).unwrap(),
            format!("Some({address}) Some({client})")
        );

        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
