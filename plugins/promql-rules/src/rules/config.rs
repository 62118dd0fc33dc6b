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
//!   "delayed_name_removal": false,
//!   "compat": 3,
//!   "experimental_functions": false,
//!   "max_samples": 50000000
//! }
//! ```
//!
//! Everything has Prometheus' default; with no `groups` the plugin only answers queries. A
//! group's `interval` is accepted and ignored: the host schedules evaluations. Alerting rules
//! (`alert`, with `for`, `keep_firing_for` and `annotations`) run as [`super::alerting`] says;
//! `restore_for_state` (the host sets it at a node's start), `for_outage_tolerance` (1h) and
//! `for_grace_period` (10m) are Prometheus' `--rules.alert.*` restoration settings. `evaluation_interval` is the step of subqueries written without one
//! (`x[1h:]`), Prometheus' global evaluation interval. `compat` picks the Prometheus release
//! whose PromQL rules and queries follow, `2` (2.42) or `3` ([`crate::engine::Compat`]); rule
//! names and labels are validated by that release's rules. `max_samples` is Prometheus'
//! `--query.max-samples`, for rules and queries alike.

use std::collections::BTreeMap;

use promql_parser::parser::Expr;
use serde::Deserialize;

use super::alerting::{AlertConfig, RestoreOptions};
use crate::engine::{parse_duration_ms, Compat, Options, METRIC_NAME};

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
    #[serde(default)]
    compat: Option<u8>,
    #[serde(default)]
    experimental_functions: bool,
    #[serde(default)]
    max_samples: Option<u64>,
    #[serde(default)]
    restore_for_state: bool,
    #[serde(default)]
    for_outage_tolerance: Option<String>,
    #[serde(default)]
    for_grace_period: Option<String>,
    /// What alert templates see as `$externalLabels` and `$externalURL`.
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    #[serde(default)]
    external_url: String,
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
    #[serde(default, rename = "for")]
    hold: Option<String>,
    #[serde(default)]
    keep_firing_for: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// A validated configuration.
pub struct Config {
    pub groups: Vec<GroupConfig>,
    pub options: Options,
    /// Restore alerts' `for` state after two evaluations, as at a Prometheus start; off for
    /// groups a reload creates.
    pub restore_for_state: bool,
    pub restore: RestoreOptions,
    pub templates: TemplateSettings,
}

/// What alert templates see besides the alert: the node's external labels and URL.
#[derive(Clone, Debug, Default)]
pub struct TemplateSettings {
    pub external_labels: Vec<(String, String)>,
    pub external_url: String,
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
    /// A recording rule's `record` or an alerting rule's `alert`.
    pub name: String,
    /// `None` for a recording rule.
    pub alert: Option<AlertConfig>,
    pub expr: Expr,
    /// Labels to set on every result; an empty value removes the label.
    pub labels: Vec<(String, String)>,
}

impl Config {
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
        let compat = match raw.compat {
            None | Some(3) => Compat::V3,
            Some(2) => Compat::V2,
            Some(_) => return Err(invalid("compat", "must be 2 or 3")),
        };
        if compat == Compat::V2 && raw.experimental_functions {
            return Err(invalid(
                "experimental_functions",
                "Prometheus 2 has no experimental functions (compat 2)",
            ));
        }
        let mut options = Options {
            delayed_name_removal: raw.delayed_name_removal,
            compat,
            experimental_functions: raw.experimental_functions,
            ..Options::default()
        };
        if let Some(max) = raw.max_samples {
            options.max_samples = max;
        }
        if let Some(d) = &raw.lookback_delta {
            options.lookback_delta_ms = duration_ms("lookback_delta", d)?;
        }
        if let Some(d) = &raw.evaluation_interval {
            options.no_step_subquery_interval_ms = duration_ms("evaluation_interval", d)?;
            if options.no_step_subquery_interval_ms <= 0 {
                return Err(invalid("evaluation_interval", "must be positive"));
            }
        }
        let mut restore = RestoreOptions::default();
        if let Some(d) = &raw.for_outage_tolerance {
            restore.outage_tolerance_ms = duration_ms("for_outage_tolerance", d)?;
        }
        if let Some(d) = &raw.for_grace_period {
            restore.grace_period_ms = duration_ms("for_grace_period", d)?;
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
                    .map(|(j, r)| rule(&format!("{at}.rules[{j}]"), r, &options))
                    .collect::<Result<_, _>>()?;
                Ok(GroupConfig {
                    name: g.name,
                    query_offset_ms,
                    limit: g.limit,
                    rules,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Config {
            groups,
            options,
            restore_for_state: raw.restore_for_state,
            restore,
            templates: TemplateSettings {
                external_labels: raw.external_labels.into_iter().collect(),
                external_url: raw.external_url,
            },
        })
    }
}

fn invalid(at: &str, why: &str) -> ConfigError {
    ConfigError::Invalid(at.to_string(), why.to_string())
}

fn duration_ms(at: &str, text: &str) -> Result<i64, ConfigError> {
    parse_duration_ms(text).map_err(|e| invalid(at, &e))
}

/// Whether `name` may name a metric: any non-empty UTF-8 in 3.x, `[a-zA-Z_:][a-zA-Z0-9_:]*`
/// in 2.x (`model.IsValidMetricName`).
fn valid_metric_name(compat: Compat, name: &str) -> bool {
    match compat {
        Compat::V3 => !name.is_empty(),
        Compat::V2 => {
            let mut chars = name.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        }
    }
}

fn rule(at: &str, r: RawRule, options: &Options) -> Result<RuleConfig, ConfigError> {
    let hold_ms = optional_duration(&format!("{at}.for"), &r.hold)?;
    let keep_firing_for_ms =
        optional_duration(&format!("{at}.keep_firing_for"), &r.keep_firing_for)?;
    let (name, alert) = match (r.record, r.alert) {
        (Some(_), Some(_)) => {
            return Err(invalid(at, "only one of 'record' and 'alert' must be set"))
        }
        (None, None) => return Err(invalid(at, "one of 'record' or 'alert' must be set")),
        (None, Some(alert)) => (
            alert,
            Some(AlertConfig {
                hold_ms,
                keep_firing_for_ms,
                annotations: r.annotations.into_iter().collect(),
            }),
        ),
        (Some(record), None) => {
            for (set, what) in [
                (!r.annotations.is_empty(), "annotations"),
                (hold_ms != 0, "for"),
                (keep_firing_for_ms != 0, "keep_firing_for"),
            ] {
                if set {
                    return Err(invalid(
                        at,
                        &format!("invalid field '{what}' in recording rule"),
                    ));
                }
            }
            (record, None)
        }
    };
    if r.expr.is_empty() {
        return Err(invalid(at, "field 'expr' must be set in rule"));
    }
    let expr = crate::parse::parse(&r.expr, options)
        .map_err(|e| invalid(at, &format!("could not parse expression: {e}")))?;
    if alert.is_none() {
        if !valid_metric_name(options.compat, &name) {
            return Err(invalid(at, &format!("invalid recording rule name: {name}")));
        }
        if name.contains(['{', '}']) {
            return Err(invalid(
                at,
                &format!(
                    "braces present in the recording rule name; should it be in expr?: {name}"
                ),
            ));
        }
    }
    if let Some((name, _)) = r
        .labels
        .iter()
        .find(|(k, _)| !options.compat.valid_label_name(k) || *k == METRIC_NAME)
    {
        return Err(invalid(at, &format!("invalid label name: {name}")));
    }
    if let Some(name) = alert
        .iter()
        .flat_map(|a| a.annotations.iter())
        .map(|(k, _)| k)
        .find(|k| !options.compat.valid_label_name(k))
    {
        return Err(invalid(at, &format!("invalid annotation name: {name}")));
    }
    // Templates are parsed now, as Prometheus' rulefmt does, so a broken one refuses the file
    // instead of filling alerts with errors.
    if let Some(alert) = &alert {
        let labels = r.labels.iter().map(|(k, v)| ("label", k, v));
        let annotations = alert.annotations.iter().map(|(k, v)| ("annotation", k, v));
        for (what, key, text) in labels.chain(annotations) {
            if let Err(e) = super::template::check_alert(&name, text) {
                return Err(invalid(at, &format!("{what} {key:?}: {e}")));
            }
        }
    }
    Ok(RuleConfig {
        name,
        alert,
        expr,
        labels: r.labels.into_iter().collect(),
    })
}

/// A rule's optional duration in milliseconds, 0 when absent.
fn optional_duration(at: &str, text: &Option<String>) -> Result<i64, ConfigError> {
    text.as_deref().map_or(Ok(0), |d| duration_ms(at, d))
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
        assert_eq!(c.groups[0].rules[0].name, "job:up:sum");
        assert_eq!(
            c.groups[0].rules[0].labels,
            [("a".to_string(), "b".to_string())]
        );
        assert_eq!(c.groups[0].query_offset_ms, 0);
        assert_eq!(c.options.lookback_delta_ms, 300_000);
        assert_eq!(c.options.no_step_subquery_interval_ms, 60_000);
        assert!(!c.options.delayed_name_removal);
        assert_eq!(c.options.compat, Compat::V3);
        assert!(!c.options.experimental_functions);
    }

    #[test]
    fn each_release_reads_its_own_rules() {
        let cases = [
            (
                r#""compat": 2"#,
                "holt_winters(x[5m], 0.1, 0.1)",
                "a:b",
                Compat::V2,
            ),
            (
                r#""compat": 3, "experimental_functions": true"#,
                "double_exponential_smoothing(x[5m], 0.1, 0.1)",
                "a.b",
                Compat::V3,
            ),
            (r#""compat": 3"#, r#"{\"a.b\"}"#, "é", Compat::V3),
        ];
        for (keys, expr, record, compat) in cases {
            let json = format!(
                r#"{{{keys}, "evaluation_interval": "30s", "groups": [{{"name": "g", "rules": [{{"record": "{record}", "expr": "{expr}", "labels": {{"x.y": "1"}}}}]}}]}}"#
            );
            let json = if compat == Compat::V2 {
                json.replace("x.y", "x_y")
            } else {
                json
            };
            let c = Config::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(c.options.compat, compat, "{json}");
            assert_eq!(c.options.no_step_subquery_interval_ms, 30_000);
            assert_eq!(c.groups[0].rules[0].name, record);
        }
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
                r#"{"groups": [{"name": "a", "rules": [{"record": "r", "expr": "up", "for": "1m"}]}]}"#,
                "groups[0].rules[0]: invalid field 'for' in recording rule",
            ),
            (
                r#"{"groups": [{"name": "a", "rules": [{"record": "r", "expr": "up", "annotations": {"a": "b"}}]}]}"#,
                "groups[0].rules[0]: invalid field 'annotations' in recording rule",
            ),
            (
                r#"{"groups": [{"name": "a", "rules": [{"record": "r", "expr": "up", "keep_firing_for": "1m"}]}]}"#,
                "groups[0].rules[0]: invalid field 'keep_firing_for' in recording rule",
            ),
            (
                r#"{"groups": [{"name": "a", "rules": [{"alert": "A", "expr": "up", "for": "x"}]}]}"#,
                "groups[0].rules[0].for: not a valid duration string",
            ),
            (
                r#"{"compat": 2, "groups": [{"name": "a", "rules": [{"alert": "A", "expr": "up", "annotations": {"a-b": "c"}}]}]}"#,
                "groups[0].rules[0]: invalid annotation name: a-b",
            ),
            (
                r#"{"groups": [{"name": "a", "rules": [{"alert": "A", "expr": "up", "annotations": {"s": "{{ $labels.x | nosuch }}"}}]}]}"#,
                r#"groups[0].rules[0]: annotation "s": template: __alert_A:1: function "nosuch" not defined"#,
            ),
            (
                r#"{"groups": [{"name": "a", "rules": [{"alert": "A", "expr": "up", "labels": {"s": "{{ if }}"}}]}]}"#,
                r#"groups[0].rules[0]: label "s": template: __alert_A:1: missing value for if"#,
            ),
            (
                r#"{"groups": [{"name": "a", "rules": [{"alert": "A", "record": "r", "expr": "up"}]}]}"#,
                "groups[0].rules[0]: only one of 'record' and 'alert' must be set",
            ),
            (
                r#"{"for_grace_period": "soon"}"#,
                "for_grace_period: not a valid duration",
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
            (r#"{"compat": 4}"#, "compat: must be 2 or 3"),
            (r#"{"compat": "3"}"#, "invalid JSON"),
            (
                r#"{"compat": 2, "experimental_functions": true}"#,
                "experimental_functions: Prometheus 2 has no experimental functions",
            ),
            (
                r#"{"compat": 2, "groups": [{"name": "a", "rules": [{"record": "a.b", "expr": "up"}]}]}"#,
                "invalid recording rule name: a.b",
            ),
            (
                r#"{"compat": 2, "groups": [{"name": "a", "rules": [{"record": "r", "expr": "up", "labels": {"a-b": "x"}}]}]}"#,
                "invalid label name: a-b",
            ),
            (
                r#"{"compat": 2, "groups": [{"name": "a", "rules": [{"record": "r", "expr": "{\"up\"}"}]}]}"#,
                "could not parse expression: unexpected string",
            ),
            (
                r#"{"groups": [{"name": "a", "rules": [{"record": "r", "expr": "holt_winters(x[5m], 0.1, 0.1)"}]}]}"#,
                "could not parse expression: unknown function with name",
            ),
        ];
        for (json, want) in cases {
            let got = err(json);
            assert!(got.contains(want), "{json}: {got}");
        }
    }
}
