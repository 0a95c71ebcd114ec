//! What only gRPC shows (HTTP/2, the tonic client): status details in
//! `grpc-status-details-bin`, the health and reflection services, `application/grpc+proto`.
//! Every scenario of the user service runs over gRPC in `tests/scenarios`.

mod common;

use common::failure::{ERROR_DETAIL_TYPE_URL, error_detail_of_rpc_status};
use common::protocols::Protocol;
use common::requests::return_code;
use common::scene::{Scene, assert_well_formed_code};
use common::{TestServer, authorized, grpc_channel};
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
    let channel = grpc_channel(server.address).await;
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
        let answer = common::http_clients::http_client()
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

/// The services the port serves, as reflection must list them (and nothing it does not serve:
/// the descriptor set also holds zitadel.session.v2.SessionService, which is not served yet).
const SERVED_SERVICES: [&str; 5] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "zitadel.session.v2.SessionService",
    "zitadel.user.v2.UserService",
];

/// The names of the services that reflection `v1` or `v1alpha` (the two generated APIs are
/// alike but of different types) lists over `channel`, sorted.
macro_rules! listed_services {
    ($version:ident, $channel:expr) => {{
        use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
        let request = tonic_reflection::pb::$version::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut answers = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect(concat!("reflection ", stringify!($version)))
            .into_inner();
        let answer = answers.message().await.unwrap().expect("an answer");
        let Some(MessageResponse::ListServicesResponse(listed)) = answer.message_response else {
            panic!("a service list: {answer:?}");
        };
        let mut names: Vec<String> = listed
            .service
            .into_iter()
            .map(|service| service.name)
            .collect();
        names.sort();
        names
    }};
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_list_exactly_the_served_services() {
    let server = TestServer::start().await;
    let channel = grpc_channel(server.address).await;

    assert_eq!(
        listed_services!(v1, channel.clone()),
        SERVED_SERVICES,
        "reflection v1"
    );
    assert_eq!(
        listed_services!(v1alpha, channel),
        SERVED_SERVICES,
        "reflection v1alpha"
    );
}

fn passlink_pool() -> prost_reflect::DescriptorPool {
    prost_reflect::DescriptorPool::decode(passlink::pb::FILE_DESCRIPTOR_SET).unwrap()
}

#[tokio::test]
async fn reflection_serves_the_user_service_file_with_its_google_api_http_routes() {
    use tonic_reflection::pb::v1;
    let server = TestServer::start().await;
    let channel = grpc_channel(server.address).await;
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1::server_reflection_request::MessageRequest::FileContainingSymbol(
                "zitadel.user.v2.UserService".into(),
            ),
        ),
    };
    let mut answers = v1::server_reflection_client::ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1")
        .into_inner();
    let answer = answers.message().await.unwrap().expect("an answer");
    let Some(v1::server_reflection_response::MessageResponse::FileDescriptorResponse(files)) =
        answer.message_response
    else {
        panic!("file descriptors: {answer:?}");
    };
    // Read the served bytes of user_service.proto as a client like grpcurl does: as a
    // FileDescriptorProto whose method options may hold the google.api.http extension.
    let served = files
        .file_descriptor_proto
        .iter()
        .map(|bytes| {
            prost_reflect::DynamicMessage::decode(
                passlink_pool()
                    .get_message_by_name("google.protobuf.FileDescriptorProto")
                    .unwrap(),
                bytes.as_slice(),
            )
            .unwrap()
        })
        .find(|file| {
            file.get_field_by_name("name").unwrap().as_str()
                == Some("zitadel/user/v2/user_service.proto")
        })
        .expect("reflection sends user_service.proto");
    let service = served.get_field_by_name("service").unwrap();
    let method = service.as_list().unwrap()[0]
        .as_message()
        .unwrap()
        .get_field_by_name("method")
        .unwrap()
        .as_list()
        .unwrap()
        .iter()
        .find(|method| {
            method
                .as_message()
                .unwrap()
                .get_field_by_name("name")
                .unwrap()
                .as_str()
                == Some("ListPasskeys")
        })
        .expect("ListPasskeys")
        .as_message()
        .unwrap()
        .clone();
    let options = method.get_field_by_name("options").unwrap();
    let options = options.as_message().unwrap();
    let extension = passlink_pool()
        .get_extension_by_name("google.api.http")
        .unwrap();
    assert!(options.has_extension(&extension), "{options:?}");
    let rule = options.get_extension(&extension);
    let post = rule
        .as_message()
        .unwrap()
        .get_field_by_name("post")
        .unwrap();
    assert_eq!(post.as_str(), Some("/v2/users/{user_id}/passkeys/_search"));
}

#[tokio::test]
async fn grpc_plus_proto_content_type_is_served_with_the_status_in_trailers() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let scene = Scene::new(Protocol::Grpc).await;
    let channel = grpc_channel(scene.server.address).await;
    // A gRPC message travels in the same 5-byte-prefixed frame as gRPC-Web's.
    let frame = common::grpc_web::grpc_web_frame(0, &return_code(&scene.user_id).encode_to_vec());
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
    let frames = common::grpc_web::parse_grpc_web_frames(&collected.to_bytes());
    assert_eq!(frames.messages.len(), 1);
    let answer = passlink::pb::zitadel::user::v2::CreatePasskeyRegistrationLinkResponse::decode(
        frames.messages[0].as_slice(),
    )
    .unwrap();
    assert_eq!(answer.details.unwrap().sequence, 2);
    assert_well_formed_code(&answer.code.unwrap());
}
