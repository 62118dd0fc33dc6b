//! The notifier's metrics, named after Prometheus' `prometheus_notifications_*` with wasmfed's
//! prefix, so the alerts operators have on Prometheus' notifier carry over.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// One Alertmanager, by the URL alerts are posted to.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertmanagerLabel {
    pub alertmanager: String,
}

type HistogramFamily = Family<AlertmanagerLabel, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 4.0, 9))
}

#[derive(Clone)]
pub struct NotificationMetrics {
    /// Alerts posted, by Alertmanager (successfully or not, as Prometheus counts).
    pub sent: Family<AlertmanagerLabel, Counter>,
    /// Posts that failed, by Alertmanager.
    pub errors: Family<AlertmanagerLabel, Counter>,
    pub latency: HistogramFamily,
    /// Alerts dropped: a queue was full, an Alertmanager refused a batch, or none is
    /// configured (one count per Alertmanager that lost the alert).
    pub dropped: Counter,
    pub queue_length: Gauge,
    pub queue_capacity: Gauge,
    pub alertmanagers_discovered: Gauge,
}

impl Default for NotificationMetrics {
    fn default() -> Self {
        NotificationMetrics {
            sent: Family::default(),
            errors: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            dropped: Counter::default(),
            queue_length: Gauge::default(),
            queue_capacity: Gauge::default(),
            alertmanagers_discovered: Gauge::default(),
        }
    }
}

impl NotificationMetrics {
    pub fn alertmanager(url: &str) -> AlertmanagerLabel {
        AlertmanagerLabel {
            alertmanager: url.to_owned(),
        }
    }

    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "wasmfed_notifications_sent",
            "Alerts sent, by Alertmanager (as prometheus_notifications_sent_total).",
            self.sent.clone(),
        );
        registry.register(
            "wasmfed_notifications_errors",
            "Posts of alerts that failed, by Alertmanager.",
            self.errors.clone(),
        );
        registry.register(
            "wasmfed_notifications_latency_seconds",
            "Time to post a batch of alerts, by Alertmanager.",
            self.latency.clone(),
        );
        registry.register(
            "wasmfed_notifications_dropped",
            "Alerts dropped: a queue was full, an Alertmanager refused their batch, or none is configured; counted per Alertmanager that lost them.",
            self.dropped.clone(),
        );
        registry.register(
            "wasmfed_notifications_queue_length",
            "Alerts waiting to be sent, over every Alertmanager's queue.",
            self.queue_length.clone(),
        );
        registry.register(
            "wasmfed_notifications_queue_capacity",
            "Most alerts each Alertmanager's queue holds (--alertmanager.notification-queue-capacity).",
            self.queue_capacity.clone(),
        );
        registry.register(
            "wasmfed_notifications_alertmanagers_discovered",
            "Alertmanagers alerts are sent to.",
            self.alertmanagers_discovered.clone(),
        );
    }
}
