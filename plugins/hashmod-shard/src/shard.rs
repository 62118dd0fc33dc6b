//! Which targets a shard keeps, and the configuration that says so.
//!
//! Configuration (JSON): `{"modulus": N, "shard": K, "source_labels": [...], "separator": "..."}`;
//! `source_labels` defaults to `["__address__"]` and `separator` to `;`, as in the usual
//! Prometheus recipe. A target is kept when `hashmod(joined source values) % N == K`, which is
//! what `hashmod` into a label then `keep` with regex `K` decides in Prometheus.

use std::fmt;

use plugin_sdk::{hashmod, is_valid_label_name};
use serde::Deserialize;

/// The validated configuration of one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardSelector {
    modulus: u64,
    shard: u64,
    source_labels: Vec<String>,
    separator: String,
}

/// Why the configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardConfigError(pub String);

impl fmt::Display for ShardConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShardConfigError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    modulus: u64,
    shard: u64,
    #[serde(default = "default_source_labels")]
    source_labels: Vec<String>,
    #[serde(default = "default_separator")]
    separator: String,
}

fn default_source_labels() -> Vec<String> {
    vec!["__address__".to_string()]
}

fn default_separator() -> String {
    ";".to_string()
}

impl ShardSelector {
    pub fn from_json(json: &str) -> Result<ShardSelector, ShardConfigError> {
        let raw: RawConfig = serde_json::from_str(json)
            .map_err(|e| ShardConfigError(format!("hashmod-shard config: {e}")))?;
        if raw.modulus == 0 {
            return Err(ShardConfigError("'modulus' must be at least 1".into()));
        }
        if raw.shard >= raw.modulus {
            return Err(ShardConfigError(format!(
                "'shard' {} must be less than 'modulus' {}",
                raw.shard, raw.modulus
            )));
        }
        if let Some(bad) = raw.source_labels.iter().find(|l| !is_valid_label_name(l)) {
            return Err(ShardConfigError(format!(
                "{bad:?} is not a valid label name"
            )));
        }
        Ok(ShardSelector {
            modulus: raw.modulus,
            shard: raw.shard,
            source_labels: raw.source_labels,
            separator: raw.separator,
        })
    }

    /// Whether this shard keeps the target whose label values `value_of` gives (`""` for a
    /// missing label, as in Prometheus).
    pub fn keeps<'a>(&self, value_of: impl Fn(&str) -> &'a str) -> bool {
        let joined = self
            .source_labels
            .iter()
            .map(|name| value_of(name))
            .collect::<Vec<_>>()
            .join(&self.separator);
        hashmod(&joined, self.modulus) == self.shard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> &'a str {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map_or("", |(_, v)| v)
        }
    }

    #[test]
    fn config() {
        let s = ShardSelector::from_json(r#"{"modulus": 3, "shard": 2}"#).unwrap();
        assert_eq!(
            s,
            ShardSelector {
                modulus: 3,
                shard: 2,
                source_labels: vec!["__address__".into()],
                separator: ";".into(),
            }
        );
        let s = ShardSelector::from_json(
            r#"{"modulus": 1, "shard": 0, "source_labels": ["a", "b"], "separator": "\n"}"#,
        )
        .unwrap();
        assert_eq!(s.source_labels, ["a", "b"]);
        assert_eq!(s.separator, "\n");
    }

    #[test]
    fn config_errors() {
        for (json, want) in [
            (
                r#"{"modulus": 0, "shard": 0}"#,
                "'modulus' must be at least 1",
            ),
            (
                r#"{"modulus": 3, "shard": 3}"#,
                "'shard' 3 must be less than 'modulus' 3",
            ),
            (
                r#"{"modulus": 3, "shard": 7}"#,
                "'shard' 7 must be less than 'modulus' 3",
            ),
            (
                r#"{"shard": 0}"#,
                "hashmod-shard config: missing field `modulus`",
            ),
            (
                r#"{"modulus": 2}"#,
                "hashmod-shard config: missing field `shard`",
            ),
            (
                r#"{"modulus": -1, "shard": 0}"#,
                "hashmod-shard config: invalid value: integer `-1`",
            ),
            (
                r#"{"modulus": 2, "shard": 0, "shards": 1}"#,
                "hashmod-shard config: unknown field `shards`",
            ),
            (
                r#"{"modulus": 2, "shard": 0, "source_labels": ["a-b"]}"#,
                r#""a-b" is not a valid label name"#,
            ),
            ("null", "hashmod-shard config: invalid type: null"),
        ] {
            let err = ShardSelector::from_json(json).unwrap_err().to_string();
            assert!(
                err.starts_with(want),
                "{json}\n  got: {err}\n  want: {want}"
            );
        }
    }

    #[test]
    fn keeps_exactly_one_shard() {
        // md5("baz") % 1000 = 976 and md5("foo\nbar") % 1000 = 734 (Prometheus' vectors).
        for (json, labels, want) in [
            (
                r#"{"modulus": 1000, "shard": 976}"#,
                &[("__address__", "baz")][..],
                true,
            ),
            (
                r#"{"modulus": 1000, "shard": 975}"#,
                &[("__address__", "baz")][..],
                false,
            ),
            (
                r#"{"modulus": 1000, "shard": 734, "source_labels": ["a", "b"], "separator": "\n"}"#,
                &[("a", "foo"), ("b", "bar")][..],
                true,
            ),
            (
                r#"{"modulus": 1000, "shard": 734, "source_labels": ["a", "b"]}"#,
                &[("a", "foo"), ("b", "bar")][..],
                false,
            ),
            (r#"{"modulus": 1, "shard": 0}"#, &[][..], true),
        ] {
            let s = ShardSelector::from_json(json).unwrap();
            assert_eq!(s.keeps(lookup(labels)), want, "{json} {labels:?}");
        }
    }

    #[test]
    fn shards_partition_the_targets() {
        let shards: Vec<ShardSelector> = (0..4)
            .map(|k| {
                ShardSelector::from_json(&format!(r#"{{"modulus": 4, "shard": {k}}}"#)).unwrap()
            })
            .collect();
        for i in 0..200 {
            let address = format!("10.0.0.{i}:9100");
            let labels = [("__address__", address.as_str())];
            let keepers: Vec<usize> = (0..4)
                .filter(|&k| shards[k].keeps(lookup(&labels)))
                .collect();
            assert_eq!(
                keepers,
                [plugin_sdk::hashmod(&address, 4) as usize],
                "{address}"
            );
        }
    }
}
