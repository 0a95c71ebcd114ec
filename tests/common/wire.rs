//! One client for every protocol passlink speaks on its port: gRPC (tonic over HTTP/2),
//! gRPC-Web (raw frames over HTTP/1.1, binary and `-text`), Connect unary (JSON and proto) and
//! REST JSON. Every call answers with the response message or a `Failure` read back from that
//! protocol's error shape, so one scenario can run over each protocol unchanged.

use std::collections::HashMap;
use std::net::SocketAddr;

use base64::Engine;
use prost::Message;
use tonic::transport::Channel;

use super::failure::{Failure, connect_failure, error_detail_of_rpc_status, rest_failure};
use super::grpc_web::{
    GrpcWebFrames, decode_base64_lenient, decode_grpc_web_text, grpc_web_frame,
    parse_grpc_web_frames, percent_decode,
};
use super::protocols::Protocol;

use super::descriptors::{from_json, method_descriptors, rest_route, rpc_path, to_json};
use super::http_clients::{JsonAnswer, header_text, http_client_trusting, json_answer};

/// How a client authenticates.
#[derive(Clone, Debug)]
enum Credentials {
    None,
    Bearer(String),
}

/// A client of the user service over one protocol.
#[derive(Clone)]
pub struct ApiClient {
    protocol: Protocol,
    address: SocketAddr,
    credentials: Credentials,
    /// Headers sent with every request besides `authorization` (gRPC metadata over gRPC).
    headers: Vec<(String, String)>,
    http: reqwest::Client,
    channel: Option<Channel>,
    /// The CA certificate (PEM) of an https server; `None` for plain http.
    https_ca: Option<Vec<u8>>,
}

impl ApiClient {
    /// A client without credentials.
    pub async fn new(protocol: Protocol, address: SocketAddr) -> ApiClient {
        let channel = match protocol {
            Protocol::Grpc => Some(super::grpc_channel(address).await),
            _ => None,
        };
        ApiClient::over(protocol, address, channel, None)
    }

    /// A client without credentials of a server serving TLS at `address` with a certificate
    /// for `localhost` signed by `ca` (PEM).
    pub async fn new_https(protocol: Protocol, address: SocketAddr, ca: &[u8]) -> ApiClient {
        let channel = match protocol {
            Protocol::Grpc => Some(super::grpc_channel_https(address, ca).await),
            _ => None,
        };
        ApiClient::over(protocol, address, channel, Some(ca))
    }

    /// A client without credentials over `channel` (gRPC) or HTTP, https when `https_ca` is
    /// given.
    fn over(
        protocol: Protocol,
        address: SocketAddr,
        channel: Option<Channel>,
        https_ca: Option<&[u8]>,
    ) -> ApiClient {
        ApiClient {
            protocol,
            address,
            credentials: Credentials::None,
            headers: Vec::new(),
            http: http_client_trusting(&[], https_ca),
            channel,
            https_ca: https_ca.map(<[u8]>::to_vec),
        }
    }

    /// The same client sending `name: value` with every request, as an HTTP header or as gRPC
    /// metadata.
    pub fn with_header(&self, name: &str, value: &str) -> ApiClient {
        let mut headers = self.headers.clone();
        headers.push((name.to_owned(), value.to_owned()));
        ApiClient {
            http: http_client_trusting(&headers, self.https_ca.as_deref()),
            headers,
            ..self.clone()
        }
    }

    /// The same client sending `Authorization: Bearer <token>`.
    pub fn with_token(&self, token: &str) -> ApiClient {
        ApiClient {
            credentials: Credentials::Bearer(token.to_owned()),
            ..self.clone()
        }
    }

    /// The same client without credentials.
    pub fn without_token(&self) -> ApiClient {
        ApiClient {
            credentials: Credentials::None,
            ..self.clone()
        }
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn url(&self, path: &str) -> String {
        match self.https_ca {
            None => format!("http://{}{path}", self.address),
            Some(_) => format!("https://localhost:{}{path}", self.address.port()),
        }
    }

    fn authorization(&self) -> Option<String> {
        match &self.credentials {
            Credentials::None => None,
            Credentials::Bearer(token) => Some(format!("Bearer {token}")),
        }
    }

    /// `request` with this client's `authorization` header, if it has credentials.
    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.authorization() {
            Some(authorization) => request.header("authorization", authorization),
            None => request,
        }
    }

    /// Calls `method` of the user service over this client's protocol.
    pub async fn call<Req, Resp>(&self, method: &str, request: &Req) -> Result<Resp, Failure>
    where
        Req: Message + Clone + Send + Sync + 'static,
        Resp: Message + Default + Send + Sync + 'static,
    {
        match self.protocol {
            Protocol::Grpc => self.call_grpc(method, request).await,
            Protocol::GrpcWeb | Protocol::GrpcWebText => self.call_grpc_web(method, request).await,
            Protocol::ConnectJson | Protocol::ConnectProto => {
                self.call_connect(method, request).await
            }
            Protocol::Rest => self.call_rest(method, request).await,
        }
    }

    async fn call_grpc<Req, Resp>(&self, method: &str, request: &Req) -> Result<Resp, Failure>
    where
        Req: Message + Clone + Send + Sync + 'static,
        Resp: Message + Default + Send + Sync + 'static,
    {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone().expect("a gRPC channel"));
        grpc.ready().await.expect("the channel is ready");
        let mut wrapped = tonic::Request::new(request.clone());
        if let Some(authorization) = self.authorization() {
            wrapped
                .metadata_mut()
                .insert("authorization", authorization.parse().unwrap());
        }
        for (name, value) in &self.headers {
            let name: tonic::metadata::MetadataKey<tonic::metadata::Ascii> =
                name.parse().expect("a metadata key");
            wrapped
                .metadata_mut()
                .insert(name, value.parse().expect("a metadata value"));
        }
        let path = http::uri::PathAndQuery::try_from(rpc_path(method)).unwrap();
        grpc.unary(
            wrapped,
            path,
            tonic_prost::ProstCodec::<Req, Resp>::default(),
        )
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| Failure {
            protocol: self.protocol,
            code: status.code(),
            http_status: None,
            message: status.message().to_owned(),
            detail: error_detail_of_rpc_status(status.details()),
        })
    }

    /// Posts one gRPC-Web request and returns the HTTP answer's status, headers and frames.
    pub async fn grpc_web_exchange(
        &self,
        method: &str,
        message: &[u8],
    ) -> (u16, reqwest::header::HeaderMap, GrpcWebFrames) {
        let text = self.protocol == Protocol::GrpcWebText;
        let frame = grpc_web_frame(0x00, message);
        // Like grpc-web's text mode, ask for a text answer: tonic-web picks the answer's
        // encoding from Accept, not from the request's content type.
        let (content_type, body) = if text {
            (
                "application/grpc-web-text",
                base64::engine::general_purpose::STANDARD
                    .encode(&frame)
                    .into_bytes(),
            )
        } else {
            ("application/grpc-web+proto", frame)
        };
        let mut request = self
            .http
            .post(self.url(&rpc_path(method)))
            .header("content-type", content_type)
            .header("accept", content_type)
            .header("x-grpc-web", "1")
            .body(body);
        request = self.authorized(request);
        let answer = request.send().await.expect("a gRPC-Web answer");
        assert_eq!(answer.version(), reqwest::Version::HTTP_11);
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let body = answer.bytes().await.unwrap();
        let body = if text {
            decode_grpc_web_text(&body)
        } else {
            body.to_vec()
        };
        (status, headers, parse_grpc_web_frames(&body))
    }

    async fn call_grpc_web<Req: Message, Resp: Message + Default>(
        &self,
        method: &str,
        request: &Req,
    ) -> Result<Resp, Failure> {
        let (status, headers, frames) = self
            .grpc_web_exchange(method, &request.encode_to_vec())
            .await;
        assert_eq!(status, 200, "gRPC-Web answers HTTP 200 and a grpc-status");
        assert!(!frames.bytes_after_trailers, "the trailer frame comes last");
        // A status comes either in a trailer frame or, for a trailers-only answer, in headers.
        let grpc_status: HashMap<String, String> = match frames.trailers {
            Some(trailers) => trailers,
            None => ["grpc-status", "grpc-message", "grpc-status-details-bin"]
                .into_iter()
                .filter_map(|name| {
                    let value = headers.get(name)?.to_str().unwrap();
                    Some((name.to_owned(), value.to_owned()))
                })
                .collect(),
        };
        let code: i32 = grpc_status
            .get("grpc-status")
            .unwrap_or_else(|| panic!("a grpc-status in the trailer frame or headers"))
            .parse()
            .unwrap();
        if code == 0 {
            assert_eq!(
                frames.messages.len(),
                1,
                "one data frame before the trailers"
            );
            return Ok(Resp::decode(frames.messages[0].as_slice()).unwrap());
        }
        assert!(frames.messages.is_empty(), "no message in an error answer");
        Err(Failure {
            protocol: self.protocol,
            code: tonic::Code::from_i32(code),
            http_status: Some(status),
            message: percent_decode(
                grpc_status
                    .get("grpc-message")
                    .map(String::as_str)
                    .unwrap_or_default(),
            ),
            detail: grpc_status
                .get("grpc-status-details-bin")
                .and_then(|value| error_detail_of_rpc_status(&decode_base64_lenient(value))),
        })
    }

    async fn call_connect<Req: Message, Resp: Message + Default>(
        &self,
        method: &str,
        request: &Req,
    ) -> Result<Resp, Failure> {
        let (input, output) = method_descriptors(method);
        let (content_type, body) = match self.protocol {
            Protocol::ConnectJson => (
                "application/json",
                to_json(input, request).to_string().into_bytes(),
            ),
            _ => ("application/proto", request.encode_to_vec()),
        };
        let mut http_request = self
            .http
            .post(self.url(&rpc_path(method)))
            .header("content-type", content_type)
            .header("connect-protocol-version", "1")
            .body(body);
        http_request = self.authorized(http_request);
        let answer = http_request.send().await.expect("a Connect answer");
        let status = answer.status().as_u16();
        let answer_type = header_text(answer.headers(), "content-type");
        let body = answer.bytes().await.unwrap();
        if status == 200 {
            assert_eq!(
                answer_type, content_type,
                "the answer has the request's format"
            );
            return Ok(match self.protocol {
                Protocol::ConnectJson => from_json(output, &body),
                _ => Resp::decode(body.as_ref()).unwrap(),
            });
        }
        assert_eq!(answer_type, "application/json", "Connect errors are JSON");
        Err(connect_failure(self.protocol, status, &body))
    }

    async fn call_rest<Req: Message, Resp: Message + Default>(
        &self,
        method: &str,
        request: &Req,
    ) -> Result<Resp, Failure> {
        let (input, output) = method_descriptors(method);
        let answer = self.rest_json(method, to_json(input, request)).await;
        if (200..300).contains(&answer.status) {
            assert_eq!(
                answer.status,
                rest_route(method).success.as_u16(),
                "{method} answers its route's success status"
            );
            return Ok(from_json(output, answer.body.to_string().as_bytes()));
        }
        Err(rest_failure(self.protocol, &answer))
    }

    /// Sends a JSON request body as is, over REST (routed by the method and the body's
    /// `userId`/`passkeyId`) or Connect JSON, and returns the raw answer.
    pub async fn raw_json(&self, method: &str, body: serde_json::Value) -> JsonAnswer {
        match self.protocol {
            Protocol::Rest => self.rest_json(method, body).await,
            Protocol::ConnectJson => {
                let mut request = self
                    .http
                    .post(self.url(&rpc_path(method)))
                    .header("content-type", "application/json")
                    .body(body.to_string());
                request = self.authorized(request);
                json_answer(request.send().await.expect("a Connect answer")).await
            }
            other => panic!("{other:?} does not carry JSON"),
        }
    }

    /// Sends `body` to the REST route `method`'s `google.api.http` annotation gives: the path's
    /// variables take the body's fields of the same name; the rest is the body, or the query
    /// string of a route without one.
    async fn rest_json(&self, method: &str, body: serde_json::Value) -> JsonAnswer {
        let route = rest_route(method);
        let mut fields = body.as_object().cloned().unwrap_or_default();
        let mut take = |field: &passlink::api::routes::PathField| {
            [field.json_name.as_str(), field.name.as_str()]
                .into_iter()
                .find_map(|name| fields.remove(name))
        };
        let mut url = url::Url::parse(&self.url("/")).unwrap();
        {
            let mut segments = url.path_segments_mut().unwrap();
            segments.clear();
            for segment in route.path.trim_start_matches('/').split('/') {
                let variable = route
                    .path_fields
                    .iter()
                    .find(|field| segment == format!("{{{}}}", field.name));
                match variable {
                    Some(field) => segments.push(&query_text(&take(field).unwrap_or_default())),
                    None => segments.push(segment),
                };
            }
        }
        let mut request = if route.body {
            self.http
                .request(route.verb.clone(), url)
                .header("content-type", "application/json")
                .body(body.to_string())
        } else {
            for (name, value) in &fields {
                url.query_pairs_mut().append_pair(name, &query_text(value));
            }
            self.http.request(route.verb.clone(), url)
        };
        request = self.authorized(request);
        json_answer(request.send().await.expect("a REST answer")).await
    }
}

/// A JSON value as the text of a path segment or query parameter.
fn query_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => String::new(),
        serde_json::Value::Bool(_) | serde_json::Value::Number(_) => value.to_string(),
        other => panic!("{other} does not fit in a URL"),
    }
}
