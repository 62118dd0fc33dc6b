//! The notifier: alerts from every tenant's rule groups, with external labels attached and
//! `alert_relabel_configs` applied, queued and posted to every Alertmanager, as Prometheus'
//! `notifier.Manager` does.
//!
//! Rule groups hand over what is due ([`wasmfed_rules::AlertSink`]) and never wait on the
//! network: every alert goes into the queue of every Alertmanager (Alertmanager deduplicates
//! what an HA pair receives twice), each bounded by `--alertmanager.notification-queue-capacity`
//! and posted by its own task in batches of up to 64 (`queue`), so a hanging Alertmanager
//! delays only itself. Prometheus 2.42 has one queue for all and waits for the slowest post of
//! each batch; what is sent is the same. Alert relabeling runs in the stock `relabel` plugin,
//! as scrape relabeling does. The task of [`Notifier::run`] follows the Alertmanagers'
//! discovery and starts and stops their queues.
//!
//! A reload is two steps like the rest of the node: [`Notifier::prepare`] loads the relabel
//! plugins (a bad rule refuses the configuration), [`Notifier::commit`] swaps the new
//! Alertmanager sets in.

mod alertmanagers;
mod payload;
mod queue;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use wasmfed_config::{AlertmanagerConfig, Config, RelabelConfig};
use wasmfed_model::compat::Compat;
use wasmfed_model::Labels;
use wasmfed_plugin::{stock, PluginLimits, PluginRuntime, Stage, World};
use wasmfed_rules::{AlertSink, Notification};
use wasmfed_scrape::discovery::CHANGE_CHECK;
use wasmfed_scrape::fetch::Fetcher;
use wasmfed_telemetry::{NotificationMetrics, Telemetry};

pub use alertmanagers::AlertmanagerSet;
pub use payload::encode;
use queue::AlertmanagerQueue;

/// Prometheus' `--alertmanager.notification-queue-capacity` default.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;

/// What a configuration asks of the notifier, loaded and ready to swap in.
pub struct PreparedAlerting {
    external_labels: Labels,
    relabel: Stage,
    sets: Vec<(AlertmanagerConfig, Stage)>,
}

/// The node's notifier; cheap to share.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    /// Each Alertmanager's queue, by the URL alerts are posted to.
    queues: Mutex<HashMap<String, Arc<AlertmanagerQueue>>>,
    capacity: usize,
    applied: RwLock<Applied>,
    fetcher: Fetcher,
    telemetry: Arc<Telemetry>,
}

#[derive(Default)]
struct Applied {
    external_labels: Labels,
    relabel: Option<Stage>,
    sets: Vec<Arc<AlertmanagerSet>>,
}

impl Notifier {
    /// A notifier with an empty configuration (sends nowhere until one is committed).
    pub fn new(fetcher: Fetcher, telemetry: Arc<Telemetry>, capacity: usize) -> Notifier {
        telemetry.notifications.queue_capacity.set(capacity as i64);
        Notifier {
            inner: Arc::new(Inner {
                queues: Mutex::new(HashMap::new()),
                capacity: capacity.max(1),
                applied: RwLock::new(Applied::default()),
                fetcher,
                telemetry,
            }),
        }
    }

    /// Loads the relabel plugins `config` needs. Blocking (compiles components).
    pub fn prepare(
        &self,
        config: &Config,
        runtime: &PluginRuntime,
        compat: Compat,
    ) -> Result<PreparedAlerting, String> {
        let alerting = &config.alerting;
        let relabel = relabel_stage(
            runtime,
            "alert_relabel_configs",
            &alerting.alert_relabel_configs,
            compat,
        )?;
        let sets = alerting
            .alertmanagers
            .iter()
            .enumerate()
            .map(|(i, am)| {
                let name = format!("alertmanagers[{i}].relabel_configs");
                Ok((
                    am.clone(),
                    relabel_stage(runtime, &name, &am.relabel_configs, compat)?,
                ))
            })
            .collect::<Result<_, String>>()?;
        Ok(PreparedAlerting {
            external_labels: config.global.external_labels.clone(),
            relabel,
            sets,
        })
    }

    /// Swaps in a prepared configuration and starts its discovery. Must run inside the Tokio
    /// runtime.
    pub fn commit(&self, prepared: PreparedAlerting) {
        let sets: Vec<Arc<AlertmanagerSet>> = prepared
            .sets
            .into_iter()
            .map(|(config, relabel)| {
                Arc::new(AlertmanagerSet::new(
                    config,
                    relabel,
                    &self.inner.fetcher,
                    &self.inner.telemetry,
                ))
            })
            .collect();
        let mut applied = self.inner.applied.write();
        applied.external_labels = prepared.external_labels;
        applied.relabel = Some(prepared.relabel);
        applied.sets = sets;
        drop(applied);
        self.follow_alertmanagers();
    }

    /// Runs until `stopped` changes (or its sender is gone): follows the Alertmanagers'
    /// discovery, starting a queue for each new one and stopping those of the ones that are gone.
    pub async fn run(self, mut stopped: tokio::sync::watch::Receiver<bool>) {
        let mut refresh = tokio::time::interval(CHANGE_CHECK);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = refresh.tick() => {}
                _ = stopped.changed() => return,
            }
            let sets = self.inner.applied.read().sets.clone();
            for set in &sets {
                set.sync(false);
            }
            self.follow_alertmanagers();
        }
    }

    /// Matches the queues to the Alertmanagers found now. Inside the Tokio runtime.
    fn follow_alertmanagers(&self) {
        let sets = self.inner.applied.read().sets.clone();
        let mut queues = self.inner.queues.lock();
        let mut current: HashMap<String, Arc<AlertmanagerQueue>> = HashMap::new();
        for set in &sets {
            for url in set.urls() {
                if current.contains_key(&url) {
                    continue;
                }
                let queue = match queues.remove(&url) {
                    Some(queue) => {
                        queue.set_set(set.clone());
                        queue
                    }
                    None => AlertmanagerQueue::start(
                        url.clone(),
                        set.clone(),
                        self.inner.capacity,
                        self.inner.fetcher.clone(),
                        self.metrics().clone(),
                    ),
                };
                current.insert(url, queue);
            }
        }
        for gone in queues.values() {
            gone.stop();
        }
        *queues = current;
        self.metrics()
            .alertmanagers_discovered
            .set(queues.len() as i64);
    }

    /// Every Alertmanager alerts go to now.
    pub fn alertmanagers(&self) -> Vec<String> {
        let sets = self.inner.applied.read().sets.clone();
        sets.iter().flat_map(|s| s.urls()).collect()
    }

    /// A sink for one tenant's groups: the node's own tenant sends as Prometheus does, any
    /// other tenant's alerts carry `tenant="<name>"`, so the node's Alertmanagers tell them
    /// apart and no tenant can raise an alert in another's name.
    pub fn sink_for(&self, tenant: Option<&str>) -> Arc<dyn AlertSink> {
        Arc::new(TenantSink {
            notifier: self.clone(),
            tenant: tenant.map(str::to_string),
        })
    }

    fn metrics(&self) -> &NotificationMetrics {
        &self.inner.telemetry.notifications
    }

    /// Attaches external labels, relabels and queues, as Prometheus' `Manager.Send`.
    fn enqueue(&self, mut alerts: Vec<Notification>, tenant: Option<&str>) {
        {
            let applied = self.inner.applied.read();
            for a in &mut alerts {
                if let Some(t) = tenant {
                    a.labels.set("tenant", t);
                }
                for l in applied.external_labels.iter() {
                    if a.labels.get(&l.name).is_none_or(str::is_empty) {
                        a.labels.set(l.name.clone(), l.value.clone());
                    }
                }
            }
            if let Some(relabel) = &applied.relabel {
                let labels: Vec<Labels> = alerts.iter().map(|a| a.labels.clone()).collect();
                match relabel.process(&labels) {
                    Ok(relabeled) => {
                        alerts = alerts
                            .into_iter()
                            .zip(relabeled)
                            .filter_map(|(mut a, l)| {
                                a.labels = l?;
                                Some(a)
                            })
                            .collect();
                    }
                    Err(e) => {
                        tracing::error!(
                            count = alerts.len(),
                            "alert relabeling failed, alerts dropped: {e}"
                        );
                        self.metrics().dropped.inc_by(alerts.len() as u64);
                        return;
                    }
                }
            }
        }
        if alerts.is_empty() {
            return;
        }
        let queues: Vec<Arc<AlertmanagerQueue>> =
            self.inner.queues.lock().values().cloned().collect();
        // With nowhere to send them, alerts are dropped, as Prometheus counts them.
        let mut dropped = if queues.is_empty() { alerts.len() } else { 0 };
        for queue in &queues {
            dropped += queue.push(&alerts);
        }
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "alerts dropped: a notification queue is full or no Alertmanager is configured"
            );
            self.metrics().dropped.inc_by(dropped as u64);
        }
    }
}

struct TenantSink {
    notifier: Notifier,
    tenant: Option<String>,
}

impl AlertSink for TenantSink {
    fn send(&self, alerts: Vec<Notification>) {
        self.notifier.enqueue(alerts, self.tenant.as_deref());
    }
}

/// The stock relabel plugin running `rules` (no plugin when there are none).
fn relabel_stage(
    runtime: &PluginRuntime,
    name: &str,
    rules: &[RelabelConfig],
    compat: Compat,
) -> Result<Stage, String> {
    let mut plugins = Vec::new();
    if !rules.is_empty() {
        let config = serde_json::json!({"compat": compat.major(), "rules": rules}).to_string();
        let bytes = stock::read(&wasmfed_config::PluginSource::Stock("relabel".into()), None)?;
        let plugin = runtime
            .load(
                name,
                &bytes,
                World::Series,
                &config,
                PluginLimits::default(),
            )
            .map_err(|e| format!("{name}: {e}"))?;
        plugins.push(Arc::new(plugin));
    }
    Stage::new(World::Series, plugins).map_err(|e| format!("{name}: {e}"))
}

#[cfg(test)]
mod tests;
