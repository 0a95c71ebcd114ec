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

#[tokio::test]
async fn reflection_v1_and_v1alpha_both_list_the_user_service() {
    use tonic_reflection::pb::{v1, v1alpha};
    let server = TestServer::start().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.address))
        .unwrap()
        .connect()
        .await
        .unwrap();

    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut answers = v1::server_reflection_client::ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1")
        .into_inner();
    let answer = answers.message().await.unwrap().expect("an answer");
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(listed)) =
        answer.message_response
    else {
        panic!("a service list: {answer:?}");
    };
    let names: Vec<String> = listed
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    assert!(
        names.contains(&"zitadel.user.v2.UserService".to_owned()),
        "{names:?}"
    );

    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut answers = v1alpha::server_reflection_client::ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1alpha")
        .into_inner();
    let answer = answers.message().await.unwrap().expect("an answer");
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(listed)) =
        answer.message_response
    else {
        panic!("a service list: {answer:?}");
    };
    assert!(
        listed
            .service
            .iter()
            .any(|service| service.name == "zitadel.user.v2.UserService")
    );
}

#[tokio::test]
async fn grpc_plus_proto_content_type_is_served_with_the_status_in_trailers() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let scene = common::suite::Scene::new(Protocol::Grpc).await;
    let channel =
        tonic::transport::Channel::from_shared(format!("http://{}", scene.server.address))
            .unwrap()
            .connect()
            .await
            .unwrap();
    // A gRPC message travels in the same 5-byte-prefixed frame as gRPC-Web's.
    let frame = common::wire::grpc_web_frame(0, &return_code(&scene.user_id).encode_to_vec());
    let request = http::Request::builder()
        .method("POST")
        .uri(format!(
            "http://{}/zitadel.user.v2.UserService/CreatePasskeyRegistrationLink",
            scene.server.address
        ))
        .header("content-type", "application/grpc+proto")
        .header("te", "trailers")
        .header(
            "authorization",
            format!("Bearer {}", scene.server.admin_token),
        )
        .body(tonic::body::Body::new(http_body_util::Full::new(
            bytes::Bytes::from(frame),
        )))
        .unwrap();

    let response = channel.oneshot(request).await.expect("an HTTP/2 answer");

    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(response.version(), http::Version::HTTP_2);
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().expect("HTTP/2 trailers");
    assert_eq!(trailers["grpc-status"], "0");
    let frames = common::wire::parse_grpc_web_frames(&collected.to_bytes());
    assert_eq!(frames.messages.len(), 1);
    let answer = passlink::pb::zitadel::user::v2::CreatePasskeyRegistrationLinkResponse::decode(
        frames.messages[0].as_slice(),
    )
    .unwrap();
    assert_eq!(answer.details.unwrap().sequence, 2);
    common::suite::assert_well_formed_code(&answer.code.unwrap());
}
