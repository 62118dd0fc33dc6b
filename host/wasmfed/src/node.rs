//! A running node: the tenants of `wasmfed-node` served by `wasmfed-web`, wired together.
//!
//! The binary, the demo (two nodes in one process) and tests all start nodes through
//! [`Node::start`], so there is one way a node comes up and goes down.
//!
//! With a storage path, the node is durable: before it reports ready each tenant replays its
//! write-ahead log (the node's own under `<storage.path>/wal`, others under
//! `<storage.path>/tenants/<name>/wal`) into its head — the web server starts first and
//! answers 503 until every log is replayed and the jobs are up — then takes a checkpoint in
//! the background; retention then cuts head and log together; shutdown writes and fsyncs what
//! is pending.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use wasmfed_config::Config;
use wasmfed_model::compat::Compat;
use wasmfed_node::fleet::{Durability, Fleet};
use wasmfed_node::reload::{apply, serve_reloads};
use wasmfed_node::tenant::{tenant_specs, Shared};
use wasmfed_node::{NodeState, ReloadRequest, StatusInfo};
use wasmfed_notify::Notifier;
use wasmfed_plugin::PluginRuntime;
use wasmfed_rules::{AlertRestore, EngineOptions, SendOptions};
use wasmfed_scrape::fetch::Fetcher;
use wasmfed_scrape::target::stable_hash;
use wasmfed_storage::wal::{Retention, WalOptions};
use wasmfed_telemetry::Telemetry;
use wasmfed_web::WebGate;

/// How often the component files of live plugins are checked for changes.
const PLUGIN_FILE_CHECK: Duration = Duration::from_secs(1);

/// Everything a node needs besides its configuration file's contents.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// The file the configuration came from; `/-/reload` and SIGHUP read it again.
    pub config_path: Option<PathBuf>,
    pub listen: SocketAddr,
    /// Where the write-ahead log lives; `None` keeps everything in memory only.
    pub storage_path: Option<PathBuf>,
    pub retention: Duration,
    /// Most bytes the write-ahead log may take; `None` for no limit.
    pub retention_size: Option<u64>,
    /// The range of a block cut from the head.
    pub block_range: Duration,
    /// The largest block compaction makes.
    pub max_block: Duration,
    pub wal: WalOptions,
    pub enable_lifecycle: bool,
    /// Which Prometheus generation's semantics to follow where 2.x and 3.x differ.
    pub compat: Compat,
    /// The longest a query may take (`--query.timeout`).
    pub query_timeout: Duration,
    /// `--web.config.file`: TLS, basic auth and headers of the server; `None` for plain HTTP.
    pub web_config: Option<PathBuf>,
    /// `--query.lookback-delta`: how far back `/federate` and queries look for a sample.
    pub lookback: Duration,
    /// `--query.max-samples`: the most samples a query or rule may hold at once.
    pub max_samples: u64,
    /// `--web.enable-remote-write-receiver`: `POST /api/v1/write` accepts samples.
    pub remote_write_receiver: bool,
    /// `--plugin.cache-dir`: where compiled plugins are kept across starts.
    pub plugin_cache: Option<PathBuf>,
    /// `--web.page-title`.
    pub page_title: String,
    /// `--web.route-prefix`: the path every endpoint is served under (`/` for the root).
    pub route_prefix: String,
    /// `--rules.alert.for-outage-tolerance` and `--rules.alert.for-grace-period`.
    pub alert_restore: AlertRestore,
    /// `--rules.alert.resend-delay` and `--web.external-url` for alerts; an empty URL becomes
    /// Prometheus' default, `http://<hostname>:<port>`.
    pub alert_sending: SendOptions,
    /// `--alertmanager.notification-queue-capacity`.
    pub notification_queue_capacity: usize,
    /// The configuration's text, for `/api/v1/status/config` (secrets are hidden there).
    pub config_source: String,
    /// Flags, retention and start time for the status API.
    pub status: StatusInfo,
}

/// Prometheus' default external URL: `http://<hostname>:<port>`.
fn default_external_url(addr: SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("http://{host}:{}", addr.port())
}

/// Tenant and admin bearer tokens cross the network in the clear when the server listens
/// beyond loopback without TLS: said loudly at start (and by `check config`).
fn warn_of_clear_text_tokens(config: &Config, listen: SocketAddr, gate: &WebGate) {
    let tokens = config.admin.bearer_token.is_some() || !config.tenants.is_empty();
    if tokens && !listen.ip().is_loopback() && !gate.serves_tls() {
        tracing::warn!(
            %listen,
            "tenant or admin bearer tokens are configured but the server listens beyond loopback without TLS: \
             tokens cross the network in the clear; serve TLS with --web.config.file (tls_server_config)"
        );
    }
}

pub struct Node {
    pub state: Arc<NodeState>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    reload: mpsc::Sender<ReloadRequest>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    fleet: Arc<Fleet>,
}

impl Node {
    /// Binds the listen address, starts every tenant's scraping and rules, and serves. Returns
    /// once the node is ready.
    pub async fn start(config: Config, options: NodeOptions) -> anyhow::Result<Node> {
        let gate = Arc::new(WebGate::new(options.web_config.clone()).map_err(anyhow::Error::msg)?);
        warn_of_clear_text_tokens(&config, options.listen, &gate);
        if let Some(path) = &options.storage_path {
            std::fs::create_dir_all(path)
                .with_context(|| format!("creating storage directory {}", path.display()))?;
        }
        let listener = TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("binding web listen address {}", options.listen))?;
        let addr = listener.local_addr()?;
        let telemetry = Arc::new(Telemetry::default());
        let mut runtime = PluginRuntime::new().context("starting the plugin runtime")?;
        if let Some(dir) = &options.plugin_cache {
            runtime = runtime.with_disk_cache(dir);
        }
        let runtime = Arc::new(runtime);
        let fetcher = Fetcher::default();
        let notifier = Notifier::new(
            fetcher.clone(),
            telemetry.clone(),
            options.notification_queue_capacity,
        );
        let mut alert_sending = options.alert_sending.clone();
        if alert_sending.external_url.is_empty() {
            alert_sending.external_url = default_external_url(addr);
        }
        let shared = Shared {
            runtime: runtime.clone(),
            telemetry: telemetry.clone(),
            fetcher,
            notifier: notifier.clone(),
            alert_sending,
            node_seed: stable_hash(&format!("{}{}", config.global.external_labels, addr)),
            engine: EngineOptions {
                lookback: options.lookback,
                compat: options.compat,
                alert_restore: options.alert_restore,
                max_samples: options.max_samples,
            },
            query_timeout: options.query_timeout,
        };
        let durability = Durability {
            storage: options.storage_path.clone(),
            wal: options.wal,
            retention: Retention {
                time: options.retention,
                size: options.retention_size,
            },
            block_range: options.block_range,
            max_block: options.max_block,
        };
        let (stop, stopped) = watch::channel(false);
        let fleet = Arc::new(Fleet::new(shared, durability));
        // The server starts on the node's own tenant before its log is replayed and answers 503
        // (`/-/ready`, `/federate`, queries) until the log is replayed and the jobs are up, as
        // Prometheus answers during its WAL replay.
        let own = fleet
            .create(&tenant_specs(&config)[0])
            .await
            .context("starting the node's own tenant")?;
        let (reload_tx, reload_rx) = mpsc::channel(4);
        let state = Arc::new(
            NodeState::new(
                own.clone(),
                runtime.clone(),
                telemetry,
                config.global.external_labels.clone(),
                options.enable_lifecycle,
                options.config_path.is_some().then(|| reload_tx.clone()),
            )
            .with_query_timeout(options.query_timeout)
            .with_remote_write_receiver(options.remote_write_receiver)
            .with_page_title(&options.page_title)
            .with_lookback(options.lookback)
            .with_route_prefix(&options.route_prefix)
            .with_status(options.status.clone()),
        );
        *state.config_source.write().expect("config source lock") = options.config_source.clone();
        let server = tokio::spawn({
            let (state, stopped) = (state.clone(), stopped.clone());
            async move {
                if let Err(e) = wasmfed_web::serve(listener, state, gate, stopped).await {
                    tracing::error!(error = %e, "web server failed");
                }
            }
        });
        if let Err(e) = fleet.open_storage(&own, &config.remote_write).await {
            let _ = stop.send(true);
            let _ = server.await;
            return Err(e.context("opening the node's own storage"));
        }
        let watcher = tokio::spawn(wasmfed_plugin::watch::watch_files(
            runtime,
            state.telemetry.plugins.clone(),
            PLUGIN_FILE_CHECK,
            stopped.clone(),
        ));
        let sender = tokio::spawn(notifier.run(stopped.clone()));
        let reloader = tokio::spawn(serve_reloads(
            state.clone(),
            fleet.clone(),
            options.config_path.clone(),
            reload_rx,
            stopped,
        ));
        if let Err(e) = apply(&state, &fleet, &config).await {
            let _ = stop.send(true);
            return Err(anyhow::anyhow!(e));
        }
        state.set_ready();
        tracing::info!(
            %addr,
            tenants = state.tenants().len(),
            jobs = config.scrape_configs.len(),
            "wasmfed is ready"
        );
        Ok(Node {
            state,
            addr,
            stop,
            reload: reload_tx,
            tasks: vec![server, watcher, reloader, sender],
            fleet,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Reloads the configuration file (SIGHUP). On error the old configuration keeps running.
    pub async fn reload(&self) -> Result<(), String> {
        let (answer, outcome) = oneshot::channel();
        self.reload
            .send(answer)
            .await
            .map_err(|_| "the node is shutting down".to_owned())?;
        outcome
            .await
            .map_err(|_| "the node is shutting down".to_owned())?
    }

    /// Stops scraping (writing stale markers), then the server, then makes everything stored
    /// durable.
    pub async fn shutdown(self) {
        let tenants = self.state.tenants();
        for tenant in &tenants {
            tenant.shutdown(&self.state.telemetry).await;
        }
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        for tenant in &tenants {
            self.fleet.close_storage(tenant).await;
        }
    }
}
