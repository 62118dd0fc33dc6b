//! Rule files (`rule_files`), read and checked as `promtool check rules` does
//! (Prometheus' `model/rulefmt`).
//!
//! A file holds `groups`, each with a name unique in the file, an optional `interval` and a list
//! of recording (`record`) or alerting (`alert`) rules. Expressions are parsed with
//! `promql-parser`; since its messages carry no position, the error gives the key path, line and
//! column of the `expr` value instead. Evaluating the rules (and expanding alert templates) is
//! the rule stage's business.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer};

use super::duration::Duration;
use super::error::{ConfigError, FileKind};
use super::paths::{expand_glob, read};
use super::yaml::{checked_map, null_as_zero, parse_scalar, UniqueMap};
use wasmfed_model::labels::{is_valid_label_name, is_valid_metric_name, METRIC_NAME};
use wasmfed_model::Labels;

/// The groups of one rule file.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleFile {
    pub path: String,
    pub groups: Vec<RuleGroup>,
}

/// Rules evaluated together, in order, at one interval.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleGroup {
    /// The file the group came from; groups are identified by file and name.
    pub file: String,
    pub name: String,
    /// `None`: the global `evaluation_interval`.
    pub interval: Option<Duration>,
    /// `None`: the global `rule_query_offset`.
    pub query_offset: Option<Duration>,
    /// Most series (or alerts) one evaluation may produce, 0 for none.
    pub limit: u64,
    /// Added to every rule's result.
    pub labels: Labels,
    pub rules: Vec<Rule>,
}

/// One rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub kind: RuleKind,
    /// A PromQL expression, checked to parse.
    pub expr: String,
    pub labels: Labels,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RuleKind {
    /// A recording rule: the metric name its results are stored under.
    Record(String),
    /// An alerting rule.
    Alert(AlertingRule),
}

#[derive(Clone, Debug, PartialEq)]
pub struct AlertingRule {
    pub name: String,
    pub for_duration: Duration,
    pub keep_firing_for: Duration,
    pub annotations: BTreeMap<String, String>,
}

impl RuleFile {
    /// Reads and checks one rule file.
    pub fn load(path: &Path) -> Result<RuleFile, ConfigError> {
        let text = read(path, FileKind::Rules)?;
        Self::parse(path, &text)
    }

    /// Checks the text of a rule file; `path` names it in errors and in [`RuleGroup::file`].
    pub fn parse(path: &Path, text: &str) -> Result<RuleFile, ConfigError> {
        let raw: Option<RawRuleFile> =
            super::yaml::from_str(text).map_err(|error| ConfigError::Yaml {
                kind: FileKind::Rules,
                path: path.to_path_buf(),
                error,
            })?;
        let file = path.to_string_lossy().into_owned();
        let groups = raw
            .map(|r| r.groups)
            .unwrap_or_default()
            .into_iter()
            .map(|g| RuleGroup {
                file: file.clone(),
                ..g
            })
            .collect();
        Ok(RuleFile { path: file, groups })
    }
}

/// Reads every rule file matching the globs (already joined to the config directory, as
/// [`super::Config::rule_files`] are), in glob order and then name order.
pub fn load_rule_files(globs: &[String]) -> Result<Vec<RuleGroup>, ConfigError> {
    let mut groups = Vec::new();
    for pattern in globs {
        for path in expand_glob(pattern, FileKind::Rules)? {
            groups.extend(RuleFile::load(&path)?.groups);
        }
    }
    Ok(groups)
}

/// promtool's stricter check of `rule_files`: a path without `*` must name an existing file
/// (the server itself, like Prometheus', lets a pattern match nothing).
pub fn check_rule_files_exist(globs: &[String]) -> Result<(), String> {
    for pattern in globs.iter().filter(|p| !p.contains('*')) {
        if !Path::new(pattern).exists() {
            return Err(format!("{pattern:?} does not point to an existing file"));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleFileFields {
    #[serde(default, deserialize_with = "null_as_zero")]
    groups: Vec<RuleGroup>,
}

struct RawRuleFile {
    groups: Vec<RuleGroup>,
}

impl<'de> Deserialize<'de> for RawRuleFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_map(d, "a rule file", |raw: RawRuleFileFields| {
            let mut names = std::collections::HashSet::new();
            if let Some(dup) = raw.groups.iter().find(|g| !names.insert(g.name.as_str())) {
                return Err(format!(
                    "groupname: {:?} is repeated in the same file",
                    dup.name
                ));
            }
            Ok(RawRuleFile { groups: raw.groups })
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleGroup {
    #[serde(default, deserialize_with = "null_as_zero")]
    name: String,
    #[serde(default)]
    interval: Option<Duration>,
    #[serde(default)]
    query_offset: Option<Duration>,
    #[serde(default, deserialize_with = "null_as_zero")]
    limit: i64,
    #[serde(default)]
    labels: UniqueMap<String, Option<String>>,
    #[serde(default, deserialize_with = "null_as_zero")]
    rules: Vec<Rule>,
}

impl<'de> Deserialize<'de> for RuleGroup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_map(d, "a rule group", |raw: RawRuleGroup| {
            if raw.name.is_empty() {
                return Err("Groupname must not be empty".into());
            }
            Ok(RuleGroup {
                file: String::new(),
                name: raw.name,
                // A zero interval means the global one, as in Prometheus.
                interval: raw.interval.filter(|i| !i.is_zero()),
                query_offset: raw.query_offset,
                limit: raw.limit.max(0) as u64,
                labels: rule_labels(raw.labels)?,
                rules: raw.rules,
            })
        })
    }
}

/// Labels of a group or rule: any legacy label name but `__name__`.
fn rule_labels(map: UniqueMap<String, Option<String>>) -> Result<Labels, String> {
    let mut labels = Labels::new();
    for (name, value) in map.0 {
        if !is_valid_label_name(&name) || name == METRIC_NAME {
            return Err(format!("invalid label name: {name}"));
        }
        labels.set(name, value.unwrap_or_default());
    }
    Ok(labels)
}

/// An expression that parses; the error is reported at the `expr` value.
struct Expr(String);

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_scalar(d, "a PromQL expression", |s| {
            if s.is_empty() {
                return Err("field 'expr' must be set in rule".into());
            }
            promql_parser::parser::parse(s)
                .map(|_| Expr(s.to_string()))
                .map_err(|e| format!("could not parse expression: {e}"))
        })
    }
}

/// A recording rule's name, checked where it is written; "" is "not set".
struct RecordName(String);

impl<'de> Deserialize<'de> for RecordName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_scalar(d, "a metric name", |s| {
            if s.is_empty() || is_valid_metric_name(s) {
                Ok(RecordName(s.to_string()))
            } else {
                Err(format!("invalid recording rule name: {s}"))
            }
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    record: Option<RecordName>,
    #[serde(default, deserialize_with = "null_as_zero")]
    alert: String,
    #[serde(default)]
    expr: Option<Expr>,
    #[serde(default, rename = "for", deserialize_with = "null_as_zero")]
    for_duration: Duration,
    #[serde(default, deserialize_with = "null_as_zero")]
    keep_firing_for: Duration,
    #[serde(default)]
    labels: UniqueMap<String, Option<String>>,
    #[serde(default)]
    annotations: UniqueMap<String, Option<String>>,
}

impl RawRule {
    /// `rulefmt.Rule.Validate`, first problem only.
    fn validate(self) -> Result<Rule, String> {
        let record = self.record.map(|r| r.0).unwrap_or_default();
        match (record.is_empty(), self.alert.is_empty()) {
            (false, false) => return Err("only one of 'record' and 'alert' must be set".into()),
            (true, true) => return Err("one of 'record' or 'alert' must be set".into()),
            _ => {}
        }
        let expr = self.expr.ok_or("field 'expr' must be set in rule")?.0;
        if !record.is_empty() {
            if !self.annotations.0.is_empty() {
                return Err("invalid field 'annotations' in recording rule".into());
            }
            if !self.for_duration.is_zero() {
                return Err("invalid field 'for' in recording rule".into());
            }
            if !self.keep_firing_for.is_zero() {
                return Err("invalid field 'keep_firing_for' in recording rule".into());
            }
        }
        let labels = rule_labels(self.labels)?;
        let mut annotations = BTreeMap::new();
        for (name, value) in self.annotations.0 {
            if !is_valid_label_name(&name) {
                return Err(format!("invalid annotation name: {name}"));
            }
            annotations.insert(name, value.unwrap_or_default());
        }
        let kind = if record.is_empty() {
            RuleKind::Alert(AlertingRule {
                name: self.alert,
                for_duration: self.for_duration,
                keep_firing_for: self.keep_firing_for,
                annotations,
            })
        } else {
            RuleKind::Record(record)
        };
        Ok(Rule { kind, expr, labels })
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_map(d, "a rule", RawRule::validate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
groups:
  - name: job_rules
    interval: 30s
    labels:
      team: infra
    rules:
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
        labels:
          source: wasmfed
      - alert: HighErrorRate
        expr: job:http_requests:rate5m > 100
        for: 10m
        annotations:
          summary: "{{ $labels.job }} is busy"
  - name: other
    rules: []
"#;

    fn parse(text: &str) -> Result<RuleFile, String> {
        RuleFile::parse(Path::new("r.yml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn valid_file() {
        let file = parse(VALID).unwrap();
        assert_eq!(file.groups.len(), 2);
        let g = &file.groups[0];
        assert_eq!((g.file.as_str(), g.name.as_str()), ("r.yml", "job_rules"));
        assert_eq!(g.interval, Some(Duration::from_secs(30)));
        assert_eq!(g.labels.get("team"), Some("infra"));
        assert_eq!(
            g.rules[0],
            Rule {
                kind: RuleKind::Record("job:http_requests:rate5m".into()),
                expr: "sum by (job) (rate(http_requests_total[5m]))".into(),
                labels: Labels::from_pairs([("source", "wasmfed")]),
            }
        );
        match &g.rules[1].kind {
            RuleKind::Alert(a) => {
                assert_eq!(a.name, "HighErrorRate");
                assert_eq!(a.for_duration, Duration::from_secs(600));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(file.groups[1].interval, None);
        assert!(parse("").unwrap().groups.is_empty());
        assert!(parse("groups:").unwrap().groups.is_empty());
    }

    #[test]
    fn errors() {
        let rule = |body: &str| format!("groups:\n  - name: g\n    rules:\n      - {body}\n");
        for (text, message) in [
            (
                rule("record: job:up:sum\n        expr: sum(up"),
                "loading rule file \"r.yml\": groups[0].rules[0].expr: could not parse expression: unclosed left parenthesis at line 5 column 15",
            ),
            (
                rule("record: 1job\n        expr: up"),
                "groups[0].rules[0].record: invalid recording rule name: 1job at line 4 column 17",
            ),
            (rule("record: job-up\n        expr: up"), "invalid recording rule name: job-up"),
            (rule("record: a\n        alert: b\n        expr: up"), "groups[0].rules[0]: only one of 'record' and 'alert' must be set at line 4 column 9"),
            (rule("expr: up"), "one of 'record' or 'alert' must be set"),
            (rule("record: a"), "field 'expr' must be set in rule"),
            (rule("record: a\n        expr: ''"), "field 'expr' must be set in rule"),
            (rule("record: a\n        expr: up\n        for: 5m"), "invalid field 'for' in recording rule"),
            (rule("record: a\n        expr: up\n        keep_firing_for: 5m"), "invalid field 'keep_firing_for' in recording rule"),
            (rule("record: a\n        expr: up\n        annotations: {a: b}"), "invalid field 'annotations' in recording rule"),
            (rule("record: a\n        expr: up\n        labels: {__name__: b}"), "invalid label name: __name__"),
            (rule("record: a\n        expr: up\n        labels: {a-b: c}"), "invalid label name: a-b"),
            (rule("alert: A\n        expr: up\n        annotations: {a-b: c}"), "invalid annotation name: a-b"),
            (rule("record: a\n        expr: up\n        labls: {}"), "unknown field `labls`"),
            ("groups:\n  - name: g\n  - name: g\n".into(), "groupname: \"g\" is repeated in the same file"),
            ("groups:\n  - rules: []\n".into(), "groups[0]: Groupname must not be empty"),
            ("groups:\n  - name: g\n    interval: 1\n".into(), "groups[0].interval: not a valid duration string"),
            ("group:\n  - name: g\n".into(), "unknown field `group`"),
        ] {
            let err = parse(&text).expect_err(&text);
            assert!(err.contains(message), "{text}\n  got: {err}\n  want: {message}");
        }
    }

    #[test]
    fn loads_globs_and_names_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yml"), VALID).unwrap();
        std::fs::write(
            dir.path().join("b.yml"),
            "groups:\n  - name: b\n    rules:\n      - record: x\n        expr: up\n",
        )
        .unwrap();
        let glob = format!("{}/*.yml", dir.path().display());
        let groups = load_rule_files(std::slice::from_ref(&glob)).unwrap();
        let names: Vec<_> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["job_rules", "other", "b"]);
        assert!(groups[2].file.ends_with("/b.yml"));

        let bad = dir.path().join("c.yml");
        std::fs::write(
            &bad,
            "groups:\n  - name: c\n    rules:\n      - record: x\n        expr: 'up +'\n",
        )
        .unwrap();
        let err = load_rule_files(&[glob]).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("loading rule file {bad:?}: ")),
            "{err}"
        );
    }
}
