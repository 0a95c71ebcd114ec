//! The built-in registration page at `/ui/passkey/register`, the default target of emailed
//! links. Its files are built from `web/` and embedded in the binary, so passlink serves
//! them from any working directory and needs no Node.js at run time.

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderValue, header};

/// The page; its script talks gRPC-Web to the same origin.
const REGISTER_HTML: &str = include_str!("../../web/static/register.html");
/// The page's bundle, built by `web/build.sh` (checked by `web/check.sh`).
const REGISTER_JS: &[u8] = include_bytes!("../../web/dist/register.js");

/// The path of the registration page.
pub const REGISTER_PAGE_PATH: &str = "/ui/passkey/register";

/// Routes of the page and its script.
pub fn router() -> Router {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route(
            "/ui/",
            get(|| async { Redirect::temporary(REGISTER_PAGE_PATH) }),
        )
        .route(REGISTER_PAGE_PATH, get(register_page))
        .route("/ui/passkey/register.js", get(register_script))
}

fn with_headers(mut response: Response, content_type: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The link's query string holds the code: never send it on as a referrer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn register_page() -> Response {
    let mut response = with_headers(REGISTER_HTML.into_response(), "text/html; charset=utf-8");
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; connect-src 'self'; \
             style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
        ),
    );
    response
}

async fn register_script() -> Response {
    with_headers(
        REGISTER_JS.into_response(),
        "text/javascript; charset=utf-8",
    )
}
