//! REST JSON routes (`POST /v2/users/{user_id}/passkeys/registration_link`, …), answered by
//! the same handler as gRPC. Path parameters override the same fields in the body.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{Extensions, HeaderMap, HeaderValue, header};

use super::http::{Format, RequestMessage, call_method, metadata, read_body};
use super::{HttpState, json, status};

/// The REST routes of the contract.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/v2/users/human", post(add_human_user))
        .route(
            "/v2/users/{user_id}",
            get(get_user_by_id).delete(delete_user),
        )
        .route("/v2/users/{user_id}/passkeys", post(register_passkey))
        .route(
            "/v2/users/{user_id}/passkeys/registration_link",
            post(create_passkey_registration_link),
        )
        .route("/v2/users/{user_id}/passkeys/_search", post(list_passkeys))
        .route(
            "/v2/users/{user_id}/passkeys/{passkey_id}",
            post(verify_passkey_registration).delete(remove_passkey),
        )
        .with_state(state)
}

/// Calls `method` with the JSON body (if any) and the path fields laid over it.
async fn call(
    state: &HttpState,
    method: &str,
    path_fields: &[(&str, &str, String)],
    (headers, extensions): (&HeaderMap, Extensions),
    body: Option<Body>,
) -> Response {
    let answer = async {
        let mut fields = match body {
            Some(body) => {
                let body = read_body(body, state.max_request_bytes).await?;
                json::parse_json_object(&body).map_err(|error| status::to_status(&error))?
            }
            None => serde_json::Map::new(),
        };
        for (json_name, proto_name, value) in path_fields {
            fields.remove(*proto_name);
            fields.insert(
                (*json_name).to_owned(),
                serde_json::Value::String(value.clone()),
            );
        }
        call_method(
            &state.api,
            method,
            metadata(headers),
            extensions,
            RequestMessage::Json(serde_json::Value::Object(fields)),
            Format::Json,
        )
        .await
    }
    .await;
    match answer {
        Ok(body) => {
            let mut response = body.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => status::rest_error(&error),
    }
}

fn user_id_field(user_id: String) -> (&'static str, &'static str, String) {
    ("userId", "user_id", user_id)
}

fn passkey_id_field(passkey_id: String) -> (&'static str, &'static str, String) {
    ("passkeyId", "passkey_id", passkey_id)
}

async fn add_human_user(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    call(
        &state,
        "AddHumanUser",
        &[],
        (&headers, extensions),
        Some(body),
    )
    .await
}

async fn get_user_by_id(
    State(state): State<HttpState>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    call(
        &state,
        "GetUserByID",
        &[user_id_field(user_id)],
        (&headers, extensions),
        None,
    )
    .await
}

async fn delete_user(
    State(state): State<HttpState>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    call(
        &state,
        "DeleteUser",
        &[user_id_field(user_id)],
        (&headers, extensions),
        None,
    )
    .await
}

async fn register_passkey(
    State(state): State<HttpState>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    call(
        &state,
        "RegisterPasskey",
        &[user_id_field(user_id)],
        (&headers, extensions),
        Some(body),
    )
    .await
}

async fn create_passkey_registration_link(
    State(state): State<HttpState>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    call(
        &state,
        "CreatePasskeyRegistrationLink",
        &[user_id_field(user_id)],
        (&headers, extensions),
        Some(body),
    )
    .await
}

async fn list_passkeys(
    State(state): State<HttpState>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    call(
        &state,
        "ListPasskeys",
        &[user_id_field(user_id)],
        (&headers, extensions),
        Some(body),
    )
    .await
}

async fn verify_passkey_registration(
    State(state): State<HttpState>,
    Path((user_id, passkey_id)): Path<(String, String)>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Body,
) -> Response {
    call(
        &state,
        "VerifyPasskeyRegistration",
        &[user_id_field(user_id), passkey_id_field(passkey_id)],
        (&headers, extensions),
        Some(body),
    )
    .await
}

async fn remove_passkey(
    State(state): State<HttpState>,
    Path((user_id, passkey_id)): Path<(String, String)>,
    headers: HeaderMap,
    extensions: Extensions,
) -> Response {
    call(
        &state,
        "RemovePasskey",
        &[user_id_field(user_id), passkey_id_field(passkey_id)],
        (&headers, extensions),
        None,
    )
    .await
}
