//! gRPC over a bare HTTP/2 connection (the h2 crate), for requests a tonic client never sends:
//! broken frame headers, truncated frames, bodies that are not protobuf. One connection carries
//! many concurrent calls.

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio::net::TcpStream;

use super::failure::{Failure, error_detail_of_rpc_status};
use super::grpc_web::{decode_base64_lenient, percent_decode};
use super::protocols::Protocol;

/// An HTTP/2 connection to passlink; cheap to clone, each clone sends on the same connection.
#[derive(Clone)]
pub struct RawGrpcConnection {
    sender: h2::client::SendRequest<Bytes>,
    address: SocketAddr,
}

/// What came back for one call.
#[derive(Debug)]
pub struct RawGrpcAnswer {
    pub http_status: u16,
    /// Response headers, lowercased names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// Trailers, lowercased names; empty for a trailers-only answer.
    pub trailers: HashMap<String, String>,
}

impl RawGrpcAnswer {
    /// A gRPC status field: from the trailers, or from the headers of a trailers-only answer.
    pub fn status_field(&self, name: &str) -> Option<&str> {
        self.trailers
            .get(name)
            .or_else(|| self.headers.get(name))
            .map(String::as_str)
    }

    /// The gRPC status code, when the answer carries one.
    pub fn grpc_status(&self) -> Option<i32> {
        self.status_field("grpc-status")?.parse().ok()
    }

    /// The answer read back as a failure (panics on a success or a missing status).
    pub fn failure(&self) -> Failure {
        let code = self
            .grpc_status()
            .unwrap_or_else(|| panic!("a grpc-status in {self:#?}"));
        assert_ne!(code, 0, "a failure, not a success: {self:#?}");
        Failure {
            protocol: Protocol::Grpc,
            code: tonic::Code::from_i32(code),
            http_status: None,
            message: percent_decode(self.status_field("grpc-message").unwrap_or_default()),
            detail: self
                .status_field("grpc-status-details-bin")
                .and_then(|value| error_detail_of_rpc_status(&decode_base64_lenient(value))),
        }
    }
}

fn header_map(headers: &http::HeaderMap) -> HashMap<String, String> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

impl RawGrpcConnection {
    /// Opens an HTTP/2 connection (prior knowledge, no TLS).
    pub async fn connect(address: SocketAddr) -> RawGrpcConnection {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        let (sender, connection) = h2::client::handshake(stream)
            .await
            .expect("an HTTP/2 handshake");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        RawGrpcConnection { sender, address }
    }

    /// Sends `body` as is (no framing added) to `path` with the given headers (gRPC wants
    /// `content-type: application/grpc`), and reads the whole answer. `Err` when the
    /// connection or stream failed (a reset, for instance).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<RawGrpcAnswer, h2::Error> {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.address))
            .header("te", "trailers");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(()).expect("a valid request head");
        let mut sender = self.sender.clone().ready().await?;
        let (response, mut stream) = sender.send_request(request, body.is_empty())?;
        if !body.is_empty() {
            stream.send_data(Bytes::copy_from_slice(body), true)?;
        }
        let response = response.await?;
        let (parts, mut received) = response.into_parts();
        let mut answer_body = Vec::new();
        while let Some(chunk) = received.data().await {
            let chunk = chunk?;
            let _ = received.flow_control().release_capacity(chunk.len());
            answer_body.extend_from_slice(&chunk);
        }
        let trailers = received.trailers().await?.unwrap_or_default();
        Ok(RawGrpcAnswer {
            http_status: parts.status.as_u16(),
            headers: header_map(&parts.headers),
            body: answer_body,
            trailers: header_map(&trailers),
        })
    }
}
