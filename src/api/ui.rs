//! The built-in pages: `/ui/passkey/register` (the default target of emailed links),
//! `/ui/login` (sign-in with a passkey) and `/ui/account` (the signed-in user's passkeys).
//! Their files are built from `web/` and embedded in the binary, so passlink serves them from
//! any working directory and needs no Node.js at run time. Each page's script sits next to it
//! (`<page>.js`) and talks gRPC-Web to the same origin.

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderValue, header};

/// The registration page.
const REGISTER_HTML: &str = include_str!("../../web/static/register.html");
/// The registration page's bundle, built by `web/build.sh` (checked by `web/check.sh`).
const REGISTER_JS: &[u8] = include_bytes!("../../web/dist/register.js");
/// The sign-in page.
const LOGIN_HTML: &str = include_str!("../../web/static/login.html");
/// The sign-in page's bundle.
const LOGIN_JS: &[u8] = include_bytes!("../../web/dist/login.js");
/// The account page.
const ACCOUNT_HTML: &str = include_str!("../../web/static/account.html");
/// The account page's bundle.
const ACCOUNT_JS: &[u8] = include_bytes!("../../web/dist/account.js");

/// The path of the registration page.
pub const REGISTER_PAGE_PATH: &str = "/ui/passkey/register";
/// The path of the sign-in page.
pub const LOGIN_PAGE_PATH: &str = "/ui/login";
/// The path of the account page.
pub const ACCOUNT_PAGE_PATH: &str = "/ui/account";

/// One page: where it is, its HTML, and its script (served at the page's path + `.js`).
struct Page {
    path: &'static str,
    html: &'static str,
    script: &'static [u8],
}

const PAGES: [Page; 3] = [
    Page {
        path: REGISTER_PAGE_PATH,
        html: REGISTER_HTML,
        script: REGISTER_JS,
    },
    Page {
        path: LOGIN_PAGE_PATH,
        html: LOGIN_HTML,
        script: LOGIN_JS,
    },
    Page {
        path: ACCOUNT_PAGE_PATH,
        html: ACCOUNT_HTML,
        script: ACCOUNT_JS,
    },
];

/// What the pages may load and do: their own scripts and calls to their own origin, inline
/// styles, nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    connect-src 'self'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// Routes of the pages and their scripts; `/ui/` leads to the sign-in page.
pub fn router() -> Router {
    let mut router = Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route(
            "/ui/",
            get(|| async { Redirect::temporary(LOGIN_PAGE_PATH) }),
        );
    for page in &PAGES {
        let (html, script) = (page.html, page.script);
        router = router
            .route(page.path, get(move || async move { page_response(html) }))
            .route(
                &format!("{}.js", page.path),
                get(move || async move { script_response(script) }),
            );
    }
    router
}

fn with_headers(mut response: Response, content_type: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A registration link's query string holds the code: never send it on as a referrer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn page_response(html: &'static str) -> Response {
    let mut response = with_headers(html.into_response(), "text/html; charset=utf-8");
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

fn script_response(script: &'static [u8]) -> Response {
    with_headers(script.into_response(), "text/javascript; charset=utf-8")
}
