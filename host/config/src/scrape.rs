//! `scrape_configs` entries: what to scrape, how often, and how to relabel it.
//!
//! Read in two steps, as in Prometheus: the entry itself is read and checked on its own (unknown
//! keys, `job_name`, scheme, relabel rules, static targets), then resolved against `global`
//! (interval, timeout, limits) and the configuration file's directory (file_sd paths).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::compat::{ignore_known, next_key, refuse_unknown_to_2_42, Ignored, Section};
use super::dns_sd::DnsSdConfig;
use super::docker_sd::DockerSdConfig;
use super::duration::Duration;
use super::federation::FederationConfig;
use super::file_sd::FileSdConfig;
use super::global::GlobalConfig;
use super::handover::HandoverConfig;
use super::http_client::{self, HttpClientConfig, RawHttpClient};
use super::http_sd::HttpSdConfig;
use super::kubernetes_sd::KubernetesSdConfig;
use super::names::{NameRules, NameValidation, RawNames};
use super::plugins::{PluginRef, RawPluginRef};
use super::protocol::ScrapeProtocol;
use super::size::Size;
use super::sources::{self, RawSources};
use super::target_group::TargetGroup;
use super::yaml::{zero_if_null, Bool, KeySet, UniqueMap};
use relabel_config::{NameScheme, RelabelConfig};
use wasmfed_model::compat::Compat;

/// The keys of a scrape config that are its own.
const OWN_KEYS: [&str; 25] = [
    "job_name",
    "scrape_interval",
    "scrape_timeout",
    "metrics_path",
    "scheme",
    "params",
    "honor_labels",
    "honor_timestamps",
    "static_configs",
    "file_sd_configs",
    "http_sd_configs",
    "dns_sd_configs",
    "kubernetes_sd_configs",
    "docker_sd_configs",
    "relabel_configs",
    "metric_relabel_configs",
    "sample_limit",
    "body_size_limit",
    "fallback_scrape_protocol",
    "target_plugins",
    "series_plugins",
    "federation",
    "shard_handover",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
];

/// The keys of a scrape config that wasmfed reads: its own, then its HTTP client's.
const KEYS: &[&str] = &concat_keys::<25, 13, 38>(OWN_KEYS, http_client::KEYS);

/// `a` then `b`, at compile time (`C` must be `A + B`).
pub(super) const fn concat_keys<const A: usize, const B: usize, const C: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
) -> [&'static str; C] {
    assert!(A + B == C, "C must be A + B");
    let mut out = [""; C];
    let mut i = 0;
    while i < C {
        out[i] = if i < A { a[i] } else { b[i - A] };
        i += 1;
    }
    out
}

/// One resolved scrape job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeConfig {
    pub job_name: String,
    /// Already defaulted from `global`.
    pub scrape_interval: Duration,
    /// Already defaulted from `global`; never greater than `scrape_interval`.
    pub scrape_timeout: Duration,
    pub metrics_path: String,
    /// `http` or `https`.
    pub scheme: String,
    /// URL query parameters, e.g. `match[]` for `/federate`.
    pub params: BTreeMap<String, Vec<String>>,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    /// All `static_configs` groups; `source` is the group's index, as in Prometheus.
    pub static_configs: Vec<TargetGroup>,
    pub file_sd_configs: Vec<FileSdConfig>,
    pub http_sd_configs: Vec<HttpSdConfig>,
    pub dns_sd_configs: Vec<DnsSdConfig>,
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    pub docker_sd_configs: Vec<DockerSdConfig>,
    pub relabel_configs: Vec<RelabelConfig>,
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// 0 for none; already defaulted from `global`.
    pub sample_limit: u64,
    /// In bytes, 0 for none; already defaulted from `global`.
    pub body_size_limit: u64,
    /// Prometheus 3's format for a body whose Content-Type is missing, unparsable or unknown
    /// (without one, such a scrape fails); never set with `--query.compat=2`, whose 2.42 parses
    /// such bodies as the text format.
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    /// The generation whose scrape semantics the job follows (from `global`): Content-Type
    /// strictness, default ports, `le`/`quantile` normalization.
    pub compat: Compat,
    /// Which names the job stores and how it asks targets to escape others.
    pub names: NameRules,
    /// wasmfed's own: target-stage plugins run after `relabel_configs`, in order.
    pub target_plugins: Vec<PluginRef>,
    /// wasmfed's own: series-stage plugins run after `metric_relabel_configs`, in order.
    pub series_plugins: Vec<PluginRef>,
    /// TLS, authentication and redirects of the job's requests.
    pub http_client: HttpClientConfig,
    /// wasmfed's own: how a wasmfed leaf is federated (every-sample mode).
    pub federation: FederationConfig,
    /// wasmfed's own: letting go of targets the target stage gives to another shard node.
    pub shard_handover: Option<HandoverConfig>,
}

/// A scrape config as written, checked on its own; zero durations and limits are "not set".
pub(super) struct RawScrapeConfig {
    job_name: String,
    scrape_interval: Duration,
    scrape_timeout: Duration,
    metrics_path: String,
    scheme: String,
    params: BTreeMap<String, Vec<String>>,
    honor_labels: bool,
    honor_timestamps: bool,
    sources: RawSources,
    relabel_configs: Vec<RelabelConfig>,
    metric_relabel_configs: Vec<RelabelConfig>,
    sample_limit: u64,
    body_size_limit: Size,
    fallback_scrape_protocol: Option<ScrapeProtocol>,
    names: RawNames,
    target_plugins: Vec<RawPluginRef>,
    series_plugins: Vec<RawPluginRef>,
    federation: FederationConfig,
    shard_handover: Option<HandoverConfig>,
    http_client: RawHttpClient,
    pub(super) ignored: Vec<Ignored>,
}

impl RawScrapeConfig {
    pub(super) fn job_name(&self) -> &str {
        &self.job_name
    }

    /// `ScrapeConfig.Validate`: fills in what `global` decides and checks the timeout.
    pub(super) fn resolve(self, global: &GlobalConfig, dir: &Path) -> Result<ScrapeConfig, String> {
        if global.compat == Compat::V2 {
            let fallback = self
                .fallback_scrape_protocol
                .map(|_| "fallback_scrape_protocol");
            let headers = self.http_client.has_headers().then_some("http_headers");
            let ignored = self.ignored.iter().map(|i| i.key.as_str());
            refuse_unknown_to_2_42(
                Section::Scrape,
                fallback
                    .into_iter()
                    .chain(headers)
                    .chain(self.names.keys())
                    .chain(ignored),
            )?;
        }
        for sd in &self.sources.dns_sd_configs {
            sd.check_generation(global.compat)?;
        }
        let scrape_interval = if self.scrape_interval.is_zero() {
            global.scrape_interval
        } else {
            self.scrape_interval
        };
        if self.scrape_timeout > scrape_interval {
            return Err(format!(
                "scrape timeout greater than scrape interval for scrape config with job name {:?}",
                self.job_name
            ));
        }
        let scrape_timeout = if self.scrape_timeout.is_zero() {
            global.scrape_timeout.min(scrape_interval)
        } else {
            self.scrape_timeout
        };
        let body_size_limit = match self.body_size_limit.0 {
            0 => global.body_size_limit,
            _ => self.body_size_limit.limit(),
        };
        let sample_limit = match self.sample_limit {
            0 => global.sample_limit,
            n => n,
        };
        self.federation
            .check(&self.job_name, self.honor_timestamps, &self.params)?;
        if let Some(handover) = &self.shard_handover {
            handover.check(&self.job_name)?;
        }
        let sources = self.sources.resolve(dir)?;
        let names = self.names.resolve_job(&global.names)?;
        if names.validation == NameValidation::Legacy {
            // Rules were read with the generation's scheme; a legacy job checks their target
            // names again, as Prometheus 3's `ScrapeConfig.Validate` does.
            for rule in self
                .relabel_configs
                .iter()
                .chain(&self.metric_relabel_configs)
            {
                rule.check_names(NameScheme::Legacy)
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(ScrapeConfig {
            job_name: self.job_name,
            scrape_interval,
            scrape_timeout,
            metrics_path: self.metrics_path,
            scheme: self.scheme,
            params: self.params,
            honor_labels: self.honor_labels,
            honor_timestamps: self.honor_timestamps,
            static_configs: sources.static_configs,
            file_sd_configs: sources.file_sd_configs,
            http_sd_configs: sources.http_sd_configs,
            dns_sd_configs: sources.dns_sd_configs,
            kubernetes_sd_configs: sources.kubernetes_sd_configs,
            docker_sd_configs: sources.docker_sd_configs,
            relabel_configs: self.relabel_configs,
            metric_relabel_configs: self.metric_relabel_configs,
            sample_limit,
            body_size_limit,
            fallback_scrape_protocol: self.fallback_scrape_protocol,
            compat: global.compat,
            names,
            target_plugins: resolve_plugins(self.target_plugins, dir, "target_plugins")?,
            series_plugins: resolve_plugins(self.series_plugins, dir, "series_plugins")?,
            http_client: self.http_client.resolve(dir)?,
            federation: self.federation,
            shard_handover: self.shard_handover,
        })
    }
}

impl<'de> Deserialize<'de> for RawScrapeConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ScrapeVisitor)
    }
}

struct ScrapeVisitor;

/// Checks plugin references and resolves their files against `dir`; errors name `key[i]`.
pub(super) fn resolve_plugins(
    raw: Vec<RawPluginRef>,
    dir: &Path,
    key: &str,
) -> Result<Vec<PluginRef>, String> {
    raw.into_iter()
        .enumerate()
        .map(|(i, p)| p.resolve(dir).map_err(|e| format!("{key}[{i}]: {e}")))
        .collect()
}

/// A list whose entries may not be null; `what` completes Prometheus' message for a null entry.
pub(super) fn non_null<T>(entries: Option<Vec<Option<T>>>, what: &str) -> Result<Vec<T>, String> {
    entries
        .unwrap_or_default()
        .into_iter()
        .map(|entry| entry.ok_or_else(|| what.to_string()))
        .collect()
}

impl<'de> Visitor<'de> for ScrapeVisitor {
    type Value = RawScrapeConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scrape config")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawScrapeConfig, A::Error> {
        let mut raw = RawScrapeConfig {
            job_name: String::new(),
            scrape_interval: Duration::ZERO,
            scrape_timeout: Duration::ZERO,
            metrics_path: "/metrics".into(),
            scheme: "http".into(),
            params: BTreeMap::new(),
            honor_labels: false,
            honor_timestamps: true,
            sources: RawSources::default(),
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
            sample_limit: 0,
            body_size_limit: Size::default(),
            fallback_scrape_protocol: None,
            names: RawNames::default(),
            target_plugins: Vec::new(),
            series_plugins: Vec::new(),
            federation: FederationConfig::default(),
            shard_handover: None,
            http_client: RawHttpClient::default(),
            ignored: Vec::new(),
        };
        let mut fallback = String::new();
        let mut seen = KeySet::default();
        while let Some(key) = next_key(&mut map, Section::Scrape, KEYS, &mut seen)? {
            match key.as_str() {
                "job_name" => raw.job_name = zero_if_null(map.next_value()?),
                "scrape_interval" => raw.scrape_interval = zero_if_null(map.next_value()?),
                "scrape_timeout" => raw.scrape_timeout = zero_if_null(map.next_value()?),
                "metrics_path" => raw.metrics_path = zero_if_null(map.next_value()?),
                "scheme" => raw.scheme = zero_if_null(map.next_value()?),
                "params" => {
                    let params: UniqueMap<String, Option<Vec<String>>> = map.next_value()?;
                    raw.params = params
                        .0
                        .into_iter()
                        .map(|(k, v)| (k, v.unwrap_or_default()))
                        .collect();
                }
                "honor_labels" => raw.honor_labels = map.next_value::<Bool>()?.0,
                "honor_timestamps" => raw.honor_timestamps = map.next_value::<Bool>()?.0,
                k if sources::KEYS.contains(&k) => raw.sources.read(k, &mut map)?,
                "relabel_configs" => {
                    raw.relabel_configs = non_null(
                        map.next_value()?,
                        "empty or null target relabeling rule in scrape config",
                    )
                    .map_err(de::Error::custom)?;
                }
                "metric_relabel_configs" => {
                    raw.metric_relabel_configs = non_null(
                        map.next_value()?,
                        "empty or null metric relabeling rule in scrape config",
                    )
                    .map_err(de::Error::custom)?;
                }
                "sample_limit" => raw.sample_limit = zero_if_null(map.next_value()?),
                "body_size_limit" => raw.body_size_limit = zero_if_null(map.next_value()?),
                "fallback_scrape_protocol" => fallback = zero_if_null(map.next_value()?),
                k if RawNames::KEYS.contains(&k) => raw.names.read(k, map.next_value()?),
                "target_plugins" => raw.target_plugins = zero_if_null(map.next_value()?),
                "series_plugins" => raw.series_plugins = zero_if_null(map.next_value()?),
                "federation" => raw.federation = zero_if_null(map.next_value()?),
                "shard_handover" => raw.shard_handover = map.next_value()?,
                k if http_client::KEYS.contains(&k) => raw.http_client.read(k, &mut map)?,
                _ => raw
                    .ignored
                    .push(ignore_known(Section::Scrape, &key, &mut map)?),
            }
        }
        if raw.job_name.is_empty() {
            return Err(de::Error::custom("job_name is empty"));
        }
        match raw.scheme.as_str() {
            "http" | "https" => {}
            other => {
                return Err(de::Error::custom(format!(
                    "invalid scheme {other:?} for scrape config with job name {:?}: must be \"http\" or \"https\"",
                    raw.job_name
                )))
            }
        }
        if !fallback.is_empty() {
            let protocol = fallback.parse::<ScrapeProtocol>().map_err(|e| {
                de::Error::custom(format!(
                    "invalid fallback_scrape_protocol for scrape config with job name {:?}: {e}",
                    raw.job_name
                ))
            })?;
            if protocol == ScrapeProtocol::PrometheusProto {
                return Err(de::Error::custom(
                    "fallback_scrape_protocol PrometheusProto: not supported by wasmfed yet \
                     (wasmfed parses the text formats only)",
                ));
            }
            raw.fallback_scrape_protocol = Some(protocol);
        }
        raw.sources
            .check_static(!raw.relabel_configs.is_empty())
            .map_err(de::Error::custom)?;
        Ok(raw)
    }
}

#[cfg(test)]
mod tests;
