//! Counters of the remote-write receiver (`POST /api/v1/write`), per tenant. Prometheus'
//! receiver counts only HTTP requests; a multi-tenant node also needs to say whose samples
//! came in, whose requests were refused and why, and what was left out.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabel {
    pub tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantReasonLabels {
    pub tenant: String,
    pub reason: String,
}

#[derive(Default)]
pub struct RemoteWriteMetrics {
    /// Samples stored.
    pub samples: Family<TenantLabel, Counter>,
    /// Requests refused whole: `decode` (not snappy, not a WriteRequest, a bad label set),
    /// `sample` (a sample the head refuses: out of order, duplicate, too old).
    pub refused: Family<TenantReasonLabels, Counter>,
    /// What stored requests held that was not stored: `histogram` and `exemplar` (wasmfed
    /// stores float samples only), `series_limit` (new series past the tenant's limit).
    pub not_stored: Family<TenantReasonLabels, Counter>,
}

impl RemoteWriteMetrics {
    pub fn label(tenant: &str, reason: &str) -> TenantReasonLabels {
        TenantReasonLabels {
            tenant: tenant.to_owned(),
            reason: reason.to_owned(),
        }
    }

    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "wasmfed_remote_write_samples_received",
            "Samples stored from remote-write requests, by tenant.",
            self.samples.clone(),
        );
        registry.register(
            "wasmfed_remote_write_requests_refused",
            "Remote-write requests refused whole, by tenant and reason (decode, sample).",
            self.refused.clone(),
        );
        registry.register(
            "wasmfed_remote_write_not_stored",
            "What stored remote-write requests held that was not stored, by tenant and reason (histogram, exemplar, series_limit).",
            self.not_stored.clone(),
        );
    }
}
