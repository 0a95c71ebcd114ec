mod common;

use common::{TestServer, add_human, authorized};
use passlink::pb::zitadel::user::v2 as user_pb;

#[tokio::test]
async fn harness_starts_a_server_that_creates_codes() {
    let server = TestServer::start().await;
    let user_id = add_human(&server, &server.admin_token, "Ada").await;
    let answer = server
        .grpc_client()
        .await
        .create_passkey_registration_link(authorized(
            user_pb::CreatePasskeyRegistrationLinkRequest {
                user_id,
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
    assert_eq!(answer.details.unwrap().sequence, 2);
    assert_eq!(answer.code.unwrap().code.len(), 12);
    server.stop().await;
}
