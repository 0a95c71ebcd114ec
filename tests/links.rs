//! Registration links (issue 8): values a caller chooses (user ids) cannot change an emailed
//! link's query or fragment. Ignored by a plain `cargo test` (it needs Python aiosmtpd);
//! `cargo test -- --include-ignored` runs it. (Templates whose link would not be an absolute,
//! non-script URL are refused in `tests/scenarios/registration_links.rs`.)

mod common;

use std::time::Duration;

use common::mail::{SmtpServer, smtp_on};
use common::requests::{human, send_link};
use common::{TestServer, authorized, unique_email};
use passlink::domain::secret::secret_matches;

#[tokio::test]
#[ignore = "needs Python aiosmtpd (pip install aiosmtpd)"]
async fn a_chosen_user_id_with_query_characters_cannot_change_the_emailed_links_code() {
    let smtp = SmtpServer::start().await;
    let server = TestServer::start_with(smtp_on(smtp.port)).await;
    let mut client = server.grpc_client().await;
    let user_id = "x&code=AAAA#";
    let mut request = human("Ada", &unique_email("ada"));
    request.user_id = Some(user_id.into());
    client
        .add_human_user(authorized(request, &server.admin_token))
        .await
        .expect("AddHumanUser with a chosen id");
    let custom =
        "https://app.example.test/passkey/{{.UserID}}?user={{.UserID}}&code={{.Code}}#{{.UserID}}";
    for template in [None, Some(custom)] {
        client
            .create_passkey_registration_link(authorized(
                send_link(user_id, template),
                &server.admin_token,
            ))
            .await
            .expect("CreatePasskeyRegistrationLink");
    }
    let messages = smtp.wait_for(2, Duration::from_secs(20)).await;
    let codes = server
        .store()
        .list_passkey_code_hashes(user_id)
        .await
        .unwrap();
    for message in &messages {
        let link = message.link();
        let pairs: Vec<(String, String)> = link.query_pairs().into_owned().collect();
        let value = |name: &str| -> Vec<&str> {
            pairs
                .iter()
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
                .collect()
        };
        let code = if link.as_str().starts_with("https://app.example.test/") {
            assert_eq!(value("user"), [user_id], "{link}");
            assert_eq!(
                link.path_segments().unwrap().collect::<Vec<_>>(),
                ["passkey", "x%26code%3DAAAA%23"]
            );
            assert_eq!(link.fragment(), Some("x%26code%3DAAAA%23"));
            value("code")
        } else {
            assert_eq!(value("userID"), [user_id], "{link}");
            assert_eq!(link.fragment(), None, "{link}");
            value("code")
        };
        assert_eq!(code.len(), 1, "exactly one code in {link}");
        assert!(
            codes
                .iter()
                .any(|(code_id, hash)| secret_matches(code_id, code[0], hash)),
            "the link's code is the stored one: {link}"
        );
    }
    server.stop().await;
}
