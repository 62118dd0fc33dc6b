//! The rule stage: recording rules and other aggregations, evaluated by sandboxed plugins on
//! Prometheus' schedule and written back into the head.
//!
//! `setup` turns `rule_files` and `rule_plugins` into groups; the [`RuleManager`] loads a
//! plugin per group (`group`), runs each on its own task at its slots (`schedule`), and lets
//! plugins read the head through `store`. A reload is two steps, so that the node can refuse a
//! whole configuration when any part of it fails: [`RuleManager::prepare`] loads what changed
//! (nothing running is touched), [`RuleManager::commit`] swaps it in. Groups whose definition
//! did not change keep running undisturbed; a changed group's replacement takes over what the
//! old one remembered writing; a removed group's series get stale markers, as in Prometheus.

mod alerts;
mod group;
mod metrics;
pub mod schedule;
mod setup;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use wasmfed_model::clock::{unix_millis, unix_nanos};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use wasmfed_config::{Config, PluginSource, TenantLimits};
use wasmfed_plugin::registry::LivePlugins;
use wasmfed_plugin::{stock, PluginLimits, PluginRuntime, SeriesStore, World};
use wasmfed_storage::Head;

pub use alerts::{query_escape, AlertSink, Notification, SendOptions};
pub use group::{Evaluated, Group, GroupStatus};
pub use metrics::{GroupStats, RuleMetrics};
pub use schedule::GroupKey;
pub use setup::{
    group_specs, AlertRestore, EngineOptions, GroupSpec, RuleInfo, DEFAULT_MAX_SAMPLES,
    PROMQL_RULES,
};

use schedule::{slot_ms, Slots};

/// Why a configuration's rules could not be set up; nothing running was changed.
#[derive(Debug, thiserror::Error)]
pub enum RuleSetupError {
    #[error("loading rule files: {0}")]
    Files(#[from] wasmfed_config::ConfigError),
    #[error("rule group {group:?}: plugin {plugin}: {reason}")]
    Plugin {
        group: String,
        plugin: String,
        reason: String,
    },
}

/// A `promql-rules` configuration with what the node adds at load time, kept out of the
/// group's fingerprint (a reload of the same group is not a change): asking to restore alerts'
/// `for` state (at the node's start, unless it says otherwise itself) and the node's external
/// URL for alert templates (fixed for the process' life).
fn with_node_settings(config_json: &str, restore: bool, external_url: Option<&str>) -> String {
    match serde_json::from_str::<serde_json::Value>(config_json) {
        Ok(serde_json::Value::Object(mut map)) => {
            if restore {
                map.entry("restore_for_state")
                    .or_insert(serde_json::Value::Bool(true));
            }
            if let Some(url) = external_url {
                map.entry("external_url")
                    .or_insert(serde_json::Value::String(url.to_string()));
            }
            serde_json::Value::Object(map).to_string()
        }
        // Not an object: the plugin refuses it with its own reason.
        _ => config_json.to_string(),
    }
}

/// The groups a configuration asks for, loaded and ready to swap in.
pub struct PreparedRules {
    groups: Vec<Prepared>,
}

enum Prepared {
    /// The same definition as a running group: keep that one.
    Keep(GroupKey),
    /// A new or changed group.
    Start(Arc<Group>),
}

struct Running {
    group: Arc<Group>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// What a tenant's rule manager works with.
pub struct RuleContext {
    pub runtime: Arc<PluginRuntime>,
    /// The tenant's storage: what its rules read and where they write.
    pub head: Arc<Head>,
    /// The tenant's blocks, which its rules read too (a range reaching before the head).
    pub blocks: Arc<wasmfed_storage::Blocks>,
    pub engine: EngineOptions,
    pub live_plugins: LivePlugins,
    pub metrics: RuleMetrics,
    pub tenant: String,
    /// The tenant's limits, applied to rule plugins when they load.
    pub limits: Arc<parking_lot::RwLock<TenantLimits>>,
    /// Where the tenant's alerts are sent, and how often; `None` keeps them on the node.
    pub alerts: Option<(Arc<dyn AlertSink>, SendOptions)>,
}

pub struct RuleManager {
    ctx: RuleContext,
    store: Arc<dyn SeriesStore>,
    running: Mutex<BTreeMap<GroupKey, Running>>,
    /// Whether a configuration was committed: groups of the first restore their alerts'
    /// `for` state from storage (a node's start), later ones do not (a reload), as in
    /// Prometheus' rule manager.
    committed: std::sync::atomic::AtomicBool,
}

impl RuleManager {
    pub fn new(ctx: RuleContext) -> RuleManager {
        RuleManager {
            store: Arc::new(wasmfed_plugin::HeadStore::new(
                ctx.head.clone(),
                ctx.blocks.clone(),
            )),
            ctx,
            running: Mutex::new(BTreeMap::new()),
            committed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Reads the rule files and loads the plugin of every new or changed group. Blocking
    /// (compiles components): call it off the async threads.
    pub fn prepare(&self, config: &Config) -> Result<PreparedRules, RuleSetupError> {
        let specs = group_specs(config, self.ctx.engine)?;
        let limits = PluginLimits::rules().for_tenant(&self.ctx.limits.read());
        let running: BTreeMap<GroupKey, String> = self
            .running
            .lock()
            .iter()
            .map(|(k, r)| (k.clone(), r.group.fingerprint.clone()))
            .collect();
        let mut groups = Vec::with_capacity(specs.len());
        for spec in specs {
            let fail = |reason: String| RuleSetupError::Plugin {
                group: spec.key.label(),
                plugin: spec.plugin.clone(),
                reason,
            };
            let bytes = stock::read(&spec.source, spec.sha256.as_deref()).map_err(fail)?;
            let fingerprint = format!(
                "{:?}|{}|{:x}",
                spec.interval,
                spec.config_json,
                Sha256::digest(&bytes)
            );
            if running.get(&spec.key) == Some(&fingerprint) {
                groups.push(Prepared::Keep(spec.key));
                continue;
            }
            let starting = !self.committed.load(std::sync::atomic::Ordering::Relaxed);
            let plugin_config = if spec.source == PluginSource::Stock(PROMQL_RULES.into()) {
                let url = self
                    .ctx
                    .alerts
                    .as_ref()
                    .map(|(_, o)| o.external_url.as_str());
                with_node_settings(&spec.config_json, starting, url)
            } else {
                spec.config_json.clone()
            };
            let plugin = self
                .ctx
                .runtime
                .load_with_store(
                    &spec.plugin,
                    &bytes,
                    World::Rule,
                    &plugin_config,
                    limits,
                    self.store.clone(),
                )
                .map_err(|e| fail(e.to_string()))?;
            let plugin = match &spec.source {
                PluginSource::File(path) => plugin.with_file(path.clone()),
                PluginSource::Stock(_) => plugin,
            }
            .with_pin(spec.sha256.clone());
            let mut group = Group::new(
                spec.key,
                spec.interval,
                fingerprint,
                Arc::new(plugin),
                self.ctx.head.clone(),
            )
            .with_rules(spec.rules, spec.limit);
            if let Some((sink, options)) = &self.ctx.alerts {
                group = group.sending_to(sink.clone(), options.clone());
            }
            groups.push(Prepared::Start(Arc::new(group)));
        }
        Ok(PreparedRules { groups })
    }

    /// Swaps in prepared groups: starts new ones, stops and replaces changed ones, stops
    /// removed ones and ends their series. Must run inside the Tokio runtime.
    pub fn commit(&self, prepared: PreparedRules) {
        self.committed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let mut running = self.running.lock();
        let mut old = std::mem::take(&mut *running);
        for p in prepared.groups {
            match p {
                Prepared::Keep(key) => {
                    if let Some(r) = old.remove(&key) {
                        running.insert(key, r);
                    }
                }
                Prepared::Start(group) => {
                    if let Some(previous) = old.remove(&group.key) {
                        stop(&previous);
                        group.inherit(&previous.group);
                    }
                    running.insert(group.key.clone(), self.start(group));
                }
            }
        }
        let now_ms = unix_millis(SystemTime::now());
        for (key, removed) in old {
            stop(&removed);
            self.ctx
                .live_plugins
                .untrack_for(&self.ctx.tenant, "rule_group", &key.label());
            let ended = removed.group.mark_stale(now_ms);
            tracing::info!(group = %key.label(), stale_series = ended, "rule group removed");
        }
        self.ctx.metrics.set(
            &self.ctx.tenant,
            running
                .values()
                .map(|r| r.group.clone())
                .collect::<Vec<_>>(),
        );
    }

    fn start(&self, group: Arc<Group>) -> Running {
        self.ctx.live_plugins.track_for(
            &self.ctx.tenant,
            "rule_group",
            &group.key.label(),
            vec![("rule".to_string(), group.plugin.clone())],
        );
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(group.clone(), stopped));
        Running { group, stop, task }
    }

    /// The running groups, by key.
    pub fn groups(&self) -> Vec<Arc<Group>> {
        self.running
            .lock()
            .values()
            .map(|r| r.group.clone())
            .collect()
    }

    /// Stops every group (no stale markers: the series are still true when the node stops).
    pub async fn shutdown(&self) {
        let running = std::mem::take(&mut *self.running.lock());
        self.ctx.metrics.set(&self.ctx.tenant, Vec::new());
        for r in running.into_values() {
            let _ = r.stop.send(true);
            let _ = r.task.await;
        }
    }
}

fn stop(running: &Running) {
    let _ = running.stop.send(true);
    running.task.abort();
}

/// A group's task: sleep to its next slot, evaluate there (on a blocking thread, since the
/// plugin call blocks), repeat; skip ahead when it fell behind, as Prometheus does.
async fn run(group: Arc<Group>, mut stopped: watch::Receiver<bool>) {
    let slots = Slots::new(&group.key, group.interval);
    let mut slot = slots.at_or_before(unix_nanos(SystemTime::now())) + slots.interval_ns();
    loop {
        let wait = slot - unix_nanos(SystemTime::now());
        if wait > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_nanos(wait as u64)) => {}
                _ = stopped.changed() => return,
            }
        }
        if *stopped.borrow() {
            return;
        }
        let at_ms = slot_ms(slot);
        let evaluating = group.clone();
        let outcome = tokio::task::spawn_blocking(move || evaluating.evaluate(at_ms)).await;
        match outcome {
            Ok(Ok(done)) => {
                for (rule, why) in &done.rule_failures {
                    tracing::warn!(group = %group.key.label(), rule, "rule failed: {why}");
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(group = %group.key.label(), "evaluation failed: {e}")
            }
            Err(e) => tracing::error!(group = %group.key.label(), "evaluation task failed: {e}"),
        }
        let (next, missed) = slots.next_after(slot, unix_nanos(SystemTime::now()));
        if missed > 0 {
            group.stats.record_missed(missed);
            tracing::warn!(group = %group.key.label(), missed, "rule group fell behind");
        }
        slot = next;
    }
}
