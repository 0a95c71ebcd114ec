//! Registration links (issue 8): values a caller chooses (user ids) cannot change a link's query
//! or fragment, and templates whose link would not be an absolute, non-script URL are refused.

mod common;

use std::time::Duration;

use common::mail::{SmtpServer, smtp_server_available};
use common::{TestServer, authorized, human, unique_email};
use passlink::config::SmtpTls;
use passlink::domain::secret::secret_matches;
use passlink::pb::zitadel::user::v2 as user_pb;

fn send_link(
    user_id: &str,
    url_template: Option<&str>,
) -> user_pb::CreatePasskeyRegistrationLinkRequest {
    user_pb::CreatePasskeyRegistrationLinkRequest {
        user_id: user_id.into(),
        medium: Some(
            user_pb::create_passkey_registration_link_request::Medium::SendLink(
                user_pb::SendPasskeyRegistrationLink {
                    url_template: url_template.map(str::to_owned),
                },
            ),
        ),
    }
}

#[tokio::test]
async fn a_chosen_user_id_with_query_characters_cannot_change_the_emailed_links_code() {
    if !smtp_server_available() {
        return;
    }
    let smtp = SmtpServer::start().await;
    let server = TestServer::start_with(|settings| {
        settings.smtp.host = Some("127.0.0.1".into());
        settings.smtp.port = Some(smtp.port);
        settings.smtp.tls = SmtpTls::None;
        settings.smtp.timeout = Duration::from_secs(2);
        settings.mail.dir = None;
        settings.outbox.poll_interval = Duration::from_millis(200);
        settings.outbox.worker = true;
    })
    .await;
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
        .services
        .store()
        .list_passkey_code_hashes(user_id)
        .await
        .unwrap();
    for message in &messages {
        let text = message.text.as_deref().expect("a text part");
        let line = text
            .lines()
            .map(str::trim)
            .find(|line| line.starts_with("http"))
            .unwrap_or_else(|| panic!("no link in {text}"));
        let link = url::Url::parse(line).unwrap();
        let pairs: Vec<(String, String)> = link.query_pairs().into_owned().collect();
        let value = |name: &str| -> Vec<&str> {
            pairs
                .iter()
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
                .collect()
        };
        let code = if line.starts_with("https://app.example.test/") {
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
