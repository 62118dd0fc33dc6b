//! From configuration to rule groups: each `rule_files` group becomes one instance of the stock
//! `promql-rules` plugin configured with that group alone, and each `rule_plugins` entry one
//! group of its own.
//!
//! One plugin instance per group (rather than one for all) keeps groups independent as in
//! Prometheus: each has its own interval and schedule, a slow or failing group never delays
//! another, and a reload that changes one group leaves the others' instances (and the
//! staleness they remember) alone.

use std::time::Duration;

use serde_json::{json, Map, Value};

use wasmfed_config::{load_rule_files, Config, ConfigError, PluginSource, RuleGroup, RuleKind};
use wasmfed_model::compat::Compat;
use wasmfed_model::Labels;

use super::schedule::GroupKey;

/// The stock plugin that evaluates `rule_files`.
pub const PROMQL_RULES: &str = "promql-rules";

/// What the PromQL engine needs besides expressions, for rules and queries alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// Prometheus' `--query.lookback-delta`.
    pub lookback: Duration,
    /// Which Prometheus generation's semantics (`--query.compat`).
    pub compat: Compat,
    /// How alerts' `for` state is restored at a start.
    pub alert_restore: AlertRestore,
    /// Prometheus' `--query.max-samples`, for rules and queries alike.
    pub max_samples: u64,
}

/// Prometheus' default `--query.max-samples`.
pub const DEFAULT_MAX_SAMPLES: u64 = 50_000_000;

/// Prometheus' `--rules.alert.for-outage-tolerance` and `--rules.alert.for-grace-period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlertRestore {
    /// How long ago an alert's state may have been written and still be restored.
    pub outage_tolerance: Duration,
    /// The least time a restored alert still waits before it fires.
    pub grace_period: Duration,
}

impl AlertRestore {
    /// Prometheus' defaults: 1h and 10m.
    pub const PROMETHEUS: AlertRestore = AlertRestore {
        outage_tolerance: Duration::from_secs(3600),
        grace_period: Duration::from_secs(600),
    };
}

impl Default for AlertRestore {
    fn default() -> Self {
        AlertRestore::PROMETHEUS
    }
}

impl EngineOptions {
    /// The engine's part of a `promql-rules` configuration (see that plugin's
    /// `rules::config`). `evaluation_interval` is the global one: Prometheus steps a subquery
    /// without a step (`x[5m:]`) at it, whatever the interval of the group evaluating it.
    pub fn plugin_config(&self, evaluation_interval: Duration) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("lookback_delta".into(), format_ms(self.lookback).into());
        out.insert(
            "evaluation_interval".into(),
            format_ms(evaluation_interval).into(),
        );
        out.insert("compat".into(), self.compat.major().into());
        out.insert("max_samples".into(), self.max_samples.into());
        out
    }
}

/// What a group runs and how often.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSpec {
    pub key: GroupKey,
    pub interval: Duration,
    /// How metrics and logs name the plugin.
    pub plugin: String,
    pub source: PluginSource,
    /// The content the component is pinned to (`sha256:`), if any.
    pub sha256: Option<String>,
    pub config_json: String,
    /// The group's rules as configured (empty for a plugin of the operator's).
    pub rules: Vec<RuleInfo>,
    /// The group's `limit` (0: none).
    pub limit: u64,
}

/// One configured rule, as `/api/v1/rules` describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleInfo {
    /// The `record` or `alert` name.
    pub name: String,
    /// The expression as Prometheus prints it back (`generatorURL`, the API's `query`).
    pub query: String,
    /// Group labels with the rule's own over them.
    pub labels: Labels,
    /// An alerting rule's own settings; `None` for a recording rule.
    pub alert: Option<wasmfed_config::AlertingRule>,
}

impl RuleInfo {
    fn of(group: &RuleGroup, rule: &wasmfed_config::Rule) -> RuleInfo {
        let mut labels = group.labels.clone();
        for l in rule.labels.iter() {
            labels.set(l.name.clone(), l.value.clone());
        }
        let (name, alert) = match &rule.kind {
            RuleKind::Record(name) => (name.clone(), None),
            RuleKind::Alert(alert) => (alert.name.clone(), Some(alert.clone())),
        };
        RuleInfo {
            name,
            // Prometheus prints the parsed expression (`r.vector.String()`).
            query: promql_parser::parser::parse(&rule.expr)
                .map_or_else(|_| rule.expr.clone(), |e| e.to_string()),
            labels,
            alert,
        }
    }
}

/// Reads the rule files and lists every group to run, in configuration order.
pub fn group_specs(config: &Config, engine: EngineOptions) -> Result<Vec<GroupSpec>, ConfigError> {
    let default_interval = config.global.evaluation_interval.as_std();
    let mut specs: Vec<GroupSpec> = load_rule_files(&config.rule_files)?
        .iter()
        .filter(|g| !g.rules.is_empty())
        .map(|g| {
            let interval = g.interval.map_or(default_interval, |d| d.as_std());
            GroupSpec {
                key: GroupKey {
                    file: g.file.clone(),
                    name: g.name.clone(),
                },
                interval,
                plugin: PROMQL_RULES.to_string(),
                source: PluginSource::Stock(PROMQL_RULES.to_string()),
                sha256: None,
                config_json: promql_config(
                    g,
                    engine,
                    default_interval,
                    &config.global.external_labels,
                )
                .to_string(),
                rules: g.rules.iter().map(|r| RuleInfo::of(g, r)).collect(),
                limit: g.limit,
            }
        })
        .collect();
    specs.extend(config.rule_plugins.iter().map(|p| GroupSpec {
        key: GroupKey {
            file: match &p.plugin.source {
                PluginSource::Stock(name) => format!("stock:{name}"),
                PluginSource::File(path) => path.display().to_string(),
            },
            name: p.plugin.name.clone(),
        },
        interval: p.interval.map_or(default_interval, |d| d.as_std()),
        plugin: p.plugin.name.clone(),
        source: p.plugin.source.clone(),
        sha256: p.plugin.sha256.clone(),
        config_json: p.plugin.config_json.clone(),
        rules: Vec::new(),
        limit: 0,
    }));
    Ok(specs)
}

/// The `promql-rules` configuration of one group (see that plugin's `rules::config`).
fn promql_config(
    group: &RuleGroup,
    engine: EngineOptions,
    evaluation_interval: Duration,
    external_labels: &Labels,
) -> Value {
    let rules: Vec<Value> = group
        .rules
        .iter()
        .map(|rule| {
            let labels = label_object(&group.labels, &rule.labels);
            match &rule.kind {
                RuleKind::Record(record) => json!({
                    "record": record,
                    "expr": rule.expr,
                    "labels": labels,
                }),
                RuleKind::Alert(alert) => json!({
                    "alert": alert.name,
                    "expr": rule.expr,
                    "for": format_ms(alert.for_duration.as_std()),
                    "keep_firing_for": format_ms(alert.keep_firing_for.as_std()),
                    "labels": labels,
                    "annotations": alert.annotations,
                }),
            }
        })
        .collect();
    let mut config = engine.plugin_config(evaluation_interval);
    config.insert(
        "for_outage_tolerance".into(),
        format_ms(engine.alert_restore.outage_tolerance).into(),
    );
    config.insert(
        "for_grace_period".into(),
        format_ms(engine.alert_restore.grace_period).into(),
    );
    if !external_labels.is_empty() {
        config.insert(
            "external_labels".into(),
            Value::Object(label_object(external_labels, &Labels::new())),
        );
    }
    config.insert(
        "groups".into(),
        json!([{
            "name": group.name,
            "query_offset": group.query_offset.map_or("0s".to_string(), |d| d.to_string()),
            "limit": group.limit,
            "rules": rules,
        }]),
    );
    Value::Object(config)
}

/// Group labels, then the rule's own over them.
fn label_object(group: &Labels, rule: &Labels) -> Map<String, Value> {
    let mut out = Map::new();
    for l in group.iter().chain(rule.iter()) {
        out.insert(l.name.clone(), Value::String(l.value.clone()));
    }
    out
}

fn format_ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const ENGINE: EngineOptions = EngineOptions {
        lookback: Duration::from_secs(300),
        compat: Compat::V3,
        alert_restore: AlertRestore::PROMETHEUS,
        max_samples: DEFAULT_MAX_SAMPLES,
    };

    fn config(dir: &Path, yaml: &str) -> Config {
        Config::from_yaml(yaml, dir, Compat::V3).unwrap().config
    }

    #[test]
    fn each_group_gets_its_own_promql_rules_configuration() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("node.rules"),
            r#"
groups:
  - name: node
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {team: infra}
  - name: fast
    interval: 5s
    limit: 10
    rules:
      - record: x
        expr: vector(1)
  - name: alerts-only
    rules:
      - alert: Down
        expr: up == 0
        for: 5m
        annotations: {summary: 'down'}
"#,
        )
        .unwrap();
        let cfg = config(
            dir.path(),
            "global: {evaluation_interval: 30s}\nrule_files: ['*.rules']\nrule_plugins:\n  - stock: promql-rules\n    name: mine\n    interval: 2m\n    config: {groups: []}\n",
        );
        let specs = group_specs(&cfg, ENGINE).unwrap();
        let names: Vec<&str> = specs.iter().map(|s| s.key.name.as_str()).collect();
        assert_eq!(names, ["node", "fast", "alerts-only", "mine"]);
        assert!(specs[0].key.file.ends_with("node.rules"));
        assert_eq!(specs[0].interval, Duration::from_secs(30));
        assert_eq!(specs[1].interval, Duration::from_secs(5));
        assert_eq!(specs[3].interval, Duration::from_secs(120));
        assert_eq!(specs[3].key.file, "stock:promql-rules");
        let alerts: Value = serde_json::from_str(&specs[2].config_json).unwrap();
        assert_eq!(
            alerts["groups"][0]["rules"],
            json!([{"alert": "Down", "expr": "up == 0", "for": "300000ms",
                    "keep_firing_for": "0ms", "labels": {}, "annotations": {"summary": "down"}}])
        );
        let node: Value = serde_json::from_str(&specs[0].config_json).unwrap();
        assert_eq!(
            node,
            json!({
                "groups": [{"name": "node", "query_offset": "0s", "limit": 0, "rules": [
                    {"record": "job:up:sum", "expr": "sum by (job) (up)", "labels": {"team": "infra"}}
                ]}],
                "lookback_delta": "300000ms",
                "evaluation_interval": "30000ms",
                "compat": 3,
                "max_samples": 50_000_000,
                "for_outage_tolerance": "3600000ms",
                "for_grace_period": "600000ms",
            })
        );
        let fast: Value = serde_json::from_str(&specs[1].config_json).unwrap();
        assert_eq!(fast["groups"][0]["limit"], 10);
        // A subquery without a step steps at the global interval, not the group's 5s.
        assert_eq!(fast["evaluation_interval"], "30000ms");
        let v2 = group_specs(
            &cfg,
            EngineOptions {
                compat: Compat::V2,
                ..ENGINE
            },
        )
        .unwrap();
        let node: Value = serde_json::from_str(&v2[0].config_json).unwrap();
        assert_eq!(node["compat"], 2);
    }

    #[test]
    fn a_bad_rule_file_is_refused_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bad.rules"),
            "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum(\n",
        )
        .unwrap();
        let cfg = config(dir.path(), "rule_files: [bad.rules]\n");
        let err = group_specs(&cfg, ENGINE).unwrap_err().to_string();
        assert!(err.contains("bad.rules"), "{err}");
    }
}
