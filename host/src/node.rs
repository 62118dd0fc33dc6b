//! A running node: storage, scrape manager and web server wired together.
//!
//! The binary, the demo (two nodes in one process) and tests all start nodes through
//! [`Node::start`], so there is one way a node comes up and goes down.
//!
//! With a storage path, the node is durable: before it reports ready it replays the
//! write-ahead log under `<storage.path>/wal` into its head (the web server answers 503 until
//! then) and takes a checkpoint; retention then cuts head and log together; shutdown writes and
//! fsyncs what is pending.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::Config;
use crate::plugin::{stock, Plugin, PluginLimits, PluginRuntime, World};
use crate::rules::{HeadStore, RuleManager, PROMQL_RULES};
use crate::scrape::fetch::Fetcher;
use crate::scrape::target::stable_hash;
use crate::scrape::{unix_millis, LoopContext, ScrapeManager};
use crate::storage::wal::{Retention, Wal, WalOptions};
use crate::storage::Head;
use crate::telemetry::Telemetry;
use crate::web::{self, ReloadRequest, Services, WebState, DEFAULT_LOOKBACK};

/// How often retention runs at most and at least: four times per retention period in between,
/// so a short retention (as in tests) is kept about as well as a long one.
const RETENTION_CHECK_MAX: Duration = Duration::from_secs(60);
const RETENTION_CHECK_MIN: Duration = Duration::from_secs(1);

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
    wal: Option<Arc<Wal>>,
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
        let runtime = Arc::new(PluginRuntime::new().context("starting the plugin runtime")?);
        let scrape = Arc::new(ScrapeManager::new(LoopContext {
            head: head.clone(),
            fetcher: Fetcher::default(),
            telemetry: telemetry.clone(),
            plugins: runtime.clone(),
            node_seed,
        }));
        let rules = Arc::new(RuleManager::new(
            runtime.clone(),
            head.clone(),
            DEFAULT_LOOKBACK,
            telemetry.plugins.clone(),
            telemetry.rules.clone(),
        ));
        let query = {
            let (runtime, head) = (runtime.clone(), head.clone());
            tokio::task::spawn_blocking(move || query_plugin(&runtime, head)).await??
        };
        telemetry.plugins.track_for(
            "handler",
            "/api/v1/query",
            vec![("query".into(), query.clone())],
        );
        let (reload_tx, reload_rx) = mpsc::channel(4);
        let services = Services {
            head: head.clone(),
            scrape: scrape.clone(),
            rules: rules.clone(),
            query,
            runtime: runtime.clone(),
            telemetry,
        };
        let state = Arc::new(WebState::new(
            services,
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
        let retention = Retention {
            time: options.retention,
            size: options.retention_size,
        };
        let wal = match &options.storage_path {
            None => None,
            Some(path) => {
                let opened = open_wal(&head, &state.telemetry, path, options.wal, retention).await;
                match opened {
                    Ok(wal) => Some(wal),
                    Err(e) => {
                        let _ = stop.send(true);
                        return Err(e);
                    }
                }
            }
        };
        let retention = tokio::spawn(enforce_retention(
            head,
            wal.clone(),
            retention,
            stopped.clone(),
        ));
        let watcher = tokio::spawn(crate::plugin::watch::watch_files(
            runtime.clone(),
            state.telemetry.plugins.clone(),
            PLUGIN_FILE_CHECK,
            stopped.clone(),
        ));
        let reloader = tokio::spawn(serve_reloads(
            state.clone(),
            options.config_path.clone(),
            reload_rx,
            stopped,
        ));
        if let Err(e) = apply(&state, &config).await {
            let _ = stop.send(true);
            return Err(anyhow::anyhow!(e));
        }
        state.set_ready();
        tracing::info!(
            %addr,
            jobs = config.scrape_configs.len(),
            rule_groups = rules.groups().len(),
            "wasmfed is ready"
        );
        Ok(Node {
            state,
            addr,
            stop,
            reload: reload_tx,
            tasks: vec![server, retention, watcher, reloader],
            wal,
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
        self.state.rules.shutdown().await;
        self.state.scrape.shutdown().await;
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        if let Some(wal) = self.wal {
            let closed = tokio::task::spawn_blocking(move || wal.close()).await;
            if let Ok(Err(e)) = closed {
                tracing::error!(error = %e, "closing the write-ahead log");
            }
        }
    }
}

/// Replays the WAL into `head`, drops what is past retention and checkpoints the rest, off the
/// async threads.
async fn open_wal(
    head: &Arc<Head>,
    telemetry: &Arc<Telemetry>,
    storage: &Path,
    options: WalOptions,
    retention: Retention,
) -> anyhow::Result<Arc<Wal>> {
    let dir = storage.join("wal");
    let (head, metrics) = (head.clone(), telemetry.wal.clone());
    tokio::task::spawn_blocking(move || {
        tracing::info!(dir = %dir.display(), "replaying the write-ahead log");
        let (wal, report) = Wal::open(&dir, &head, options, metrics)?;
        tracing::info!(
            files = report.files,
            checkpoint = report.checkpoint,
            records = report.records,
            series = report.series,
            samples = report.samples,
            out_of_order = report.out_of_order,
            duplicates = report.duplicates,
            unknown_series = report.unknown_series,
            damaged = report.damage.len(),
            truncated = report.truncated.len(),
            duration_ms = report.duration.as_millis() as u64,
            "write-ahead log replayed"
        );
        let now = unix_millis(SystemTime::now());
        head.truncate_before(now - retention.time.as_millis() as i64);
        // A failed checkpoint is not fatal: the segments it would replace stay and replay again.
        let _ = wal.checkpoint(&head);
        Ok(Arc::new(wal))
    })
    .await?
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
    apply(state, &config).await?;
    *state.external_labels.write().expect("labels lock") = config.global.external_labels.clone();
    Ok(())
}

/// Applies a configuration's scrape jobs and rule groups, all or nothing: rules are prepared
/// (files read, plugins loaded) first, scrapes applied next, and the rules swapped in only
/// when both succeeded.
async fn apply(state: &WebState, config: &Config) -> Result<(), String> {
    let prepared = {
        let (rules, config) = (state.rules.clone(), config.clone());
        tokio::task::spawn_blocking(move || rules.prepare(&config))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
    };
    state
        .scrape
        .apply(&config.scrape_configs)
        .await
        .map_err(|e| e.to_string())?;
    state.rules.commit(prepared);
    *state.admin_token.write().expect("admin token lock") = config.admin.bearer_token.clone();
    Ok(())
}

/// The plugin behind `/api/v1/query`: the stock `promql-rules` with no rule groups.
fn query_plugin(runtime: &PluginRuntime, head: Arc<Head>) -> anyhow::Result<Arc<Plugin>> {
    let bytes = stock::component(PROMQL_RULES).context("the stock promql-rules plugin")?;
    let config = format!(
        r#"{{"lookback_delta": "{}ms"}}"#,
        DEFAULT_LOOKBACK.as_millis()
    );
    let plugin = runtime
        .load_with_store(
            PROMQL_RULES,
            bytes,
            World::Query,
            &config,
            PluginLimits::rules(),
            Arc::new(HeadStore::new(head)),
        )
        .context("loading the query plugin")?;
    Ok(Arc::new(plugin))
}

async fn enforce_retention(
    head: Arc<Head>,
    wal: Option<Arc<Wal>>,
    retention: Retention,
    mut stopped: watch::Receiver<bool>,
) {
    let every = (retention.time / 4).clamp(RETENTION_CHECK_MIN, RETENTION_CHECK_MAX);
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopped.changed() => return,
        }
        let now = unix_millis(SystemTime::now());
        let Some(wal) = &wal else {
            let removed = head.truncate_before(now - retention.time.as_millis() as i64);
            if removed > 0 {
                tracing::info!(removed, "retention removed series");
            }
            continue;
        };
        let (head, wal) = (head.clone(), wal.clone());
        let outcome =
            tokio::task::spawn_blocking(move || wal.enforce_retention(&head, &retention, now))
                .await;
        match outcome {
            Ok(Ok(report)) => {
                if report.removed_series > 0 || report.size_cutoff_ms.is_some() {
                    tracing::info!(
                        removed = report.removed_series,
                        size_cutoff_ms = report.size_cutoff_ms,
                        wal_bytes = report.bytes,
                        "retention removed series"
                    );
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "retention failed"),
            Err(e) => tracing::error!(error = %e, "retention task failed"),
        }
    }
}
