//! The user service over gRPC (HTTP/2, the tonic client): every acceptance scenario, plus what
//! only gRPC shows (status details in `grpc-status-details-bin`).

mod common;

use common::wire::Protocol;

user_service_suite!(Protocol::Grpc);

use common::suite::return_code;
use common::wire::{ERROR_DETAIL_TYPE_URL, error_detail_of_rpc_status};
use common::{TestServer, authorized};
use passlink::pb::zitadel::v1::ErrorDetail;
use prost::Message;

#[tokio::test]
async fn error_detail_travels_in_grpc_status_details_bin() {
    let server = TestServer::start().await;
    let status = server
        .grpc_client()
        .await
        .create_passkey_registration_link(authorized(
            return_code("999999999999999999"),
            &server.admin_token,
        ))
        .await
        .expect_err("an unknown user");

    assert_eq!(status.code(), tonic::Code::NotFound);
    let rpc_status = tonic_types::pb::Status::decode(status.details()).expect("google.rpc.Status");
    assert_eq!(rpc_status.code, tonic::Code::NotFound as i32);
    assert_eq!(rpc_status.message, status.message());
    assert_eq!(rpc_status.details.len(), 1);
    assert_eq!(rpc_status.details[0].type_url, ERROR_DETAIL_TYPE_URL);
    let detail = ErrorDetail::decode(rpc_status.details[0].value.as_slice()).unwrap();
    assert_eq!(detail.message, "User could not be found");
    assert_eq!(
        status.message(),
        format!("User could not be found ({})", detail.id)
    );
    assert_eq!(error_detail_of_rpc_status(status.details()), Some(detail));
}

#[tokio::test]
async fn health_service_reports_the_user_service_serving() {
    use tonic_health::pb::health_check_response::ServingStatus;
    let server = TestServer::start().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    for service in ["", "zitadel.user.v2.UserService"] {
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("Health/Check")
            .into_inner();
        assert_eq!(answer.status, ServingStatus::Serving as i32, "{service:?}");
    }
    for path in ["/healthz", "/readyz"] {
        let answer = common::wire::http_client()
            .get(server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200, "{path}");
    }
}

#[tokio::test]
async fn unknown_grpc_method_is_unimplemented() {
    let server = TestServer::start().await;
    let client = server
        .client(Protocol::Grpc)
        .await
        .with_token(&server.admin_token);
    let failure = client
        .call::<_, passlink::pb::zitadel::user::v2::GetUserByIdResponse>(
            "NoSuchMethod",
            &passlink::pb::zitadel::user::v2::GetUserByIdRequest::default(),
        )
        .await
        .expect_err("no such method");
    assert_eq!(failure.code, tonic::Code::Unimplemented, "{failure:?}");
}
