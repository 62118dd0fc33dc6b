//! wasmfed's own metrics, served on `/metrics` in the OpenMetrics text format.
//!
//! One `Telemetry` value is created at start-up and shared; every stage records into it through
//! typed fields, so the set of metrics a node exposes is visible in one place.

use std::time::SystemTime;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use wasmfed_model::clock::unix_seconds;
use wasmfed_plugin::registry::LivePlugins;
use wasmfed_rules::RuleMetrics;
use wasmfed_storage::blocks::BlockMetrics;
use wasmfed_storage::wal::WalMetrics;

mod federation;
mod notifications;
mod remote_storage;
mod remote_write;
pub use federation::{FederationMetrics, ReplicaLabels};
pub use notifications::{AlertmanagerLabel, NotificationMetrics};
pub use remote_storage::{QueueLabels, RemoteStorageMetrics};
pub use remote_write::{RemoteWriteMetrics, TenantLabel, TenantReasonLabels};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabel {
    pub tenant: String,
    pub job: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

/// A service discovery mechanism (`http`, `dns`), as Prometheus' `mechanism` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MechanismLabel {
    pub mechanism: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandlerLabels {
    pub handler: String,
    pub code: String,
}

/// The node's counters and gauges.
pub struct Telemetry {
    registry: Registry,
    pub scrapes: Family<JobLabel, Counter>,
    pub scrape_failures: Family<JobLabel, Counter>,
    pub samples_scraped: Counter,
    pub head_samples_appended: Counter,
    pub samples_rejected: Family<ReasonLabel, Counter>,
    pub stale_markers: Counter,
    pub head_series: Gauge,
    pub head_chunk_page_bytes: Gauge,
    pub active_targets: Gauge,
    pub http_requests: Family<HandlerLabels, Counter>,
    pub federate_series: Counter,
    pub series_cache_hits: Family<JobLabel, Counter>,
    pub series_cache_misses: Family<JobLabel, Counter>,
    pub series_undecided: Family<JobLabel, Counter>,
    pub series_refused: Family<JobLabel, Counter>,
    pub scrape_duration: Histogram,
    pub reload_successful: Gauge,
    pub reload_success_time: Gauge,
    pub reloads: Family<ReasonLabel, Counter>,
    /// Refreshes of network discovery sources, and those that failed, by mechanism.
    pub sd_refreshes: Family<MechanismLabel, Counter>,
    pub sd_refresh_failures: Family<MechanismLabel, Counter>,
    pub wal: WalMetrics,
    pub blocks: BlockMetrics,
    pub notifications: NotificationMetrics,
    pub remote_write: RemoteWriteMetrics,
    /// The remote-write sender's queues (`remote_write:`).
    pub remote_storage: RemoteStorageMetrics,
    pub federation: FederationMetrics,
    /// Per-plugin counters, collected from the live plugins at scrape time.
    pub plugins: LivePlugins,
    /// Per-rule-group counters, collected from the live groups at scrape time.
    pub rules: RuleMetrics,
}

impl Default for Telemetry {
    fn default() -> Self {
        let mut registry = Registry::default();
        let t = Telemetry {
            scrapes: Family::default(),
            scrape_failures: Family::default(),
            samples_scraped: Counter::default(),
            head_samples_appended: Counter::default(),
            samples_rejected: Family::default(),
            stale_markers: Counter::default(),
            head_series: Gauge::default(),
            head_chunk_page_bytes: Gauge::default(),
            active_targets: Gauge::default(),
            http_requests: Family::default(),
            federate_series: Counter::default(),
            series_cache_hits: Family::default(),
            series_cache_misses: Family::default(),
            series_undecided: Family::default(),
            series_refused: Family::default(),
            scrape_duration: Histogram::new(exponential_buckets(0.001, 4.0, 8)),
            reload_successful: Gauge::default(),
            reload_success_time: Gauge::default(),
            reloads: Family::default(),
            sd_refreshes: Family::default(),
            sd_refresh_failures: Family::default(),
            wal: WalMetrics::default(),
            blocks: BlockMetrics::default(),
            notifications: NotificationMetrics::default(),
            remote_write: RemoteWriteMetrics::default(),
            remote_storage: RemoteStorageMetrics::default(),
            federation: FederationMetrics::default(),
            plugins: LivePlugins::default(),
            rules: RuleMetrics::default(),
            registry: Registry::default(),
        };
        registry.register(
            "wasmfed_scrapes",
            "Scrapes attempted, by job.",
            t.scrapes.clone(),
        );
        registry.register(
            "wasmfed_scrape_failures",
            "Scrapes that stored nothing (fetch, parse or limit error), by job.",
            t.scrape_failures.clone(),
        );
        registry.register(
            "wasmfed_samples_scraped",
            "Samples read from successful scrapes.",
            t.samples_scraped.clone(),
        );
        registry.register(
            "wasmfed_head_samples_appended",
            "Samples scrapes stored in the head: scraped series, stale markers and the synthetic up and scrape_* series, as Prometheus' prometheus_tsdb_head_samples_appended counts them (rule results are not counted here).",
            t.head_samples_appended.clone(),
        );
        registry.register(
            "wasmfed_samples_rejected",
            "Samples storage refused, by reason (out_of_order, duplicate).",
            t.samples_rejected.clone(),
        );
        registry.register(
            "wasmfed_stale_markers",
            "Stale markers written for series that ended.",
            t.stale_markers.clone(),
        );
        registry.register(
            "wasmfed_head_series",
            "Series in the storage head.",
            t.head_series.clone(),
        );
        registry.register(
            "wasmfed_head_chunk_page_bytes",
            "Bytes in the pages that hold the head's sealed chunks, in memory or in chunks_head files.",
            t.head_chunk_page_bytes.clone(),
        );
        registry.register(
            "wasmfed_active_targets",
            "Targets being scraped.",
            t.active_targets.clone(),
        );
        registry.register(
            "wasmfed_http_requests",
            "HTTP requests served, by handler and status code.",
            t.http_requests.clone(),
        );
        registry.register(
            "wasmfed_series_cache_hits",
            "Scraped series found in their target's cache (no decoding, no plugin call), by job.",
            t.series_cache_hits.clone(),
        );
        registry.register(
            "wasmfed_series_cache_misses",
            "Scraped series not in their target's cache: decoded and sent through the series stage.",
            t.series_cache_misses.clone(),
        );
        registry.register(
            "wasmfed_series_stage_undecided",
            "New series dropped because the series stage failed or backed off, by job.",
            t.series_undecided.clone(),
        );
        registry.register(
            "wasmfed_series_refused",
            "New series refused because their tenant is at its series limit, by job.",
            t.series_refused.clone(),
        );
        registry.register(
            "wasmfed_federate_series",
            "Series written by /federate responses.",
            t.federate_series.clone(),
        );
        registry.register(
            "wasmfed_scrape_duration_seconds",
            "Time from the start of a scrape to its samples being stored.",
            t.scrape_duration.clone(),
        );
        registry.register(
            "wasmfed_config_last_reload_successful",
            "Whether the last configuration reload succeeded (1) or not (0).",
            t.reload_successful.clone(),
        );
        registry.register(
            "wasmfed_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully.",
            t.reload_success_time.clone(),
        );
        registry.register(
            "wasmfed_config_reloads",
            "Configuration reloads, by outcome (success, failure).",
            t.reloads.clone(),
        );
        registry.register(
            "wasmfed_sd_refreshes",
            "Refreshes of network service discovery sources, by mechanism (http, dns).",
            t.sd_refreshes.clone(),
        );
        registry.register(
            "wasmfed_sd_refresh_failures",
            "Failed refreshes of network service discovery sources, by mechanism; the source keeps its previous targets.",
            t.sd_refresh_failures.clone(),
        );
        t.wal.register(&mut registry);
        t.blocks.register(&mut registry);
        t.notifications.register(&mut registry);
        t.remote_write.register(&mut registry);
        t.remote_storage.register(&mut registry);
        t.federation.register(&mut registry);
        registry.register_collector(Box::new(t.plugins.clone()));
        registry.register_collector(Box::new(t.rules.clone()));
        t.reload_successful.set(1);
        t.reload_success_time.set(unix_seconds(SystemTime::now()));
        Telemetry { registry, ..t }
    }
}

impl Telemetry {
    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    pub fn count_request(&self, handler: &str, code: u16) {
        self.http_requests
            .get_or_create(&HandlerLabels {
                handler: handler.to_owned(),
                code: code.to_string(),
            })
            .inc();
    }

    pub fn record_reload(&self, ok: bool) {
        self.reload_successful.set(i64::from(ok));
        if ok {
            self.reload_success_time
                .set(unix_seconds(SystemTime::now()));
        }
        let outcome = if ok { "success" } else { "failure" };
        self.reloads
            .get_or_create(&Telemetry::rejected(outcome))
            .inc();
    }

    pub fn job(tenant: &str, job: &str) -> JobLabel {
        JobLabel {
            tenant: tenant.to_owned(),
            job: job.to_owned(),
        }
    }

    pub fn rejected(reason: &str) -> ReasonLabel {
        ReasonLabel {
            reason: reason.to_owned(),
        }
    }
}
