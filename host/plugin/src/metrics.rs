//! `/metrics` for the live plugins (see `registry`): calls, failures by kind, call time,
//! fuel, instances, swaps and each loaded plugin's identity, read from the plugins' own
//! counters whenever `/metrics` is asked for, so plugins that come and go with reloads need no
//! registration here.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::registry::LivePlugins;
use super::{FailureKind, Plugin};

type Labels4 = [(&'static str, String); 4];

impl Collector for LivePlugins {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rows: Vec<(Labels4, Arc<Plugin>)> = self
            .live()
            .into_iter()
            .map(|p| {
                let labels = [
                    ("tenant", p.tenant),
                    (p.owner_label, p.owner),
                    ("stage", p.stage),
                    ("plugin", p.plugin.name().to_owned()),
                ];
                (labels, p.plugin)
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
