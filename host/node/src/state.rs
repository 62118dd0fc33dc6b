//! What the node is right now, shared by its parts and read by the web server: the tenants
//! (the node's own included), external labels, the admin token, readiness and the lifecycle
//! requests (`/-/reload`, `/-/quit`).
//!
//! It lives with the node, not the server: reloads and the fleet write it, the server only
//! reads it (and forwards lifecycle requests), so the web crate sits above the node crate.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crate::tenant::Tenant;
use wasmfed_config::DEFAULT_TENANT;
use wasmfed_model::Labels;
use wasmfed_plugin::PluginRuntime;
use wasmfed_telemetry::Telemetry;

/// Prometheus' default `--query.lookback-delta`.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(300);

/// Prometheus' default `--query.timeout`.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(120);

/// What the status API tells of the node besides its tenants (`/api/v1/status/*`).
#[derive(Clone, Debug)]
pub struct StatusInfo {
    /// Every command-line flag with its value (defaults included), as `--name` without dashes.
    pub flags: BTreeMap<String, String>,
    /// The retention as Prometheus reports it: `15d`, `512MiB`, or `15d or 512MiB`.
    pub storage_retention: String,
    pub started: SystemTime,
}

impl Default for StatusInfo {
    fn default() -> Self {
        StatusInfo {
            flags: BTreeMap::new(),
            storage_retention: String::new(),
            started: SystemTime::now(),
        }
    }
}

/// A request to reload the configuration file; the node answers with the outcome.
pub type ReloadRequest = tokio::sync::oneshot::Sender<Result<(), String>>;

/// The node's shared state.
pub struct NodeState {
    /// Every tenant by name, the node's own ([`DEFAULT_TENANT`]) included.
    tenants: RwLock<BTreeMap<String, Arc<Tenant>>>,
    /// Compiles uploaded components for the admin API.
    pub runtime: Arc<PluginRuntime>,
    pub telemetry: Arc<Telemetry>,
    pub external_labels: RwLock<Labels>,
    pub lookback: Duration,
    /// The path every endpoint is served under (`--web.route-prefix`), without a trailing
    /// slash: empty for the root.
    pub route_prefix: String,
    /// The longest a query may take (`--query.timeout`); a request's `timeout` may only
    /// shorten it.
    pub query_timeout: Duration,
    /// The web page's title (`--web.page-title`).
    pub page_title: String,
    /// Whether `POST /api/v1/write` accepts remote writes (`--web.enable-remote-write-receiver`).
    pub remote_write_receiver: bool,
    /// Whether `POST /-/quit` and `POST /-/reload` are allowed, as `--web.enable-lifecycle`.
    pub enable_lifecycle: bool,
    /// Where `/-/reload` asks the node to reload its configuration (None: no config file).
    pub reload: Option<tokio::sync::mpsc::Sender<ReloadRequest>>,
    /// The admin API's bearer token (`admin:` in the configuration); `None` disables it.
    pub admin_token: RwLock<Option<String>>,
    /// The configuration file's text as last loaded (secrets included: never served as is).
    pub config_source: RwLock<String>,
    pub status: StatusInfo,
    ready: AtomicBool,
    quit: tokio::sync::Notify,
}

impl NodeState {
    pub fn new(
        own: Arc<Tenant>,
        runtime: Arc<PluginRuntime>,
        telemetry: Arc<Telemetry>,
        external_labels: Labels,
        enable_lifecycle: bool,
        reload: Option<tokio::sync::mpsc::Sender<ReloadRequest>>,
    ) -> Self {
        NodeState {
            tenants: RwLock::new(BTreeMap::from([(own.name.clone(), own)])),
            runtime,
            telemetry,
            external_labels: RwLock::new(external_labels),
            lookback: DEFAULT_LOOKBACK,
            route_prefix: String::new(),
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            page_title: "wasmfed".to_owned(),
            remote_write_receiver: false,
            enable_lifecycle,
            reload,
            admin_token: RwLock::new(None),
            config_source: RwLock::new(String::new()),
            status: StatusInfo::default(),
            ready: AtomicBool::new(false),
            quit: tokio::sync::Notify::new(),
        }
    }

    /// Sets `--query.lookback-delta`.
    pub fn with_lookback(mut self, lookback: Duration) -> Self {
        self.lookback = lookback;
        self
    }

    /// Sets `--web.route-prefix` (`/` or empty for the root).
    pub fn with_route_prefix(mut self, prefix: &str) -> Self {
        self.route_prefix = prefix.trim_end_matches('/').to_owned();
        self
    }

    /// Sets what the status API reports.
    pub fn with_status(mut self, status: StatusInfo) -> Self {
        self.status = status;
        self
    }

    /// Sets `--web.page-title`.
    pub fn with_page_title(mut self, title: &str) -> Self {
        self.page_title = title.to_owned();
        self
    }

    /// Sets `--web.enable-remote-write-receiver`.
    pub fn with_remote_write_receiver(mut self, enabled: bool) -> Self {
        self.remote_write_receiver = enabled;
        self
    }

    /// Sets `--query.timeout`.
    pub fn with_query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// The node's own tenant (the top-level configuration).
    pub fn own_tenant(&self) -> Arc<Tenant> {
        self.tenant(DEFAULT_TENANT)
            .expect("the node's own tenant always exists")
    }

    pub fn tenant(&self, name: &str) -> Option<Arc<Tenant>> {
        self.tenants
            .read()
            .expect("tenants lock")
            .get(name)
            .cloned()
    }

    pub fn tenants(&self) -> Vec<Arc<Tenant>> {
        self.tenants
            .read()
            .expect("tenants lock")
            .values()
            .cloned()
            .collect()
    }

    /// Replaces the set of tenants (a reload added or removed some).
    pub fn set_tenants(&self, tenants: impl IntoIterator<Item = Arc<Tenant>>) {
        *self.tenants.write().expect("tenants lock") =
            tenants.into_iter().map(|t| (t.name.clone(), t)).collect();
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

    /// Asks the node to quit (`POST /-/quit`).
    pub fn request_quit(&self) {
        self.quit.notify_waiters();
        self.quit.notify_one();
    }
}
