//! wasmfed's configuration: a Prometheus configuration file, read as Prometheus reads it.
//!
//! Operators point wasmfed at the prometheus.yml they already have, so the same file must load,
//! with the same defaults, the same validation and, as far as possible, the same error messages
//! (ported from Prometheus' `config/config.go`, `discovery/file`, `model/rulefmt` and
//! prometheus/common's durations; relabel rules are read by the shared `relabel-config` crate,
//! the same reader the relabel plugin uses, so both refuse a rule with the same words). Errors
//! name the file and, for anything found while reading the YAML, the key path, line and
//! column, e.g.
//! `loading config file "p.yml": scrape_configs[0]: unknown field `scrape_intervl`, expected one
//! of ... at line 5 column 5`.
//!
//! Reading happens in two steps, as in Prometheus: each section is read and checked on its own
//! (checks that concern one value or one mapping run while reading, so they get a position), then
//! scrape configs are resolved against `global` and relative paths against the file's directory.
//!
//! # Prometheus keys wasmfed reads
//! - top level: `global`, `scrape_configs`, `rule_files`, `alerting` ([`AlertingConfig`]),
//!   `remote_write` ([`RemoteWriteConfig`]; `sigv4`, `azuread`, `google_iam` and remote write
//!   2.0 refused), and wasmfed's `rule_plugins`, `admin` and `tenants`;
//! - `global`: `scrape_interval`, `scrape_timeout`, `evaluation_interval`, `external_labels`,
//!   `body_size_limit`, `sample_limit`;
//! - scrape config: `job_name`, `scrape_interval`, `scrape_timeout`, `metrics_path`, `scheme`
//!   (`http`; `https` is refused as not supported yet), `params`, `honor_labels`,
//!   `honor_timestamps`, `static_configs`, `file_sd_configs`, `relabel_configs`,
//!   `metric_relabel_configs`, `sample_limit`, `body_size_limit`, `fallback_scrape_protocol`
//!   (Prometheus 3's; any but `PrometheusProto`), and the HTTP client's `basic_auth`,
//!   `authorization`, `bearer_token`, `bearer_token_file`, `tls_config`, `follow_redirects`,
//!   `enable_http2` ([`HttpClientConfig`]).
//!
//! # Prometheus 2 or 3
//! A file is read as the generation `--query.compat` names. With 2, as Prometheus 2.42 reads
//! it: `$VAR` in external labels stays as written, and the keys of 3's differences that 2.42
//! does not know (`fallback_scrape_protocol`, `metric_name_validation_scheme`,
//! `metric_name_escaping_scheme`) are refused with its message. Scrape configs carry the
//! generation to the scrapes; remote write's queue and metadata defaults are the generation's
//! (2.42's, or the larger batches of 2.44 on), and so is its `enable_http2` default (off from
//! 3.0). With 3, `metric_name_validation_scheme` and `metric_name_escaping_scheme` decide per
//! job which names are stored and what a target is asked to escape ([`NameRules`]).
//!
//! # Prometheus keys wasmfed knows but does not implement
//! Accepted with a warning (said once, with its key path) when ignoring them cannot change what
//! wasmfed scrapes, stores or serves; otherwise an error "not supported by wasmfed yet".
//!
//! | key | accepted with a warning when |
//! |---|---|
//! | `remote_read`, `tracing`, `runtime`, `otlp` | always |
//! | `scrape_config_files`, `storage` (out-of-order window, exemplars) | empty |
//! | global `query_log_file`, `scrape_failure_log_file`, `keep_dropped_targets`, `scrape_protocols`, `scrape_native_histograms`, `always_scrape_classic_histograms` | always |
//! | global `rule_query_offset`, `target_limit`, `label_limit`, `label_name_length_limit`, `label_value_length_limit`, `convert_classic_histograms_to_nhcb`, `extra_scrape_metrics` | zero, false or empty |
//! | job `scrape_protocols`, `enable_compression`, `scrape_failure_log_file`, `keep_dropped_targets`, `scrape_native_histograms`, `always_scrape_classic_histograms`, `scrape_classic_histograms`, `native_histogram_bucket_limit`, `native_histogram_min_bucket_factor` | always |
//! | job `track_timestamps_staleness`, `convert_classic_histograms_to_nhcb`, `extra_scrape_metrics`, `target_limit`, `label_limit`, `label_name_length_limit`, `label_value_length_limit` | zero, false or empty |
//! | job `oauth2`, `proxy_url`, `no_proxy`, `proxy_from_environment`, `proxy_connect_header`, `http_headers` | empty (e.g. `oauth2: {}`) |
//! | job `*_sd_configs` other than `static_configs`, `file_sd_configs`, `http_sd_configs`, `dns_sd_configs`, `kubernetes_sd_configs` and `docker_sd_configs` | empty list |
//! | remote write `round_robin_dns` | always |
//! | remote write `queue_config.sample_age_limit` | zero |
//!
//! Any other key is an error. Names are checked with Prometheus' legacy scheme
//! (`[a-zA-Z_][a-zA-Z0-9_]*`), the one wasmfed's parser and `/federate` writer use.

mod admin;
mod alerting;
mod compat;
mod dns_sd;
mod docker_sd;
mod duration;
mod error;
mod federation;
mod file_sd;
mod global;
mod go_duration;
mod go_url;
mod handover;
mod http_client;
mod http_sd;
mod kubeconfig;
mod kubernetes_sd;
mod names;
mod oauth2;
mod paths;
mod plugins;
mod protocol;
mod proxy;
mod remote_write;
mod rules;
mod scrape;
mod size;
mod sources;
mod target_group;
mod tenants;
mod web_config;
mod yaml;

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

pub use admin::AdminConfig;
pub use alerting::{AlertingConfig, AlertmanagerConfig};
pub use dns_sd::{
    DnsRecordType, DnsSdConfig, DNS_MX_TARGET_LABEL, DNS_NAME_LABEL, DNS_NS_TARGET_LABEL,
    DNS_SRV_PORT_LABEL, DNS_SRV_TARGET_LABEL,
};
pub use docker_sd::{DockerFilter, DockerSdConfig};
pub use duration::{Duration, DurationError};
pub use error::{ConfigError, FileKind};
pub use federation::FederationConfig;
pub use file_sd::{read_file_sd, FileSdConfig, FILEPATH_LABEL};
pub use global::GlobalConfig;
pub use handover::HandoverConfig;
pub use http_client::{Auth, HttpClientConfig, Secret, TlsConfig, TlsVersion};
pub use http_sd::{parse_http_sd, HttpSdConfig, URL_LABEL};
pub use kubeconfig::{load_kubeconfig, Kubeconfig, KubeconfigError};
pub use kubernetes_sd::{KubernetesRole, KubernetesSdConfig, KubernetesSelector};
pub use names::{NameEscaping, NameRules, NameValidation};
pub use oauth2::OAuth2Config;
pub use plugins::{PluginRef, PluginSource, RulePluginRef};
pub use protocol::ScrapeProtocol;
pub use proxy::{Proxy, ProxyScheme, ProxyUrl};
pub use relabel_config::{Action as RelabelAction, RelabelConfig};
pub use remote_write::{MetadataConfig, QueueConfig, RemoteWriteConfig};
pub use rules::{
    check_rule_files_exist, load_rule_files, AlertingRule, Rule, RuleFile, RuleGroup, RuleKind,
};
pub use scrape::ScrapeConfig;
pub use size::{parse_base2_bytes, SizeError};
pub use target_group::TargetGroup;
pub use tenants::{TenantConfig, TenantLimits, DEFAULT_TENANT};
pub use web_config::{ClientAuth, RateLimit, TlsServerConfig, WebConfig};

use compat::{ignore_known, next_key, Ignored, Section};
use global::RawGlobal;
use paths::join_dir;
use scrape::RawScrapeConfig;
use yaml::{parse_scalar, KeySet};

use wasmfed_model::compat::Compat;

/// A validated configuration with every default filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub global: GlobalConfig,
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Glob patterns, already joined to the configuration file's directory; see
    /// [`load_rule_files`].
    pub rule_files: Vec<String>,
    /// wasmfed's own: rule-stage components of the operator's, run beside the rule files.
    pub rule_plugins: Vec<RulePluginRef>,
    /// Where alerts go (`alerting`).
    pub alerting: AlertingConfig,
    /// Where the node's own tenant's series are sent (`remote_write`); a tenant's are its own.
    pub remote_write: Vec<RemoteWriteConfig>,
    /// wasmfed's own: the admin API's credential.
    pub admin: AdminConfig,
    /// wasmfed's own: other teams' scrapes, rules and plugins, each in its own storage.
    pub tenants: Vec<TenantConfig>,
}

/// A loaded configuration and what the operator should hear about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub config: Config,
    /// Known Prometheus keys that were ignored, and empty environment variables in external
    /// labels; each said once, with its key path.
    pub warnings: Vec<String>,
    /// The text it was read from (secrets included), for `/api/v1/status/config`.
    pub source: String,
}

impl Config {
    /// Reads and validates a file as `compat`'s Prometheus generation does (the keys it knows,
    /// external label expansion; scrape configs carry it to the scrapes). Relative paths
    /// inside it (file_sd files, rule_files) are resolved against the file's directory, as
    /// Prometheus does.
    pub fn load(path: &Path, compat: Compat) -> Result<Loaded, ConfigError> {
        let text = paths::read(path, FileKind::Config)?;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        parse(&text, dir, path, &|name| std::env::var(name).ok(), compat)
    }

    /// Validates configuration text (tests, an embedded demo config); relative paths are
    /// resolved against `base_dir`, and errors name the file `<inline>`.
    pub fn from_yaml(text: &str, base_dir: &Path, compat: Compat) -> Result<Loaded, ConfigError> {
        parse(
            text,
            base_dir,
            Path::new("<inline>"),
            &|name| std::env::var(name).ok(),
            compat,
        )
    }
}

fn parse(
    text: &str,
    dir: &Path,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    compat: Compat,
) -> Result<Loaded, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        kind: FileKind::Config,
        path: file.to_path_buf(),
        message,
    };
    if let Some(message) = yaml::go_syntax_error(text) {
        return Err(invalid(message));
    }
    // Relabel regexes are compiled, and refused, as the generation would.
    let raw: RawConfig =
        relabel_config::with_release(compat.regex_release(), || yaml::from_str(text)).map_err(
            |error| ConfigError::Yaml {
                kind: FileKind::Config,
                path: file.to_path_buf(),
                error,
            },
        )?;
    let mut warnings: Vec<String> = raw.ignored.iter().map(|i| i.warning("")).collect();
    warnings.extend(raw.global.ignored.iter().map(|i| i.warning("global.")));
    let (global, env_warnings) = raw.global.resolve(env, compat).map_err(invalid)?;
    warnings.extend(env_warnings);

    let section = resolve_section(
        raw.scrape_configs,
        raw.rule_files,
        raw.rule_plugins,
        &global,
        dir,
    )
    .map_err(invalid)?;
    warnings.extend(section.warnings);
    let mut tenants: Vec<TenantConfig> = Vec::with_capacity(raw.tenants.len());
    for tenant in raw.tenants {
        let (tenant, tenant_warnings) = tenant.resolve(&global, dir).map_err(invalid)?;
        if tenants.iter().any(|t| t.name == tenant.name) {
            return Err(invalid(format!(
                "found multiple tenants named {:?}",
                tenant.name
            )));
        }
        warnings.extend(tenant_warnings);
        tenants.push(tenant);
    }
    let admin = raw.admin.resolve(dir).map_err(invalid)?;
    let (alerting, alerting_warnings) = raw.alerting.resolve(dir).map_err(invalid)?;
    warnings.extend(alerting_warnings);
    let (remote_write, remote_write_warnings) = raw
        .remote_write
        .resolve(dir, global.compat, "")
        .map_err(invalid)?;
    warnings.extend(remote_write_warnings);
    Ok(Loaded {
        config: Config {
            global,
            scrape_configs: section.scrape_configs,
            rule_files: section.rule_files,
            rule_plugins: section.rule_plugins,
            alerting,
            remote_write,
            admin,
            tenants,
        },
        warnings,
        source: text.to_owned(),
    })
}

/// What one tenant scrapes and records (the top level is the node's own tenant).
struct TenantSection {
    scrape_configs: Vec<ScrapeConfig>,
    rule_files: Vec<String>,
    rule_plugins: Vec<RulePluginRef>,
    warnings: Vec<String>,
}

/// Checks a tenant's scrape configs (job names unique), rule files and rule plugins.
fn resolve_section(
    raw_scrapes: Vec<RawScrapeConfig>,
    raw_rule_files: Vec<String>,
    raw_rule_plugins: Vec<plugins::RawPluginRef>,
    global: &GlobalConfig,
    dir: &Path,
) -> Result<TenantSection, String> {
    let mut warnings = Vec::new();
    let mut job_names = HashSet::new();
    let mut scrape_configs = Vec::with_capacity(raw_scrapes.len());
    for (i, scrape) in raw_scrapes.into_iter().enumerate() {
        let prefix = format!("scrape_configs[{i}].");
        warnings.extend(scrape.ignored.iter().map(|w| w.warning(&prefix)));
        if !job_names.insert(scrape.job_name().to_string()) {
            return Err(format!(
                "found multiple scrape configs with job name {:?}",
                scrape.job_name()
            ));
        }
        scrape_configs.push(scrape.resolve(global, dir)?);
    }
    let rule_files = raw_rule_files.iter().map(|f| join_dir(dir, f)).collect();
    let mut rule_plugins: Vec<RulePluginRef> = Vec::with_capacity(raw_rule_plugins.len());
    for (i, p) in raw_rule_plugins.into_iter().enumerate() {
        let p = p
            .resolve_rule(dir)
            .map_err(|e| format!("rule_plugins[{i}]: {e}"))?;
        if rule_plugins.iter().any(|q| q.plugin.name == p.plugin.name) {
            return Err(format!(
                "rule_plugins[{i}]: another rule plugin is already named {:?}",
                p.plugin.name
            ));
        }
        rule_plugins.push(p);
    }
    Ok(TenantSection {
        scrape_configs,
        rule_files,
        rule_plugins,
        warnings,
    })
}

/// The keys of the top level that wasmfed reads.
const KEYS: &[&str] = &[
    "global",
    "scrape_configs",
    "rule_files",
    "rule_plugins",
    "alerting",
    "remote_write",
    "admin",
    "tenants",
];

/// Prometheus' `patRulePath`: `*` only in the last path component.
static RULE_PATH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[^*]*(\*[^/]*)?$").expect("static regex"));

#[derive(Default)]
struct RawConfig {
    global: RawGlobal,
    scrape_configs: Vec<RawScrapeConfig>,
    rule_files: Vec<String>,
    rule_plugins: Vec<plugins::RawPluginRef>,
    alerting: alerting::RawAlerting,
    remote_write: remote_write::RawRemoteWrites,
    admin: admin::RawAdmin,
    tenants: Vec<tenants::RawTenant>,
    ignored: Vec<Ignored>,
}

/// A `rule_files` entry, checked where it is written.
struct RulePath(String);

impl<'de> Deserialize<'de> for RulePath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_scalar(d, "a rule file path", |s| {
            if RULE_PATH.is_match(s) {
                Ok(RulePath(s.to_string()))
            } else {
                Err(format!("invalid rule file path {s:?}"))
            }
        })
    }
}

impl<'de> Deserialize<'de> for RawConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ConfigVisitor)
    }
}

struct ConfigVisitor;

impl<'de> Visitor<'de> for ConfigVisitor {
    type Value = RawConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Prometheus configuration")
    }

    /// An empty file is the default configuration.
    fn visit_unit<E: de::Error>(self) -> Result<RawConfig, E> {
        Ok(RawConfig::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<RawConfig, E> {
        Ok(RawConfig::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawConfig, A::Error> {
        let mut raw = RawConfig::default();
        let mut seen = KeySet::default();
        while let Some(key) = next_key(&mut map, Section::Top, KEYS, &mut seen)? {
            match key.as_str() {
                "global" => raw.global = map.next_value()?,
                "scrape_configs" => {
                    let entries: Option<Vec<Option<RawScrapeConfig>>> = map.next_value()?;
                    raw.scrape_configs = entries
                        .unwrap_or_default()
                        .into_iter()
                        .map(|e| {
                            e.ok_or_else(|| {
                                de::Error::custom("empty or null scrape config section")
                            })
                        })
                        .collect::<Result<_, A::Error>>()?;
                }
                "rule_files" => {
                    let entries: Option<Vec<Option<RulePath>>> = map.next_value()?;
                    raw.rule_files = entries
                        .unwrap_or_default()
                        .into_iter()
                        .map(|e| e.map(|p| p.0).unwrap_or_default())
                        .collect();
                }
                "alerting" => raw.alerting = map.next_value()?,
                "remote_write" => raw.remote_write = map.next_value()?,
                "admin" => {
                    let admin: Option<admin::RawAdmin> = map.next_value()?;
                    raw.admin = admin.unwrap_or_default();
                }
                "tenants" => {
                    let entries: Option<Vec<tenants::RawTenant>> = map.next_value()?;
                    raw.tenants = entries.unwrap_or_default();
                }
                "rule_plugins" => {
                    let entries: Option<Vec<plugins::RawPluginRef>> = map.next_value()?;
                    raw.rule_plugins = entries.unwrap_or_default();
                }
                _ => raw
                    .ignored
                    .push(ignore_known(Section::Top, &key, &mut map)?),
            }
        }
        Ok(raw)
    }
}

#[cfg(test)]
mod tests;
