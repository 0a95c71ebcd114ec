//! The test harness: starts the real passlink server in-process on `127.0.0.1:0` with a fresh
//! database (a SQLite file in a temporary directory, or a fresh PostgreSQL database when
//! `PASSLINK_TEST_POSTGRES_URL` is set) and a clock the test can move.

// `unreachable_pub` is a lint for the library's API; in a test binary `pub` only shares
// helpers between its modules.
#![allow(unreachable_pub)]
#![allow(dead_code)]

pub mod assertion;
pub mod authenticator;
pub mod browser;
pub mod descriptors;
pub mod failure;
pub mod grpc_web;
pub mod http_clients;
pub mod json_shape;
pub mod log_capture;
pub mod mail;
pub mod process;
pub mod protocols;
pub mod raw_grpc;
pub mod raw_h2;
pub mod raw_http;
pub mod requests;
pub mod scene;
pub mod sessions;
pub mod tls;
pub mod user_calls;
pub mod wire;

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
use passlink::service::ports::{Store, StoredEvent, StoredMessage};
use tonic::transport::Channel;

use protocols::Protocol;
use requests::{human, return_code};
use wire::ApiClient;

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
    /// `external_url` in force (the setting, or `http://localhost:PORT` when unset).
    pub external_url: String,
    /// The metrics listener's address, when `metrics.listen` is set.
    pub metrics_address: Option<SocketAddr>,
    pub admin_token: String,
    pub clock: Arc<TestClock>,
    pub services: Arc<Services>,
    /// The store the server runs on: the one place tests read what was stored behind the API.
    pub store: Arc<dyn Store>,
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
            // Pinned so that `authenticator::ORIGIN` is an allowed origin whatever port the
            // server binds (unset, the default follows the port); tests of that default unset it.
            external_url: Some("http://localhost:8080".into()),
            ..Settings::default()
        };
        // Requests that send email need a mail setting; they are queued but not delivered unless
        // a test turns the worker on (delivery adds events and scrubs payloads tests inspect).
        settings.mail.dir = Some(data_dir.path().join("mail"));
        settings.outbox.worker = false;
        // Tests redeem many codes without a token from one address; those about the limit set
        // their own small one.
        settings.limits.public_per_minute = 1_000_000;
        settings.limits.public_burst = 1_000_000;
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
            external_url: running.external_url.clone(),
            metrics_address: running.metrics_address,
            admin_token,
            clock,
            services: running.services.clone(),
            store: running.store.clone(),
            settings,
            data_dir,
            running: Some(running),
        }
    }

    /// A client of the user service over `protocol`, without credentials.
    pub async fn client(&self, protocol: Protocol) -> ApiClient {
        ApiClient::new(protocol, self.address).await
    }

    /// A client of the user service over `protocol` with the IAM_OWNER admin's token.
    pub async fn admin(&self, protocol: Protocol) -> ApiClient {
        self.client(protocol).await.with_token(&self.admin_token)
    }

    /// The server's store: the one place tests read what was stored behind the API.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The user's events, oldest first.
    pub async fn events(&self, user_id: &str) -> Vec<StoredEvent> {
        self.store().list_events(user_id).await.unwrap()
    }

    /// The types of the user's events, oldest first.
    pub async fn event_types(&self, user_id: &str) -> Vec<String> {
        self.events(user_id)
            .await
            .into_iter()
            .map(|event| event.event_type)
            .collect()
    }

    /// Every message in the outbox, in the order they were queued.
    pub async fn outbox(&self) -> Vec<StoredMessage> {
        self.store().list_messages().await.unwrap()
    }

    /// The URL of the server's database.
    pub fn database_url(&self) -> String {
        self.settings.database_url()
    }

    /// A connection to the server's database, for what no RPC shows or sets.
    pub async fn database_connection(&self) -> sqlx::AnyConnection {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        sqlx::AnyConnection::connect(&self.database_url())
            .await
            .expect("open the test database")
    }

    /// Runs one statement with text parameters straight on the database and asserts that it
    /// changed exactly one row, for states no RPC produces.
    pub async fn update_one_row(&self, sql: &'static str, values: &[&str]) {
        use sqlx::Connection;
        let mut connection = self.database_connection().await;
        let mut query = sqlx::query(sql);
        for value in values {
            query = query.bind(value.to_string());
        }
        let updated = query
            .execute(&mut connection)
            .await
            .expect("the statement runs");
        assert_eq!(updated.rows_affected(), 1, "{sql}");
        connection.close().await.unwrap();
    }

    /// Sets a user's state number directly in the database, for states no RPC sets yet.
    pub async fn set_user_state_in_database(&self, user_id: &str, state: i64) {
        use sqlx::Connection;
        let mut connection = self.database_connection().await;
        let updated = sqlx::query("UPDATE users SET state = $1 WHERE id = $2")
            .bind(state)
            .bind(user_id)
            .execute(&mut connection)
            .await
            .expect("update the user's state");
        assert_eq!(updated.rows_affected(), 1);
        connection.close().await.unwrap();
    }

    /// How many passkey registrations wait to be verified.
    pub async fn pending_registrations(&self) -> i64 {
        use sqlx::{Connection, Row};
        let mut connection = self.database_connection().await;
        let row = sqlx::query("SELECT COUNT(*) FROM passkey_registrations")
            .fetch_one(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
        row.get::<i64, _>(0)
    }

    /// Signals a graceful shutdown without waiting; the handle finishes when the server has.
    pub fn begin_shutdown(&mut self) -> tokio::task::JoinHandle<Result<(), String>> {
        let running = self.running.take().expect("the server is running");
        let _ = running.shutdown.send(());
        running.finished
    }

    /// Starts a server whose `external_url` is its own `http://localhost:PORT`, as a browser
    /// test needs (WebAuthn checks the page's origin against it). The port is reserved by
    /// binding and releasing it just before the server binds it again.
    pub async fn start_self_hosted(configure: impl FnOnce(&mut Settings)) -> TestServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        TestServer::start_with(|settings| {
            settings.listen = SocketAddr::from(([127, 0, 0, 1], port));
            settings.external_url = Some(format!("http://localhost:{port}"));
            configure(settings);
        })
        .await
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

    /// A tonic client of the user service over HTTP/2.
    pub async fn grpc_client(&self) -> GrpcClient {
        grpc_client_at(self.address).await
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
        if let Some(database_url) = &self.settings.database_url {
            drop_postgres_database(database_url);
        }
    }
}

/// Drops a test's PostgreSQL database, so runs leave nothing behind. Runs on its own thread
/// and runtime because `Drop` cannot await; failures are ignored (the database is disposable).
pub fn drop_postgres_database(database_url: &str) {
    let (Ok(server_url), Ok(url)) = (
        std::env::var("PASSLINK_TEST_POSTGRES_URL"),
        url::Url::parse(database_url),
    ) else {
        return;
    };
    let name = url.path().trim_start_matches('/').to_owned();
    if !name.starts_with("passlink_test_") {
        return;
    }
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            use sqlx::Connection;
            let mut connection = sqlx::PgConnection::connect(&server_url).await.ok()?;
            // FORCE ends the stopped server's pooled connections (PostgreSQL 13 and later).
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut connection)
            .await
            .ok()?;
            connection.close().await.ok()
        })
    });
}

/// A tonic client of the user service.
pub type GrpcClient = user_pb::user_service_client::UserServiceClient<Channel>;

/// An HTTP/2 connection to a server, for tonic clients of any of its services.
pub async fn grpc_channel(address: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .expect("connect over gRPC")
}

/// A gRPC channel to a server serving TLS at `address` with a certificate for `localhost`
/// signed by `ca` (PEM), over rustls with ALPN h2.
pub async fn grpc_channel_https(address: SocketAddr, ca: &[u8]) -> Channel {
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(ca))
        .domain_name("localhost");
    Channel::from_shared(format!("https://localhost:{}", address.port()))
        .unwrap()
        .tls_config(tls)
        .expect("a TLS configuration")
        .connect()
        .await
        .expect("connect over gRPC with TLS")
}

/// A tonic client of the user service at `address`, on a new connection.
pub async fn grpc_client_at(address: SocketAddr) -> GrpcClient {
    GrpcClient::new(grpc_channel(address).await)
}

/// A fresh email address for a person.
pub fn unique_email(name: &str) -> String {
    format!("{}-{}@example.com", name.to_lowercase(), uuid_like())
}

/// A gRPC request with a bearer token.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// Adds a human user over gRPC as `token` and returns its id.
pub async fn add_human(server: &TestServer, token: &str, given_name: &str) -> String {
    let email = unique_email(given_name);
    server
        .grpc_client()
        .await
        .add_human_user(authorized(human(given_name, &email), token))
        .await
        .expect("AddHumanUser")
        .into_inner()
        .user_id
}

/// Creates a registration code for a user (as the admin, over gRPC) and returns it.
pub async fn create_code(server: &TestServer, user_id: &str) -> user_pb::PasskeyRegistrationCode {
    server
        .grpc_client()
        .await
        .create_passkey_registration_link(authorized(return_code(user_id), &server.admin_token))
        .await
        .expect("CreatePasskeyRegistrationLink")
        .into_inner()
        .code
        .expect("return_code answers carry the code")
}
