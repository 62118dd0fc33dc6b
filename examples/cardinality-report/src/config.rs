//! The plugin's configuration, validated once in `init` so `evaluate` cannot meet a bad one.
//!
//! Each field is first read as untyped JSON and then checked on its own, so that an error names
//! the field at fault (serde's own type errors only give a line and column); unknown fields are
//! refused so a misspelt `lookbak` is not silently ignored.

use serde::Deserialize;
use serde_json::Value;

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// How many metric names to report per group.
    pub top: usize,
    /// How far back a series must have a sample to count, in milliseconds.
    pub lookback_ms: i64,
    /// The label that splits the report into groups (`job` by default).
    pub by: String,
    /// Raise `CardinalityHigh` for a group with more series than this (no alert if unset).
    pub alert_over: Option<u64>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            top: 10,
            // Prometheus' default lookback delta, so "a series" means what an instant query sees.
            lookback_ms: 5 * 60_000,
            by: "job".to_string(),
            alert_over: None,
        }
    }
}

/// Labels the report itself writes; grouping by one of them would make two labels one.
const OUTPUT_LABELS: [&str; 3] = ["__name__", "metric", "rank"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    top: Option<Value>,
    lookback: Option<Value>,
    by: Option<Value>,
    alert_over: Option<Value>,
}

impl Config {
    /// Parses and validates `init`'s JSON; `null` (no `config:` given) means all defaults.
    /// The error text starts with the offending field's name.
    pub fn from_json(text: &str) -> Result<Config, String> {
        let raw: Option<RawConfig> =
            serde_json::from_str(text).map_err(|e| format!("config: {e}"))?;
        let mut config = Config::default();
        let Some(raw) = raw else {
            return Ok(config);
        };
        if let Some(top) = raw.top {
            config.top = top
                .as_u64()
                .filter(|&n| n >= 1)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| format!("top: expected a whole number of at least 1, got {top}"))?;
        }
        if let Some(lookback) = raw.lookback {
            config.lookback_ms = lookback
                .as_str()
                .and_then(parse_duration_ms)
                .filter(|&ms| ms > 0)
                .ok_or_else(|| {
                    format!("lookback: expected a non-zero duration such as \"5m\", got {lookback}")
                })?;
        }
        if let Some(by) = raw.by {
            config.by = by
                .as_str()
                .filter(|name| is_valid_label_name(name) && !OUTPUT_LABELS.contains(name))
                .ok_or_else(|| {
                    format!(
                        "by: expected a label name other than {}, got {by}",
                        OUTPUT_LABELS.join(", ")
                    )
                })?
                .to_string();
        }
        if let Some(limit) = raw.alert_over {
            config.alert_over = Some(limit.as_u64().ok_or_else(|| {
                format!("alert_over: expected a whole number of series, got {limit}")
            })?);
        }
        Ok(config)
    }
}

/// Prometheus' `model.ParseDuration`: units `y`, `w`, `d`, `h`, `m`, `s`, `ms`, each at most
/// once and in that order (`1h30m`, `90s`), or a bare `0`; `None` when `text` is not one.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    if text == "0" {
        return Some(0);
    }
    if text.is_empty() {
        return None;
    }
    let (mut rest, mut total, mut next_unit) = (text, 0i64, 0);
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = rest.split_at(letters);
        rest = tail;
        let i = next_unit + UNITS[next_unit..].iter().position(|(u, _)| *u == unit)?;
        next_unit = i + 1;
        total = total.checked_add(n.checked_mul(UNITS[i].1)?)?;
    }
    Some(total)
}

/// Prometheus' legacy label name rule, `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_configs() {
        let config = |top, lookback_ms, by: &str| Config {
            top,
            lookback_ms,
            by: by.to_string(),
            alert_over: None,
        };
        for (text, want) in [
            ("null", Config::default()),
            ("{}", Config::default()),
            (r#"{"top": null}"#, Config::default()),
            (r#"{"top": 3}"#, config(3, 300_000, "job")),
            (r#"{"lookback": "1h30m"}"#, config(10, 5_400_000, "job")),
            (
                r#"{"top": 1, "lookback": "10s", "by": "namespace"}"#,
                config(1, 10_000, "namespace"),
            ),
            (r#"{"by": "_x9"}"#, config(10, 300_000, "_x9")),
            (
                r#"{"alert_over": 5000}"#,
                Config {
                    alert_over: Some(5000),
                    ..Config::default()
                },
            ),
        ] {
            assert_eq!(Config::from_json(text).as_ref(), Ok(&want), "{text}");
        }
    }

    #[test]
    fn config_errors_name_the_field() {
        for (text, want) in [
            (r#"{"top": 0}"#, "top: "),
            (r#"{"top": -1}"#, "top: "),
            (r#"{"top": 2.5}"#, "top: "),
            (r#"{"top": "10"}"#, "top: "),
            (r#"{"lookback": "5 minutes"}"#, "lookback: "),
            (r#"{"lookback": "0"}"#, "lookback: "),
            (r#"{"lookback": 300}"#, "lookback: "),
            (r#"{"by": "1job"}"#, "by: "),
            (r#"{"by": ""}"#, "by: "),
            (r#"{"by": "rank"}"#, "by: "),
            (r#"{"by": "__name__"}"#, "by: "),
            (r#"{"by": ["job"]}"#, "by: "),
            (r#"{"alert_over": -1}"#, "alert_over: "),
            (r#"{"alert_over": "5k"}"#, "alert_over: "),
            (r#"{"topn": 3}"#, "config: unknown field `topn`"),
            (r#"[10]"#, "config: "),
            (r#"{"top": "#, "config: "),
        ] {
            let err = Config::from_json(text).unwrap_err();
            assert!(err.starts_with(want), "{text}: {err}");
        }
    }

    #[test]
    fn durations() {
        for (text, want) in [
            ("0", Some(0)),
            ("5m", Some(300_000)),
            ("1h30m", Some(5_400_000)),
            ("1d2h3m4s5ms", Some(93_784_005)),
            ("1y", Some(31_536_000_000)),
            ("250ms", Some(250)),
            ("", None),
            ("5", None),
            ("m", None),
            ("30m1h", None),
            ("5m5m", None),
            ("1.5h", None),
            ("-5m", None),
            ("5M", None),
            ("9999999999999y", None),
        ] {
            assert_eq!(parse_duration_ms(text), want, "{text:?}");
        }
    }
}
