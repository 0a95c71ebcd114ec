mod common;

use common::{TestServer, add_human, authorized, return_code_request};

#[tokio::test]
async fn harness_starts_a_server_that_creates_codes() {
    let server = TestServer::start().await;
    let user_id = add_human(&server, &server.admin_token, "Ada").await;
    let answer = server
        .grpc_client()
        .await
        .create_passkey_registration_link(authorized(
            return_code_request(&user_id),
            &server.admin_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.details.unwrap().sequence, 2);
    assert_eq!(answer.code.unwrap().code.len(), 12);
    server.stop().await;
}
