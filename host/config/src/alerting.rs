//! The `alerting` section: where alerts go, as Prometheus 2.42's `config.AlertingConfig` reads
//! it.
//!
//! `alert_relabel_configs` rewrite (or drop) every alert before it is sent; each entry of
//! `alertmanagers` is a set of Alertmanagers found as a scrape job finds targets
//! (`static_configs`, `file_sd_configs`, `http_sd_configs`, `dns_sd_configs`,
//! `kubernetes_sd_configs`, `docker_sd_configs`, then
//! `relabel_configs` on the discovered addresses) and spoken to with the same HTTP client keys
//! (TLS, basic auth, authorization). Every alert goes to every Alertmanager of every set.
//! Only Alertmanager's v2 API is spoken: v1 is gone from Alertmanager since 0.27 and from
//! Prometheus since 3.0.

use std::fmt;
use std::path::Path;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::compat::{ignore_known, next_key, Ignored, Section};
use super::dns_sd::DnsSdConfig;
use super::docker_sd::DockerSdConfig;
use super::duration::Duration;
use super::file_sd::FileSdConfig;
use super::http_client::{self, HttpClientConfig, RawHttpClient};
use super::http_sd::HttpSdConfig;
use super::kubernetes_sd::KubernetesSdConfig;
use super::sources::{self, RawSources};
use super::target_group::TargetGroup;
use super::yaml::{zero_if_null, KeySet};
use relabel_config::RelabelConfig;

/// Where alerts go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertingConfig {
    /// Applied to every alert before it is queued, after external labels are attached.
    pub alert_relabel_configs: Vec<RelabelConfig>,
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

/// One set of Alertmanagers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertmanagerConfig {
    /// `http` or `https`.
    pub scheme: String,
    /// Put in front of `/api/v2/alerts`.
    pub path_prefix: String,
    /// How long one push may take (10s).
    pub timeout: Duration,
    pub static_configs: Vec<TargetGroup>,
    pub file_sd_configs: Vec<FileSdConfig>,
    pub http_sd_configs: Vec<HttpSdConfig>,
    pub dns_sd_configs: Vec<DnsSdConfig>,
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
    pub docker_sd_configs: Vec<DockerSdConfig>,
    /// Applied to each discovered Alertmanager's labels (`__address__`, `__scheme__`,
    /// `__alerts_path__`).
    pub relabel_configs: Vec<RelabelConfig>,
    pub http_client: HttpClientConfig,
}

/// The `alerting` mapping as written.
#[derive(Default)]
pub(super) struct RawAlerting {
    alert_relabel_configs: Vec<RelabelConfig>,
    alertmanagers: Vec<RawAlertmanager>,
}

impl RawAlerting {
    /// Resolves relative paths against the configuration's directory; returns the warnings of
    /// ignored keys, named by their path.
    pub(super) fn resolve(self, dir: &Path) -> Result<(AlertingConfig, Vec<String>), String> {
        let mut warnings = Vec::new();
        let mut alertmanagers = Vec::with_capacity(self.alertmanagers.len());
        for (i, am) in self.alertmanagers.into_iter().enumerate() {
            let prefix = format!("alerting.alertmanagers[{i}].");
            warnings.extend(am.ignored.iter().map(|w| w.warning(&prefix)));
            alertmanagers.push(am.resolve(dir)?);
        }
        Ok((
            AlertingConfig {
                alert_relabel_configs: self.alert_relabel_configs,
                alertmanagers,
            },
            warnings,
        ))
    }
}

struct RawAlertmanager {
    scheme: String,
    path_prefix: String,
    timeout: Duration,
    sources: RawSources,
    relabel_configs: Vec<RelabelConfig>,
    http_client: RawHttpClient,
    ignored: Vec<Ignored>,
}

impl RawAlertmanager {
    fn resolve(self, dir: &Path) -> Result<AlertmanagerConfig, String> {
        let sources = self.sources.resolve(dir)?;
        Ok(AlertmanagerConfig {
            scheme: self.scheme,
            path_prefix: self.path_prefix,
            timeout: self.timeout,
            static_configs: sources.static_configs,
            file_sd_configs: sources.file_sd_configs,
            http_sd_configs: sources.http_sd_configs,
            dns_sd_configs: sources.dns_sd_configs,
            kubernetes_sd_configs: sources.kubernetes_sd_configs,
            docker_sd_configs: sources.docker_sd_configs,
            relabel_configs: self.relabel_configs,
            http_client: self.http_client.resolve(dir)?,
        })
    }
}

const ALERTING_KEYS: &[&str] = &["alert_relabel_configs", "alertmanagers"];

impl<'de> Deserialize<'de> for RawAlerting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AlertingVisitor)
    }
}

struct AlertingVisitor;

impl<'de> Visitor<'de> for AlertingVisitor {
    type Value = RawAlerting;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an alerting section")
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawAlerting, E> {
        Ok(RawAlerting::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawAlerting, A::Error> {
        let mut raw = RawAlerting::default();
        let mut seen = KeySet::default();
        while let Some(key) = next_key(&mut map, Section::Alerting, ALERTING_KEYS, &mut seen)? {
            match key.as_str() {
                "alert_relabel_configs" => {
                    raw.alert_relabel_configs =
                        non_null(map.next_value()?, "empty or null alert relabeling rule")
                            .map_err(de::Error::custom)?;
                }
                "alertmanagers" => {
                    raw.alertmanagers =
                        non_null(map.next_value()?, "empty or null section in alertmanagers")
                            .map_err(de::Error::custom)?;
                }
                _ => unreachable!("next_key admits only ALERTING_KEYS"),
            }
        }
        Ok(raw)
    }
}

/// The keys of an Alertmanager set that are its own (its HTTP client's follow).
const OWN_KEYS: [&str; 11] = [
    "scheme",
    "path_prefix",
    "timeout",
    "api_version",
    "static_configs",
    "file_sd_configs",
    "http_sd_configs",
    "dns_sd_configs",
    "kubernetes_sd_configs",
    "docker_sd_configs",
    "relabel_configs",
];

const KEYS: &[&str] = &super::scrape::concat_keys::<11, 13, 24>(OWN_KEYS, http_client::KEYS);

impl<'de> Deserialize<'de> for RawAlertmanager {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(AlertmanagerVisitor)
    }
}

struct AlertmanagerVisitor;

impl<'de> Visitor<'de> for AlertmanagerVisitor {
    type Value = RawAlertmanager;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an Alertmanager config")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawAlertmanager, A::Error> {
        // Prometheus' DefaultAlertmanagerConfig.
        let mut raw = RawAlertmanager {
            scheme: "http".into(),
            path_prefix: String::new(),
            timeout: Duration::from_secs(10),
            sources: RawSources::default(),
            relabel_configs: Vec::new(),
            http_client: RawHttpClient::default(),
            ignored: Vec::new(),
        };
        let mut seen = KeySet::default();
        while let Some(key) = next_key(&mut map, Section::Alertmanager, KEYS, &mut seen)? {
            match key.as_str() {
                "scheme" => raw.scheme = zero_if_null(map.next_value()?),
                "path_prefix" => raw.path_prefix = zero_if_null(map.next_value()?),
                "timeout" => raw.timeout = zero_if_null(map.next_value()?),
                "api_version" => {
                    let version: Option<String> = map.next_value()?;
                    match version.as_deref() {
                        None | Some("v2") => {}
                        Some("v1") => {
                            return Err(de::Error::custom(
                                "api_version v1: not supported by wasmfed (Alertmanager's v1 API \
                                 is gone since Alertmanager 0.27; use v2)",
                            ))
                        }
                        Some(other) => {
                            return Err(de::Error::custom(format!(
                                "expected Alertmanager api version to be one of [v1 v2] but got {other}"
                            )))
                        }
                    }
                }
                k if sources::KEYS.contains(&k) => raw.sources.read(k, &mut map)?,
                "relabel_configs" => {
                    raw.relabel_configs = non_null(
                        map.next_value()?,
                        "empty or null Alertmanager target relabeling rule",
                    )
                    .map_err(de::Error::custom)?;
                }
                k if http_client::KEYS.contains(&k) => raw.http_client.read(k, &mut map)?,
                _ => raw
                    .ignored
                    .push(ignore_known(Section::Alertmanager, &key, &mut map)?),
            }
        }
        match raw.scheme.as_str() {
            "http" | "https" => {}
            other => {
                return Err(de::Error::custom(format!(
                "invalid scheme {other:?} for Alertmanager config: must be \"http\" or \"https\""
            )))
            }
        }
        raw.sources
            .check_static(!raw.relabel_configs.is_empty())
            .map_err(de::Error::custom)?;
        Ok(raw)
    }
}

use super::scrape::non_null;

#[cfg(test)]
#[path = "alerting/tests.rs"]
mod tests;
