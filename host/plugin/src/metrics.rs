//! The node's live plugins, for `/metrics` (calls, failures by kind, call time, fuel,
//! instances, swaps and each loaded plugin's identity, read from the plugins' own counters at
//! scrape time) and for the admin API and the file watcher, which find plugins here by name or
//! file.
//!
//! Plugins come and go with configuration reloads, so they are not registered one by one: the
//! scrape manager keeps the list of live plugins here, labeled with the job and stage that run
//! them (the rule manager likewise, with `rule_group` instead of `job`), and a collector walks
//! it whenever `/metrics` is asked for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::{FailureKind, Plugin};

/// A job's plugins, each with the stage it runs in, in stage order.
pub type JobPlugins = Vec<(String, Arc<Plugin>)>;

/// What runs a set of plugins: its tenant, the label naming it, and its value.
type Owner = (String, &'static str, String);

/// Live plugins by job or rule group.
#[derive(Debug, Default, Clone)]
pub struct PluginMetrics {
    live: Arc<Mutex<BTreeMap<Owner, JobPlugins>>>,
}

impl PluginMetrics {
    /// Replaces the plugins listed for a tenant's `job`.
    pub fn track(&self, tenant: &str, job: &str, plugins: JobPlugins) {
        self.track_for(tenant, "job", job, plugins);
    }

    pub fn untrack(&self, tenant: &str, job: &str) {
        self.untrack_for(tenant, "job", job);
    }

    /// Replaces the plugins listed for what `label="value"` names in a tenant
    /// (`rule_group="file;name"`, `handler="/api/v1/query"`).
    pub fn track_for(&self, tenant: &str, label: &'static str, value: &str, plugins: JobPlugins) {
        self.track_owner((tenant.to_owned(), label, value.to_owned()), plugins);
    }

    pub fn untrack_for(&self, tenant: &str, label: &'static str, value: &str) {
        self.untrack_owner(&(tenant.to_owned(), label, value.to_owned()));
    }

    fn track_owner(&self, owner: Owner, plugins: JobPlugins) {
        self.live
            .lock()
            .expect("plugin metrics lock")
            .insert(owner, plugins);
    }

    fn untrack_owner(&self, owner: &Owner) {
        self.live.lock().expect("plugin metrics lock").remove(owner);
    }

    /// Every live plugin with what runs it.
    pub fn live(&self) -> Vec<LivePlugin> {
        let live = self.live.lock().expect("plugin metrics lock");
        live.iter()
            .flat_map(|((tenant, label, owner), plugins)| {
                plugins.iter().map(move |(stage, plugin)| LivePlugin {
                    tenant: tenant.clone(),
                    owner_label: label,
                    owner: owner.clone(),
                    stage: stage.clone(),
                    plugin: plugin.clone(),
                })
            })
            .collect()
    }

    /// The distinct live plugins matching `keep`.
    pub fn find(&self, keep: impl Fn(&LivePlugin) -> bool) -> Vec<Arc<Plugin>> {
        let mut found: Vec<Arc<Plugin>> = Vec::new();
        for p in self.live() {
            if keep(&p) && !found.iter().any(|f| Arc::ptr_eq(f, &p.plugin)) {
                found.push(p.plugin);
            }
        }
        found
    }
}

/// One live plugin and what runs it.
#[derive(Clone, Debug)]
pub struct LivePlugin {
    pub tenant: String,
    /// `job`, `rule_group` or `handler`.
    pub owner_label: &'static str,
    pub owner: String,
    pub stage: String,
    pub plugin: Arc<Plugin>,
}

type Labels4 = [(&'static str, String); 4];

impl Collector for PluginMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let live = self.live.lock().expect("plugin metrics lock");
        let rows: Vec<(Labels4, &Arc<Plugin>)> = live
            .iter()
            .flat_map(|((tenant, owner, value), plugins)| {
                plugins.iter().map(move |(stage, plugin)| {
                    let labels = [
                        ("tenant", tenant.clone()),
                        (*owner, value.clone()),
                        ("stage", stage.clone()),
                        ("plugin", plugin.name().to_owned()),
                    ];
                    (labels, plugin)
                })
            })
            .collect();
        let counter = |encoder: &mut DescriptorEncoder,
                       name: &str,
                       help: &str,
                       value: &dyn Fn(&Plugin) -> u64| {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                ConstCounter::new(0u64).metric_type(),
            )?;
            for (labels, plugin) in &rows {
                let metric = ConstCounter::new(value(plugin));
                metric.encode(family.encode_family(labels)?)?;
            }
            Ok::<_, std::fmt::Error>(())
        };
        counter(
            &mut encoder,
            "wasmfed_plugin_calls",
            "Batches passed to a plugin.",
            &|p| p.stats().calls(),
        )?;
        counter(
            &mut encoder,
            "wasmfed_plugin_fuel_used",
            "Fuel (wasm instructions, roughly) plugin calls consumed.",
            &|p| p.stats().fuel_used(),
        )?;
        counter(
            &mut encoder,
            "wasmfed_plugin_swaps",
            "Components swapped into a running plugin (hot load, shadow promotion).",
            &|p| p.stats().swaps(),
        )?;
        counter(
            &mut encoder,
            "wasmfed_plugin_swap_refusals",
            "Components refused at a swap: they did not compile, fit the world or start.",
            &|p| p.stats().swap_refusals(),
        )?;
        counter(
            &mut encoder,
            "wasmfed_plugin_instantiations",
            "Plugin instances created (a failed call replaces its instance).",
            &|p| p.stats().instantiations(),
        )?;
        let mut seconds = encoder.encode_descriptor(
            "wasmfed_plugin_call_seconds",
            "Time spent in plugin calls.",
            None,
            ConstCounter::new(0f64).metric_type(),
        )?;
        for (labels, plugin) in &rows {
            ConstCounter::new(plugin.stats().call_time().as_secs_f64())
                .encode(seconds.encode_family(labels)?)?;
        }
        let mut failures = encoder.encode_descriptor(
            "wasmfed_plugin_failures",
            "Failed plugin calls, by kind (trap, budget, memory, output_too_large, bad_output, guest).",
            None,
            ConstCounter::new(0u64).metric_type(),
        )?;
        for (labels, plugin) in &rows {
            for kind in FailureKind::ALL {
                let [tenant, job, stage, name] = labels.clone();
                let with_kind = [tenant, job, stage, name, ("kind", kind.as_str().to_owned())];
                ConstCounter::new(plugin.stats().failures(kind))
                    .encode(failures.encode_family(&with_kind)?)?;
            }
        }
        let mut info = encoder.encode_descriptor(
            "wasmfed_plugin_info",
            "Loaded plugins: the sha256 of their running component and their world.",
            None,
            ConstGauge::new(1i64).metric_type(),
        )?;
        for (labels, plugin) in &rows {
            let [tenant, job, stage, name] = labels.clone();
            let with_sha = [
                tenant,
                job,
                stage,
                name,
                ("sha256", plugin.sha256()),
                ("world", plugin.world().to_string()),
            ];
            ConstGauge::new(1i64).encode(info.encode_family(&with_sha)?)?;
        }
        Ok(())
    }
}
