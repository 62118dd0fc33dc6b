//! Counters of federation beyond Prometheus': `/federate`'s every-sample mode on both sides
//! (what a leaf sent; what a global asked for, stored and was told it may have missed) and HA
//! replica pairs on a global (samples of standby replicas, take-overs).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::JobLabel;

/// One HA cluster's elected replica in one job.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReplicaLabels {
    pub tenant: String,
    pub job: String,
    pub cluster: String,
    pub replica: String,
}

#[derive(Default)]
pub struct FederationMetrics {
    /// Leaf: samples (stale markers included) sent in every-sample answers.
    pub samples_sent: Counter,
    /// Leaf: answers that could not honour the asker's cursor (`# CURSOR-RESET`).
    pub resets_sent: Counter,
    /// Global: every-sample pages fetched, by job.
    pub pages: Family<JobLabel, Counter>,
    /// Global: samples received again that were stored already, by job.
    pub samples_resent: Family<JobLabel, Counter>,
    /// Global: answers whose cursor the leaf could not honour, by job.
    pub resets_received: Family<JobLabel, Counter>,
    /// Global: cursors written to disk after the samples before them were fsynced.
    pub cursors_persisted: Counter,
    /// Global, HA: samples of replicas that are not their cluster's elected one, by job.
    pub standby_samples: Family<JobLabel, Counter>,
    /// Global, HA: replicas elected because the elected one went silent, by job.
    pub failovers: Family<JobLabel, Counter>,
    /// Global, HA: 1 for each cluster's elected replica (a replaced one's series is removed).
    pub elected: Family<ReplicaLabels, Gauge>,
}

impl FederationMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "wasmfed_federate_every_samples_sent",
            "Samples, stale markers included, sent by /federate in every-sample (cursor) mode.",
            self.samples_sent.clone(),
        );
        registry.register(
            "wasmfed_federate_cursor_resets_sent",
            "Every-sample /federate answers that could not honour the cursor asked with.",
            self.resets_sent.clone(),
        );
        registry.register(
            "wasmfed_every_sample_pages",
            "Every-sample /federate pages fetched, by job.",
            self.pages.clone(),
        );
        registry.register(
            "wasmfed_every_sample_samples_resent",
            "Every-sample samples received that were stored already (dropped), by job.",
            self.samples_resent.clone(),
        );
        registry.register(
            "wasmfed_every_sample_cursor_resets",
            "Every-sample answers whose leaf could not honour the cursor: samples may be missing, by job.",
            self.resets_received.clone(),
        );
        registry.register(
            "wasmfed_every_sample_cursors_persisted",
            "Every-sample cursors written to disk once the samples before them were durable.",
            self.cursors_persisted.clone(),
        );
        registry.register(
            "wasmfed_ha_standby_samples",
            "Samples of HA replicas that are not their cluster's elected one (dropped), by job.",
            self.standby_samples.clone(),
        );
        registry.register(
            "wasmfed_ha_failovers",
            "HA replicas elected because their cluster's elected one delivered nothing for failover_timeout, by job.",
            self.failovers.clone(),
        );
        registry.register(
            "wasmfed_ha_elected_replica",
            "1 for the replica whose samples a global stores, by job and cluster.",
            self.elected.clone(),
        );
    }
}
