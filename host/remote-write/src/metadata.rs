//! Metric metadata to the receiver (`metadata_config`): every `send_interval`, what the
//! tenant's targets said in their `# TYPE`, `# HELP` and `# UNIT` lines, in requests of up to
//! `max_samples_per_send` entries, as Prometheus' metadata watcher sends it. Each distinct
//! (family, type, help, unit) is sent once per round, however many targets said it.
//! Metadata is best effort in Prometheus too: a refused request is counted and dropped, and
//! the next round sends everything again.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use wasmfed_remote::proto;
use wasmfed_scrape::metadata::MetricMetadata;
use wasmfed_scrape::parse::MetricType;

use crate::encode::metadata_request;
use crate::shard::{post, Carrying, Sender, Sent};

/// Where a tenant's metadata comes from: every active target's, by family name.
pub type MetadataSource = Arc<dyn Fn() -> Vec<(String, MetricMetadata)> + Send + Sync>;

/// `prometheus.MetricMetadata.MetricType`.
fn proto_type(kind: MetricType) -> i32 {
    match kind {
        MetricType::Unknown => 0,
        MetricType::Counter => 1,
        MetricType::Gauge => 2,
        MetricType::Histogram => 3,
        MetricType::GaugeHistogram => 4,
        MetricType::Summary => 5,
        MetricType::Info => 6,
        MetricType::StateSet => 7,
    }
}

/// The distinct entries of `listed`, in name order.
pub(crate) fn entries(listed: Vec<(String, MetricMetadata)>) -> Vec<proto::MetricMetadata> {
    let distinct: BTreeSet<(String, i32, String, String)> = listed
        .into_iter()
        .map(|(name, m)| (name, proto_type(m.kind), m.help, m.unit))
        .collect();
    distinct
        .into_iter()
        .map(|(name, kind, help, unit)| proto::MetricMetadata {
            r#type: kind,
            metric_family_name: name,
            help,
            unit,
        })
        .collect()
}

pub(crate) async fn run(
    sender: Arc<Sender>,
    source: MetadataSource,
    every: Duration,
    per_request: usize,
    mut stopped: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(every.max(Duration::from_millis(100)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        let all = entries(source());
        let m = &sender.telemetry.remote_storage;
        for chunk in all.chunks(per_request.max(1)) {
            let body = metadata_request(chunk.to_vec());
            match post(&sender, body.into(), Carrying::Metadata(chunk.len())).await {
                Sent::Accepted => {
                    m.metadata
                        .get_or_create(&sender.labels)
                        .inc_by(chunk.len() as u64);
                }
                Sent::Refused(status, message) => {
                    m.metadata_failed
                        .get_or_create(&sender.labels)
                        .inc_by(chunk.len() as u64);
                    tracing::warn!(url = %sender.url, status, %message, "remote write: metadata refused");
                }
                Sent::Abandoned => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_distinct_and_typed_as_the_protocol_numbers_them() {
        let m = |kind, help: &str| MetricMetadata {
            kind,
            help: help.into(),
            unit: String::new(),
        };
        let got = entries(vec![
            ("up".into(), m(MetricType::Gauge, "Up.")),
            (
                "http_requests_total".into(),
                m(MetricType::Counter, "Requests."),
            ),
            ("up".into(), m(MetricType::Gauge, "Up.")),
        ]);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].metric_family_name.as_str(), got[0].r#type),
            ("http_requests_total", 1)
        );
        assert_eq!(
            (got[1].metric_family_name.as_str(), got[1].r#type),
            ("up", 2)
        );
    }
}
