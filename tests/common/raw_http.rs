//! HTTP/1.1 over a bare TCP socket, for what an HTTP client library hides: chunked request
//! bodies sent piece by piece, and requests held open across a shutdown.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An HTTP/1.1 answer read off the socket.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, with chunked transfer coding removed.
    pub body: Vec<u8>,
}

impl RawAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "a JSON body: {error}: {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A request whose chunked body is written piece by piece.
pub struct ChunkedRequest {
    stream: TcpStream,
}

impl ChunkedRequest {
    /// Connects and sends the request line and headers (plus `Transfer-Encoding: chunked` and
    /// `Connection: close`).
    pub async fn start(
        address: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> ChunkedRequest {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        ChunkedRequest { stream }
    }

    /// Sends one chunk of the body.
    pub async fn send_chunk(&mut self, chunk: &[u8]) {
        assert!(!chunk.is_empty(), "an empty chunk would end the body");
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(chunk);
        framed.extend_from_slice(b"\r\n");
        self.stream.write_all(&framed).await.unwrap();
        self.stream.flush().await.unwrap();
    }

    /// Waits for `HTTP/1.1 100 Continue`, which the server sends (for `Expect: 100-continue`)
    /// once a handler starts reading the body: from then on the request is in flight.
    pub async fn wait_for_continue(&mut self) {
        let mut received = Vec::new();
        while !received.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            let read = self.stream.read(&mut byte).await.unwrap();
            assert_eq!(
                read, 1,
                "the connection closed before 100 Continue: {received:?}"
            );
            received.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&received);
        assert!(head.starts_with("HTTP/1.1 100"), "{head}");
    }

    /// Ends the body and reads the answer until the server closes the connection.
    pub async fn finish(mut self) -> RawAnswer {
        self.stream.write_all(b"0\r\n\r\n").await.unwrap();
        let mut received = Vec::new();
        self.stream.read_to_end(&mut received).await.unwrap();
        parse_answer(&received)
    }
}

/// Sends a body in the given chunks and reads the answer.
pub async fn chunked_request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    chunks: &[&[u8]],
) -> RawAnswer {
    let mut request = ChunkedRequest::start(address, method, path, headers).await;
    for chunk in chunks {
        request.send_chunk(chunk).await;
    }
    request.finish().await
}

/// Reads an HTTP/1.1 answer (head and body) from the bytes received.
pub fn parse_answer(received: &[u8]) -> RawAnswer {
    let split = received
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("a complete head: {:?}", String::from_utf8_lossy(received)));
    let head = std::str::from_utf8(&received[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let mut body = received[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    RawAnswer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|window| window == b"\r\n")
            .unwrap();
        let size_text = std::str::from_utf8(&body[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return plain;
        }
        plain.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// Sends a request head declaring a body of `declared_length` bytes, then the body one byte
/// every `interval`, and returns every byte the server sent once it closes the connection.
/// Never finishes when the server waits for the body forever: bound it with a timeout.
pub async fn trickled_request(
    address: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    declared_length: usize,
    interval: std::time::Duration,
) -> Vec<u8> {
    let stream = TcpStream::connect(address).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {address}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {declared_length}\r\n\r\n"));
    writer.write_all(head.as_bytes()).await.unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..declared_length.saturating_sub(1) {
            tokio::time::sleep(interval).await;
            // Once the server has answered and closed, writing fails: stop there.
            if writer.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    // A reset (the server closed with our bytes unread) ends the answer like an end of stream.
    while let Ok(read) = reader.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        received.extend_from_slice(&buffer[..read]);
    }
    trickle.abort();
    received
}
