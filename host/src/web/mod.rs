//! The HTTP server: `/federate`, `/api/v1/query` and the lifecycle, status and metrics
//! endpoints.
//!
//! `server` accepts connections and routes; each endpoint lives in its own module. Handlers
//! share one [`WebState`].

pub mod body;
pub mod encoding;
pub mod expfmt;
pub mod federate;
pub mod plugins;
pub mod query;
pub mod relabel;
pub mod request_line;
pub mod server;
pub mod targets;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::model::Labels;
use crate::plugin::{Plugin, PluginRuntime};
use crate::rules::RuleManager;
use crate::scrape::ScrapeManager;
use crate::storage::Head;
use crate::telemetry::Telemetry;

pub use server::serve;

/// Prometheus' default `--query.lookback-delta`.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(300);

/// A request to reload the configuration file; the node answers with the outcome.
pub type ReloadRequest = tokio::sync::oneshot::Sender<Result<(), String>>;

/// The node's parts the handlers use.
pub struct Services {
    pub head: Arc<Head>,
    pub scrape: Arc<ScrapeManager>,
    pub rules: Arc<RuleManager>,
    /// The plugin answering `/api/v1/query` (the stock `promql-rules`, world `query`).
    pub query: Arc<Plugin>,
    /// Compiles uploaded components for the admin API.
    pub runtime: Arc<PluginRuntime>,
    pub telemetry: Arc<Telemetry>,
}

/// What the handlers read.
pub struct WebState {
    pub head: Arc<Head>,
    pub scrape: Arc<ScrapeManager>,
    pub rules: Arc<RuleManager>,
    pub query: Arc<Plugin>,
    pub runtime: Arc<PluginRuntime>,
    pub telemetry: Arc<Telemetry>,
    pub external_labels: RwLock<Labels>,
    /// The admin API's bearer token (`admin:` in the configuration); `None` disables it.
    pub admin_token: RwLock<Option<String>>,
    pub lookback: Duration,
    /// Whether `POST /-/quit` and `POST /-/reload` are allowed, as `--web.enable-lifecycle`.
    pub enable_lifecycle: bool,
    /// Where `/-/reload` asks the node to reload its configuration (None: no config file).
    pub reload: Option<tokio::sync::mpsc::Sender<ReloadRequest>>,
    ready: AtomicBool,
    quit: tokio::sync::Notify,
}

impl WebState {
    pub fn new(
        services: Services,
        external_labels: Labels,
        enable_lifecycle: bool,
        reload: Option<tokio::sync::mpsc::Sender<ReloadRequest>>,
    ) -> Self {
        let Services {
            head,
            scrape,
            rules,
            query,
            runtime,
            telemetry,
        } = services;
        WebState {
            head,
            scrape,
            rules,
            query,
            runtime,
            telemetry,
            admin_token: RwLock::new(None),
            external_labels: RwLock::new(external_labels),
            lookback: DEFAULT_LOOKBACK,
            enable_lifecycle,
            reload,
            ready: AtomicBool::new(false),
            quit: tokio::sync::Notify::new(),
        }
    }

    pub fn admin_token(&self) -> Option<String> {
        self.admin_token.read().expect("admin token lock").clone()
    }

    /// Marks the node ready: storage is loaded and scraping has started.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Resolves when an operator asked the node to quit.
    pub async fn quit_requested(&self) {
        self.quit.notified().await
    }

    fn request_quit(&self) {
        self.quit.notify_waiters();
        self.quit.notify_one();
    }
}
