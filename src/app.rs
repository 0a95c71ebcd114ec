//! The composition root: opens the store, wires the use cases and the transports, bootstraps
//! the first admin, and serves one listener until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::api::listener::{ListenerOptions, ListenerSettings};
use crate::api::tls::ServerTls;
use crate::api::{self, ApiMetrics, ApiSettings};
use crate::config::{MetricsExposure, RuntimeSettings, Settings};
use crate::domain::time::{Clock, SystemClock};
use crate::metrics::Metrics;
use crate::notify::templates::PasskeyLinkTemplates;
use crate::notify::{DeliveryMetrics, Mailer, NotifySettings, OutboxWorker, RunningWorker};
use crate::private_files::{
    create_private_dir, prepare_private_sqlite_file, sqlite_file_of, write_private_file,
};
use crate::sealing::{XChaCha20Poly1305Sealer, load_secret_key};
use crate::service::ports::{SecretSealer, Store};
use crate::service::{RetentionSweeper, ServiceSettings, Services};
use crate::store::backup::BackupReport;
use crate::store::{Backend, SqlStore};

/// The file in the data directory that receives the first admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin.pat";

/// Opens (and migrates) the database the settings name, creating the data directory (0700)
/// and a SQLite database file (0600) private to their owner.
pub async fn open_store(settings: &Settings) -> Result<SqlStore, String> {
    create_private_dir(&settings.data_dir, "data_dir")?;
    let url = settings.database_url();
    if let Some(file) = sqlite_file_of(&url) {
        prepare_private_sqlite_file(&file)?;
    }
    SqlStore::connect(&url).await
}

/// The sealer of secrets at rest, under the key of `secret_key_file` or of
/// `data_dir/secret.key` (created at first start). Call after `open_store`, which creates the
/// data directory.
fn open_sealer(settings: &Settings) -> Result<Arc<dyn SecretSealer>, String> {
    let key = load_secret_key(settings.secret_key_file.as_deref(), &settings.data_dir)?;
    Ok(Arc::new(XChaCha20Poly1305Sealer::new(&key)))
}

/// The use cases over a store, sealing secrets with `sealer`. Their ids carry the node the
/// store leased.
pub fn services(
    settings: ServiceSettings,
    store: SqlStore,
    sealer: Arc<dyn SecretSealer>,
    clock: Arc<dyn Clock>,
) -> Arc<Services> {
    let settings = ServiceSettings {
        id_node: Some(store.id_node()),
        ..settings
    };
    Arc::new(Services::new(Arc::new(store), clock, sealer, settings))
}

/// Starts the outbox worker over `store` when it is enabled and email can be sent (SMTP or a
/// mail directory is set); it counts its deliveries in `metrics`.
fn start_outbox_worker(
    settings: &NotifySettings,
    store: Arc<dyn Store>,
    services: &Services,
    metrics: DeliveryMetrics,
) -> Result<Option<RunningWorker>, String> {
    if !settings.run_worker {
        tracing::info!("outbox.worker is off: other processes deliver the queued messages");
        return Ok(None);
    }
    let Some(mailer) = &settings.mailer else {
        tracing::warn!("no smtp.host and no mail.dir: requests that send email are refused");
        return Ok(None);
    };
    let mailer = Mailer::new(mailer)?;
    let templates = PasskeyLinkTemplates::load(settings.templates_dir.as_deref())?;
    let worker = OutboxWorker::new(
        store,
        services.clock().clone(),
        Arc::new(mailer),
        services.sealer().clone(),
        templates,
        settings.worker.clone(),
        services.message_queued(),
    )
    .with_metrics(metrics);
    Ok(Some(worker.spawn()))
}

/// Runs `passlink backup --to FILE`: copies the SQLite database the settings name into a new
/// file while servers keep using it; on PostgreSQL, says to use `pg_dump` and fails.
pub async fn backup(settings: &Settings, target: &std::path::Path) -> Result<BackupReport, String> {
    crate::store::backup::backup_sqlite(&settings.database_url(), target).await
}

/// On an empty database, creates the default organization and admin and writes the admin
/// token to `data_dir/admin.pat`. Returns the token file's path when it did.
pub async fn bootstrap(
    settings: &Settings,
    services: &Services,
) -> Result<Option<PathBuf>, String> {
    let Some(bootstrapped) = services
        .bootstrap()
        .await
        .map_err(|error| format!("cannot create the first admin: {error}"))?
    else {
        return Ok(None);
    };
    let path = settings.data_dir.join(ADMIN_TOKEN_FILE);
    write_private_file(&path, bootstrapped.admin_token.expose())
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    tracing::info!(
        org.id = %bootstrapped.org.id,
        user.id = %bootstrapped.admin_user_id,
        token_file = %path.display(),
        "first start: created the default organization and an IAM_OWNER machine user; its token is in the file"
    );
    Ok(Some(path))
}

/// A server started in-process; dropping `shutdown` or sending on it stops it gracefully.
pub struct RunningServer {
    /// The address the listener bound.
    pub address: SocketAddr,
    /// The address of the metrics listener, when `metrics.listen` is set.
    pub metrics_address: Option<SocketAddr>,
    /// `external_url` in force: the setting, or its default for the bound port.
    pub external_url: String,
    /// The use cases the server runs, for operator actions in tests.
    pub services: Arc<Services>,
    /// The store the use cases run on: what tests read behind the API.
    pub store: Arc<dyn Store>,
    /// Stops the server gracefully.
    pub shutdown: oneshot::Sender<()>,
    /// Ends when the server has stopped.
    pub finished: tokio::task::JoinHandle<Result<(), String>>,
}

/// Binds, bootstraps and serves in a background task; for tests and embedding. The settings
/// are checked and resolved here, once, with the port the listener bound (an unset
/// `external_url` follows it).
pub async fn start(settings: Settings, clock: Arc<dyn Clock>) -> Result<RunningServer, String> {
    // Checked before anything is bound or opened.
    settings.validate()?;
    let listener = TcpListener::bind(settings.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", settings.listen))?;
    let address = listener
        .local_addr()
        .map_err(|error| format!("cannot read the bound address: {error}"))?;
    let RuntimeSettings {
        service,
        notify,
        api,
        listener: listener_settings,
        tls,
        metrics: metrics_exposure,
        external_url,
    } = settings.resolve_for_port(address.port())?;
    let tls = tls.as_ref().map(ServerTls::load).transpose()?;
    let metrics_listener = match metrics_exposure {
        MetricsExposure::OwnListener(metrics_listen) => {
            Some(TcpListener::bind(metrics_listen).await.map_err(|error| {
                format!("cannot listen on {metrics_listen} (metrics.listen): {error}")
            })?)
        }
        _ => None,
    };
    let metrics_address = metrics_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()
        .map_err(|error| format!("cannot read the metrics listener's address: {error}"))?;
    let store = open_store(&settings).await?;
    let sealer = open_sealer(&settings)?;
    if settings.secret_key_file.is_none()
        && Backend::of_url(&settings.database_url()) == Ok(Backend::Postgres)
    {
        tracing::warn!(
            "secret_key_file is unset, so the key is this data_dir's own: every process sharing \
             the database needs the same key file, or the emails one queues cannot be sent by the others"
        );
    }
    let metrics =
        (metrics_exposure != MetricsExposure::Off).then(|| Arc::new(Metrics::new(&store)));
    let services = services(service, store.clone(), sealer, clock);
    let shared_store: Arc<dyn Store> = Arc::new(store.clone());
    bootstrap(&settings, &services).await?;
    let worker = start_outbox_worker(
        &notify,
        shared_store.clone(),
        &services,
        metrics
            .as_ref()
            .map(|metrics| metrics.deliveries.clone())
            .unwrap_or_default(),
    )?;
    // Every process sweeps; the sweep's lease lets one at a time do the work.
    let sweeper = RetentionSweeper::new(services.clone()).spawn();
    let (stopping, stopping_receiver) = watch::channel(());
    let reloader = match &tls {
        Some(tls) => Some(
            tls.spawn_reloader(
                metrics
                    .as_ref()
                    .map(|metrics| metrics.tls_reloads.clone())
                    .unwrap_or_default(),
                stopping_receiver.clone(),
            )?,
        ),
        None => None,
    };
    let options = ListenerOptions {
        tls: tls.as_ref().map(ServerTls::acceptor),
        open_connections: metrics
            .as_ref()
            .map(|metrics| metrics.open_connections.clone())
            .unwrap_or_default(),
    };
    let api_metrics = metrics.clone().map(|metrics| ApiMetrics {
        metrics,
        serve_here: metrics_listener.is_none(),
    });
    let metrics_server = match (metrics_listener, &metrics) {
        (Some(metrics_listener), Some(metrics)) => Some(tokio::spawn(api::listener::serve(
            metrics_listener,
            api::metrics::router(metrics.clone()),
            listener_settings.clone(),
            ListenerOptions::default(),
            stopped(stopping_receiver.clone()),
        ))),
        _ => None,
    };
    let (shutdown, shutdown_signal) = oneshot::channel::<()>();
    let served = services.clone();
    let finished = tokio::spawn(async move {
        let served = serve(
            &api,
            listener_settings,
            options,
            api_metrics,
            served,
            listener,
            async {
                let _ = shutdown_signal.await;
            },
        )
        .await;
        let _ = stopping.send(());
        if let Some(metrics_server) = metrics_server
            && let Ok(Err(error)) = metrics_server.await
        {
            tracing::warn!(%error, "the metrics listener failed");
        }
        if let Some(reloader) = reloader {
            let _ = reloader.await;
        }
        if let Some(worker) = worker {
            worker.stop().await;
        }
        sweeper.stop().await;
        served?;
        store.close().await;
        Ok(())
    });
    Ok(RunningServer {
        address,
        metrics_address,
        external_url,
        services,
        store: shared_store,
        shutdown,
        finished,
    })
}

/// Completes when `stopping` changes or its sender is gone.
async fn stopped(mut stopping: watch::Receiver<()>) {
    let _ = stopping.changed().await;
}

/// Runs `passlink serve`: bootstraps, serves until SIGTERM or Ctrl-C, then drains.
pub async fn run(settings: Settings) -> Result<(), String> {
    // Installed before the server announces itself, so that an early SIGTERM is not lost.
    let signal = shutdown_signal()?;
    let database = crate::store::Backend::of_url(&settings.database_url())?.name();
    let tls = settings.tls.cert_file.is_some();
    let RunningServer {
        address,
        metrics_address,
        external_url,
        shutdown,
        mut finished,
        ..
    } = start(settings, Arc::new(SystemClock)).await?;
    tracing::info!(
        listen = %address,
        tls,
        database,
        %external_url,
        "passlink is serving gRPC, gRPC-Web, Connect and REST"
    );
    if let Some(metrics_address) = metrics_address {
        tracing::info!(listen = %metrics_address, "serving GET /metrics on its own listener");
    }
    tokio::select! {
        // The server stopped on its own: that is an error worth reporting.
        stopped = &mut finished => return joined(stopped),
        () = signal => {}
    }
    let _ = shutdown.send(());
    joined(finished.await)?;
    tracing::info!("passlink stopped");
    Ok(())
}

fn joined(result: Result<Result<(), String>, tokio::task::JoinError>) -> Result<(), String> {
    result.map_err(|error| format!("the server task failed: {error}"))?
}

/// Registers SIGTERM and SIGINT handlers now (so a signal that arrives before the server is
/// polled is not lost) and returns a future that completes on the first of them.
fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let register = |kind: SignalKind| {
        signal(kind).map_err(|error| format!("cannot install a signal handler: {error}"))
    };
    let mut terminate = register(SignalKind::terminate())?;
    let mut interrupt = register(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tracing::info!("shutting down: finishing requests in flight");
    })
}

/// Serves every protocol on `listener` until `signal`, then gives requests in flight up to
/// `shutdown_grace` to finish; health answers NOT_SERVING from the signal on.
pub async fn serve(
    api_settings: &ApiSettings,
    listener_settings: ListenerSettings,
    listener_options: ListenerOptions,
    metrics: Option<ApiMetrics>,
    services: Arc<Services>,
    listener: TcpListener,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let api = api::build(services, api_settings, metrics).await?;
    let health = api.health.clone();
    let signal = async move {
        signal.await;
        api::grpc::set_not_serving(&health).await;
    };
    api::listener::serve(
        listener,
        api.router,
        listener_settings,
        listener_options,
        signal,
    )
    .await
}
