//! The WAL's own metrics. Cheap to clone (every field is shared), so the writer thread, the
//! checkpointer and the node's telemetry all hold the same values.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Default)]
pub struct WalMetrics {
    pub records_written: Counter,
    pub bytes_written: Counter,
    pub samples_written: Counter,
    pub fsyncs: Counter,
    pub write_failures: Counter,
    pub segment: Gauge,
    pub size_bytes: Gauge,
    pub checkpoints: Counter,
    pub checkpoint_failures: Counter,
    pub corruptions: Counter,
    pub replay_duration_seconds: Gauge<f64, AtomicU64>,
    pub replay_samples: Counter,
    pub replay_rejected: Family<ReasonLabel, Counter>,
}

impl WalMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "wasmfed_wal_records_written",
            "WAL records written (series, samples and checkpoint records).",
            self.records_written.clone(),
        );
        registry.register(
            "wasmfed_wal_bytes_written",
            "Bytes of WAL records written (record payloads, without page framing).",
            self.bytes_written.clone(),
        );
        registry.register(
            "wasmfed_wal_samples_written",
            "Samples written to the WAL.",
            self.samples_written.clone(),
        );
        registry.register(
            "wasmfed_wal_fsyncs",
            "fsync calls that made written WAL data durable.",
            self.fsyncs.clone(),
        );
        registry.register(
            "wasmfed_wal_write_failures",
            "Failed WAL writes or fsyncs; the samples stay in memory but are not durable.",
            self.write_failures.clone(),
        );
        registry.register(
            "wasmfed_wal_segment_current",
            "Number of the WAL segment being written.",
            self.segment.clone(),
        );
        registry.register(
            "wasmfed_wal_storage_size_bytes",
            "Size of the WAL directory (segments and checkpoint).",
            self.size_bytes.clone(),
        );
        registry.register(
            "wasmfed_wal_checkpoints",
            "Checkpoints written.",
            self.checkpoints.clone(),
        );
        registry.register(
            "wasmfed_wal_checkpoint_failures",
            "Checkpoints that failed.",
            self.checkpoint_failures.clone(),
        );
        registry.register(
            "wasmfed_wal_corruptions",
            "Damaged stretches of WAL files found (and skipped) at replay.",
            self.corruptions.clone(),
        );
        registry.register(
            "wasmfed_wal_replay_duration_seconds",
            "How long the last WAL replay took.",
            self.replay_duration_seconds.clone(),
        );
        registry.register(
            "wasmfed_wal_replay_samples",
            "Samples restored from the WAL at start-up.",
            self.replay_samples.clone(),
        );
        registry.register(
            "wasmfed_wal_replay_samples_rejected",
            "Samples in the WAL not restored, by reason (out_of_order, duplicate, unknown_series).",
            self.replay_rejected.clone(),
        );
    }

    pub(super) fn reject(&self, reason: &str, n: u64) {
        if n > 0 {
            self.replay_rejected
                .get_or_create(&ReasonLabel {
                    reason: reason.to_owned(),
                })
                .inc_by(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exposed() {
        let m = WalMetrics::default();
        let mut registry = Registry::default();
        m.register(&mut registry);
        m.fsyncs.inc();
        m.reject("out_of_order", 2);
        m.reject("duplicate", 0);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "wasmfed_wal_fsyncs_total 1",
            "wasmfed_wal_replay_samples_rejected_total{reason=\"out_of_order\"} 2",
            "wasmfed_wal_replay_duration_seconds 0.0",
            "wasmfed_wal_storage_size_bytes 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(
            !text.contains("reason=\"duplicate\""),
            "no zero-valued reasons"
        );
    }
}
