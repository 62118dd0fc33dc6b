//! A running node: its tenants (each with storage, scrape jobs and rule groups), the plugin
//! runtime they share and the web server, wired together.
//!
//! The binary, the demo (two nodes in one process) and tests all start nodes through
//! [`Node::start`], so there is one way a node comes up and goes down. `fleet` starts, applies
//! and stops tenants; `storage` replays and trims their logs.
//!
//! With a storage path, the node is durable: before it reports ready each tenant replays its
//! write-ahead log (the node's own under `<storage.path>/wal`, others under
//! `<storage.path>/tenants/<name>/wal`) into its head — the web server starts first and
//! answers 503 until every log is replayed and the jobs are up — then takes a checkpoint in
//! the background; retention then cuts head and log together; shutdown writes and fsyncs what
//! is pending.

mod fleet;
mod storage;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::Config;
use crate::plugin::PluginRuntime;
use crate::scrape::fetch::Fetcher;
use crate::scrape::target::stable_hash;
use crate::storage::wal::{Retention, WalOptions};
use crate::telemetry::Telemetry;
use crate::tenant::{tenant_specs, Shared};
use crate::web::{self, ReloadRequest, WebState, DEFAULT_LOOKBACK};

use fleet::{Durability, Fleet};

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
    pub wal: WalOptions,
    pub enable_lifecycle: bool,
}

pub struct Node {
    pub state: Arc<WebState>,
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
        if let Some(path) = &options.storage_path {
            std::fs::create_dir_all(path)
                .with_context(|| format!("creating storage directory {}", path.display()))?;
        }
        let listener = TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("binding web listen address {}", options.listen))?;
        let addr = listener.local_addr()?;
        let telemetry = Arc::new(Telemetry::default());
        let runtime = Arc::new(PluginRuntime::new().context("starting the plugin runtime")?);
        let shared = Shared {
            runtime: runtime.clone(),
            telemetry: telemetry.clone(),
            fetcher: Fetcher::default(),
            node_seed: stable_hash(&format!("{}{}", config.global.external_labels, addr)),
            lookback: DEFAULT_LOOKBACK,
        };
        let durability = Durability {
            storage: options.storage_path.clone(),
            wal: options.wal,
            retention: Retention {
                time: options.retention,
                size: options.retention_size,
            },
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
        let state = Arc::new(WebState::new(
            own.clone(),
            runtime.clone(),
            telemetry,
            config.global.external_labels.clone(),
            options.enable_lifecycle,
            options.config_path.is_some().then(|| reload_tx.clone()),
        ));
        let server = tokio::spawn({
            let (state, stopped) = (state.clone(), stopped.clone());
            async move {
                if let Err(e) = web::serve(listener, state, stopped).await {
                    tracing::error!(error = %e, "web server failed");
                }
            }
        });
        if let Err(e) = fleet.open_storage(&own).await {
            let _ = stop.send(true);
            let _ = server.await;
            return Err(e.context("opening the node's own storage"));
        }
        let watcher = tokio::spawn(crate::plugin::watch::watch_files(
            runtime,
            state.telemetry.plugins.clone(),
            PLUGIN_FILE_CHECK,
            stopped.clone(),
        ));
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
            tasks: vec![server, watcher, reloader],
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

/// Applies configuration reloads one at a time. Only scrape jobs whose configuration changed are
/// restarted (see `ScrapeManager::apply`); a file that fails to load changes nothing.
async fn serve_reloads(
    state: Arc<WebState>,
    fleet: Arc<Fleet>,
    path: Option<PathBuf>,
    mut requests: mpsc::Receiver<ReloadRequest>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let answer = tokio::select! {
            request = requests.recv() => match request {
                Some(answer) => answer,
                None => return,
            },
            _ = stopped.changed() => return,
        };
        let outcome = match &path {
            None => Err("this node has no configuration file".to_owned()),
            Some(path) => reload_from(&state, &fleet, path).await,
        };
        state.telemetry.record_reload(outcome.is_ok());
        match &outcome {
            Ok(()) => {
                tracing::info!(file = %path.as_deref().unwrap_or(Path::new("")).display(), "configuration reloaded")
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration reload failed; keeping the running configuration")
            }
        }
        let _ = answer.send(outcome);
    }
}

async fn reload_from(state: &WebState, fleet: &Fleet, path: &Path) -> Result<(), String> {
    let loaded = Config::load(path).map_err(|e| e.to_string())?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let config = loaded.config;
    apply(state, fleet, &config).await?;
    *state.external_labels.write().expect("labels lock") = config.global.external_labels.clone();
    Ok(())
}

/// Applies a configuration: every tenant's scrape jobs and rule groups (see `fleet`), then
/// the node-wide settings.
async fn apply(state: &WebState, fleet: &Fleet, config: &Config) -> Result<(), String> {
    fleet.apply(state, config).await?;
    *state.admin_token.write().expect("admin token lock") = config.admin.bearer_token.clone();
    Ok(())
}
