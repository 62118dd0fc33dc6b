//! A tenant at work: its own head (and write-ahead log), scrape jobs, rule groups and query
//! plugin, under its own limits.
//!
//! Tenants share the node's plugin runtime (one engine, compiled code cached by hash) and its
//! threads, never a store, an instance or a lock held across a plugin call: each tenant's
//! plugins run in their own instances, scrape loops and rule groups run on their own tasks, and
//! plugin calls run on blocking threads. So one tenant's slow or failing plugin cannot stall
//! another's scrapes, and a tenant's rule plugin reads only its own head through `store`.
//! The node's own tenant ([`DEFAULT_TENANT`]) is the top-level configuration.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use parking_lot::RwLock;

use wasmfed_config::{Config, TenantConfig, TenantLimits, DEFAULT_TENANT};
use wasmfed_notify::Notifier;
use wasmfed_plugin::HeadStore;
use wasmfed_plugin::{stock, Plugin, PluginLimits, PluginRuntime, World};
use wasmfed_remote_write::RemoteWriter;
use wasmfed_rules::{EngineOptions, RuleContext, RuleManager, SendOptions, PROMQL_RULES};
use wasmfed_scrape::every_sample::CursorBook;
use wasmfed_scrape::fetch::Fetcher;
use wasmfed_scrape::{LoopContext, ScrapeManager};
use wasmfed_storage::wal::Wal;
use wasmfed_storage::{Blocks, Head};
use wasmfed_telemetry::Telemetry;

/// What one tenant runs, from the configuration.
#[derive(Clone, Debug)]
pub struct TenantSpec {
    pub name: String,
    /// `None` for the node's own tenant, which needs no credential.
    pub token: Option<String>,
    pub limits: TenantLimits,
    /// A copy of the configuration holding this tenant's jobs and rules at the top level, so
    /// the scrape and rule managers read it as they read a single-tenant one.
    pub config: Config,
}

/// Every tenant a configuration asks for, the node's own first. The node's own keeps the
/// top-level `remote_write`; each other tenant gets its own list only.
pub fn tenant_specs(config: &Config) -> Vec<TenantSpec> {
    let own = Config {
        tenants: Vec::new(),
        ..config.clone()
    };
    let mut specs = vec![TenantSpec {
        name: DEFAULT_TENANT.to_string(),
        token: None,
        limits: TenantLimits::default(),
        config: own,
    }];
    specs.extend(config.tenants.iter().map(|t| TenantSpec {
        name: t.name.clone(),
        token: Some(t.bearer_token.clone()),
        limits: t.limits,
        config: section(config, t),
    }));
    specs
}

fn section(config: &Config, tenant: &TenantConfig) -> Config {
    Config {
        scrape_configs: tenant.scrape_configs.clone(),
        rule_files: tenant.rule_files.clone(),
        rule_plugins: tenant.rule_plugins.clone(),
        remote_write: tenant.remote_write.clone(),
        tenants: Vec::new(),
        ..config.clone()
    }
}

/// What every tenant of a node shares.
#[derive(Clone)]
pub struct Shared {
    pub runtime: Arc<PluginRuntime>,
    pub telemetry: Arc<Telemetry>,
    pub fetcher: Fetcher,
    /// Where every tenant's alerts go.
    pub notifier: Notifier,
    /// How often alerts are re-sent, and the URL they link back to.
    pub alert_sending: SendOptions,
    pub node_seed: u64,
    pub engine: EngineOptions,
    /// `--query.timeout`: what a query plugin's fuel is sized for.
    pub query_timeout: std::time::Duration,
}

pub struct Tenant {
    pub name: String,
    pub head: Arc<Head>,
    /// Its history older than the head, loaded with its log (a node with a storage path).
    pub blocks: Arc<Blocks>,
    pub scrape: Arc<ScrapeManager>,
    pub rules: Arc<RuleManager>,
    /// Answers the tenant's `/api/v1/query`, reading only its head; loaded on the first query
    /// (compiling the PromQL engine takes seconds, which a node that is never queried should
    /// not spend at start-up), and loaded again when a reload changes the global
    /// `evaluation_interval` it steps subqueries at.
    query: parking_lot::Mutex<Option<Arc<Plugin>>>,
    evaluation_interval: RwLock<std::time::Duration>,
    shared: Shared,
    /// Its write-ahead log, once opened (a node with a storage path).
    pub wal: OnceLock<Arc<Wal>>,
    token: RwLock<Option<String>>,
    limits: Arc<RwLock<TenantLimits>>,
    /// Where its every-sample jobs keep their cursors (on disk beside its log, if it has one).
    pub cursors: Arc<CursorBook>,
    /// Its `remote_write` queues, reading its log (a node with a storage path).
    pub remote_write: OnceLock<Arc<RemoteWriter>>,
}

impl Tenant {
    /// Which Prometheus generation the tenant answers as (`--query.compat`).
    pub fn compat(&self) -> wasmfed_model::compat::Compat {
        self.shared.engine.compat
    }

    /// Sets up a tenant with an empty head (the caller replays its log, if any, before
    /// applying a configuration).
    pub fn new(spec: &TenantSpec, shared: &Shared) -> anyhow::Result<Tenant> {
        let head = Arc::new(Head::new());
        head.set_max_series(spec.limits.max_series as usize);
        let limits = Arc::new(RwLock::new(spec.limits));
        let cursors = Arc::new(CursorBook::default());
        let scrape = Arc::new(ScrapeManager::new(LoopContext {
            head: head.clone(),
            fetcher: shared.fetcher.clone(),
            telemetry: shared.telemetry.clone(),
            plugins: shared.runtime.clone(),
            node_seed: shared.node_seed,
            tenant: Arc::from(spec.name.as_str()),
            limits: limits.clone(),
            compat: shared.engine.compat,
            cursors: cursors.clone(),
        }));
        let blocks = Arc::new(Blocks::default());
        let rules = Arc::new(RuleManager::new(RuleContext {
            runtime: shared.runtime.clone(),
            head: head.clone(),
            blocks: blocks.clone(),
            engine: shared.engine,
            live_plugins: shared.telemetry.plugins.clone(),
            metrics: shared.telemetry.rules.clone(),
            tenant: spec.name.clone(),
            limits: limits.clone(),
            alerts: Some((
                shared
                    .notifier
                    .sink_for((spec.name != DEFAULT_TENANT).then_some(spec.name.as_str())),
                shared.alert_sending.clone(),
            )),
        }));
        Ok(Tenant {
            name: spec.name.clone(),
            head,
            blocks,
            scrape,
            rules,
            query: parking_lot::Mutex::new(None),
            evaluation_interval: RwLock::new(spec.config.global.evaluation_interval.as_std()),
            shared: shared.clone(),
            wal: OnceLock::new(),
            token: RwLock::new(spec.token.clone()),
            limits,
            cursors,
            remote_write: OnceLock::new(),
        })
    }

    /// What the tenant's plugins may use.
    pub fn plugin_limits(&self) -> PluginLimits {
        PluginLimits::default().for_tenant(&self.limits.read())
    }

    /// Where the tenant's write-ahead log lives under the node's storage path: the node's own
    /// tenant where a single-tenant node keeps it, others under `tenants/<name>/`.
    pub fn wal_dir(&self, storage: &Path) -> PathBuf {
        if self.name == DEFAULT_TENANT {
            storage.join("wal")
        } else {
            storage.join("tenants").join(&self.name).join("wal")
        }
    }

    /// The plugin answering the tenant's queries, loaded on first use. Blocking.
    pub fn query_plugin(&self) -> anyhow::Result<Arc<Plugin>> {
        let mut slot = self.query.lock();
        if let Some(plugin) = &*slot {
            return Ok(plugin.clone());
        }
        let limits = *self.limits.read();
        let interval = *self.evaluation_interval.read();
        let plugin = query_plugin(
            &self.shared,
            self.head.clone(),
            self.blocks.clone(),
            &limits,
            interval,
        )?;
        self.shared.telemetry.plugins.track_for(
            &self.name,
            "handler",
            "/api/v1/query",
            vec![("query".into(), plugin.clone())],
        );
        *slot = Some(plugin.clone());
        Ok(plugin)
    }

    /// The fuel a tenant's limits set for each plugin call, queries included; `None` when its
    /// queries are budgeted by `--query.timeout`.
    pub fn plugin_fuel(&self) -> Option<u64> {
        self.limits.read().plugin_fuel
    }

    /// The credential a request for this tenant must carry; `None` for the node's own.
    pub fn token(&self) -> Option<String> {
        self.token.read().clone()
    }

    /// Applies the tenant's part of a configuration, all or nothing: rules are prepared (files
    /// read, plugins loaded) first, scrapes applied next, rules swapped in only when both
    /// worked. Limits apply to the head at once and to jobs and groups as they (re)start.
    pub async fn apply(&self, spec: &TenantSpec) -> Result<(), String> {
        let previous = *self.limits.read();
        *self.limits.write() = spec.limits;
        let applied = self.apply_config(&spec.config).await;
        if applied.is_err() {
            *self.limits.write() = previous;
            return applied;
        }
        self.head.set_max_series(spec.limits.max_series as usize);
        if previous != spec.limits {
            // The query plugin was loaded under the old limits.
            *self.query.lock() = None;
        }
        *self.token.write() = spec.token.clone();
        Ok(())
    }

    async fn apply_config(&self, config: &Config) -> Result<(), String> {
        let writer = self.remote_write.get().cloned();
        if writer.is_none() && !config.remote_write.is_empty() {
            return Err(self
                .named("remote_write needs a storage path: its queues read the write-ahead log"));
        }
        let (prepared, remote) = {
            let (rules, config) = (self.rules.clone(), config.clone());
            let writer = writer.clone();
            tokio::task::spawn_blocking(move || {
                let remote = writer
                    .map(|w| w.prepare(&config.remote_write, &config.global.external_labels))
                    .transpose()?;
                let rules = rules.prepare(&config).map_err(|e| e.to_string())?;
                Ok::<_, String>((rules, remote))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| self.named(e))?
        };
        self.scrape
            .apply(&config.scrape_configs)
            .await
            .map_err(|e| self.named(e))?;
        self.rules.commit(prepared);
        if let (Some(writer), Some(remote)) = (writer, remote) {
            writer.apply(remote).await;
        }
        let interval = config.global.evaluation_interval.as_std();
        if std::mem::replace(&mut *self.evaluation_interval.write(), interval) != interval {
            *self.query.lock() = None;
        }
        Ok(())
    }

    fn named(&self, e: impl std::fmt::Display) -> String {
        if self.name == DEFAULT_TENANT {
            e.to_string()
        } else {
            format!("tenant {:?}: {e}", self.name)
        }
    }

    /// Stops the tenant's rules and scrapes (writing stale markers for its scraped series).
    pub async fn shutdown(&self, telemetry: &Telemetry) {
        self.rules.shutdown().await;
        self.scrape.shutdown().await;
        telemetry
            .plugins
            .untrack_for(&self.name, "handler", "/api/v1/query");
    }
}

/// The plugin behind a tenant's `/api/v1/query`: the stock `promql-rules` with no rule groups,
/// reading the tenant's head and blocks.
fn query_plugin(
    shared: &Shared,
    head: Arc<Head>,
    blocks: Arc<Blocks>,
    limits: &TenantLimits,
    evaluation_interval: std::time::Duration,
) -> anyhow::Result<Arc<Plugin>> {
    let bytes = stock::component(PROMQL_RULES).context("the stock promql-rules plugin")?;
    let config =
        serde_json::Value::Object(shared.engine.plugin_config(evaluation_interval)).to_string();
    let plugin = shared
        .runtime
        .load_with_store(
            PROMQL_RULES,
            bytes,
            World::Query,
            &config,
            PluginLimits::query(shared.query_timeout, shared.engine.max_samples).for_tenant(limits),
            Arc::new(HeadStore::new(head, blocks)),
        )
        .context("loading the query plugin")?;
    Ok(Arc::new(plugin))
}
