//! The usual start of a scenario: a server, a client of one protocol acting as the IAM_OWNER
//! admin, and a new human user; plus checks several scenarios share.

use passlink::config::Settings;
use passlink::domain::permission::Role;
use passlink::pb::zitadel::user::v2 as user_pb;
use tonic::Code;

use super::failure::Failure;
use super::protocols::Protocol;
use super::requests::human;
use super::wire::ApiClient;
use super::{TestServer, unique_email};

/// A server, a client of `protocol` acting as the IAM_OWNER admin, and a new human user in
/// the default organization.
pub struct Scene {
    pub server: TestServer,
    pub admin: ApiClient,
    pub org_id: String,
    pub user_id: String,
}

impl Scene {
    /// A scene on a server with default settings.
    pub async fn new(protocol: Protocol) -> Scene {
        Scene::start_with(protocol, |_| {}).await
    }

    /// A scene on a server whose settings `configure` adjusts.
    pub async fn start_with(protocol: Protocol, configure: impl FnOnce(&mut Settings)) -> Scene {
        let server = TestServer::start_with(configure).await;
        let admin = server.admin(protocol).await;
        let org_id = server.default_org_id().await;
        let user_id = admin
            .add_human_user(human("Ada", &unique_email("ada")))
            .await
            .expect("AddHumanUser")
            .user_id;
        Scene {
            server,
            admin,
            org_id,
            user_id,
        }
    }

    /// How many events the user has and how many messages wait in the outbox.
    pub async fn stored_counts(&self) -> (usize, usize) {
        (
            self.server.events(&self.user_id).await.len(),
            self.server.outbox().await.len(),
        )
    }

    /// A client of the same protocol with a token of a new machine user in `org_id`.
    pub async fn caller(&self, org_id: &str, role: Option<Role>) -> ApiClient {
        let (_, token) = self.server.machine_user_with_role(org_id, role).await;
        self.admin.with_token(&token)
    }
}

/// Microseconds since the Unix epoch of a wire timestamp.
pub fn micros(timestamp: &prost_types::Timestamp) -> i64 {
    timestamp.seconds * 1_000_000 + i64::from(timestamp.nanos) / 1_000
}

/// Asserts a code looks as the contract says: 12 characters from a–z, A–Z, 0–9, and an id
/// that is a decimal number.
pub fn assert_well_formed_code(code: &user_pb::PasskeyRegistrationCode) {
    assert_eq!(code.code.chars().count(), 12, "{code:?}");
    assert!(code.code.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(!code.id.is_empty() && code.id.chars().all(|c| c.is_ascii_digit()));
}

/// Asserts the refusal of a registration code: wrong, unknown, expired, used, dead or another
/// user's, all alike.
pub fn assert_code_invalid(failure: &Failure) {
    failure.assert_error(Code::InvalidArgument, "Code is invalid");
    assert_eq!(failure.message, "Code is invalid (COMMAND-Eeb2a)");
}
