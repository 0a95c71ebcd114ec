//! The test harness: starts the real passlink server in-process on `127.0.0.1:0` with a fresh
//! database (a SQLite file in a temporary directory, or a fresh PostgreSQL database when
//! `PASSLINK_TEST_POSTGRES_URL` is set) and a clock the test can move.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use passlink::app::{self, RunningServer};
use passlink::config::Settings;
use passlink::domain::permission::Role;
use passlink::domain::time::{Clock, SystemClock, Timestamp};
use passlink::pb::zitadel::user::v2 as user_pb;
use passlink::service::Services;
use tonic::transport::Channel;

/// The system clock plus an offset the test controls.
#[derive(Default)]
pub struct TestClock {
    offset_micros: AtomicI64,
}

impl TestClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.offset_micros
            .fetch_add(by.as_micros() as i64, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp(SystemClock.now().0 + self.offset_micros.load(Ordering::SeqCst))
    }
}

/// Whether the environment demands every optional dependency (CI sets `CI=true`).
pub fn required_by_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// A fresh PostgreSQL database URL when `PASSLINK_TEST_POSTGRES_URL` names a server.
pub async fn fresh_postgres_database() -> Option<String> {
    let server_url = std::env::var("PASSLINK_TEST_POSTGRES_URL").ok()?;
    use sqlx::Connection;
    let name = format!("passlink_test_{}", uuid_like());
    let mut connection = sqlx::PgConnection::connect(&server_url)
        .await
        .expect("PASSLINK_TEST_POSTGRES_URL must be reachable");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .expect("create a test database");
    let mut url = url::Url::parse(&server_url).expect("a valid PostgreSQL URL");
    url.set_path(&name);
    Some(url.to_string())
}

/// A name part unique to this test run.
pub fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}_{:x}_{}", nanos, std::process::id(), rand_suffix())
}

fn rand_suffix() -> u32 {
    static COUNTER: AtomicI64 = AtomicI64::new(0);
    COUNTER.fetch_add(1, Ordering::SeqCst) as u32
}

/// A running passlink with its own database.
pub struct TestServer {
    pub address: SocketAddr,
    pub admin_token: String,
    pub clock: Arc<TestClock>,
    pub services: Arc<Services>,
    pub settings: Settings,
    pub data_dir: tempfile::TempDir,
    running: Option<RunningServer>,
}

impl TestServer {
    /// Starts a server with default settings.
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts a server after `configure` adjusts the settings.
    pub async fn start_with(configure: impl FnOnce(&mut Settings)) -> TestServer {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let mut settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.path().to_path_buf(),
            database_url: fresh_postgres_database().await,
            shutdown_grace: Duration::from_secs(5),
            ..Settings::default()
        };
        configure(&mut settings);
        let clock = Arc::new(TestClock::default());
        let running = app::start(settings.clone(), clock.clone())
            .await
            .expect("the server starts");
        let admin_token = std::fs::read_to_string(data_dir.path().join(app::ADMIN_TOKEN_FILE))
            .expect("the first start writes admin.pat")
            .trim()
            .to_owned();
        TestServer {
            address: running.address,
            admin_token,
            clock,
            services: running.services.clone(),
            settings,
            data_dir,
            running: Some(running),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.shutdown.send(());
            running.finished.await.unwrap().unwrap();
        }
    }

    /// `http://localhost:PORT` + path (localhost, not an IP: browsers need it for WebAuthn).
    pub fn url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.address.port())
    }

    /// A tonic client over HTTP/2.
    pub async fn grpc_client(&self) -> user_pb::user_service_client::UserServiceClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.address))
            .unwrap()
            .connect()
            .await
            .expect("connect over gRPC");
        user_pb::user_service_client::UserServiceClient::new(channel)
    }

    /// The id of the default organization.
    pub async fn default_org_id(&self) -> String {
        self.services.list_orgs().await.unwrap()[0].id.clone()
    }

    /// Creates an organization and returns its id.
    pub async fn create_org(&self, name: &str) -> String {
        self.services
            .create_org(name, &format!("{}.localhost", name.to_lowercase()))
            .await
            .unwrap()
            .id
    }

    /// Creates a machine user in `org_id` holding `role` (on that org, or instance-wide for
    /// IAM_OWNER; no role when `None`) and returns its user id and a token.
    pub async fn machine_user_with_role(
        &self,
        org_id: &str,
        role: Option<Role>,
    ) -> (String, String) {
        let username = format!("machine-{}", uuid_like());
        let user_id = self
            .services
            .create_machine_user(org_id, &username, "test caller")
            .await
            .unwrap();
        if let Some(role) = role {
            let scope = (!role.is_instance_wide()).then_some(org_id);
            self.services
                .grant_role(&user_id, role, scope)
                .await
                .unwrap();
        }
        let token = self.services.create_token(&user_id, None).await.unwrap();
        (user_id, token.token.expose().to_owned())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.shutdown.send(());
        }
    }
}

/// A gRPC request with a bearer token.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// An AddHumanUserRequest for a person with a verified address.
pub fn human(given_name: &str, email: &str) -> user_pb::AddHumanUserRequest {
    user_pb::AddHumanUserRequest {
        profile: Some(user_pb::SetHumanProfile {
            given_name: given_name.into(),
            family_name: "Tester".into(),
            ..Default::default()
        }),
        email: Some(user_pb::SetHumanEmail {
            email: email.into(),
            verification: Some(user_pb::set_human_email::Verification::IsVerified(true)),
        }),
        ..Default::default()
    }
}

/// Adds a human user over gRPC as `token` and returns its id.
pub async fn add_human(server: &TestServer, token: &str, given_name: &str) -> String {
    let email = format!("{}-{}@example.com", given_name.to_lowercase(), uuid_like());
    server
        .grpc_client()
        .await
        .add_human_user(authorized(human(given_name, &email), token))
        .await
        .expect("AddHumanUser")
        .into_inner()
        .user_id
}
