//! A running node: storage, scrape manager and web server wired together.
//!
//! The binary, the demo (two nodes in one process) and tests all start nodes through
//! [`Node::start`], so there is one way a node comes up and goes down.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::Config;
use crate::scrape::fetch::Fetcher;
use crate::scrape::target::stable_hash;
use crate::scrape::{unix_millis, LoopContext, ScrapeManager};
use crate::storage::Head;
use crate::telemetry::Telemetry;
use crate::web::{self, ReloadRequest, WebState};

/// How often the head is cut back to the retention period.
const RETENTION_CHECK: Duration = Duration::from_secs(60);

/// Everything a node needs besides its configuration file's contents.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// The file the configuration came from; `/-/reload` and SIGHUP read it again.
    pub config_path: Option<PathBuf>,
    pub listen: SocketAddr,
    pub storage_path: Option<PathBuf>,
    pub retention: Duration,
    pub enable_lifecycle: bool,
}

pub struct Node {
    pub state: Arc<WebState>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    reload: mpsc::Sender<ReloadRequest>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Node {
    /// Binds the listen address, starts scraping and serving. Returns once the node is ready.
    pub async fn start(config: Config, options: NodeOptions) -> anyhow::Result<Node> {
        if let Some(path) = &options.storage_path {
            std::fs::create_dir_all(path)
                .with_context(|| format!("creating storage directory {}", path.display()))?;
        }
        let listener = TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("binding web listen address {}", options.listen))?;
        let addr = listener.local_addr()?;
        let head = Arc::new(Head::new());
        let telemetry = Arc::new(Telemetry::default());
        let node_seed = stable_hash(&format!("{}{}", config.global.external_labels, addr));
        let scrape = Arc::new(ScrapeManager::new(LoopContext {
            head: head.clone(),
            fetcher: Fetcher::default(),
            telemetry: telemetry.clone(),
            node_seed,
        }));
        let (reload_tx, reload_rx) = mpsc::channel(4);
        let state = Arc::new(WebState::new(
            head.clone(),
            scrape.clone(),
            telemetry,
            config.global.external_labels.clone(),
            options.enable_lifecycle,
            options.config_path.is_some().then(|| reload_tx.clone()),
        ));
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn({
            let (state, stopped) = (state.clone(), stopped.clone());
            async move {
                if let Err(e) = web::serve(listener, state, stopped).await {
                    tracing::error!(error = %e, "web server failed");
                }
            }
        });
        let retention = tokio::spawn(enforce_retention(head, options.retention, stopped.clone()));
        let reloader = tokio::spawn(serve_reloads(
            state.clone(),
            options.config_path.clone(),
            reload_rx,
            stopped,
        ));
        scrape.apply(&config.scrape_configs).await;
        state.set_ready();
        tracing::info!(%addr, jobs = config.scrape_configs.len(), "wasmfed is ready");
        Ok(Node {
            state,
            addr,
            stop,
            reload: reload_tx,
            tasks: vec![server, retention, reloader],
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

    /// Stops scraping (writing stale markers), then the server.
    pub async fn shutdown(self) {
        self.state.scrape.shutdown().await;
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Applies configuration reloads one at a time. Only scrape jobs whose configuration changed are
/// restarted (see `ScrapeManager::apply`); a file that fails to load changes nothing.
async fn serve_reloads(
    state: Arc<WebState>,
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
            Some(path) => reload_from(&state, path).await,
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

async fn reload_from(state: &WebState, path: &Path) -> Result<(), String> {
    let loaded = Config::load(path).map_err(|e| e.to_string())?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let config = loaded.config;
    *state.external_labels.write().expect("labels lock") = config.global.external_labels.clone();
    state.scrape.apply(&config.scrape_configs).await;
    Ok(())
}

async fn enforce_retention(
    head: Arc<Head>,
    retention: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(RETENTION_CHECK);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopped.changed() => return,
        }
        let cutoff = unix_millis(SystemTime::now()) - retention.as_millis() as i64;
        let removed = head.truncate_before(cutoff);
        if removed > 0 {
            tracing::info!(removed, "retention removed series");
        }
    }
}
