//! Rule-group metrics on `/metrics`, named after Prometheus' own (`prometheus_rule_*`) with
//! wasmfed's prefix and the same `rule_group="file;name"` label, so dashboards and alerts
//! written for Prometheus' rule manager carry over by changing the prefix.
//!
//! Groups come and go with reloads, so, as for plugins, a collector walks the live groups at
//! scrape time instead of registering each.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use wasmfed_plugin::PluginError;

use super::group::{Evaluated, Group};

/// Counters of one group, updated by its evaluations.
#[derive(Debug, Default)]
pub struct GroupStats {
    evaluations: AtomicU64,
    /// Evaluations whose plugin call failed as a whole.
    failed_evaluations: AtomicU64,
    rule_evaluations: AtomicU64,
    rule_failures: AtomicU64,
    missed: AtomicU64,
    samples: AtomicU64,
    rejected: AtomicU64,
    last_duration_nanos: AtomicU64,
    last_evaluation_ms: AtomicI64,
    last_samples: AtomicU64,
}

impl GroupStats {
    pub(crate) fn record(
        &self,
        at_ms: i64,
        took: Duration,
        outcome: &Result<Evaluated, PluginError>,
    ) {
        self.evaluations.fetch_add(1, Relaxed);
        self.last_duration_nanos
            .store(took.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
        self.last_evaluation_ms.store(at_ms, Relaxed);
        match outcome {
            Ok(done) => {
                let rules = done.rule_failures.len() as u64;
                self.rule_failures.fetch_add(rules, Relaxed);
                self.samples.fetch_add(done.samples as u64, Relaxed);
                self.rejected.fetch_add(done.rejected as u64, Relaxed);
                self.last_samples.store(done.samples as u64, Relaxed);
            }
            Err(_) => {
                self.failed_evaluations.fetch_add(1, Relaxed);
                self.last_samples.store(0, Relaxed);
            }
        }
    }

    pub(crate) fn record_rules(&self, rules: usize) {
        self.rule_evaluations.fetch_add(rules as u64, Relaxed);
    }

    pub(crate) fn record_missed(&self, missed: u64) {
        self.missed.fetch_add(missed, Relaxed);
    }

    pub fn evaluations(&self) -> u64 {
        self.evaluations.load(Relaxed)
    }

    pub fn failed_evaluations(&self) -> u64 {
        self.failed_evaluations.load(Relaxed)
    }

    pub fn rule_failures(&self) -> u64 {
        self.rule_failures.load(Relaxed)
    }

    pub fn last_evaluation_ms(&self) -> i64 {
        self.last_evaluation_ms.load(Relaxed)
    }
}

/// A live group's tenant and `rule_group` label.
type GroupId = (String, String);

/// The live groups, for the collector.
#[derive(Clone, Default)]
pub struct RuleMetrics {
    live: Arc<Mutex<BTreeMap<GroupId, Arc<Group>>>>,
}

impl RuleMetrics {
    /// Replaces the groups listed for `tenant`.
    pub(crate) fn set(&self, tenant: &str, groups: impl IntoIterator<Item = Arc<Group>>) {
        let mut live = self.live.lock().expect("rule metrics lock");
        live.retain(|(t, _), _| t != tenant);
        for g in groups {
            live.insert((tenant.to_string(), g.key.label()), g);
        }
    }
}

impl std::fmt::Debug for RuleMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleMetrics").finish_non_exhaustive()
    }
}

type Read = fn(&Group) -> f64;
type Count = fn(&Group) -> u64;

const COUNTERS: &[(&str, &str, Count)] = &[
    (
        "wasmfed_rule_group_evaluations",
        "Evaluations of the rule group.",
        |g| g.stats.evaluations(),
    ),
    (
        "wasmfed_rule_group_evaluation_failures",
        "Evaluations of the rule group whose plugin call failed (nothing was written).",
        |g| g.stats.failed_evaluations(),
    ),
    (
        "wasmfed_rule_evaluations",
        "Rule evaluations, by group.",
        |g| g.stats.rule_evaluations.load(Relaxed),
    ),
    (
        "wasmfed_rule_evaluation_failures",
        "Rules that failed in an evaluation, by group.",
        |g| g.stats.rule_failures(),
    ),
    (
        "wasmfed_rule_group_iterations_missed",
        "Evaluation slots skipped because the group fell behind.",
        |g| g.stats.missed.load(Relaxed),
    ),
    (
        "wasmfed_rule_group_samples",
        "Samples the group's rules wrote.",
        |g| g.stats.samples.load(Relaxed),
    ),
    (
        "wasmfed_rule_group_samples_rejected",
        "Samples the group's rules returned that storage refused (out of order, duplicate).",
        |g| g.stats.rejected.load(Relaxed),
    ),
];

const GAUGES: &[(&str, &str, Read)] = &[
    (
        "wasmfed_rule_group_last_duration_seconds",
        "Duration of the group's last evaluation, plugin call and writes.",
        |g| g.stats.last_duration_nanos.load(Relaxed) as f64 / 1e9,
    ),
    (
        "wasmfed_rule_group_last_evaluation_timestamp_seconds",
        "Evaluation time of the group's last evaluation.",
        |g| g.stats.last_evaluation_ms() as f64 / 1e3,
    ),
    (
        "wasmfed_rule_group_last_evaluation_samples",
        "Samples the last evaluation wrote.",
        |g| g.stats.last_samples.load(Relaxed) as f64,
    ),
    (
        "wasmfed_rule_group_interval_seconds",
        "The group's evaluation interval.",
        |g| g.interval.as_secs_f64(),
    ),
];

impl Collector for RuleMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let live = self.live.lock().expect("rule metrics lock");
        for (name, help, read) in COUNTERS {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                ConstCounter::new(0u64).metric_type(),
            )?;
            for ((tenant, key), group) in live.iter() {
                let labels = [("tenant", tenant.as_str()), ("rule_group", key.as_str())];
                ConstCounter::new(read(group)).encode(family.encode_family(&labels)?)?;
            }
        }
        for (name, help, read) in GAUGES {
            let mut family =
                encoder.encode_descriptor(name, help, None, ConstGauge::new(0f64).metric_type())?;
            for ((tenant, key), group) in live.iter() {
                let labels = [("tenant", tenant.as_str()), ("rule_group", key.as_str())];
                ConstGauge::new(read(group)).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
