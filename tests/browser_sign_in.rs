//! The sign-in pages: `/ui/login` and `/ui/account` are served from the binary like the
//! registration page, and, in headless Chromium driven by `web/tests/sign-in-flow.mjs` with
//! virtual WebAuthn authenticators, a passkey from an emailed link signs in (through the
//! button and through autofill), the account page shows the user and their passkeys, adds and
//! removes one with the session token as bearer, and signs out. The server side of every step
//! is checked over gRPC with the admin token.

mod common;

use std::time::Duration;

use common::browser::{PageDriver, missing_tools, screenshot_dir};
use common::requests::human;
use common::{TestServer, authorized, create_code, unique_email};
use passlink::pb::zitadel::session::v2 as session_pb;
use passlink::pb::zitadel::user::v2 as user_pb;
use serde_json::{Value, json};
use session_pb::session_service_client::SessionServiceClient;
use tonic::Code;
use tonic::transport::Channel;

/// What the page says when the browser's prompt ended without a passkey.
const NO_PASSKEY_USED: &str = "No passkey was used. If this device has no passkey for this site, sign in on a device that has one.";

/// A person with a username and a display name of their own, and their org.
struct Person {
    user_id: String,
    org_id: String,
    username: String,
    display_name: String,
}

async fn add_person(server: &TestServer) -> Person {
    let username = format!("radia.{}", common::uuid_like());
    let display_name = "Radia Perlman".to_owned();
    let mut request = human("Radia", &unique_email("Radia"));
    request.username = Some(username.clone());
    request.profile.as_mut().unwrap().display_name = Some(display_name.clone());
    let mut client = server.grpc_client().await;
    let user_id = client
        .add_human_user(authorized(request, &server.admin_token))
        .await
        .expect("AddHumanUser")
        .into_inner()
        .user_id;
    let org_id = client
        .get_user_by_id(authorized(
            user_pb::GetUserByIdRequest {
                user_id: user_id.clone(),
            },
            &server.admin_token,
        ))
        .await
        .expect("GetUserByID")
        .into_inner()
        .details
        .unwrap()
        .resource_owner;
    Person {
        user_id,
        org_id,
        username,
        display_name,
    }
}

async fn session_client(server: &TestServer) -> SessionServiceClient<Channel> {
    let channel = Channel::from_shared(format!("http://{}", server.address))
        .unwrap()
        .connect()
        .await
        .expect("connect over gRPC");
    SessionServiceClient::new(channel)
}

/// The session as GetSession answers the admin (no session token), or the error.
async fn session_as_admin(
    server: &TestServer,
    session_id: &str,
) -> Result<session_pb::Session, tonic::Status> {
    session_client(server)
        .await
        .get_session(authorized(
            session_pb::GetSessionRequest {
                session_id: session_id.to_owned(),
                session_token: None,
            },
            &server.admin_token,
        ))
        .await
        .map(|answer| {
            answer
                .into_inner()
                .session
                .expect("GetSession answers a session")
        })
}

/// Asserts that `session_id` is a session of `person` signed in with a user-verified passkey.
async fn assert_signed_in(server: &TestServer, session_id: &str, person: &Person) {
    let session = session_as_admin(server, session_id)
        .await
        .unwrap_or_else(|status| panic!("GetSession of the page's session: {status:?}"));
    let factors = session.factors.expect("a signed-in session has factors");
    let user = factors
        .user
        .expect("the passkey's owner is the session's user");
    assert_eq!(user.id, person.user_id);
    assert_eq!(user.login_name, person.username);
    assert_eq!(user.display_name, person.display_name);
    let passkey = factors
        .web_auth_n
        .expect("the session has a WebAuthn factor");
    assert!(passkey.verified_at.is_some() && passkey.user_verified);
}

/// Asserts that GetSession no longer finds `session_id` (signed out).
async fn assert_signed_out(server: &TestServer, session_id: &str) {
    let status = session_as_admin(server, session_id)
        .await
        .expect_err("a signed-out session is gone");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

/// The ids of the person's sessions, as ListSessions answers the admin.
async fn sessions_of(server: &TestServer, person: &Person) -> Vec<String> {
    session_client(server)
        .await
        .list_sessions(authorized(
            session_pb::ListSessionsRequest {
                queries: vec![session_pb::SearchQuery {
                    query: Some(session_pb::search_query::Query::UserIdQuery(
                        session_pb::UserIdQuery {
                            id: person.user_id.clone(),
                        },
                    )),
                }],
                ..Default::default()
            },
            &server.admin_token,
        ))
        .await
        .expect("ListSessions")
        .into_inner()
        .sessions
        .into_iter()
        .map(|session| session.id)
        .collect()
}

/// The names of the person's passkeys, as ListPasskeys answers the admin; all must be ready.
async fn passkey_names(server: &TestServer, person: &Person) -> Vec<String> {
    server
        .grpc_client()
        .await
        .list_passkeys(authorized(
            user_pb::ListPasskeysRequest {
                user_id: person.user_id.clone(),
            },
            &server.admin_token,
        ))
        .await
        .expect("ListPasskeys")
        .into_inner()
        .result
        .into_iter()
        .map(|passkey| {
            assert_eq!(passkey.state, user_pb::AuthFactorState::Ready as i32);
            passkey.name
        })
        .collect()
}

/// The passkeys a step's page listed, as the driver reports them.
fn listed(names: &[&str]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|name| json!({"name": name, "state": "Ready"}))
            .collect(),
    )
}

#[tokio::test]
#[ignore = "needs Chromium, node and web/node_modules"]
async fn a_passkey_signs_in_and_the_account_page_adds_and_removes_passkeys_and_signs_out() {
    if let Some(missing) = missing_tools() {
        panic!("the sign-in browser test cannot run: {missing}");
    }
    let server = TestServer::start_self_hosted(|_| {}).await;
    let person = add_person(&server).await;
    let code = create_code(&server, &person.user_id).await;
    let link = format!(
        "{}/ui/passkey/register?userID={}&orgID={}&codeID={}&code={}",
        server.external_url, person.user_id, person.org_id, code.id, code.code
    );
    let screenshots = screenshot_dir().join("sign-in");
    let mut driver = PageDriver::start(
        "sign-in-flow.mjs",
        [link.as_str(), screenshots.to_str().unwrap()],
    );
    let login = server.url("/ui/login");
    let account = server.url("/ui/account");

    let registered = driver.expect_event("registered").await;
    assert_eq!(registered["state"], "success", "{registered}");
    assert_eq!(registered["authenticatorCredentials"], 1, "{registered}");
    assert_eq!(passkey_names(&server, &person).await, ["First passkey"]);
    driver.resume().await;

    let page = driver.expect_event("login").await;
    assert_eq!(
        page["url"],
        login.as_str(),
        "no session: the account page sends to sign-in"
    );
    assert_eq!(page["state"], "ready", "{page}");
    assert_eq!(page["button"], "Sign in with a passkey", "{page}");
    assert_eq!(page["autofillField"], "username webauthn", "{page}");
    assert_eq!(
        page["autofillOffered"], true,
        "Chromium offers passkeys in autofill: {page}"
    );
    driver.resume().await;

    let cancelled = driver.expect_event("cancelled").await;
    assert_eq!(cancelled["state"], "error", "{cancelled}");
    assert_eq!(cancelled["message"], NO_PASSKEY_USED, "{cancelled}");
    assert_eq!(
        cancelled["focused"], "status",
        "the error takes the focus: {cancelled}"
    );
    assert_eq!(cancelled["buttonEnabled"], true, "{cancelled}");
    assert_eq!(cancelled["stored"], 0, "{cancelled}");
    assert!(
        sessions_of(&server, &person).await.is_empty(),
        "a dismissed prompt signs nobody in"
    );
    driver.resume().await;

    let signed_in = driver.expect_event("signed-in").await;
    assert_eq!(signed_in["url"], account.as_str(), "{signed_in}");
    assert_eq!(signed_in["state"], "ready", "{signed_in}");
    assert_eq!(
        signed_in["displayName"],
        person.display_name.as_str(),
        "{signed_in}"
    );
    assert_eq!(
        signed_in["loginName"],
        person.username.as_str(),
        "{signed_in}"
    );
    assert_eq!(
        signed_in["passkeys"],
        listed(&["First passkey"]),
        "{signed_in}"
    );
    assert_eq!(signed_in["tokenStored"], true, "{signed_in}");
    assert_eq!(
        signed_in["tokenLeaks"],
        json!([]),
        "the token stays in sessionStorage"
    );
    let session_id = signed_in["sessionId"]
        .as_str()
        .expect("a session id")
        .to_owned();
    assert_signed_in(&server, &session_id, &person).await;
    assert_eq!(sessions_of(&server, &person).await, [session_id.as_str()]);
    driver.resume().await;

    let added = driver.expect_event("added").await;
    assert_eq!(added["state"], "success", "{added}");
    assert_eq!(
        added["message"], "Your passkey “Second passkey” was added.",
        "{added}"
    );
    assert_eq!(added["suggestedName"], "Chrome on Linux", "{added}");
    assert_eq!(added["nameFocused"], true, "the name comes first: {added}");
    assert_eq!(
        added["passkeys"],
        listed(&["First passkey", "Second passkey"]),
        "{added}"
    );
    assert_eq!(added["authenticatorCredentials"], json!([1, 1]), "{added}");
    assert_eq!(
        passkey_names(&server, &person).await,
        ["First passkey", "Second passkey"]
    );
    // The passkey RPCs with the session token as bearer leave the session (and its token) alone.
    assert_signed_in(&server, &session_id, &person).await;
    driver.resume().await;

    let removed = driver.expect_event("removed").await;
    assert_eq!(removed["state"], "success", "{removed}");
    assert_eq!(
        removed["message"], "The passkey “Second passkey” was removed.",
        "{removed}"
    );
    assert_eq!(removed["passkeys"], listed(&["First passkey"]), "{removed}");
    assert_eq!(passkey_names(&server, &person).await, ["First passkey"]);
    driver.resume().await;

    let kept = driver.expect_event("last-kept").await;
    assert!(
        kept["question"]
            .as_str()
            .unwrap()
            .contains("is your only passkey"),
        "the last passkey is not removed without a question: {kept}"
    );
    assert_eq!(kept["keepFocused"], true, "{kept}");
    assert_eq!(kept["confirmGone"], true, "{kept}");
    assert_eq!(kept["passkeys"], listed(&["First passkey"]), "{kept}");
    assert_eq!(kept["tokenLeaks"], json!([]), "{kept}");
    assert_eq!(passkey_names(&server, &person).await, ["First passkey"]);
    driver.resume().await;

    let signed_out = driver.expect_event("signed-out").await;
    assert_eq!(
        signed_out["url"],
        format!("{login}?reason=signed-out").as_str(),
        "{signed_out}"
    );
    assert_eq!(
        signed_out["message"], "You have signed out.",
        "{signed_out}"
    );
    assert_eq!(signed_out["stored"], 0, "{signed_out}");
    assert_signed_out(&server, &session_id).await;
    driver.resume().await;

    let refused = driver.expect_event("removed-passkey-refused").await;
    assert_eq!(refused["state"], "error", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .starts_with("This passkey was not accepted."),
        "a removed passkey is refused (WEBAU-3M9si): {refused}"
    );
    let checks = refused["checks"].as_u64().unwrap();
    assert!(
        (1..=4).contains(&checks),
        "autofill tries a refused passkey once and again at most 3 times, not endlessly: {refused}"
    );
    assert_eq!(refused["stored"], 0, "{refused}");
    assert!(
        sessions_of(&server, &person).await.is_empty(),
        "a removed passkey signs nobody in"
    );
    assert_eq!(passkey_names(&server, &person).await, ["First passkey"]);
    driver.resume().await;

    let autofill = driver.expect_event("autofill-signed-in").await;
    assert_eq!(autofill["url"], account.as_str(), "{autofill}");
    assert_eq!(
        autofill["displayName"],
        person.display_name.as_str(),
        "{autofill}"
    );
    assert_eq!(
        autofill["passkeys"],
        listed(&["First passkey"]),
        "{autofill}"
    );
    let autofill_session = autofill["sessionId"]
        .as_str()
        .expect("a session id")
        .to_owned();
    assert_ne!(
        autofill_session, session_id,
        "a new sign-in is a new session"
    );
    assert_signed_in(&server, &autofill_session, &person).await;
    driver.resume().await;

    let again = driver.expect_event("signed-out-again").await;
    assert_eq!(again["stored"], 0, "{again}");
    assert_signed_out(&server, &autofill_session).await;

    let done = tokio::time::timeout(Duration::from_secs(60), driver.finish())
        .await
        .expect("the driver ends");
    println!("screenshots: {}", screenshots.display());
    println!("page logs: {}", done["logs"]);
    assert_eq!(done["event"], "done", "{done}");
    assert!(
        !done["logs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|line| line.as_str().unwrap().starts_with("pageerror")),
        "no script error on any page: {done}"
    );
    server.stop().await;
}
