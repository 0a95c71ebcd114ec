//! Plain HTTP in tests: reqwest clients that never use a proxy (optionally https trusting one
//! CA), and JSON answers read as they came over the wire.

/// A reqwest client that never goes through a proxy (HTTP/1.1 only: no `http2` feature).
pub fn http_client() -> reqwest::Client {
    http_client_sending(&[])
}

/// A reqwest client like `http_client` that sends `headers` with every request.
fn http_client_sending(headers: &[(String, String)]) -> reqwest::Client {
    http_client_trusting(headers, None)
}

/// A reqwest client like `http_client_sending` that, given a CA certificate (PEM), speaks
/// https and trusts only that CA.
pub fn http_client_trusting(
    headers: &[(String, String)],
    https_ca: Option<&[u8]>,
) -> reqwest::Client {
    let headers = headers
        .iter()
        .map(|(name, value)| {
            (
                reqwest::header::HeaderName::try_from(name.as_str()).expect("a header name"),
                reqwest::header::HeaderValue::try_from(value.as_str()).expect("a header value"),
            )
        })
        .collect();
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers);
    if let Some(ca) = https_ca {
        builder = builder
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(ca).expect("a PEM certificate"));
    }
    builder.build().unwrap()
}

/// An answer to a JSON request, as it came over the wire.
#[derive(Debug)]
pub struct JsonAnswer {
    pub status: u16,
    pub content_type: String,
    pub body: serde_json::Value,
}

/// Reads an HTTP answer whose body must be JSON.
pub async fn json_answer(answer: reqwest::Response) -> JsonAnswer {
    let status = answer.status().as_u16();
    let content_type = header_text(answer.headers(), "content-type");
    let body = answer.bytes().await.unwrap();
    let body = serde_json::from_slice(&body).unwrap_or_else(|error| {
        panic!(
            "a JSON answer, got {status} {:?}: {error}",
            String::from_utf8_lossy(&body)
        )
    });
    JsonAnswer {
        status,
        content_type,
        body,
    }
}

/// The text of header `name`, empty when it is absent.
pub fn header_text(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default()
}
