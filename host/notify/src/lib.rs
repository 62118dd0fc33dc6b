//! The notifier: alerts from every tenant's rule groups, with external labels attached and
//! `alert_relabel_configs` applied, queued and posted to every Alertmanager, as Prometheus'
//! `notifier.Manager` does.
//!
//! Rule groups hand over what is due ([`wasmfed_rules::AlertSink`]) and never wait on the
//! network: alerts go into one bounded queue (`--alertmanager.notification-queue-capacity`;
//! when it overflows the oldest alerts are dropped and counted). One task takes batches of up
//! to 64 and posts each batch to every Alertmanager of every set at once, each post bounded by
//! its set's `timeout`; a batch no Alertmanager accepted is counted as dropped (Alertmanager
//! deduplicates what an HA pair receives twice, so every alert goes to all of them). Alert
//! relabeling runs in the stock `relabel` plugin, as scrape relabeling does.
//!
//! A reload is two steps like the rest of the node: [`Notifier::prepare`] loads the relabel
//! plugins (a bad rule refuses the configuration), [`Notifier::commit`] swaps the new
//! Alertmanager sets in.

mod alertmanagers;
mod payload;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

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

/// Alerts per post, as Prometheus' `maxBatchSize`.
const MAX_BATCH: usize = 64;

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
    queue: Mutex<VecDeque<Notification>>,
    capacity: usize,
    more: Notify,
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
                queue: Mutex::new(VecDeque::new()),
                capacity: capacity.max(1),
                more: Notify::new(),
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
        self.count_alertmanagers();
    }

    /// Runs until the process ends: refreshes discovery and posts what is queued.
    pub async fn run(self) {
        let mut refresh = tokio::time::interval(CHANGE_CHECK);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = refresh.tick() => {
                    let sets = self.inner.applied.read().sets.clone();
                    for set in &sets {
                        set.sync(false);
                    }
                    self.count_alertmanagers();
                }
                _ = self.inner.more.notified() => {}
            }
            loop {
                let batch = self.next_batch();
                if batch.is_empty() {
                    break;
                }
                if !self.send_all(&batch).await {
                    self.metrics().dropped.inc_by(batch.len() as u64);
                }
            }
        }
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

    fn count_alertmanagers(&self) {
        let n = self.alertmanagers().len();
        self.metrics().alertmanagers_discovered.set(n as i64);
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
        let capacity = self.inner.capacity;
        let mut dropped = 0;
        if alerts.len() > capacity {
            dropped += alerts.len() - capacity;
            alerts.drain(..alerts.len() - capacity);
        }
        let mut queue = self.inner.queue.lock();
        let over = (queue.len() + alerts.len()).saturating_sub(capacity);
        queue.drain(..over);
        dropped += over;
        queue.extend(alerts);
        self.metrics().queue_length.set(queue.len() as i64);
        drop(queue);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "alert notification queue full, dropping the oldest alerts"
            );
            self.metrics().dropped.inc_by(dropped as u64);
        }
        self.inner.more.notify_one();
    }

    fn next_batch(&self) -> Vec<Notification> {
        let mut queue = self.inner.queue.lock();
        let n = queue.len().min(MAX_BATCH);
        let batch: Vec<Notification> = queue.drain(..n).collect();
        self.metrics().queue_length.set(queue.len() as i64);
        batch
    }

    /// Posts `batch` to every Alertmanager at once; true if any accepted it.
    async fn send_all(&self, batch: &[Notification]) -> bool {
        let sets = self.inner.applied.read().sets.clone();
        if sets.is_empty() {
            return false;
        }
        let body = payload::encode(batch);
        let began = Instant::now();
        let mut posts = tokio::task::JoinSet::new();
        for set in &sets {
            for url in set.urls() {
                let (set, body, fetcher) = (set.clone(), body.clone(), self.inner.fetcher.clone());
                posts.spawn(async move {
                    let timeout: Duration = set.config.timeout.as_std();
                    let result = fetcher.post_json(&set.client, &url, body, timeout).await;
                    (url, result)
                });
            }
        }
        let results = posts.join_all().await;
        let mut accepted = false;
        for (url, result) in results {
            let label = NotificationMetrics::alertmanager(&url);
            match result {
                Ok(_) => accepted = true,
                Err(e) => {
                    tracing::error!(alertmanager = %url, count = batch.len(), "error sending alerts: {e}");
                    self.metrics().errors.get_or_create(&label).inc();
                }
            }
            self.metrics()
                .latency
                .get_or_create(&label)
                .observe(began.elapsed().as_secs_f64());
            self.metrics()
                .sent
                .get_or_create(&label)
                .inc_by(batch.len() as u64);
        }
        accepted
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
        let bytes = stock::read(&wasmfed_config::PluginSource::Stock("relabel".into()))?;
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
