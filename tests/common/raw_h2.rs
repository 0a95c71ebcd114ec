//! HTTP/2 (prior knowledge) over a bare TCP socket, for what a well-behaved client never does:
//! streams opened past the server's advertised limit, request heads never followed by a body,
//! connections that send nothing after the preface, pings and settings never acknowledged.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::watch;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_DATA: u8 = 0x0;
const FRAME_HEADERS: u8 = 0x1;
const FRAME_RST_STREAM: u8 = 0x3;
const FRAME_SETTINGS: u8 = 0x4;
const FRAME_PING: u8 = 0x6;
const FRAME_GOAWAY: u8 = 0x7;
const FLAG_END_STREAM: u8 = 0x1;
const FLAG_ACK: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;
const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
/// The RST_STREAM error code for a stream the server would not take.
pub const REFUSED_STREAM: u32 = 0x7;

/// What the server sent on a connection, as far as the tests care.
#[derive(Clone, Debug, Default)]
pub struct Http2Events {
    /// Whether the server's SETTINGS frame arrived.
    pub settings_received: bool,
    /// The SETTINGS_MAX_CONCURRENT_STREAMS the server advertised, if it did.
    pub max_concurrent_streams: Option<u32>,
    /// Streams the server reset with REFUSED_STREAM.
    pub refused_streams: usize,
    /// Streams the server reset with another code.
    pub other_resets: usize,
    /// Streams the server answered with response headers.
    pub answered_streams: usize,
    /// Bytes of response bodies.
    pub data_bytes: usize,
    /// PING frames from the server (never answered).
    pub pings: usize,
    /// The error code of the server's last GOAWAY.
    pub goaway: Option<u32>,
    /// Whether the server closed the connection (end of stream or a reset socket).
    pub closed: bool,
}

/// A raw HTTP/2 connection; a task reads every frame the server sends and records it.
pub struct RawHttp2 {
    writer: OwnedWriteHalf,
    authority: String,
    next_stream_id: u32,
    events: watch::Receiver<Http2Events>,
}

impl RawHttp2 {
    /// Connects and sends the client preface (the magic string and an empty SETTINGS frame).
    pub async fn connect(address: SocketAddr) -> RawHttp2 {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let mut preface = PREFACE.to_vec();
        preface.extend(frame(FRAME_SETTINGS, 0, 0, &[]));
        writer.write_all(&preface).await.expect("send the preface");
        let (sender, events) = watch::channel(Http2Events::default());
        tokio::spawn(async move {
            let mut answered = HashSet::new();
            loop {
                let mut head = [0u8; 9];
                if reader.read_exact(&mut head).await.is_err() {
                    break;
                }
                let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
                let (kind, flags) = (head[3], head[4]);
                let stream_id =
                    u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & !(1 << 31);
                let mut payload = vec![0u8; length];
                if reader.read_exact(&mut payload).await.is_err() {
                    break;
                }
                sender.send_modify(|events| match kind {
                    FRAME_SETTINGS if flags & FLAG_ACK == 0 => {
                        events.settings_received = true;
                        for setting in payload.chunks_exact(6) {
                            let id = u16::from_be_bytes([setting[0], setting[1]]);
                            let value = u32::from_be_bytes([
                                setting[2], setting[3], setting[4], setting[5],
                            ]);
                            if id == SETTINGS_MAX_CONCURRENT_STREAMS {
                                events.max_concurrent_streams = Some(value);
                            }
                        }
                    }
                    // The first HEADERS frame on a stream is its answer.
                    FRAME_HEADERS if answered.insert(stream_id) => events.answered_streams += 1,
                    FRAME_DATA => events.data_bytes += length,
                    FRAME_RST_STREAM if payload.len() == 4 => {
                        let code = u32::from_be_bytes(payload[..4].try_into().unwrap());
                        if code == REFUSED_STREAM {
                            events.refused_streams += 1;
                        } else {
                            events.other_resets += 1;
                        }
                    }
                    FRAME_PING => events.pings += 1,
                    FRAME_GOAWAY if payload.len() >= 8 => {
                        events.goaway = Some(u32::from_be_bytes(payload[4..8].try_into().unwrap()));
                    }
                    _ => {}
                });
            }
            sender.send_modify(|events| events.closed = true);
        });
        RawHttp2 {
            writer,
            authority: address.to_string(),
            next_stream_id: 1,
            events,
        }
    }

    /// Opens `count` streams in one write: each a POST head for `path` with `content_type`,
    /// never followed by a body.
    pub async fn open_streams_without_body(
        &mut self,
        count: usize,
        path: &str,
        content_type: &str,
    ) {
        let mut frames = Vec::new();
        for _ in 0..count {
            let block = header_block(&[
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", &self.authority),
                (":path", path),
                ("content-type", content_type),
                ("te", "trailers"),
            ]);
            frames.extend(frame(
                FRAME_HEADERS,
                FLAG_END_HEADERS,
                self.take_stream_id(),
                &block,
            ));
        }
        // The server may close the connection midway (it has refused streams): that is fine.
        let _ = self.writer.write_all(&frames).await;
    }

    /// Sends a complete GET for `path` (a head that ends the stream).
    pub async fn get(&mut self, path: &str) {
        let block = header_block(&[
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", &self.authority),
            (":path", path),
        ]);
        let stream_id = self.take_stream_id();
        let headers = frame(
            FRAME_HEADERS,
            FLAG_END_HEADERS | FLAG_END_STREAM,
            stream_id,
            &block,
        );
        self.writer.write_all(&headers).await.expect("send a GET");
    }

    /// Sends the first part of a GET's header block and never the rest (no END_HEADERS, and no
    /// CONTINUATION frame after it).
    pub async fn send_half_a_head(&mut self, path: &str) {
        let block = header_block(&[(":method", "GET"), (":scheme", "http"), (":path", path)]);
        let stream_id = self.take_stream_id();
        let headers = frame(FRAME_HEADERS, FLAG_END_STREAM, stream_id, &block);
        self.writer
            .write_all(&headers)
            .await
            .expect("send half a head");
    }

    /// What the server has sent so far.
    pub fn events(&self) -> Http2Events {
        self.events.borrow().clone()
    }

    /// Waits until what the server sent satisfies `condition`, at most `within`; returns what
    /// it sent by then.
    pub async fn wait_for(
        &self,
        within: Duration,
        condition: impl FnMut(&Http2Events) -> bool,
    ) -> Http2Events {
        let mut events = self.events.clone();
        let _ = tokio::time::timeout(within, events.wait_for(condition)).await;
        self.events()
    }

    fn take_stream_id(&mut self) -> u32 {
        let stream_id = self.next_stream_id;
        self.next_stream_id += 2;
        stream_id
    }
}

/// A frame: 24-bit length, type, flags, stream id, payload.
fn frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let length = (payload.len() as u32).to_be_bytes();
    let mut frame = vec![length[1], length[2], length[3], kind, flags];
    frame.extend(stream_id.to_be_bytes());
    frame.extend(payload);
    frame
}

/// An HPACK header block of literal fields without indexing (no table, no Huffman coding).
fn header_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in fields {
        block.push(0x00);
        for text in [name, value] {
            assert!(text.len() < 127, "a one-byte HPACK length");
            block.push(text.len() as u8);
            block.extend(text.as_bytes());
        }
    }
    block
}
