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
use super::duration::Duration;
use super::file_sd::FileSdConfig;
use super::global::GlobalConfig;
use super::http_client::{self, HttpClientConfig, RawHttpClient};
use super::http_sd::{HttpSdConfig, RawHttpSdConfig};
use super::paths::join_dir;
use super::plugins::{PluginRef, RawPluginRef};
use super::protocol::ScrapeProtocol;
use super::size::Size;
use super::target_group::{RawTargetGroup, TargetGroup};
use super::yaml::{zero_if_null, Bool, KeySet, UniqueMap};
use relabel_config::RelabelConfig;
use wasmfed_model::compat::Compat;

/// The keys of a scrape config that are its own.
const OWN_KEYS: [&str; 19] = [
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
    "relabel_configs",
    "metric_relabel_configs",
    "sample_limit",
    "body_size_limit",
    "fallback_scrape_protocol",
    "target_plugins",
    "series_plugins",
];

/// The keys of a scrape config that wasmfed reads: its own, then its HTTP client's.
const KEYS: &[&str] = &concat_keys::<19, 8, 27>(OWN_KEYS, http_client::KEYS);

/// `a` then `b`, at compile time (`C` must be `A + B`).
const fn concat_keys<const A: usize, const B: usize, const C: usize>(
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
    /// wasmfed's own: target-stage plugins run after `relabel_configs`, in order.
    pub target_plugins: Vec<PluginRef>,
    /// wasmfed's own: series-stage plugins run after `metric_relabel_configs`, in order.
    pub series_plugins: Vec<PluginRef>,
    /// TLS, authentication and redirects of the job's requests.
    pub http_client: HttpClientConfig,
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
    static_configs: Vec<TargetGroup>,
    file_sd_configs: Vec<FileSdConfig>,
    http_sd_configs: Vec<RawHttpSdConfig>,
    dns_sd_configs: Vec<DnsSdConfig>,
    relabel_configs: Vec<RelabelConfig>,
    metric_relabel_configs: Vec<RelabelConfig>,
    sample_limit: u64,
    body_size_limit: Size,
    fallback_scrape_protocol: Option<ScrapeProtocol>,
    target_plugins: Vec<RawPluginRef>,
    series_plugins: Vec<RawPluginRef>,
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
                fallback.into_iter().chain(headers).chain(ignored),
            )?;
        }
        for sd in &self.dns_sd_configs {
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
        let file_sd_configs = self
            .file_sd_configs
            .into_iter()
            .map(|mut sd| {
                sd.files = sd.files.iter().map(|f| join_dir(dir, f)).collect();
                sd
            })
            .collect();
        Ok(ScrapeConfig {
            job_name: self.job_name,
            scrape_interval,
            scrape_timeout,
            metrics_path: self.metrics_path,
            scheme: self.scheme,
            params: self.params,
            honor_labels: self.honor_labels,
            honor_timestamps: self.honor_timestamps,
            static_configs: self.static_configs,
            file_sd_configs,
            http_sd_configs: self
                .http_sd_configs
                .into_iter()
                .map(|sd| sd.resolve(dir))
                .collect::<Result<_, _>>()?,
            dns_sd_configs: self.dns_sd_configs,
            relabel_configs: self.relabel_configs,
            metric_relabel_configs: self.metric_relabel_configs,
            sample_limit,
            body_size_limit,
            fallback_scrape_protocol: self.fallback_scrape_protocol,
            compat: global.compat,
            target_plugins: resolve_plugins(self.target_plugins, dir, "target_plugins")?,
            series_plugins: resolve_plugins(self.series_plugins, dir, "series_plugins")?,
            http_client: self.http_client.resolve(dir)?,
        })
    }
}

impl<'de> Deserialize<'de> for RawScrapeConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ScrapeVisitor)
    }
}

struct ScrapeVisitor;

fn resolve_plugins(
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
fn non_null<T>(entries: Option<Vec<Option<T>>>, what: &str) -> Result<Vec<T>, String> {
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
            static_configs: Vec::new(),
            file_sd_configs: Vec::new(),
            http_sd_configs: Vec::new(),
            dns_sd_configs: Vec::new(),
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
            sample_limit: 0,
            body_size_limit: Size::default(),
            fallback_scrape_protocol: None,
            target_plugins: Vec::new(),
            series_plugins: Vec::new(),
            http_client: RawHttpClient::default(),
            ignored: Vec::new(),
        };
        let mut static_groups: Vec<RawTargetGroup> = Vec::new();
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
                "static_configs" => {
                    static_groups =
                        non_null(map.next_value()?, "empty or null section in static_configs")
                            .map_err(de::Error::custom)?;
                }
                "file_sd_configs" => {
                    raw.file_sd_configs = non_null(
                        map.next_value()?,
                        "empty or null section in file_sd_configs",
                    )
                    .map_err(de::Error::custom)?;
                }
                "http_sd_configs" => {
                    raw.http_sd_configs = non_null(
                        map.next_value()?,
                        "empty or null section in http_sd_configs",
                    )
                    .map_err(de::Error::custom)?;
                }
                "dns_sd_configs" => {
                    raw.dns_sd_configs =
                        non_null(map.next_value()?, "empty or null section in dns_sd_configs")
                            .map_err(de::Error::custom)?;
                }
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
                "target_plugins" => raw.target_plugins = zero_if_null(map.next_value()?),
                "series_plugins" => raw.series_plugins = zero_if_null(map.next_value()?),
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
        // Prometheus looks for URLs among static targets only when no relabeling could fix them.
        if raw.relabel_configs.is_empty() {
            for group in &static_groups {
                group.check_addresses().map_err(de::Error::custom)?;
            }
        }
        raw.static_configs = static_groups
            .into_iter()
            .enumerate()
            .map(|(i, group)| group.into_group(i.to_string()))
            .collect();
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> Result<RawScrapeConfig, String> {
        serde_yaml::from_str(yaml).map_err(|e| e.to_string())
    }

    fn resolve(yaml: &str, global: &GlobalConfig) -> Result<ScrapeConfig, String> {
        read(yaml)?.resolve(global, Path::new("/etc/prometheus"))
    }

    #[test]
    fn defaults() {
        let c = resolve("job_name: node", &GlobalConfig::default()).unwrap();
        assert_eq!(
            c,
            ScrapeConfig {
                job_name: "node".into(),
                scrape_interval: Duration::from_secs(60),
                scrape_timeout: Duration::from_secs(10),
                metrics_path: "/metrics".into(),
                scheme: "http".into(),
                params: BTreeMap::new(),
                honor_labels: false,
                honor_timestamps: true,
                static_configs: vec![],
                file_sd_configs: vec![],
                http_sd_configs: vec![],
                dns_sd_configs: vec![],
                relabel_configs: vec![],
                metric_relabel_configs: vec![],
                sample_limit: 0,
                body_size_limit: 0,
                fallback_scrape_protocol: None,
                compat: Compat::V3,
                target_plugins: vec![],
                series_plugins: vec![],
                http_client: HttpClientConfig::default(),
            }
        );
    }

    #[test]
    fn interval_and_timeout_follow_global() {
        let s = Duration::from_secs;
        let global = GlobalConfig {
            scrape_interval: s(30),
            scrape_timeout: s(20),
            ..GlobalConfig::default()
        };
        for (yaml, interval, timeout) in [
            ("job_name: a", s(30), s(20)),
            // Only an interval smaller than the global timeout: the timeout becomes the interval.
            ("job_name: a\nscrape_interval: 5s", s(5), s(5)),
            ("job_name: a\nscrape_interval: 1m", s(60), s(20)),
            ("job_name: a\nscrape_timeout: 25s", s(30), s(25)),
            (
                "job_name: a\nscrape_interval: 0s\nscrape_timeout: 0",
                s(30),
                s(20),
            ),
        ] {
            let c = resolve(yaml, &global).unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(
                (c.scrape_interval, c.scrape_timeout),
                (interval, timeout),
                "{yaml}"
            );
        }
        assert_eq!(
            resolve("job_name: x\nscrape_timeout: 31s", &global).unwrap_err(),
            r#"scrape timeout greater than scrape interval for scrape config with job name "x""#
        );
        assert!(resolve(
            "job_name: x\nscrape_interval: 5s\nscrape_timeout: 6s",
            &global
        )
        .is_err());
    }

    #[test]
    fn limits_follow_global() {
        let global = GlobalConfig {
            sample_limit: 100,
            body_size_limit: 1 << 20,
            ..GlobalConfig::default()
        };
        let c = resolve("job_name: a", &global).unwrap();
        assert_eq!((c.sample_limit, c.body_size_limit), (100, 1 << 20));
        let c = resolve(
            "job_name: a\nsample_limit: 7\nbody_size_limit: 2KiB",
            &global,
        )
        .unwrap();
        assert_eq!((c.sample_limit, c.body_size_limit), (7, 2048));
        // Negative is "no limit" in Prometheus, and does not fall back to the global one.
        let c = resolve("job_name: a\nbody_size_limit: -1B", &global).unwrap();
        assert_eq!(c.body_size_limit, 0);
    }

    #[test]
    fn fields() {
        let yaml = r#"
job_name: federate
honor_labels: yes
honor_timestamps: false
metrics_path: /federate
params:
  'match[]': ['{job="prometheus"}', '{__name__=~"job:.*"}']
  empty:
static_configs:
  - targets: ['a:9090', 'b:9090']
    labels: {dc: eu1}
  - targets: ['c:9090']
file_sd_configs:
  - files: ['targets/*.json']
"#;
        let c = resolve(yaml, &GlobalConfig::default()).unwrap();
        assert!(c.honor_labels);
        assert!(!c.honor_timestamps);
        assert_eq!(c.metrics_path, "/federate");
        assert_eq!(
            c.params.get("match[]").unwrap(),
            &["{job=\"prometheus\"}", "{__name__=~\"job:.*\"}"]
        );
        assert_eq!(c.params.get("empty").unwrap(), &Vec::<String>::new());
        let sources: Vec<_> = c.static_configs.iter().map(|g| g.source.as_str()).collect();
        assert_eq!(sources, ["0", "1"]);
        assert_eq!(c.static_configs[0].labels.get("dc"), Some("eu1"));
        assert_eq!(
            c.file_sd_configs[0].files,
            ["/etc/prometheus/targets/*.json"]
        );
    }

    #[test]
    fn errors() {
        for (yaml, message) in [
            ("scrape_interval: 1m", "job_name is empty"),
            ("job_name: ''", "job_name is empty"),
            (
                "job_name: a\nscheme: ftp",
                "invalid scheme \"ftp\" for scrape config with job name \"a\"",
            ),
            (
                "job_name: a\nscrape_intervl: 1m",
                "unknown field `scrape_intervl`, expected one of `job_name`",
            ),
            ("job_name: a\njob_name: b", "duplicate field `job_name`"),
            (
                "job_name: a\nstatic_configs: [~]",
                "empty or null section in static_configs",
            ),
            (
                "job_name: a\nfile_sd_configs:\n  -",
                "empty or null section in file_sd_configs",
            ),
            (
                "job_name: a\nrelabel_configs: [~]",
                "empty or null target relabeling rule in scrape config",
            ),
            (
                "job_name: a\nmetric_relabel_configs: [~]",
                "empty or null metric relabeling rule in scrape config",
            ),
            (
                "job_name: a\nstatic_configs: [{targets: ['http://h:80/metrics']}]",
                r#""http://h:80/metrics" is not a valid hostname"#,
            ),
            (
                "job_name: a\nstatic_configs: [{targets: [h], labels: {0: x}}]",
                r#""0" is not a valid label name"#,
            ),
            (
                "job_name: a\noauth2: {client_id: c, token_url: http://t/}",
                "oauth2: not supported by wasmfed yet",
            ),
            (
                "job_name: a\nproxy_url: http://proxy:3128",
                "proxy_url: not supported by wasmfed yet",
            ),
            (
                "job_name: a\ntls_config: {ca_flie: ca.pem}",
                "tls_config: unknown field `ca_flie`",
            ),
            (
                "job_name: a\nkubernetes_sd_configs: [{role: pod}]",
                "kubernetes_sd_configs: not supported by wasmfed yet",
            ),
            (
                "job_name: a\nsample_limit: -1",
                "invalid type: integer `-1`, expected u64",
            ),
            (
                "job_name: a\nscrape_interval: 1",
                r#"scrape_interval: not a valid duration string: "1""#,
            ),
        ] {
            let err = read(yaml)
                .err()
                .unwrap_or_else(|| panic!("{yaml}: accepted"));
            assert!(
                err.contains(message),
                "{yaml}\n  got: {err}\n  want: {message}"
            );
        }
        // A URL is fine when relabeling can still rewrite it.
        assert!(read(
            "job_name: a\nstatic_configs: [{targets: ['h/x']}]\nrelabel_configs: [{action: keep}]"
        )
        .is_ok());
    }

    #[test]
    fn fallback_protocol_and_newer_keys_follow_the_generation() {
        let v2 = GlobalConfig {
            compat: Compat::V2,
            ..GlobalConfig::default()
        };
        let v3 = GlobalConfig::default();
        let job = |key: &str| format!("job_name: a\n{key}");
        for (yaml, global, want) in [
            ("", &v2, Ok(None)),
            ("", &v3, Ok(None)),
            ("fallback_scrape_protocol:", &v3, Ok(None)),
            (
                "fallback_scrape_protocol: PrometheusText0.0.4",
                &v3,
                Ok(Some(ScrapeProtocol::PrometheusText0_0_4)),
            ),
            (
                "fallback_scrape_protocol: OpenMetricsText1.0.0",
                &v3,
                Ok(Some(ScrapeProtocol::OpenMetricsText1_0_0)),
            ),
            (
                "fallback_scrape_protocol: PrometheusText0.0.4",
                &v2,
                Err("field fallback_scrape_protocol not found in type config.ScrapeConfig"),
            ),
            (
                "fallback_scrape_protocol: text",
                &v3,
                Err(
                    "invalid fallback_scrape_protocol for scrape config with job name \"a\": \
                     unknown scrape protocol text, supported: [OpenMetricsText0.0.1",
                ),
            ),
            (
                "fallback_scrape_protocol: PrometheusProto",
                &v3,
                Err("PrometheusProto: not supported by wasmfed yet"),
            ),
            ("metric_name_validation_scheme: legacy", &v3, Ok(None)),
            (
                "metric_name_validation_scheme: legacy",
                &v2,
                Err("field metric_name_validation_scheme not found in type config.ScrapeConfig"),
            ),
            (
                "http_headers: {X-Scope-OrgID: {values: [a]}}",
                &v2,
                Err("field http_headers not found in type config.ScrapeConfig"),
            ),
            (
                "http_headers: {X-Scope-OrgID: {values: [a]}}",
                &v3,
                Ok(None),
            ),
            // Added during 2.x, not a difference of 3: accepted (and ignored) in both.
            ("scrape_protocols: [PrometheusText0.0.4]", &v2, Ok(None)),
        ] {
            let yaml = job(yaml);
            let got = read(&yaml).and_then(|raw| raw.resolve(global, Path::new("/")));
            match (got, want) {
                (Ok(c), Ok(fallback)) => {
                    assert_eq!(c.fallback_scrape_protocol, fallback, "{yaml}");
                    assert_eq!(c.compat, global.compat, "{yaml}");
                }
                (Err(e), Err(message)) => assert!(e.contains(message), "{yaml}: {e}"),
                (got, want) => panic!("{yaml}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn harmless_known_keys_are_kept_for_warnings() {
        let raw = read(
            "job_name: a\nfollow_redirects: true\noauth2: {}\nproxy_url: ''\nconsul_sd_configs: []",
        )
        .unwrap();
        let keys: Vec<_> = raw.ignored.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["oauth2", "proxy_url", "consul_sd_configs"]);
    }
}
