//! The plugin's configuration: a JSON array of relabel rules with Prometheus' field names, read
//! and validated as Prometheus' `model/relabel/relabel.go` does, with its error messages.
//!
//! Prometheus fills its defaults before it reads a rule, so an absent field takes the default
//! and a `null` one the zero value: an absent `separator` is `;`, a null one empty; an absent
//! `regex` is `(.*)`, a null one the empty regex, and any `regex` given, even `(.*)`, counts as
//! set for `keepequal`/`dropequal`. The host's own config module reads YAML the same way and
//! hands the rules over as JSON, so a rule means the same on both sides.

use std::fmt;
use std::sync::LazyLock;

use plugin_sdk::is_valid_label_name;
use regex::Regex;
use serde::{Deserialize, Deserializer};

use crate::pattern::{Pattern, DEFAULT_REGEX};

const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REPLACEMENT: &str = "$1";

/// Prometheus' `relabelTarget`: a label name in which `$1`/`${name}` templates may stand
/// (`\w` written out, being ASCII in Go).
static TEMPLATED_LABEL_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{[0-9A-Za-z_]+\}|[0-9A-Za-z_]+))+[0-9A-Za-z_]*)+$")
        .expect("static regex")
});

/// What a rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Replace,
    Keep,
    Drop,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
    KeepEqual,
    DropEqual,
}

impl Action {
    const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
        Action::KeepEqual,
        Action::DropEqual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
        }
    }

    /// Case-insensitive, as in Prometheus.
    fn parse(s: &str) -> Result<Action, String> {
        let lower = s.to_lowercase();
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| format!("unknown relabel action {s:?}"))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One validated rule with Prometheus' defaults filled in and its regex compiled.
#[derive(Clone, Debug)]
pub struct RelabelConfig {
    pub source_labels: Vec<String>,
    pub separator: String,
    pub target_label: String,
    pub regex: Pattern,
    pub modulus: u64,
    pub replacement: String,
    pub action: Action,
}

/// Why `init` refused the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The index of the offending rule, when one is to blame.
    pub rule: Option<usize>,
    /// Prometheus' message.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rule {
            Some(index) => write!(f, "rules[{index}]: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Reads the plugin's configuration: a JSON array of rules, or `null` for none.
pub fn parse_rules(json: &str) -> Result<Vec<RelabelConfig>, ConfigError> {
    let whole = |message: String| ConfigError {
        rule: None,
        message,
    };
    let rules: Option<Vec<serde_json::Value>> = serde_json::from_str(json)
        .map_err(|e| whole(format!("relabel rules must be a JSON array of rules: {e}")))?;
    rules
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(index, rule)| {
            parse_rule(rule).map_err(|message| ConfigError {
                rule: Some(index),
                message,
            })
        })
        .collect()
}

fn parse_rule(rule: serde_json::Value) -> Result<RelabelConfig, String> {
    if rule.is_null() {
        return Err("empty or null relabeling rule".into());
    }
    RawRule::deserialize(rule)
        .map_err(|e| e.to_string())?
        .validate()
}

/// A rule as written: `None` is an absent field, `Some(None)` a null one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default, deserialize_with = "present")]
    source_labels: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    separator: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    target_label: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    regex: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    modulus: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    replacement: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    action: Option<Option<String>>,
}

/// Marks a field as present, null or not.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The value of a field that Prometheus defaults: absent → `default`, null → zero value.
fn or_default<T: Default>(field: Option<Option<T>>, default: impl FnOnce() -> T) -> T {
    match field {
        None => default(),
        Some(value) => value.unwrap_or_default(),
    }
}

impl RawRule {
    /// `relabel.Config.Validate`, check for check and in Prometheus' order, after the checks
    /// Prometheus makes while reading the fields (label names, action, regex).
    fn validate(self) -> Result<RelabelConfig, String> {
        use Action::*;
        // Null is Go's nil slice, `[]` an empty one: only `labeldrop`/`labelkeep` care.
        let source_labels_set = matches!(self.source_labels, Some(Some(_)));
        let source_labels = self.source_labels.flatten().unwrap_or_default();
        if let Some(bad) = source_labels.iter().find(|l| !is_valid_label_name(l)) {
            return Err(format!("{bad:?} is not a valid label name"));
        }
        let action = match self.action {
            None => Replace,
            Some(None) => return Err("relabel action cannot be empty".into()),
            Some(Some(name)) => Action::parse(&name)?,
        };
        let regex_set = self.regex.is_some();
        let regex = Pattern::new(&or_default(self.regex, || DEFAULT_REGEX.into()))?;
        let separator = or_default(self.separator, || DEFAULT_SEPARATOR.into());
        let target = or_default(self.target_label, String::new);
        let modulus = or_default(self.modulus, || 0);
        let replacement = or_default(self.replacement, || DEFAULT_REPLACEMENT.into());

        let invalid_target = || format!("{target:?} is invalid 'target_label' for {action} action");
        if modulus == 0 && action == HashMod {
            return Err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        let needs_target = matches!(
            action,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        );
        if needs_target && target.is_empty() {
            return Err(format!(
                "relabel configuration for {action} action requires 'target_label' value"
            ));
        }
        if action == Replace {
            let templated = target.contains('$');
            if (!templated && !is_valid_label_name(&target))
                || (templated && !TEMPLATED_LABEL_NAME.is_match(&target))
            {
                return Err(invalid_target());
            }
        }
        let case_or_equal = matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual);
        if case_or_equal && !is_valid_label_name(&target) {
            return Err(invalid_target());
        }
        if case_or_equal && replacement != DEFAULT_REPLACEMENT {
            return Err(format!("'replacement' can not be set for {action} action"));
        }
        if action == LabelMap && !TEMPLATED_LABEL_NAME.is_match(&replacement) {
            return Err(format!(
                "{replacement:?} is invalid 'replacement' for {action} action"
            ));
        }
        if action == HashMod && !is_valid_label_name(&target) {
            return Err(invalid_target());
        }
        let default_rest =
            modulus == 0 && separator == DEFAULT_SEPARATOR && replacement == DEFAULT_REPLACEMENT;
        if matches!(action, KeepEqual | DropEqual) && (regex_set || !default_rest) {
            return Err(format!(
                "{action} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        if matches!(action, LabelDrop | LabelKeep)
            && (source_labels_set || !target.is_empty() || !default_rest)
        {
            return Err(format!(
                "{action} action requires only 'regex', and no other fields"
            ));
        }
        Ok(RelabelConfig {
            source_labels,
            separator,
            target_label: target,
            regex,
            modulus,
            replacement,
            action,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(json: &str) -> Result<RelabelConfig, String> {
        let mut rules = parse_rules(&format!("[{json}]")).map_err(|e| e.message)?;
        Ok(rules.remove(0))
    }

    #[test]
    fn defaults() {
        let rule = one(r#"{"target_label": "x"}"#).unwrap();
        assert_eq!(rule.action, Action::Replace);
        assert_eq!(rule.separator, ";");
        assert_eq!(rule.replacement, "$1");
        assert_eq!(rule.modulus, 0);
        assert!(rule.source_labels.is_empty());
        assert!(rule.regex.is_match("anything\nat all"));

        // Null is the zero value, not the default.
        let rule =
            one(r#"{"action": "keep", "separator": null, "replacement": null, "regex": null}"#)
                .unwrap();
        assert_eq!(rule.separator, "");
        assert_eq!(rule.replacement, "");
        assert!(rule.regex.is_match(""));
        assert!(!rule.regex.is_match("x"));

        let rule = one(
            r#"{"source_labels": ["__address__"], "modulus": 4, "target_label": "__tmp_hash", "action": "HashMod"}"#,
        )
        .unwrap();
        assert_eq!(rule.action, Action::HashMod);
        assert_eq!(rule.modulus, 4);
        assert_eq!(rule.source_labels, ["__address__"]);
    }

    #[test]
    fn whole_configs() {
        assert_eq!(parse_rules("null").unwrap().len(), 0);
        assert_eq!(parse_rules("[]").unwrap().len(), 0);
        assert_eq!(
            parse_rules(r#"[{"action": "keep"}, {"action": "drop", "regex": "x"}]"#)
                .unwrap()
                .len(),
            2
        );
        for (json, want) in [
            (
                "{}",
                "relabel rules must be a JSON array of rules: invalid type: map",
            ),
            ("", "relabel rules must be a JSON array of rules: EOF"),
            (
                "[1]",
                "rules[0]: invalid type: integer `1`, expected struct RawRule",
            ),
            (
                r#"[{"action": "keep"}, null]"#,
                "rules[1]: empty or null relabeling rule",
            ),
            (
                r#"[{"action": "keep"}, {"action": "hashmod", "target_label": "x"}]"#,
                "rules[1]: relabel configuration for hashmod requires non-zero modulus",
            ),
        ] {
            let err = parse_rules(json).unwrap_err().to_string();
            assert!(
                err.starts_with(want),
                "{json}\n  got: {err}\n  want: {want}"
            );
        }
    }

    /// Every message of Prometheus' `Validate` and of its field parsing, with the cases of its
    /// `relabel_test.go` and `config/testdata/*.bad.yml`.
    #[test]
    fn validation_errors() {
        for (json, want) in [
            (r#"{"action": null}"#, "relabel action cannot be empty"),
            (r#"{"action": "rewrite"}"#, r#"unknown relabel action "rewrite""#),
            (r#"{"action": ""}"#, r#"unknown relabel action """#),
            (
                r#"{"action": "hashmod", "target_label": "x"}"#,
                "relabel configuration for hashmod requires non-zero modulus",
            ),
            (
                r#"{"action": "hashmod", "regex": "abcdef"}"#,
                "relabel configuration for hashmod requires non-zero modulus",
            ),
            (
                r#"{"regex": "abcdef"}"#,
                "relabel configuration for replace action requires 'target_label' value",
            ),
            (
                r#"{"action": "hashmod", "modulus": 2}"#,
                "relabel configuration for hashmod action requires 'target_label' value",
            ),
            (
                r#"{"action": "lowercase"}"#,
                "relabel configuration for lowercase action requires 'target_label' value",
            ),
            (
                r#"{"action": "uppercase"}"#,
                "relabel configuration for uppercase action requires 'target_label' value",
            ),
            (
                r#"{"action": "keepequal", "source_labels": ["abcdef"]}"#,
                "relabel configuration for keepequal action requires 'target_label' value",
            ),
            (
                r#"{"action": "dropequal", "source_labels": ["abcdef"]}"#,
                "relabel configuration for dropequal action requires 'target_label' value",
            ),
            (r#"{"target_label": "1x"}"#, r#""1x" is invalid 'target_label' for replace action"#),
            (r#"{"target_label": "a-b"}"#, r#""a-b" is invalid 'target_label' for replace action"#),
            (r#"{"target_label": "${1"}"#, r#""${1" is invalid 'target_label' for replace action"#),
            (r#"{"target_label": "$"}"#, r#""$" is invalid 'target_label' for replace action"#),
            (r#"{"target_label": "${}"}"#, r#""${}" is invalid 'target_label' for replace action"#),
            (r#"{"target_label": "0${3}"}"#, r#""0${3}" is invalid 'target_label' for replace action"#),
            (r#"{"target_label": "-${3}"}"#, r#""-${3}" is invalid 'target_label' for replace action"#),
            (
                r#"{"target_label": "-foo${1}bar-"}"#,
                r#""-foo${1}bar-" is invalid 'target_label' for replace action"#,
            ),
            (
                r#"{"action": "lowercase", "target_label": "${3}"}"#,
                r#""${3}" is invalid 'target_label' for lowercase action"#,
            ),
            (
                r#"{"action": "lowercase", "source_labels": ["__name__"], "target_label": "42lab"}"#,
                r#""42lab" is invalid 'target_label' for lowercase action"#,
            ),
            (
                r#"{"action": "uppercase", "source_labels": ["__name__"], "target_label": "42lab"}"#,
                r#""42lab" is invalid 'target_label' for uppercase action"#,
            ),
            (
                r#"{"action": "keepequal", "target_label": "a.b"}"#,
                r#""a.b" is invalid 'target_label' for keepequal action"#,
            ),
            (
                r#"{"action": "hashmod", "modulus": 2, "target_label": "$1"}"#,
                r#""$1" is invalid 'target_label' for hashmod action"#,
            ),
            (
                r#"{"action": "lowercase", "target_label": "__name__", "replacement": "bar"}"#,
                "'replacement' can not be set for lowercase action",
            ),
            (
                r#"{"action": "uppercase", "target_label": "__name__", "replacement": "bar"}"#,
                "'replacement' can not be set for uppercase action",
            ),
            (
                r#"{"action": "keepequal", "target_label": "x", "replacement": null}"#,
                "'replacement' can not be set for keepequal action",
            ),
            (
                r#"{"action": "labelmap", "replacement": "l-$1"}"#,
                r#""l-$1" is invalid 'replacement' for labelmap action"#,
            ),
            (
                r#"{"action": "labelmap", "replacement": ""}"#,
                r#""" is invalid 'replacement' for labelmap action"#,
            ),
            (
                r#"{"action": "keepequal", "source_labels": ["abcdef"], "regex": "foo", "target_label": "bar"}"#,
                "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
            ),
            (
                r#"{"action": "dropequal", "source_labels": ["abcdef"], "regex": "foo", "target_label": "bar"}"#,
                "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
            ),
            (
                r#"{"action": "keepequal", "target_label": "x", "regex": "(.*)"}"#,
                "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
            ),
            (
                r#"{"action": "dropequal", "target_label": "x", "separator": ","}"#,
                "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
            ),
            (
                r#"{"action": "dropequal", "target_label": "x", "modulus": 3}"#,
                "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
            ),
            (
                r#"{"action": "labelkeep", "source_labels": ["abcdef"]}"#,
                "labelkeep action requires only 'regex', and no other fields",
            ),
            (
                r#"{"action": "labelkeep", "source_labels": []}"#,
                "labelkeep action requires only 'regex', and no other fields",
            ),
            (
                r#"{"action": "labelkeep", "modulus": 8}"#,
                "labelkeep action requires only 'regex', and no other fields",
            ),
            (
                r#"{"action": "labelkeep", "separator": ","}"#,
                "labelkeep action requires only 'regex', and no other fields",
            ),
            (
                r#"{"action": "labelkeep", "replacement": "yolo-{1}"}"#,
                "labelkeep action requires only 'regex', and no other fields",
            ),
            (
                r#"{"action": "labelkeep", "target_label": "yolo"}"#,
                "labelkeep action requires only 'regex', and no other fields",
            ),
            (
                r#"{"action": "labeldrop", "source_labels": ["abcdef"]}"#,
                "labeldrop action requires only 'regex', and no other fields",
            ),
            (
                r#"{"action": "labeldrop", "modulus": 8}"#,
                "labeldrop action requires only 'regex', and no other fields",
            ),
            (
                r#"{"action": "labeldrop", "separator": ","}"#,
                "labeldrop action requires only 'regex', and no other fields",
            ),
            (
                r#"{"action": "labeldrop", "replacement": "yolo-{1}"}"#,
                "labeldrop action requires only 'regex', and no other fields",
            ),
            (
                r#"{"action": "labeldrop", "target_label": "yolo"}"#,
                "labeldrop action requires only 'regex', and no other fields",
            ),
            (r#"{"source_labels": ["a.b"]}"#, r#""a.b" is not a valid label name"#),
            (r#"{"source_labels": [""]}"#, r#""" is not a valid label name"#),
            (r#"{"regex": "abc(def", "target_label": "x"}"#, r#"error parsing regexp "abc(def": unclosed group"#),
            (r#"{"action": "keep", "regexp": "a"}"#, "unknown field `regexp`"),
            (r#"{"modulus": -1}"#, "invalid value: integer `-1`, expected u64"),
            (r#"{"target_label": 1}"#, "invalid type: integer `1`, expected a string"),
        ] {
            let err = one(json).expect_err(json);
            assert!(err.starts_with(want), "{json}\n  got: {err}\n  want: {want}");
        }
    }

    /// The accepted half of the same tests, including `relabelTarget`'s positive cases.
    #[test]
    fn valid_rules() {
        for json in [
            r#"{"target_label": "label"}"#,
            r#"{"target_label": "label${1}"}"#,
            r#"{"target_label": "${1}label"}"#,
            r#"{"target_label": "${1}"}"#,
            r#"{"target_label": "$1"}"#,
            r#"{"target_label": "asd$2asd"}"#,
            r#"{"target_label": "_${1}_"}"#,
            r#"{"target_label": "foo${bar}foo"}"#,
            r#"{"source_labels": ["a"], "regex": "some-([^-]+)-([^,]+)", "replacement": "${1}", "target_label": "${3}"}"#,
            r#"{"action": "labelmap", "regex": "__meta_(.+)"}"#,
            r#"{"action": "labelmap", "regex": "(b.*)", "replacement": "bar_${1}"}"#,
            r#"{"action": "keepequal", "source_labels": ["a"], "target_label": "b"}"#,
            r#"{"action": "DropEqual", "source_labels": ["a"], "target_label": "b", "separator": ";", "replacement": "$1"}"#,
            r#"{"action": "labeldrop", "regex": "tmp_.*"}"#,
            r#"{"action": "labelkeep", "regex": "tmp_.*", "separator": ";", "source_labels": null}"#,
            r#"{"action": "keep", "source_labels": []}"#,
            r#"{"action": "lowercase", "target_label": "x", "replacement": "$1"}"#,
        ] {
            if let Err(err) = one(json) {
                panic!("{json}: {err}");
            }
        }
    }
}
