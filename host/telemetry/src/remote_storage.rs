//! The remote-write sender's metrics, under the names Prometheus 2.42 gives them
//! (`prometheus_remote_storage_*`, `storage/remote/queue_manager.go`), so dashboards and alerts
//! written for a Prometheus' remote write (`PrometheusRemoteWriteBehind`, shards desired vs
//! max) work unchanged. Prometheus labels each queue with `remote_name` and `url`; wasmfed adds
//! `tenant`, since every tenant has queues of its own. wasmfed's own additions are
//! `wasmfed_remote_write_*`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// One remote-write queue.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub tenant: String,
    pub remote_name: String,
    pub url: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Prometheus' `sent_batch_duration_seconds` buckets: the client default and four long ones.
const BATCH_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0, 120.0, 300.0,
];

fn batch_histogram() -> Histogram {
    Histogram::new(BATCH_BUCKETS)
}

pub struct RemoteStorageMetrics {
    /// Samples read from the log for remote write (all queues).
    pub samples_in: Counter,
    /// The newest sample timestamp read from the log by any queue, in seconds.
    pub highest_timestamp: FloatGauge,
    pub samples: Family<QueueLabels, Counter>,
    pub samples_failed: Family<QueueLabels, Counter>,
    pub samples_retried: Family<QueueLabels, Counter>,
    pub samples_dropped: Family<QueueLabels, Counter>,
    pub samples_pending: Family<QueueLabels, Gauge>,
    pub enqueue_retries: Family<QueueLabels, Counter>,
    pub sent_batch_duration: Family<QueueLabels, Histogram, fn() -> Histogram>,
    pub highest_sent_timestamp: Family<QueueLabels, FloatGauge>,
    pub shard_capacity: Family<QueueLabels, Gauge>,
    pub shards: Family<QueueLabels, Gauge>,
    pub shards_max: Family<QueueLabels, Gauge>,
    pub shards_min: Family<QueueLabels, Gauge>,
    pub shards_desired: Family<QueueLabels, FloatGauge>,
    pub bytes: Family<QueueLabels, Counter>,
    pub max_samples_per_send: Family<QueueLabels, Gauge>,
    pub metadata: Family<QueueLabels, Counter>,
    pub metadata_failed: Family<QueueLabels, Counter>,
    pub metadata_retried: Family<QueueLabels, Counter>,
    pub metadata_bytes: Family<QueueLabels, Counter>,
    /// wasmfed: samples sent again after a restart that the receiver may have had already
    /// (they were in flight when the node stopped).
    pub samples_resent: Family<QueueLabels, Counter>,
    /// wasmfed: stretches of the log deleted before the queue read them (retention limits
    /// overrode its hold): their samples were never sent.
    pub log_lost: Family<QueueLabels, Counter>,
}

impl Default for RemoteStorageMetrics {
    fn default() -> Self {
        RemoteStorageMetrics {
            samples_in: Counter::default(),
            highest_timestamp: FloatGauge::default(),
            samples: Family::default(),
            samples_failed: Family::default(),
            samples_retried: Family::default(),
            samples_dropped: Family::default(),
            samples_pending: Family::default(),
            enqueue_retries: Family::default(),
            sent_batch_duration: Family::new_with_constructor(batch_histogram),
            highest_sent_timestamp: Family::default(),
            shard_capacity: Family::default(),
            shards: Family::default(),
            shards_max: Family::default(),
            shards_min: Family::default(),
            shards_desired: Family::default(),
            bytes: Family::default(),
            max_samples_per_send: Family::default(),
            metadata: Family::default(),
            metadata_failed: Family::default(),
            metadata_retried: Family::default(),
            metadata_bytes: Family::default(),
            samples_resent: Family::default(),
            log_lost: Family::default(),
        }
    }
}

impl RemoteStorageMetrics {
    /// Drops a removed queue's series (a reload took it away).
    pub fn forget(&self, labels: &QueueLabels) {
        self.samples_pending.remove(labels);
        self.shards.remove(labels);
        self.shards_desired.remove(labels);
        self.shard_capacity.remove(labels);
        self.shards_max.remove(labels);
        self.shards_min.remove(labels);
        self.max_samples_per_send.remove(labels);
    }

    pub(crate) fn register(&self, registry: &mut Registry) {
        let p = "prometheus_remote_storage_";
        let counters: [(&str, &str, &Family<QueueLabels, Counter>); 10] = [
            ("samples", "Total number of samples sent to remote storage.", &self.samples),
            ("samples_failed", "Total number of samples which failed on send to remote storage, non-recoverable errors.", &self.samples_failed),
            ("samples_retried", "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.", &self.samples_retried),
            ("samples_dropped", "Total number of samples which were dropped after being read from the WAL before being sent via remote write, either via relabelling or unintentionally because of an unknown reference ID.", &self.samples_dropped),
            ("enqueue_retries", "Total number of times enqueue has failed because a shards queue was full.", &self.enqueue_retries),
            ("bytes", "The total number of bytes of data (not metadata) sent by the queue after compression.", &self.bytes),
            ("metadata", "Total number of metadata entries sent to remote storage.", &self.metadata),
            ("metadata_failed", "Total number of metadata entries which failed on send to remote storage, non-recoverable errors.", &self.metadata_failed),
            ("metadata_retried", "Total number of metadata entries which failed on send to remote storage but were retried because the send error was recoverable.", &self.metadata_retried),
            ("metadata_bytes", "The total number of bytes of metadata sent by the queue after compression.", &self.metadata_bytes),
        ];
        for (name, help, family) in counters {
            registry.register(format!("{p}{name}"), help, family.clone());
        }
        registry.register(
            "wasmfed_remote_write_samples_resent",
            "Samples sent again after a restart that the receiver may have had already (in flight when the node stopped).",
            self.samples_resent.clone(),
        );
        registry.register(
            "wasmfed_remote_write_log_lost",
            "Stretches of the write-ahead log deleted before the queue read them (retention overrode its hold); their samples were not sent.",
            self.log_lost.clone(),
        );
        let gauges: [(&str, &str, &Family<QueueLabels, Gauge>); 6] = [
            ("samples_pending", "The number of samples pending in the queues shards to be sent to the remote storage.", &self.samples_pending),
            ("shard_capacity", "The capacity of each shard of the queue used for parallel sending to the remote storage.", &self.shard_capacity),
            ("shards", "The number of shards used for parallel sending to the remote storage.", &self.shards),
            ("shards_max", "The maximum number of shards that the queue is allowed to run.", &self.shards_max),
            ("shards_min", "The minimum number of shards that the queue is allowed to run.", &self.shards_min),
            ("max_samples_per_send", "The maximum number of samples to be sent, in a single request, to the remote storage.", &self.max_samples_per_send),
        ];
        for (name, help, family) in gauges {
            registry.register(format!("{p}{name}"), help, family.clone());
        }
        registry.register(
            format!("{p}shards_desired"),
            "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.",
            self.shards_desired.clone(),
        );
        registry.register(
            format!("{p}queue_highest_sent_timestamp_seconds"),
            "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch.",
            self.highest_sent_timestamp.clone(),
        );
        registry.register(
            format!("{p}sent_batch_duration_seconds"),
            "Duration of send calls to the remote storage.",
            self.sent_batch_duration.clone(),
        );
        registry.register(
            format!("{p}samples_in"),
            "Samples in to remote storage, compare to samples out for queue managers.",
            self.samples_in.clone(),
        );
        registry.register(
            format!("{p}highest_timestamp_in_seconds"),
            "Highest timestamp that has come into the remote storage via the Appender interface, in seconds since epoch.",
            self.highest_timestamp.clone(),
        );
    }
}
