//! The registration page in a real browser: headless Chromium (Debian's package) driven by
//! `web/tests/register-page.mjs` through playwright-core and the DevTools protocol, with a
//! virtual WebAuthn authenticator. Skips with a notice when Chromium, Node.js or
//! `web/node_modules` are missing, and fails instead when `CI=true`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestServer, add_human, authorized, create_code, required_by_ci};
use passlink::domain::template::{LinkValues, UrlTemplate, default_link_template};
use passlink::pb::zitadel::user::v2 as user_pb;
use serde_json::Value;

fn chromium() -> PathBuf {
    std::env::var_os("PASSLINK_TEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// Why the browser test cannot run here, if it cannot.
fn missing_tools() -> Option<String> {
    if !chromium().exists() {
        return Some(format!(
            "{} is missing (apt-get install chromium)",
            chromium().display()
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is missing".into());
    }
    if !web_dir().join("node_modules/playwright-core").exists() {
        return Some("web/node_modules is missing (run npm ci in web/)".into());
    }
    None
}

/// What the page showed at the end.
#[derive(Debug)]
struct PageOutcome {
    state: String,
    message: String,
    /// In "cancel-first" mode, what the page said after the cancelled prompt.
    first_message: String,
    authenticator_credentials: u64,
}

fn drive_page(url: &str, screenshot: &Path, passkey_name: &str) -> PageOutcome {
    drive_page_in_mode(url, screenshot, passkey_name, None)
}

fn drive_page_in_mode(
    url: &str,
    screenshot: &Path,
    passkey_name: &str,
    mode: Option<&str>,
) -> PageOutcome {
    let output = Command::new("node")
        .arg(web_dir().join("tests/register-page.mjs"))
        .arg(chromium())
        .arg(url)
        .arg(screenshot)
        .arg(passkey_name)
        .args(mode)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the page driver failed: {}\n{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout.lines().last().expect("a JSON line");
    let outcome: Value = serde_json::from_str(line).expect("JSON from the driver");
    println!("page logs: {}", outcome["logs"]);
    PageOutcome {
        state: outcome["state"].as_str().unwrap_or_default().to_owned(),
        message: outcome["message"].as_str().unwrap_or_default().to_owned(),
        first_message: outcome["firstMessage"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        authenticator_credentials: outcome["authenticatorCredentials"].as_u64().unwrap_or(0),
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn the_registration_page_registers_a_passkey_in_chromium_and_refuses_a_used_link() {
    if let Some(missing) = missing_tools() {
        if required_by_ci() {
            panic!("the browser test must run in CI, but {missing}");
        }
        println!("SKIPPED the browser test: {missing}");
        return;
    }
    let server = TestServer::start_self_hosted(|_| {}).await;
    let user_id = add_human(&server, &server.admin_token, "Radia").await;
    let mut client = server.grpc_client().await;
    let created = client
        .create_passkey_registration_link(authorized(
            user_pb::CreatePasskeyRegistrationLinkRequest {
                user_id: user_id.clone(),
                medium: Some(
                    user_pb::create_passkey_registration_link_request::Medium::ReturnCode(
                        user_pb::ReturnPasskeyRegistrationCode {},
                    ),
                ),
            },
            &server.admin_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let code = created.code.unwrap();
    let org_id = created.details.unwrap().resource_owner;
    // The link exactly as the default email would carry it.
    let link = UrlTemplate::parse(&default_link_template(&server.settings.external_url))
        .unwrap()
        .render(&LinkValues {
            user_id: &user_id,
            org_id: &org_id,
            code_id: &code.id,
            code: &code.code,
        });
    assert!(link.starts_with(&server.url("/ui/passkey/register?")));

    let registered_png = screenshot_dir().join("registered.png");
    let outcome = tokio::task::spawn_blocking({
        let link = link.clone();
        let screenshot = registered_png.clone();
        move || drive_page(&link, &screenshot, "Chromium virtual key")
    })
    .await
    .unwrap();
    println!(
        "screenshot of the registered page: {}",
        registered_png.display()
    );
    assert_eq!(outcome.state, "success", "{outcome:?}");
    assert!(outcome.message.contains("is ready"), "{outcome:?}");
    assert_eq!(outcome.authenticator_credentials, 1);

    let listed = client
        .list_passkeys(authorized(
            user_pb::ListPasskeysRequest {
                user_id: user_id.clone(),
            },
            &server.admin_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.result.len(), 1, "{listed:?}");
    assert_eq!(listed.result[0].name, "Chromium virtual key");
    assert_eq!(
        listed.result[0].state,
        user_pb::AuthFactorState::Ready as i32
    );

    let used_png = screenshot_dir().join("used-link.png");
    let outcome = tokio::task::spawn_blocking({
        let screenshot = used_png.clone();
        move || drive_page(&link, &screenshot, "second try")
    })
    .await
    .unwrap();
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
        server.settings.external_url, code.id, code.code
    );
    let unsupported_png = screenshot_dir().join("no-webauthn.png");
    let outcome = tokio::task::spawn_blocking({
        let screenshot = unsupported_png.clone();
        move || drive_page_in_mode(&link, &screenshot, "unused", Some("no-webauthn"))
    })
    .await
    .unwrap();
    println!(
        "screenshot of the page without WebAuthn: {}",
        unsupported_png.display()
    );
    assert_eq!(outcome.state, "error", "{outcome:?}");
    assert!(
        outcome.message.contains("does not support passkeys"),
        "{outcome:?}"
    );
    let events = server.services.store().list_events(&user_id).await.unwrap();
    assert_eq!(
        events.last().unwrap().event_type,
        "user.passkey.code.added",
        "opening the page spends nothing"
    );

    // The same, still unspent link: the user cancels the first prompt, then tries again and
    // finishes with the registration already started.
    let link = format!(
        "{}/ui/passkey/register?userID={user_id}&orgID={org_id}&codeID={}&code={}",
        server.settings.external_url, code.id, code.code
    );
    let retried_png = screenshot_dir().join("cancelled-then-registered.png");
    let outcome = tokio::task::spawn_blocking({
        let screenshot = retried_png.clone();
        move || drive_page_in_mode(&link, &screenshot, "second key", Some("cancel-first"))
    })
    .await
    .unwrap();
    println!(
        "screenshot after a cancelled prompt and a retry: {}",
        retried_png.display()
    );
    assert!(outcome.first_message.contains("cancelled"), "{outcome:?}");
    assert_eq!(outcome.state, "success", "{outcome:?}");
    let listed = client
        .list_passkeys(authorized(
            user_pb::ListPasskeysRequest {
                user_id: user_id.clone(),
            },
            &server.admin_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = listed
        .result
        .iter()
        .map(|passkey| passkey.name.as_str())
        .collect();
    assert_eq!(names, ["Chromium virtual key", "second key"]);
    server.stop().await;
}
