//! Docker service discovery (`docker_sd_configs`), read and checked as Prometheus 2.42's
//! `discovery/moby.DockerSDConfig` is: the same keys, the same defaults (`port` 80,
//! `host_networking_host` `localhost`, `refresh_interval` 1m), the same refusals with the same
//! messages (`host missing`, Go's `url.Parse` errors, the HTTP client's own).
//!
//! As in Prometheus, a `host` Go can parse but the Docker client cannot use (no `://`, an
//! unknown scheme) loads, and its discovery fails when it starts. The HTTP client settings
//! are read for every host but used only for `http://` and `https://` ones, as Prometheus
//! uses them. Talking to the Docker Engine is the scrape side's business.

use std::fmt;
use std::path::Path;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::duration::Duration;
use super::go_url::check_go_url;
use super::http_client::{self, HttpClientConfig, RawHttpClient};
use super::yaml::{zero_if_null, KeySet};

const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_PORT: i64 = 80;
const DEFAULT_HOST_NETWORKING_HOST: &str = "localhost";

/// One `filters` entry: containers listed must match one of `values` for `name` (the Docker
/// Engine's own filters, e.g. `label`, `name`, `network`, `status`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerFilter {
    #[serde(default, deserialize_with = "super::yaml::null_as_zero")]
    pub name: String,
    #[serde(default, deserialize_with = "super::yaml::null_as_zero")]
    pub values: Vec<String>,
}

/// One `docker_sd_configs` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerSdConfig {
    /// The Docker Engine's address: `unix:///path`, `tcp://host:port`, `http(s)://host:port`.
    pub host: String,
    /// The port of a container's targets on networks where it publishes no TCP port. Go's
    /// `int`, written as Prometheus formats it (a negative one as its unsigned twin).
    pub port: i64,
    pub filters: Vec<DockerFilter>,
    /// The `__address__` of containers in `host` network mode.
    pub host_networking_host: String,
    pub refresh_interval: Duration,
    /// Used for `http://` and `https://` hosts only, as Prometheus uses it.
    pub http_client: HttpClientConfig,
}

/// As written; the HTTP client's files are joined to the configuration's directory by
/// [`RawDockerSdConfig::resolve`].
pub(super) struct RawDockerSdConfig {
    host: String,
    port: i64,
    filters: Vec<DockerFilter>,
    host_networking_host: String,
    refresh_interval: Duration,
    http_client: RawHttpClient,
}

impl RawDockerSdConfig {
    pub(super) fn resolve(self, dir: &Path) -> Result<DockerSdConfig, String> {
        Ok(DockerSdConfig {
            host: self.host,
            port: self.port,
            filters: self.filters,
            host_networking_host: self.host_networking_host,
            refresh_interval: self.refresh_interval,
            http_client: self.http_client.resolve(dir)?,
        })
    }
}

impl<'de> Deserialize<'de> for RawDockerSdConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(DockerSdVisitor)
    }
}

struct DockerSdVisitor;

impl<'de> Visitor<'de> for DockerSdVisitor {
    type Value = RawDockerSdConfig;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a docker_sd_configs entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawDockerSdConfig, A::Error> {
        let mut raw = RawDockerSdConfig {
            host: String::new(),
            port: DEFAULT_PORT,
            filters: Vec::new(),
            host_networking_host: DEFAULT_HOST_NETWORKING_HOST.into(),
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            http_client: RawHttpClient::default(),
        };
        let mut seen = KeySet::default();
        while let Some(key) = map.next_key::<String>()? {
            seen.check(&key)?;
            match key.as_str() {
                "host" => raw.host = zero_if_null(map.next_value()?),
                "port" => raw.port = zero_if_null(map.next_value()?),
                "filters" => {
                    // A null entry is Go's zero `Filter`: no name, no values.
                    let filters: Option<Vec<Option<DockerFilter>>> = map.next_value()?;
                    raw.filters = (filters.into_iter().flatten())
                        .map(Option::unwrap_or_default)
                        .collect();
                }
                "host_networking_host" => {
                    raw.host_networking_host = zero_if_null(map.next_value()?)
                }
                "refresh_interval" => raw.refresh_interval = zero_if_null(map.next_value()?),
                k if http_client::KEYS.contains(&k) => raw.http_client.read(k, &mut map)?,
                other => {
                    return Err(de::Error::custom(format!(
                        "field {other} not found in type moby.plain"
                    )))
                }
            }
        }
        if raw.host.is_empty() {
            return Err(de::Error::custom("host missing"));
        }
        check_go_url(&raw.host).map_err(de::Error::custom)?;
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> Result<DockerSdConfig, String> {
        let raw: RawDockerSdConfig = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        raw.resolve(Path::new("/etc/prometheus"))
    }

    #[test]
    fn defaults_are_prometheus_defaults() {
        let c = read("host: unix:///var/run/docker.sock").unwrap();
        assert_eq!(
            c,
            DockerSdConfig {
                host: "unix:///var/run/docker.sock".into(),
                port: 80,
                filters: vec![],
                host_networking_host: "localhost".into(),
                refresh_interval: Duration::from_secs(60),
                http_client: HttpClientConfig::default(),
            }
        );
    }

    #[test]
    fn reads_every_key() {
        let c = read(
            "host: https://docker.example:2376\nport: 9100\nhost_networking_host: node1\n\
             refresh_interval: 15s\nfilters:\n  - {name: label, values: [prometheus-job]}\n\
             \x20 - {name: status, values: [running, paused]}\n  - ~\n\
             tls_config: {ca_file: ca.crt}\nbasic_auth: {username: u, password_file: pw}\n\
             follow_redirects: false\nenable_http2: false\nproxy_url: http://proxy:3128\n",
        )
        .unwrap();
        assert_eq!(c.host, "https://docker.example:2376");
        assert_eq!((c.port, c.host_networking_host.as_str()), (9100, "node1"));
        assert_eq!(c.refresh_interval, Duration::from_secs(15));
        assert_eq!(
            c.filters,
            [
                DockerFilter {
                    name: "label".into(),
                    values: vec!["prometheus-job".into()]
                },
                DockerFilter {
                    name: "status".into(),
                    values: vec!["running".into(), "paused".into()]
                },
                DockerFilter::default(),
            ]
        );
        assert!(c.http_client.auth.is_some());
        assert!(c.http_client.tls.ca.is_some());
        assert!(!c.http_client.follow_redirects && !c.http_client.enable_http2);
        assert_ne!(c.http_client.proxy, Default::default());

        let c = read("host: tcp://h:2375\nport: -1\nhost_networking_host: ~\nfilters: ~").unwrap();
        assert_eq!((c.port, c.host_networking_host.as_str()), (-1, ""));
        assert!(c.filters.is_empty());
    }

    /// Refusals checked against Debian's promtool 2.42 (`check config`).
    #[test]
    fn refuses_as_prometheus_refuses() {
        for (yaml, want) in [
            ("port: 80", "host missing"),
            ("host: ''", "host missing"),
            ("host: ~", "host missing"),
            ("host: '::'", r#"parse "::": missing protocol scheme"#),
            (
                "host: tcp://h:x",
                r#"parse "tcp://h:x": invalid port ":x" after host"#,
            ),
            (
                "host: unix:///x\nhots: a",
                "field hots not found in type moby.plain",
            ),
            (
                "host: unix:///x\nrole: nodes",
                "field role not found in type moby.plain",
            ),
            (
                "host: unix:///x\nfilters: [{name: a, value: [b]}]",
                "unknown field `value`",
            ),
            ("host: unix:///x\nport: abc", "invalid type: string \"abc\""),
            ("host: unix:///x\nhost: unix:///y", "duplicate field `host`"),
            (
                "host: http://h\nbearer_token: a\nbearer_token_file: b",
                "at most one of bearer_token & bearer_token_file",
            ),
        ] {
            let err = read(yaml).unwrap_err();
            assert!(err.contains(want), "{yaml}: {err}");
        }
    }
}
