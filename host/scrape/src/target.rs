//! Targets: from a discovered address and its group labels to the label set and URL scraped.
//!
//! Mirrors Prometheus' `PopulateLabels`: the job's settings are added as `__`-labels where the
//! group did not set them, the target stage (relabeling, shard selection) may rewrite or drop
//! the set, then `__meta_*` labels go, a port is added to a bare address (Prometheus 2 only),
//! `instance` defaults to the address, and the public labels are those not starting with `__`.

use std::fmt;
use std::hash::Hasher;
use std::time::Duration;

use wasmfed_config::ScrapeConfig;
use wasmfed_model::compat::Compat;
use wasmfed_model::labels::{INSTANCE, JOB};
use wasmfed_model::Labels;

pub const ADDRESS: &str = "__address__";
pub const SCHEME: &str = "__scheme__";
pub const METRICS_PATH: &str = "__metrics_path__";
pub const SCRAPE_INTERVAL: &str = "__scrape_interval__";
pub const SCRAPE_TIMEOUT: &str = "__scrape_timeout__";
pub const PARAM_PREFIX: &str = "__param_";
pub const META_PREFIX: &str = "__meta_";
pub const RESERVED_PREFIX: &str = "__";

/// Why a discovered target cannot be scraped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("no address")]
    NoAddress,
    #[error("invalid address {0:?}: {1}")]
    BadAddress(String, &'static str),
    #[error("invalid {label} {value:?}: {reason}")]
    BadSetting {
        label: &'static str,
        value: String,
        reason: String,
    },
}

/// The labels a target has before the target stage runs: group labels, `__address__` and the
/// job's settings (each only where the group did not set it already).
pub fn discovered_labels(cfg: &ScrapeConfig, address: &str, group_labels: &Labels) -> Labels {
    let mut labels = group_labels.clone();
    // Prometheus' label builder deletes a label set to "": a discovered empty value is absent.
    labels.retain(|l| !l.value.is_empty());
    labels.set(ADDRESS, address);
    let mut set_default = |name: &str, value: String| {
        if labels.get(name).is_none_or(str::is_empty) {
            labels.set(name, value);
        }
    };
    set_default(JOB, cfg.job_name.clone());
    set_default(SCHEME, cfg.scheme.clone());
    set_default(METRICS_PATH, cfg.metrics_path.clone());
    set_default(SCRAPE_INTERVAL, cfg.scrape_interval.to_string());
    set_default(SCRAPE_TIMEOUT, cfg.scrape_timeout.to_string());
    for (name, values) in &cfg.params {
        if let Some(first) = values.first() {
            set_default(&format!("{PARAM_PREFIX}{name}"), first.clone());
        }
    }
    labels
}

/// A target ready to scrape: its final labels and what they say about how to scrape it.
/// A target is what it scrapes: its labels after the target stage (`__meta_*` gone) and its
/// URL, as Prometheus hashes it (`Target.hash`). Discovered label sets that relabeling makes
/// identical are one target, scraped once; which discovered set it shows is the latest's.
#[derive(Clone, Debug)]
pub struct Target {
    /// Labels before the target stage, for `/api/v1/targets` and relabel debugging.
    pub discovered: Labels,
    /// Labels after the target stage, `__` labels included (they carry scheme, path, params).
    pub labels: Labels,
    /// The labels attached to every scraped series: `labels` without the `__` ones.
    pub public: Labels,
    pub url: String,
    pub interval: Duration,
    pub timeout: Duration,
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        self.labels == other.labels && self.url == other.url
    }
}

impl Eq for Target {}

impl std::hash::Hash for Target {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.labels.hash(state);
        self.url.hash(state);
    }
}

impl Target {
    /// Finishes a target from the labels the target stage returned.
    pub fn from_relabeled(
        cfg: &ScrapeConfig,
        discovered: Labels,
        mut labels: Labels,
    ) -> Result<Target, TargetError> {
        let address = labels.get(ADDRESS).unwrap_or("").to_owned();
        if address.is_empty() {
            return Err(TargetError::NoAddress);
        }
        let scheme = labels.get(SCHEME).unwrap_or("http").to_owned();
        let address = with_default_port(&address, &scheme, cfg.compat)?;
        labels.set(ADDRESS, address.clone());
        labels.retain(|l| !l.name.starts_with(META_PREFIX));
        if labels.get(INSTANCE).is_none_or(str::is_empty) {
            labels.set(INSTANCE, address.clone());
        }
        let interval = duration_label(&labels, SCRAPE_INTERVAL, cfg.scrape_interval.into())?;
        let timeout = duration_label(&labels, SCRAPE_TIMEOUT, cfg.scrape_timeout.into())?;
        if timeout > interval {
            return Err(TargetError::BadSetting {
                label: SCRAPE_TIMEOUT,
                value: labels.get(SCRAPE_TIMEOUT).unwrap_or("").to_owned(),
                reason: "scrape timeout greater than scrape interval".into(),
            });
        }
        let url = scrape_url(cfg, &labels, &scheme, &address);
        let public = Labels::from_sorted(
            labels
                .iter()
                .filter(|l| !l.name.starts_with(RESERVED_PREFIX) && !l.value.is_empty())
                .cloned()
                .collect(),
        );
        Ok(Target {
            discovered,
            labels,
            public,
            url,
            interval,
            timeout,
        })
    }

    /// A hash of the target's identity, stable across runs: it places the target's scrapes in
    /// its interval so a restart keeps the same spacing.
    pub fn identity_hash(&self) -> u64 {
        let mut h = Fnv64::default();
        for l in &self.labels {
            h.write(l.name.as_bytes());
            h.write(&[0xff]);
            h.write(l.value.as_bytes());
            h.write(&[0xff]);
        }
        h.write(self.url.as_bytes());
        h.finish()
    }

    /// The delay until this target's next scrape slot: slots sit at a fixed phase within the
    /// interval, derived from the target and the node, so targets spread over the interval.
    pub fn next_slot(&self, now_ns: u128, node_seed: u64) -> Duration {
        let interval = self.interval.as_nanos().max(1);
        let phase = u128::from(self.identity_hash() ^ node_seed) % interval;
        let into = now_ns % interval;
        let wait = (phase + interval - into) % interval;
        Duration::from_nanos(wait as u64)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

fn duration_label(
    labels: &Labels,
    name: &'static str,
    default: Duration,
) -> Result<Duration, TargetError> {
    match labels.get(name) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<wasmfed_config::Duration>()
            .map(Into::into)
            .map_err(|e| TargetError::BadSetting {
                label: name,
                value: v.to_owned(),
                reason: e.to_string(),
            }),
    }
}

/// Adds the scheme's default port to a bare host, as Prometheus 2.x does; 3.x leaves the
/// address as it is (what 2.x did with `--enable-feature=no-default-scrape-port`).
fn with_default_port(address: &str, scheme: &str, compat: Compat) -> Result<String, TargetError> {
    if address.contains('/') {
        return Err(TargetError::BadAddress(
            address.into(),
            "must not contain a path",
        ));
    }
    let has_port = if let Some(rest) = address.strip_prefix('[') {
        rest.split_once(']')
            .is_some_and(|(_, after)| after.starts_with(':'))
    } else {
        address.contains(':')
    };
    if has_port || compat == Compat::V3 {
        return Ok(address.to_owned());
    }
    let port = if scheme == "https" { "443" } else { "80" };
    Ok(format!("{address}:{port}"))
}

/// `scheme://address/path?params`, where `__param_<k>` labels override the job's `params`.
fn scrape_url(cfg: &ScrapeConfig, labels: &Labels, scheme: &str, address: &str) -> String {
    let path = labels.get(METRICS_PATH).unwrap_or(&cfg.metrics_path);
    let mut query = form_urlencoded::Serializer::new(String::new());
    let mut names: Vec<&str> = cfg.params.keys().map(String::as_str).collect();
    for l in labels {
        if let Some(name) = l.name.strip_prefix(PARAM_PREFIX) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names.sort_unstable();
    for name in names {
        let label = labels.get(&format!("{PARAM_PREFIX}{name}"));
        let configured = cfg.params.get(name);
        match (label, configured) {
            // The label replaces the first value; the others stay, as in Prometheus.
            (Some(first), Some(values)) => {
                query.append_pair(name, first);
                for v in values.iter().skip(1) {
                    query.append_pair(name, v);
                }
            }
            (Some(first), None) => {
                query.append_pair(name, first);
            }
            (None, Some(values)) => {
                for v in values {
                    query.append_pair(name, v);
                }
            }
            (None, None) => {}
        }
    }
    let query = query.finish();
    let sep = if path.starts_with('/') { "" } else { "/" };
    if query.is_empty() {
        format!("{scheme}://{address}{sep}{path}")
    } else {
        format!("{scheme}://{address}{sep}{path}?{query}")
    }
}

/// FNV-1a: tiny, stable across Rust versions (unlike `DefaultHasher`), good enough to spread slots.
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// A stable hash of arbitrary text, for the node's scrape-slot seed.
pub fn stable_hash(text: &str) -> u64 {
    let mut h = Fnv64::default();
    h.write(text.as_bytes());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_config::Config;

    fn job(yaml: &str) -> ScrapeConfig {
        job_as(yaml, Compat::V2)
    }

    fn job_as(yaml: &str, compat: Compat) -> ScrapeConfig {
        let text = format!("scrape_configs:\n  - job_name: j\n{yaml}");
        let mut loaded = Config::from_yaml(&text, std::path::Path::new("."), compat).unwrap();
        loaded.config.scrape_configs.remove(0)
    }

    fn target(
        cfg: &ScrapeConfig,
        address: &str,
        group: &[(&str, &str)],
    ) -> Result<Target, TargetError> {
        let discovered =
            discovered_labels(cfg, address, &Labels::from_pairs(group.iter().copied()));
        Target::from_relabeled(cfg, discovered.clone(), discovered)
    }

    #[test]
    fn labels_and_urls() {
        struct Case {
            yaml: &'static str,
            address: &'static str,
            group: &'static [(&'static str, &'static str)],
            url: &'static str,
            public: &'static [(&'static str, &'static str)],
        }
        let cases = [
            Case {
                yaml: "    scrape_interval: 15s\n",
                address: "h:9100",
                group: &[],
                url: "http://h:9100/metrics",
                public: &[("instance", "h:9100"), ("job", "j")],
            },
            Case {
                yaml: "    metrics_path: /federate\n    params:\n      'match[]': ['{job=\"a\"}', 'up']\n",
                address: "h:9090",
                group: &[("dc", "eu")],
                url: "http://h:9090/federate?match%5B%5D=%7Bjob%3D%22a%22%7D&match%5B%5D=up",
                public: &[("dc", "eu"), ("instance", "h:9090"), ("job", "j")],
            },
            Case {
                yaml: "",
                address: "bare-host",
                group: &[("__meta_x", "gone"), ("instance", "custom"), ("__param_module", "m")],
                url: "http://bare-host:80/metrics?module=m",
                public: &[("instance", "custom"), ("job", "j")],
            },
            Case {
                yaml: "",
                address: "[::1]",
                group: &[("__metrics_path__", "/x"), ("job", "override")],
                url: "http://[::1]:80/x",
                public: &[("instance", "[::1]:80"), ("job", "override")],
            },
        ];
        for c in cases {
            let cfg = job(c.yaml);
            let t = target(&cfg, c.address, c.group).unwrap();
            assert_eq!(t.url, c.url);
            assert_eq!(
                t.public,
                Labels::from_pairs(c.public.iter().copied()),
                "{}",
                c.url
            );
            assert_eq!(t.discovered.get(ADDRESS), Some(c.address));
        }
    }

    #[test]
    fn only_prometheus_2_adds_a_default_port() {
        for (compat, address, group, url, instance) in [
            (Compat::V2, "h", &[][..], "http://h:80/metrics", "h:80"),
            (Compat::V3, "h", &[], "http://h/metrics", "h"),
            (
                Compat::V2,
                "h",
                &[("__scheme__", "https")],
                "https://h:443/metrics",
                "h:443",
            ),
            (
                Compat::V3,
                "h",
                &[("__scheme__", "https")],
                "https://h/metrics",
                "h",
            ),
            (
                Compat::V2,
                "[::1]",
                &[],
                "http://[::1]:80/metrics",
                "[::1]:80",
            ),
            (Compat::V3, "[::1]", &[], "http://[::1]/metrics", "[::1]"),
            // A port as written stays in both, even the scheme's default.
            (Compat::V2, "h:80", &[], "http://h:80/metrics", "h:80"),
            (Compat::V3, "h:80", &[], "http://h:80/metrics", "h:80"),
            (Compat::V3, "h:9100", &[], "http://h:9100/metrics", "h:9100"),
        ] {
            let t = target(&job_as("", compat), address, group).unwrap();
            assert_eq!(
                (t.url.as_str(), t.public.get(INSTANCE)),
                (url, Some(instance)),
                "{compat:?} {address} {group:?}"
            );
            assert_eq!(t.labels.get(ADDRESS), Some(instance));
        }
        assert!(matches!(
            target(&job_as("", Compat::V3), "h/path", &[]),
            Err(TargetError::BadAddress(..))
        ));
    }

    #[test]
    fn job_settings_become_labels() {
        let cfg = job("    scrape_interval: 30s\n    scrape_timeout: 5s\n");
        let l = discovered_labels(&cfg, "h:1", &Labels::new());
        assert_eq!(l.get(SCRAPE_INTERVAL), Some("30s"));
        assert_eq!(l.get(SCRAPE_TIMEOUT), Some("5s"));
        assert_eq!(l.get(SCHEME), Some("http"));
        assert_eq!(l.get(METRICS_PATH), Some("/metrics"));
        let t = target(&cfg, "h:1", &[]).unwrap();
        assert_eq!(
            (t.interval, t.timeout),
            (Duration::from_secs(30), Duration::from_secs(5))
        );
    }

    #[test]
    fn a_target_is_its_labels_and_url() {
        let cfg = job("");
        let with = |address: &str, meta: &str, public: &[(&str, &str)]| {
            let mut discovered =
                discovered_labels(&cfg, address, &Labels::from_pairs(public.iter().copied()));
            discovered.set("__meta_source", meta);
            let mut relabeled = discovered.clone();
            relabeled.set("__meta_source", "");
            relabeled.retain(|l| !l.value.is_empty());
            Target::from_relabeled(&cfg, discovered, relabeled).unwrap()
        };
        let a = with("h:1", "file-a", &[("dc", "eu")]);
        for (other, same) in [
            (with("h:1", "file-b", &[("dc", "eu")]), true),
            (with("h:1", "file-a", &[("dc", "us")]), false),
            (with("h:2", "file-a", &[("dc", "eu")]), false),
        ] {
            assert_eq!(a == other, same, "{other:?}");
            let mut set = std::collections::HashSet::new();
            set.insert(a.clone());
            assert_eq!(set.contains(&other), same, "{other:?}");
        }
    }

    #[test]
    fn unscrapable_targets_are_errors() {
        let cfg = job("");
        assert_eq!(target(&cfg, "", &[]), Err(TargetError::NoAddress));
        assert!(matches!(
            target(&cfg, "h:1/path", &[]),
            Err(TargetError::BadAddress(..))
        ));
        let bad = target(&cfg, "h:1", &[("__scrape_timeout__", "2m")]).unwrap_err();
        assert!(
            bad.to_string().contains("greater than scrape interval"),
            "{bad}"
        );
    }

    #[test]
    fn slots_spread_within_the_interval_and_are_stable() {
        let cfg = job("    scrape_interval: 10s\n");
        let a = target(&cfg, "a:1", &[]).unwrap();
        let b = target(&cfg, "b:1", &[]).unwrap();
        let now = 1_700_000_000_123_456_789u128;
        let wait_a = a.next_slot(now, 7);
        assert!(wait_a < Duration::from_secs(10));
        assert_eq!(wait_a, a.next_slot(now, 7));
        assert_ne!(wait_a, b.next_slot(now, 7));
        // One interval later the slot is the same phase.
        assert_eq!(a.next_slot(now + 10_000_000_000, 7), wait_a);
    }
}
