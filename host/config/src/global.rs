//! The `global` section: defaults for every scrape config and the node's external labels.
//!
//! Prometheus' rules, from `config.go`: a zero or missing interval takes the default (1m), the
//! timeout may not exceed the interval and otherwise defaults to `min(10s, interval)`, and
//! `$VAR`/`${VAR}` in external label values is replaced from the environment (`$$` is a `$`),
//! as Prometheus 3 always does; 2.42 keeps them as written (unless started with
//! `--enable-feature=expand-external-labels`), and so does `--query.compat=2`.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::compat::{ignore_known, next_key, refuse_unknown_to_2_42, Ignored, Section};
use super::duration::Duration;
use super::names::{GlobalNames, RawNames};
use super::size::Size;
use super::yaml::{zero_if_null, KeySet, LabelSet};
use wasmfed_model::compat::Compat;
use wasmfed_model::Labels;

const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_EVALUATION_INTERVAL: Duration = Duration::from_secs(60);

/// The keys of `global` that wasmfed reads.
const KEYS: &[&str] = &[
    "scrape_interval",
    "scrape_timeout",
    "evaluation_interval",
    "external_labels",
    "body_size_limit",
    "sample_limit",
    "metric_name_validation_scheme",
    "metric_name_escaping_scheme",
];

/// The resolved `global` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalConfig {
    pub scrape_interval: Duration,
    pub scrape_timeout: Duration,
    pub evaluation_interval: Duration,
    /// Added to federated and remote-written series that lack them. Values are
    /// environment-expanded and may be empty, as in Prometheus.
    pub external_labels: Labels,
    /// Default body size limit of scrape configs in bytes, 0 for none (already applied to them).
    pub body_size_limit: u64,
    /// Default sample limit of scrape configs, 0 for none (already applied to them).
    pub sample_limit: u64,
    /// The Prometheus generation the file was read as (`--query.compat`); scrape configs
    /// follow it.
    pub compat: Compat,
    /// `metric_name_validation_scheme` and `metric_name_escaping_scheme`, for jobs to inherit.
    pub(super) names: GlobalNames,
}

impl Default for GlobalConfig {
    /// Prometheus' `DefaultGlobalConfig`.
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: DEFAULT_SCRAPE_INTERVAL,
            scrape_timeout: DEFAULT_SCRAPE_TIMEOUT,
            evaluation_interval: DEFAULT_EVALUATION_INTERVAL,
            external_labels: Labels::new(),
            body_size_limit: 0,
            sample_limit: 0,
            compat: Compat::default(),
            names: GlobalNames::default(),
        }
    }
}

/// `global` as written: zero stands for "not set", as in Prometheus.
#[derive(Default)]
pub(super) struct RawGlobal {
    scrape_interval: Duration,
    scrape_timeout: Duration,
    evaluation_interval: Duration,
    external_labels: Labels,
    body_size_limit: Size,
    sample_limit: u64,
    names: RawNames,
    pub(super) ignored: Vec<Ignored>,
}

impl RawGlobal {
    /// Applies defaults and checks, as `compat`'s generation does; `env` looks up environment
    /// variables for external labels. Returns the config and warnings.
    pub(super) fn resolve(
        self,
        env: &dyn Fn(&str) -> Option<String>,
        compat: Compat,
    ) -> Result<(GlobalConfig, Vec<String>), String> {
        let mut warnings = Vec::new();
        let external_labels = match compat {
            Compat::V2 => {
                refuse_unknown_to_2_42(
                    Section::Global,
                    self.names
                        .keys()
                        .into_iter()
                        .chain(self.ignored.iter().map(|i| i.key.as_str())),
                )?;
                self.external_labels.clone()
            }
            Compat::V3 => expand_labels(&self.external_labels, env, &mut warnings),
        };
        let scrape_interval = nonzero_or(self.scrape_interval, DEFAULT_SCRAPE_INTERVAL);
        if self.scrape_timeout > scrape_interval {
            return Err("global scrape timeout greater than scrape interval".into());
        }
        let scrape_timeout = nonzero_or(
            self.scrape_timeout,
            DEFAULT_SCRAPE_TIMEOUT.min(scrape_interval),
        );
        let global = GlobalConfig {
            scrape_interval,
            scrape_timeout,
            evaluation_interval: nonzero_or(self.evaluation_interval, DEFAULT_EVALUATION_INTERVAL),
            external_labels,
            body_size_limit: self.body_size_limit.limit(),
            sample_limit: self.sample_limit,
            compat,
            names: self.names.resolve_global(compat)?,
        };
        Ok((global, warnings))
    }
}

/// External labels with environment references expanded; an empty expansion is warned about.
fn expand_labels(
    labels: &Labels,
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Labels {
    let mut expanded = Labels::new();
    for label in labels.iter() {
        let value = expand_env(&label.value, |name| {
            let value = env(name).unwrap_or_default();
            if value.is_empty() {
                warnings.push(format!(
                    "global.external_labels.{}: environment variable {name:?} is empty",
                    label.name
                ));
            }
            value
        });
        expanded.set(label.name.clone(), value);
    }
    expanded
}

fn nonzero_or(value: Duration, default: Duration) -> Duration {
    if value.is_zero() {
        default
    } else {
        value
    }
}

/// Go's `os.Expand` with Prometheus' mapping: `$$` is `$`, `$NAME` and `${NAME}` are looked up,
/// `${}` and an unclosed `${` are dropped, a `$` before anything else stays.
fn expand_env(s: &str, mut lookup: impl FnMut(&str) -> String) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut copied = 0;
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'$' && j + 1 < bytes.len() {
            out.push_str(&s[copied..j]);
            let (name, width) = shell_name(&s[j + 1..]);
            match name {
                Some("$") => out.push('$'),
                Some(name) => out.push_str(&lookup(name)),
                None if width == 0 => out.push('$'),
                None => {}
            }
            j += width;
            copied = j + 1;
        }
        j += 1;
    }
    out.push_str(&s[copied.min(s.len())..]);
    out
}

/// Go's `getShellName`: the variable name at the start of `s` and the bytes it spans.
fn shell_name(s: &str) -> (Option<&str>, usize) {
    let b = s.as_bytes();
    let special = |c: u8| b"*#$@!?-0123456789".contains(&c);
    let alnum = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
    if b[0] == b'{' {
        if b.len() > 2 && special(b[1]) && b[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        return match b.iter().skip(1).position(|&c| c == b'}') {
            Some(0) => (None, 2),
            Some(i) => (Some(&s[1..i + 1]), i + 2),
            None => (None, 1),
        };
    }
    if special(b[0]) {
        return (Some(&s[..1]), 1);
    }
    let len = b.iter().take_while(|c| alnum(c)).count();
    ((len > 0).then(|| &s[..len]), len)
}

impl<'de> Deserialize<'de> for RawGlobal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(GlobalVisitor)
    }
}

struct GlobalVisitor;

impl<'de> Visitor<'de> for GlobalVisitor {
    type Value = RawGlobal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the global section")
    }

    /// `global:` with nothing under it keeps every default.
    fn visit_unit<E: de::Error>(self) -> Result<RawGlobal, E> {
        Ok(RawGlobal::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<RawGlobal, E> {
        Ok(RawGlobal::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawGlobal, A::Error> {
        let mut raw = RawGlobal::default();
        let mut seen = KeySet::default();
        while let Some(key) = next_key(&mut map, Section::Global, KEYS, &mut seen)? {
            match key.as_str() {
                "scrape_interval" => raw.scrape_interval = zero_if_null(map.next_value()?),
                "scrape_timeout" => raw.scrape_timeout = zero_if_null(map.next_value()?),
                "evaluation_interval" => raw.evaluation_interval = zero_if_null(map.next_value()?),
                "external_labels" => raw.external_labels = map.next_value::<LabelSet>()?.0,
                "body_size_limit" => raw.body_size_limit = zero_if_null(map.next_value()?),
                "sample_limit" => raw.sample_limit = zero_if_null(map.next_value()?),
                k if RawNames::KEYS.contains(&k) => raw.names.read(k, map.next_value()?),
                _ => raw
                    .ignored
                    .push(ignore_known(Section::Global, &key, &mut map)?),
            }
        }
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(yaml: &str) -> Result<(GlobalConfig, Vec<String>), String> {
        resolve_as(yaml, Compat::V3)
    }

    fn resolve_as(yaml: &str, compat: Compat) -> Result<(GlobalConfig, Vec<String>), String> {
        let raw: RawGlobal = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
        let env = |name: &str| (name == "HOST").then(|| "node-1".to_string());
        raw.resolve(&env, compat)
    }

    #[test]
    fn intervals_follow_prometheus() {
        let s = Duration::from_secs;
        for (yaml, interval, timeout, evaluation) in [
            ("", s(60), s(10), s(60)),
            ("~", s(60), s(10), s(60)),
            ("scrape_interval: 15s", s(15), s(10), s(60)),
            ("scrape_interval: 5s", s(5), s(5), s(60)),
            ("scrape_interval: 0s", s(60), s(10), s(60)),
            ("scrape_interval: 5s\nscrape_timeout: 5s", s(5), s(5), s(60)),
            ("scrape_timeout: 30s", s(60), s(30), s(60)),
            ("evaluation_interval: 15s", s(60), s(10), s(15)),
            ("evaluation_interval:", s(60), s(10), s(60)),
        ] {
            let (g, _) = resolve(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(
                (g.scrape_interval, g.scrape_timeout, g.evaluation_interval),
                (interval, timeout, evaluation),
                "{yaml}"
            );
        }
        let err = resolve("scrape_interval: 5s\nscrape_timeout: 6s").unwrap_err();
        assert_eq!(err, "global scrape timeout greater than scrape interval");
        // 2m > the default 1m interval.
        assert!(resolve("scrape_timeout: 2m").is_err());
    }

    #[test]
    fn external_labels_and_environment() {
        let (g, warnings) = resolve(
            "external_labels:\n  slave: 1\n  node: $HOST\n  dc: ${HOST}-$$\n  none: $UNSET",
        )
        .unwrap();
        assert_eq!(
            g.external_labels.to_string(),
            r#"{dc="node-1-$", node="node-1", none="", slave="1"}"#
        );
        assert_eq!(
            warnings,
            ["global.external_labels.none: environment variable \"UNSET\" is empty"]
        );
        let err = serde_yaml::from_str::<RawGlobal>("external_labels: {a-b: x}")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(r#""a-b" is not a valid label name"#), "{err}");
    }

    #[test]
    fn only_prometheus_3_expands_external_labels() {
        let yaml = "external_labels:\n  node: $HOST\n  dc: ${HOST}-$$";
        for (compat, want, warnings) in [
            (Compat::V3, r#"{dc="node-1-$", node="node-1"}"#, 0),
            (Compat::V2, r#"{dc="${HOST}-$$", node="$HOST"}"#, 0),
        ] {
            let (g, w) = resolve_as(yaml, compat).unwrap();
            assert_eq!(g.external_labels.to_string(), want, "{compat:?}");
            assert_eq!((w.len(), g.compat), (warnings, compat));
        }
        let (_, w) = resolve_as("external_labels: {a: $UNSET}", Compat::V2).unwrap();
        assert!(
            w.is_empty(),
            "nothing is expanded, so nothing is empty: {w:?}"
        );
        let err = resolve_as("metric_name_validation_scheme: legacy", Compat::V2).unwrap_err();
        assert!(
            err.starts_with("field metric_name_validation_scheme not found in type config.plain"),
            "{err}"
        );
        assert!(resolve_as("metric_name_validation_scheme: legacy", Compat::V3).is_ok());
    }

    #[test]
    fn expands_like_go() {
        let env = |name: &str| match name {
            "A" => "x".to_string(),
            "1" => "one".to_string(),
            _ => String::new(),
        };
        for (input, expanded) in [
            ("plain", "plain"),
            ("$A", "x"),
            ("${A}b", "xb"),
            ("$Ab", ""),
            ("a$$b", "a$b"),
            ("$1", "one"),
            ("${}", ""),
            ("${A", "A"),
            ("a$", "a$"),
            ("$-", ""),
            ("$ x", "$ x"),
            ("é$A", "éx"),
        ] {
            assert_eq!(expand_env(input, env), expanded, "{input}");
        }
    }

    #[test]
    fn limits_and_ignored_keys() {
        let (g, _) = resolve("body_size_limit: 10MB\nsample_limit: 5000").unwrap();
        assert_eq!((g.body_size_limit, g.sample_limit), (10 << 20, 5000));
        assert_eq!(
            resolve("body_size_limit: -1KB").unwrap().0.body_size_limit,
            0
        );
        let raw: RawGlobal = serde_yaml::from_str("query_log_file: q.log\nlabel_limit: 0").unwrap();
        let keys: Vec<_> = raw.ignored.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["query_log_file", "label_limit"]);
        for (yaml, message) in [
            (
                "label_limit: 30",
                "label_limit: not supported by wasmfed yet",
            ),
            (
                "scrape_intervals: 1m",
                "unknown field `scrape_intervals`, expected one of",
            ),
            (
                "scrape_interval: 1m\nscrape_interval: 2m",
                "duplicate field `scrape_interval`",
            ),
            ("body_size_limit: 1024", "units: unknown unit  in 1024"),
        ] {
            let err = serde_yaml::from_str::<RawGlobal>(yaml)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(message), "{yaml}: {err}");
        }
    }
}
