//! The registration page: served from the binary, and in a real browser: headless Chromium
//! (Debian's package) driven by `web/tests/register-page.mjs` through playwright-core and the
//! DevTools protocol, with a virtual WebAuthn authenticator. The browser test is ignored by a
//! plain `cargo test` (it needs Chromium, Node.js and `web/node_modules`); `cargo test --
//! --include-ignored` runs it, and it fails when a tool is missing.

mod common;

use std::path::Path;

use common::browser::{self, missing_tools, screenshot_dir};
use common::requests::return_code;
use common::{TestServer, add_human, authorized, create_code};
use passlink::domain::url_template::{LinkValues, UrlTemplate, default_link_template};
use passlink::pb::zitadel::user::v2 as user_pb;
use serde_json::Value;

/// What the page showed at the end.
#[derive(Debug)]
struct PageOutcome {
    state: String,
    message: String,
    /// In "cancel-first" mode, what the page said after the cancelled prompt.
    first_message: String,
    /// The passkey name the page suggested before anything was typed.
    suggested_name: String,
    authenticator_credentials: u64,
}

/// `web/tests/register-page.mjs` running against one link.
struct PageDriver(browser::PageDriver);

impl PageDriver {
    fn start(url: &str, screenshot: &Path, passkey_name: &str, mode: Option<&str>) -> Self {
        let mut args = vec![url, screenshot.to_str().unwrap(), passkey_name];
        args.extend(mode);
        Self(browser::PageDriver::start("register-page.mjs", args))
    }

    async fn next_event(&mut self) -> Value {
        self.0.next_event().await
    }

    async fn resume(&mut self) {
        self.0.resume().await
    }

    /// Reads the final line and waits for the driver to exit.
    async fn finish(self) -> PageOutcome {
        let outcome = self.0.finish().await;
        println!("page logs: {}", outcome["logs"]);
        let text = |key: &str| outcome[key].as_str().unwrap_or_default().to_owned();
        PageOutcome {
            state: text("state"),
            message: text("message"),
            first_message: text("firstMessage"),
            suggested_name: text("suggestedName"),
            authenticator_credentials: outcome["authenticatorCredentials"].as_u64().unwrap_or(0),
        }
    }
}

async fn drive_page(url: &str, screenshot: &Path, passkey_name: &str) -> PageOutcome {
    PageDriver::start(url, screenshot, passkey_name, None)
        .finish()
        .await
}

/// The names of the user's ready passkeys, as ListPasskeys answers.
async fn passkey_names(server: &TestServer, user_id: &str) -> Vec<String> {
    server
        .grpc_client()
        .await
        .list_passkeys(authorized(
            user_pb::ListPasskeysRequest {
                user_id: user_id.to_owned(),
            },
            &server.admin_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .result
        .into_iter()
        .map(|passkey| {
            assert_eq!(passkey.state, user_pb::AuthFactorState::Ready as i32);
            passkey.name
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs Chromium, Node.js and web/node_modules (npm ci in web/)"]
async fn the_registration_page_registers_a_passkey_in_chromium_and_refuses_a_used_link() {
    if let Some(missing) = missing_tools() {
        panic!("the browser test needs what is missing: {missing}");
    }
    let server = TestServer::start_self_hosted(|_| {}).await;
    let user_id = add_human(&server, &server.admin_token, "Radia").await;
    let mut client = server.grpc_client().await;
    let created = client
        .create_passkey_registration_link(authorized(return_code(&user_id), &server.admin_token))
        .await
        .unwrap()
        .into_inner();
    let code = created.code.unwrap();
    let org_id = created.details.unwrap().resource_owner;
    // The link exactly as the default email would carry it.
    let link = UrlTemplate::parse(&default_link_template(&server.external_url))
        .unwrap()
        .render(&LinkValues {
            user_id: &user_id,
            org_id: &org_id,
            code_id: &code.id,
            code: &code.code,
        });
    assert!(link.starts_with(&server.url("/ui/passkey/register?")));

    let registered_png = screenshot_dir().join("registered.png");
    let outcome = drive_page(&link, &registered_png, "Chromium virtual key").await;
    println!(
        "screenshot of the registered page: {}",
        registered_png.display()
    );
    assert_eq!(
        outcome.suggested_name, "Chrome on Linux",
        "the page suggests a name from the browser and platform"
    );
    assert_eq!(outcome.state, "success", "{outcome:?}");
    assert!(outcome.message.contains("is ready"), "{outcome:?}");
    assert_eq!(outcome.authenticator_credentials, 1);
    // The name typed before the browser prompt is the stored name.
    assert_eq!(
        passkey_names(&server, &user_id).await,
        ["Chromium virtual key"]
    );

    let used_png = screenshot_dir().join("used-link.png");
    let outcome = drive_page(&link, &used_png, "second try").await;
    println!("screenshot of the used link's page: {}", used_png.display());
    assert_eq!(outcome.state, "error", "{outcome:?}");
    assert!(outcome.message.contains("no longer valid"), "{outcome:?}");
    assert_eq!(
        outcome.authenticator_credentials, 0,
        "a used link creates no credential"
    );

    // A browser without WebAuthn is told so, and the code is not spent.
    let code = create_code(&server, &user_id).await;
    let link = format!(
        "{}/ui/passkey/register?userID={user_id}&orgID={org_id}&codeID={}&code={}",
        server.external_url, code.id, code.code
    );
    let unsupported_png = screenshot_dir().join("no-webauthn.png");
    let outcome = PageDriver::start(&link, &unsupported_png, "unused", Some("no-webauthn"))
        .finish()
        .await;
    println!(
        "screenshot of the page without WebAuthn: {}",
        unsupported_png.display()
    );
    assert_eq!(outcome.state, "error", "{outcome:?}");
    assert!(
        outcome.message.contains("does not support passkeys"),
        "{outcome:?}"
    );
    assert_eq!(
        server.event_types(&user_id).await.last().unwrap(),
        "user.passkey.code.added",
        "opening the page spends nothing"
    );

    // The same, still unspent link: the user names the passkey, cancels the prompt, which
    // stores nothing; then renames it, tries again and finishes with the registration already
    // started, under the name typed before the second prompt.
    let retried_png = screenshot_dir().join("cancelled-then-registered.png");
    let mut driver = PageDriver::start(&link, &retried_png, "second key", Some("cancel-first"));
    let cancelled = driver.next_event().await;
    assert_eq!(cancelled["event"], "cancelled", "{cancelled}");
    assert!(
        cancelled["message"].as_str().unwrap().contains("cancelled"),
        "{cancelled}"
    );
    assert_eq!(cancelled["authenticatorCredentials"], 0, "{cancelled}");
    assert_eq!(
        passkey_names(&server, &user_id).await,
        ["Chromium virtual key"],
        "a cancelled prompt stores no passkey"
    );
    assert_eq!(
        (&cancelled["nameEditable"], &cancelled["buttonEnabled"]),
        (&Value::Bool(true), &Value::Bool(true)),
        "the user can rename and try again: {cancelled}"
    );
    driver.resume().await;
    let outcome = driver.finish().await;
    println!(
        "screenshot after a cancelled prompt and a retry: {}",
        retried_png.display()
    );
    assert!(outcome.first_message.contains("cancelled"), "{outcome:?}");
    assert_eq!(outcome.state, "success", "{outcome:?}");
    assert_eq!(outcome.authenticator_credentials, 1, "{outcome:?}");
    assert_eq!(
        passkey_names(&server, &user_id).await,
        ["Chromium virtual key", "second key"]
    );
    server.stop().await;
}

/// The headers every answer of the pages carries.
fn assert_page_headers(response: &reqwest::Response, content_type: &str) {
    let headers = response.headers();
    assert_eq!(headers["content-type"], content_type);
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
}

/// Whether `html` has an attribute such as ` onclick=` (which the CSP would block).
fn has_event_handler_attribute(html: &str) -> bool {
    html.match_indices(" on").any(|(start, _)| {
        let rest = &html[start + 3..];
        let name_length = rest
            .bytes()
            .take_while(|byte| byte.is_ascii_lowercase())
            .count();
        name_length > 0 && rest[name_length..].starts_with('=')
    })
}

#[tokio::test]
async fn every_page_and_its_script_are_served_from_the_binary() {
    let server = TestServer::start().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The page (as a link opens it), its directory, and the script it loads from there.
    let pages = [
        (
            "/ui/passkey/register?userID=1&orgID=2&codeID=3&code=x",
            "/ui/passkey/",
            "register.js",
        ),
        ("/ui/login", "/ui/", "login.js"),
        ("/ui/account", "/ui/", "account.js"),
    ];
    let mut policies = Vec::new();
    for (path, directory, script) in pages {
        let page = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(page.status(), 200, "{path}");
        assert_page_headers(&page, "text/html; charset=utf-8");
        let csp = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(
            csp.starts_with("default-src 'none'; script-src 'self'; connect-src 'self';"),
            "{path}: {csp}"
        );
        policies.push(csp.to_owned());
        let html = page.text().await.unwrap();
        assert!(
            html.contains(&format!(r#"<script type="module" src="{script}">"#)),
            "{path} loads {script}"
        );
        assert!(
            !html.contains("<script>") && !has_event_handler_attribute(&html),
            "{path} has no inline script or event handler attribute"
        );
        let script_path = format!("{directory}{script}");
        let answer = http.get(server.url(&script_path)).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{script_path}");
        assert_page_headers(&answer, "text/javascript; charset=utf-8");
        let bundle = answer.bytes().await.unwrap();
        assert_eq!(
            bundle.as_ref(),
            std::fs::read(browser::web_dir().join("dist").join(script)).unwrap(),
            "{script_path} is the committed bundle"
        );
    }
    assert!(
        policies.windows(2).all(|pair| pair[0] == pair[1]),
        "every page has the registration page's CSP: {policies:?}"
    );
    for (path, status, location) in [("/ui", 308, "/ui/"), ("/ui/", 307, "/ui/login")] {
        let redirect = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(redirect.status(), status, "{path}");
        assert_eq!(redirect.headers()["location"], location, "{path}");
    }
    let missing = http
        .get(server.url("/ui/passkey/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    server.stop().await;
}

#[tokio::test]
#[ignore = "needs Chromium, Node.js and web/node_modules (npm ci in web/)"]
async fn the_registration_page_registers_a_passkey_over_https_in_chromium() {
    use common::protocols::Protocol;
    use common::tls::{TestCa, start_with_tls};
    use common::wire::ApiClient;

    if let Some(missing) = missing_tools() {
        panic!("the browser test needs what is missing: {missing}");
    }
    let ca = TestCa::new();
    let certificate = ca.server_certificate("passlink over https");
    // No external_url and no fixed port: the default follows the bound port, with https.
    let (server, _tls_dir) = start_with_tls(&certificate, |_| {}).await;
    assert_eq!(
        server.external_url,
        format!("https://localhost:{}", server.address.port())
    );
    let admin = ApiClient::new_https(Protocol::Grpc, server.address, ca.pem().as_bytes())
        .await
        .with_token(&server.admin_token);
    let user_id = admin
        .add_human_user(common::requests::human(
            "Hedy",
            &common::unique_email("hedy"),
        ))
        .await
        .unwrap()
        .user_id;
    let created = admin
        .create_passkey_registration_link(return_code(&user_id))
        .await
        .unwrap();
    let code = created.code.unwrap();
    let link = UrlTemplate::parse(&default_link_template(&server.external_url))
        .unwrap()
        .render(&LinkValues {
            user_id: &user_id,
            org_id: &created.details.unwrap().resource_owner,
            code_id: &code.id,
            code: &code.code,
        });
    assert!(link.starts_with("https://localhost:"), "{link}");

    // Chromium trusts exactly this server key (as it would a certificate from a real CA):
    // WebAuthn is refused on pages with certificate errors.
    let screenshot = screenshot_dir().join("registered-over-https.png");
    let driver = browser::PageDriver::start_with_chromium_args(
        "register-page.mjs",
        [
            link.as_str(),
            screenshot.to_str().unwrap(),
            "key over https",
        ],
        &[format!(
            "--ignore-certificate-errors-spki-list={}",
            certificate.spki_sha256_base64
        )],
    );
    let outcome = PageDriver(driver).finish().await;
    println!(
        "screenshot of the page over https: {}",
        screenshot.display()
    );
    assert_eq!(outcome.state, "success", "{outcome:?}");
    assert_eq!(outcome.authenticator_credentials, 1, "{outcome:?}");
    let names: Vec<String> = admin
        .list_passkeys(&user_id)
        .await
        .unwrap()
        .result
        .into_iter()
        .map(|passkey| passkey.name)
        .collect();
    assert_eq!(names, ["key over https"]);
    server.stop().await;
}
