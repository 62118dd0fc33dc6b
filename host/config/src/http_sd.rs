//! HTTP service discovery (`http_sd_configs`), as Prometheus' `discovery/http` reads it: a URL
//! answering a JSON list of target groups, fetched every `refresh_interval` with the same HTTP
//! client settings (TLS, authentication) a scrape config has.
//!
//! The checks and messages are Prometheus': a URL is required, with an http or https scheme
//! and a host. Fetching and the `__meta_url` label are the scrape side's business.

use std::fmt;
use std::path::Path;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::duration::Duration;
use super::http_client::{self, HttpClientConfig, RawHttpClient};
use super::target_group::{RawTargetGroup, TargetGroup};
use super::yaml::{zero_if_null, KeySet};

/// Label naming the URL a target group came from.
pub const URL_LABEL: &str = "__meta_url";

const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// One `http_sd_configs` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSdConfig {
    pub url: String,
    pub refresh_interval: Duration,
    pub http_client: HttpClientConfig,
}

/// As written; the HTTP client's files are joined to the configuration's directory by
/// [`RawHttpSdConfig::resolve`].
pub(super) struct RawHttpSdConfig {
    url: String,
    refresh_interval: Duration,
    http_client: RawHttpClient,
}

impl RawHttpSdConfig {
    pub(super) fn resolve(self, dir: &Path) -> Result<HttpSdConfig, String> {
        Ok(HttpSdConfig {
            url: self.url,
            refresh_interval: self.refresh_interval,
            http_client: self.http_client.resolve(dir)?,
        })
    }
}

impl<'de> Deserialize<'de> for RawHttpSdConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(HttpSdVisitor)
    }
}

struct HttpSdVisitor;

impl<'de> Visitor<'de> for HttpSdVisitor {
    type Value = RawHttpSdConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an http_sd_configs entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHttpSdConfig, A::Error> {
        let mut raw = RawHttpSdConfig {
            url: String::new(),
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            http_client: RawHttpClient::default(),
        };
        let mut seen = KeySet::default();
        while let Some(key) = map.next_key::<String>()? {
            seen.check(&key)?;
            match key.as_str() {
                "url" => raw.url = zero_if_null(map.next_value()?),
                "refresh_interval" => raw.refresh_interval = zero_if_null(map.next_value()?),
                k if http_client::KEYS.contains(&k) => raw.http_client.read(k, &mut map)?,
                other => {
                    return Err(de::Error::custom(format!(
                        "field {other} not found in type http.plain"
                    )))
                }
            }
        }
        check_url(&raw.url).map_err(de::Error::custom)?;
        Ok(raw)
    }
}

/// The target groups of an HTTP SD answer from `url`: a JSON list of `{targets, labels}`,
/// each group's source `<url>:<index>` and its `__meta_url` the URL, as in Prometheus.
pub fn parse_http_sd(body: &[u8], url: &str) -> Result<Vec<TargetGroup>, String> {
    let raw: Option<Vec<Option<RawTargetGroup>>> =
        serde_json::from_slice(body).map_err(|e| e.to_string())?;
    raw.unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, group)| {
            let mut group = group
                .ok_or("nil target group item found")?
                .into_group(format!("{url}:{i}"));
            group.labels.set(URL_LABEL, url);
            Ok(group)
        })
        .collect()
}

/// Prometheus' `SDConfig.UnmarshalYAML` URL checks (remote write's too).
pub(super) fn check_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Err("URL is missing".into());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("URL scheme must be 'http' or 'https'".into());
    };
    if scheme != "http" && scheme != "https" {
        return Err("URL scheme must be 'http' or 'https'".into());
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() {
        return Err("host is missing in URL".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> Result<HttpSdConfig, String> {
        let raw: RawHttpSdConfig = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        raw.resolve(Path::new("/etc/prometheus"))
    }

    #[test]
    fn reads_url_refresh_and_client() {
        let c = read("url: http://sd.example/targets").unwrap();
        assert_eq!(c.refresh_interval, Duration::from_secs(60));
        assert_eq!(c.http_client, HttpClientConfig::default());
        let c =
            read("url: https://sd.example/t\nrefresh_interval: 15s\nbearer_token_file: sd.token\n")
                .unwrap();
        assert_eq!(c.refresh_interval, Duration::from_secs(15));
        assert!(c.http_client.auth.is_some());
    }

    #[test]
    fn answers_become_target_groups() {
        let url = "http://sd/t";
        let groups = parse_http_sd(
            br#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}, {"targets": []}]"#,
            url,
        )
        .unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].targets, ["a:1", "b:2"]);
        assert_eq!(groups[0].source, "http://sd/t:0");
        assert_eq!(groups[0].labels.get("env"), Some("prod"));
        assert_eq!(groups[0].labels.get(URL_LABEL), Some(url));
        assert_eq!(parse_http_sd(b"null", url).unwrap(), vec![]);
        assert_eq!(
            parse_http_sd(b"[null]", url).unwrap_err(),
            "nil target group item found"
        );
        assert!(parse_http_sd(br#"[{"targets": ["a:1"], "labels": {"0x": "y"}}]"#, url).is_err());
        assert!(parse_http_sd(b"{}", url).is_err());
    }

    #[test]
    fn refuses_as_prometheus_refuses() {
        for (yaml, want) in [
            ("refresh_interval: 1m", "URL is missing"),
            ("url: ftp://sd/x", "URL scheme must be 'http' or 'https'"),
            ("url: sd.example/x", "URL scheme must be 'http' or 'https'"),
            ("url: http:///x", "host is missing in URL"),
            ("url: http://sd/x\nurls: [a]", "field urls not found"),
            (
                "url: http://sd/x\nbearer_token: a\nbearer_token_file: b",
                "at most one of bearer_token & bearer_token_file",
            ),
        ] {
            let err = read(yaml).unwrap_err();
            assert!(err.contains(want), "{yaml}: {err}");
        }
    }
}
