//! The plugin's configuration: Prometheus rule groups as JSON, validated the way Prometheus
//! validates `rule_files` (`rulefmt.Rule.Validate`).
//!
//! ```json
//! {
//!   "groups": [
//!     {
//!       "name": "node",
//!       "query_offset": "0s",
//!       "limit": 0,
//!       "rules": [
//!         {"record": "job:node_memory_MemTotal:sum",
//!          "expr": "sum without(instance)(node_memory_MemTotal{job=\"node\"})",
//!          "labels": {"team": "infra"}}
//!       ]
//!     }
//!   ],
//!   "lookback_delta": "5m",
//!   "evaluation_interval": "1m",
//!   "delayed_name_removal": false
//! }
//! ```
//!
//! Everything has Prometheus' default; with no `groups` the plugin only answers queries. A group's `interval` is
//! accepted and ignored: the host schedules evaluations. Alerting rules (`alert`) are refused.

use std::collections::BTreeMap;

use promql_parser::parser::{self, Expr};
use serde::Deserialize;

use crate::engine::{parse_duration_ms, Options, METRIC_NAME};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("{0}: {1}")]
    Invalid(String, String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    groups: Vec<RawGroup>,
    #[serde(default)]
    lookback_delta: Option<String>,
    #[serde(default)]
    evaluation_interval: Option<String>,
    #[serde(default)]
    delayed_name_removal: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    name: String,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    query_offset: Option<String>,
    #[serde(default)]
    limit: usize,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    record: Option<String>,
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    expr: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// A validated configuration.
pub struct Config {
    pub groups: Vec<GroupConfig>,
    pub options: Options,
}

pub struct GroupConfig {
    pub name: String,
    /// Evaluations of this group query `query_offset_ms` before the evaluation time.
    pub query_offset_ms: i64,
    /// Fail a rule that would write more series than this (0: no limit).
    pub limit: usize,
    pub rules: Vec<RuleConfig>,
}

pub struct RuleConfig {
    pub record: String,
    pub expr: Expr,
    /// Labels to set on every result; an empty value removes the label.
    pub labels: Vec<(String, String)>,
}

impl Config {
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
        let mut options = Options {
            delayed_name_removal: raw.delayed_name_removal,
            ..Options::default()
        };
        if let Some(d) = &raw.lookback_delta {
            options.lookback_delta_ms = duration_ms("lookback_delta", d)?;
        }
        if let Some(d) = &raw.evaluation_interval {
            options.no_step_subquery_interval_ms = duration_ms("evaluation_interval", d)?;
            if options.no_step_subquery_interval_ms <= 0 {
                return Err(invalid("evaluation_interval", "must be positive"));
            }
        }
        let mut names = Vec::new();
        let groups = raw
            .groups
            .into_iter()
            .enumerate()
            .map(|(i, g)| {
                let at = format!("groups[{i}]");
                if g.name.is_empty() {
                    return Err(invalid(&at, "groupname must not be empty"));
                }
                if names.contains(&g.name) {
                    return Err(invalid(&at, &format!("repeated group name: {}", g.name)));
                }
                names.push(g.name.clone());
                if let Some(d) = &g.interval {
                    duration_ms(&format!("{at}.interval"), d)?;
                }
                let query_offset_ms = match &g.query_offset {
                    Some(d) => duration_ms(&format!("{at}.query_offset"), d)?,
                    None => 0,
                };
                let rules = g
                    .rules
                    .into_iter()
                    .enumerate()
                    .map(|(j, r)| rule(&format!("{at}.rules[{j}]"), r))
                    .collect::<Result<_, _>>()?;
                Ok(GroupConfig {
                    name: g.name,
                    query_offset_ms,
                    limit: g.limit,
                    rules,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Config { groups, options })
    }
}

fn invalid(at: &str, why: &str) -> ConfigError {
    ConfigError::Invalid(at.to_string(), why.to_string())
}

fn duration_ms(at: &str, text: &str) -> Result<i64, ConfigError> {
    parse_duration_ms(text).map_err(|e| invalid(at, &e))
}

fn rule(at: &str, r: RawRule) -> Result<RuleConfig, ConfigError> {
    let record = match (r.record, r.alert) {
        (Some(_), Some(_)) => {
            return Err(invalid(at, "only one of 'record' and 'alert' must be set"))
        }
        (None, None) => return Err(invalid(at, "one of 'record' or 'alert' must be set")),
        (None, Some(_)) => {
            return Err(invalid(
                at,
                "alerting rules are not supported by this plugin",
            ))
        }
        (Some(record), None) => record,
    };
    if r.expr.is_empty() {
        return Err(invalid(at, "field 'expr' must be set in rule"));
    }
    let expr = parser::parse(&r.expr)
        .map_err(|e| invalid(at, &format!("could not parse expression: {e}")))?;
    if record.is_empty() {
        return Err(invalid(
            at,
            &format!("invalid recording rule name: {record}"),
        ));
    }
    if record.contains(['{', '}']) {
        return Err(invalid(
            at,
            &format!("braces present in the recording rule name; should it be in expr?: {record}"),
        ));
    }
    if let Some((name, _)) = r
        .labels
        .iter()
        .find(|(k, _)| k.is_empty() || *k == METRIC_NAME)
    {
        return Err(invalid(at, &format!("invalid label name: {name}")));
    }
    Ok(RuleConfig {
        record,
        expr,
        labels: r.labels.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        match Config::from_json(json) {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn valid_config_with_defaults() {
        let c = Config::from_json(
            r#"{"groups": [{"name": "g", "rules": [
                {"record": "job:up:sum", "expr": "sum by (job) (up)", "labels": {"a": "b"}}]}]}"#,
        )
        .unwrap();
        assert_eq!(c.groups[0].rules[0].record, "job:up:sum");
        assert_eq!(
            c.groups[0].rules[0].labels,
            [("a".to_string(), "b".to_string())]
        );
        assert_eq!(c.groups[0].query_offset_ms, 0);
        assert_eq!(c.options.lookback_delta_ms, 300_000);
        assert!(!c.options.delayed_name_removal);
    }

    #[test]
    fn invalid_configs_say_where_and_why() {
        let cases = [
            (r#"{"groups": 1}"#, "invalid JSON"),
            (r#"{"groups": [], "x": 1}"#, "unknown field `x`"),
            (
                r#"{"groups": [{"name": ""}]}"#,
                "groups[0]: groupname must not be empty",
            ),
            (
                r#"{"groups": [{"name": "a"}, {"name": "a"}]}"#,
                "groups[1]: repeated group name: a",
            ),
            (
                r#"{"groups": [{"name": "a", "query_offset": "x"}]}"#,
                "groups[0].query_offset: not a valid duration string",
            ),
            (
                r#"{"groups": [{"name": "a", "rules": [{"alert": "A", "expr": "up"}]}]}"#,
                "groups[0].rules[0]: alerting rules are not supported",
            ),
            (
                r#"{"groups": [{"name": "a", "rules": [{"record": "r"}]}]}"#,
                "groups[0].rules[0]: field 'expr' must be set",
            ),
            (
                r#"{"groups": [{"name": "a", "rules": [{"record": "r", "expr": "sum("}]}]}"#,
                "groups[0].rules[0]: could not parse expression",
            ),
            (
                r#"{"groups": [{"name": "a", "rules": [{"record": "r{a}", "expr": "up"}]}]}"#,
                "braces present in the recording rule name",
            ),
            (
                r#"{"groups": [{"name": "a", "rules": [{"record": "r", "expr": "up", "labels": {"__name__": "x"}}]}]}"#,
                "invalid label name: __name__",
            ),
            (
                r#"{"groups": [], "evaluation_interval": "0s"}"#,
                "evaluation_interval: must be positive",
            ),
        ];
        for (json, want) in cases {
            let got = err(json);
            assert!(got.contains(want), "{json}: {got}");
        }
    }
}
