//! Relabel configurations (`relabel_configs`, `metric_relabel_configs`), read and validated
//! exactly as Prometheus' `model/relabel/relabel.go` does, with its error messages.
//!
//! This module only checks and holds the rules; applying them is the target and series stages'
//! business (natively or in a WASM plugin), which get the regex as written and anchor it the
//! Prometheus way with [`RelabelConfig::anchored_regex`].
//!
//! Names are checked with Prometheus' legacy scheme (`[a-zA-Z_][a-zA-Z0-9_]*`), the one
//! wasmfed's text parser and `/federate` writer use; Prometheus 3 also offers UTF-8 names.
//! A few fields must tell "absent" from "null": Prometheus fills defaults before it reads a
//! mapping, so an absent `separator` is `;` but `separator:` (null) is empty, and any `regex`
//! written out, even `(.*)`, counts as set for `keepequal`/`dropequal`.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize};

use super::yaml::{checked_map, null_as_zero, parse_scalar, LabelName};
use wasmfed_model::labels::is_valid_label_name;

const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_REPLACEMENT: &str = "$1";

/// Prometheus' `relabelTargetLegacy`: a label name in which `$1`/`${name}` templates may stand.
static TEMPLATED_LABEL_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{[0-9A-Za-z_]+\}|[0-9A-Za-z_]+))+[0-9A-Za-z_]*)+$")
        .expect("static regex")
});

/// What a relabel rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RelabelAction {
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

impl RelabelAction {
    const ALL: [RelabelAction; 11] = [
        RelabelAction::Replace,
        RelabelAction::Keep,
        RelabelAction::Drop,
        RelabelAction::HashMod,
        RelabelAction::LabelMap,
        RelabelAction::LabelDrop,
        RelabelAction::LabelKeep,
        RelabelAction::Lowercase,
        RelabelAction::Uppercase,
        RelabelAction::KeepEqual,
        RelabelAction::DropEqual,
    ];

    /// The name as written in a configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            RelabelAction::Replace => "replace",
            RelabelAction::Keep => "keep",
            RelabelAction::Drop => "drop",
            RelabelAction::HashMod => "hashmod",
            RelabelAction::LabelMap => "labelmap",
            RelabelAction::LabelDrop => "labeldrop",
            RelabelAction::LabelKeep => "labelkeep",
            RelabelAction::Lowercase => "lowercase",
            RelabelAction::Uppercase => "uppercase",
            RelabelAction::KeepEqual => "keepequal",
            RelabelAction::DropEqual => "dropequal",
        }
    }
}

impl fmt::Display for RelabelAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Case-insensitive, as in Prometheus.
impl FromStr for RelabelAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.to_lowercase();
        RelabelAction::ALL
            .into_iter()
            .find(|a| a.as_str() == lower)
            .ok_or_else(|| format!("unknown relabel action {s:?}"))
    }
}

impl<'de> Deserialize<'de> for RelabelAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_scalar(d, "a relabel action", str::parse)
    }
}

/// One validated relabel rule with Prometheus' defaults filled in.
///
/// It serializes as Prometheus marshals it, leaving out fields at their defaults, so that the
/// text reads back as the same rule (`keepequal` may not even mention `regex`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RelabelConfig {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    pub separator: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target_label: String,
    /// As written, not anchored; see [`RelabelConfig::anchored_regex`].
    #[serde(skip_serializing_if = "is_default_regex")]
    pub regex: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub modulus: u64,
    pub replacement: String,
    pub action: RelabelAction,
}

fn is_default_regex(regex: &str) -> bool {
    regex == DEFAULT_REGEX
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Default for RelabelConfig {
    /// Prometheus' `DefaultRelabelConfig`.
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_string(),
            target_label: String::new(),
            regex: DEFAULT_REGEX.to_string(),
            modulus: 0,
            replacement: DEFAULT_REPLACEMENT.to_string(),
            action: RelabelAction::Replace,
        }
    }
}

impl RelabelConfig {
    /// The regex as Prometheus matches it: whole value, `.` matching newlines too.
    pub fn anchored_regex(&self) -> String {
        anchored(&self.regex)
    }
}

fn anchored(regex: &str) -> String {
    format!("^(?s:{regex})$")
}

/// Compiles the anchored regex to prove it valid; the message keeps only the reason, not
/// the regex crate's multi-line caret drawing.
fn check_regex(regex: &str) -> Result<String, String> {
    match Regex::new(&anchored(regex)) {
        Ok(_) => Ok(regex.to_string()),
        Err(err) => {
            let text = err.to_string();
            let reason = text.lines().last().unwrap_or_default();
            let reason = reason.strip_prefix("error: ").unwrap_or(reason);
            Err(format!("error parsing regexp {regex:?}: {reason}"))
        }
    }
}

/// A relabel rule as written; `None` is an absent field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelabelConfig {
    /// Null is "not set" (Go's nil slice); `[]` is set.
    #[serde(default)]
    source_labels: Option<Vec<LabelName>>,
    #[serde(default = "default_separator", deserialize_with = "null_as_zero")]
    separator: String,
    #[serde(default, deserialize_with = "null_as_zero")]
    target_label: String,
    /// Absent is the default; null is the empty regex.
    #[serde(default, deserialize_with = "regex_field")]
    regex: Option<String>,
    #[serde(default, deserialize_with = "null_as_zero")]
    modulus: u64,
    #[serde(default = "default_replacement", deserialize_with = "null_as_zero")]
    replacement: String,
    /// Null (not absent) leaves no action at all.
    #[serde(default = "default_action")]
    action: Option<RelabelAction>,
}

fn default_separator() -> String {
    DEFAULT_SEPARATOR.to_string()
}

fn default_replacement() -> String {
    DEFAULT_REPLACEMENT.to_string()
}

fn default_action() -> Option<RelabelAction> {
    Some(RelabelAction::Replace)
}

fn regex_field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Checked(String);
    impl<'de> Deserialize<'de> for Checked {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            parse_scalar(d, "a regular expression", check_regex).map(Checked)
        }
    }
    Ok(Some(
        Option::<Checked>::deserialize(d)?
            .map(|c| c.0)
            .unwrap_or_default(),
    ))
}

impl RawRelabelConfig {
    /// `relabel.Config.Validate` with the legacy name scheme, check for check.
    fn validate(self) -> Result<RelabelConfig, String> {
        use RelabelAction::*;
        let action = self.action.ok_or("relabel action cannot be empty")?;
        let target = self.target_label.as_str();
        let invalid_target = || format!("{target:?} is invalid 'target_label' for {action} action");
        if self.modulus == 0 && action == HashMod {
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
            if (!templated && !is_valid_label_name(target))
                || (templated && !TEMPLATED_LABEL_NAME.is_match(target))
            {
                return Err(invalid_target());
            }
        }
        let case_or_equal = matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual);
        if case_or_equal && !is_valid_label_name(target) {
            return Err(invalid_target());
        }
        if case_or_equal && self.replacement != DEFAULT_REPLACEMENT {
            return Err(format!("'replacement' can not be set for {action} action"));
        }
        if action == LabelMap && !TEMPLATED_LABEL_NAME.is_match(&self.replacement) {
            return Err(format!(
                "{:?} is invalid 'replacement' for {action} action",
                self.replacement
            ));
        }
        if action == HashMod && !is_valid_label_name(target) {
            return Err(invalid_target());
        }
        let default_rest = self.modulus == 0
            && self.separator == DEFAULT_SEPARATOR
            && self.replacement == DEFAULT_REPLACEMENT;
        if matches!(action, KeepEqual | DropEqual) && (self.regex.is_some() || !default_rest) {
            return Err(format!(
                "{action} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        if matches!(action, LabelDrop | LabelKeep)
            && (self.source_labels.is_some() || !target.is_empty() || !default_rest)
        {
            return Err(format!(
                "{action} action requires only 'regex', and no other fields"
            ));
        }
        Ok(RelabelConfig {
            source_labels: self
                .source_labels
                .unwrap_or_default()
                .into_iter()
                .map(|l| l.0)
                .collect(),
            separator: self.separator,
            target_label: self.target_label,
            regex: self.regex.unwrap_or_else(|| DEFAULT_REGEX.to_string()),
            modulus: self.modulus,
            replacement: self.replacement,
            action,
        })
    }
}

impl<'de> Deserialize<'de> for RelabelConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_map(d, "a relabel config", RawRelabelConfig::validate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<RelabelConfig, String> {
        serde_yaml::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_fields() {
        let c = parse("target_label: x").unwrap();
        assert_eq!(
            c,
            RelabelConfig {
                target_label: "x".into(),
                ..RelabelConfig::default()
            }
        );
        assert_eq!(c.anchored_regex(), "^(?s:(.*))$");

        let c = parse(
            "source_labels: [__address__]\nmodulus: 4\ntarget_label: __tmp_hash\naction: HashMod",
        )
        .unwrap();
        assert_eq!(c.action, RelabelAction::HashMod);
        assert_eq!(c.modulus, 4);
        assert_eq!(c.source_labels, ["__address__"]);

        // Scalars of any type are regexes; null means the empty regex, not the default.
        assert_eq!(parse("regex: 1\naction: keep").unwrap().regex, "1");
        assert_eq!(parse("regex:\naction: keep").unwrap().regex, "");
        assert_eq!(parse("separator:\naction: keep").unwrap().separator, "");
        assert_eq!(
            parse("replacement: ~\naction: keep").unwrap().replacement,
            ""
        );
        assert_eq!(
            parse("action: labelmap\nregex: __meta_(.+)")
                .unwrap()
                .replacement,
            "$1"
        );
        assert!(parse("action: replace\ntarget_label: ${1}_x").is_ok());
        assert!(parse("action: replace\ntarget_label: $1").is_ok());
        assert!(parse("action: keepequal\nsource_labels: [a]\ntarget_label: b").is_ok());
        assert!(parse("action: labeldrop\nregex: tmp_.*").is_ok());
        assert!(parse("action: labelkeep\nregex: tmp_.*\nseparator: ';'").is_ok());
    }

    #[test]
    fn validation_errors() {
        for (yaml, message) in [
            ("action:", "relabel action cannot be empty"),
            ("action: rewrite", r#"unknown relabel action "rewrite""#),
            ("action: ''", r#"unknown relabel action """#),
            (
                "action: hashmod\ntarget_label: x",
                "relabel configuration for hashmod requires non-zero modulus",
            ),
            (
                "action: replace",
                "relabel configuration for replace action requires 'target_label' value",
            ),
            (
                "action: hashmod\nmodulus: 2",
                "relabel configuration for hashmod action requires 'target_label' value",
            ),
            (
                "action: lowercase",
                "relabel configuration for lowercase action requires 'target_label' value",
            ),
            (
                "action: dropequal",
                "relabel configuration for dropequal action requires 'target_label' value",
            ),
            ("target_label: 1x", r#""1x" is invalid 'target_label' for replace action"#),
            ("target_label: a-b", r#""a-b" is invalid 'target_label' for replace action"#),
            ("target_label: ${1", r#""${1" is invalid 'target_label' for replace action"#),
            (
                "action: uppercase\ntarget_label: $1",
                r#""$1" is invalid 'target_label' for uppercase action"#,
            ),
            (
                "action: hashmod\nmodulus: 2\ntarget_label: $1",
                r#""$1" is invalid 'target_label' for hashmod action"#,
            ),
            (
                "action: lowercase\ntarget_label: x\nreplacement: y",
                "'replacement' can not be set for lowercase action",
            ),
            (
                "action: labelmap\nreplacement: a-$1",
                r#""a-$1" is invalid 'replacement' for labelmap action"#,
            ),
            (
                "action: keepequal\ntarget_label: x\nregex: (.*)",
                "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
            ),
            (
                "action: dropequal\ntarget_label: x\nseparator: ','",
                "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
            ),
            (
                "action: labeldrop\nsource_labels: []",
                "labeldrop action requires only 'regex', and no other fields",
            ),
            (
                "action: labelkeep\ntarget_label: x",
                "labelkeep action requires only 'regex', and no other fields",
            ),
            (
                "action: labelkeep\nmodulus: 3",
                "labelkeep action requires only 'regex', and no other fields",
            ),
            ("source_labels: [a.b]", r#""a.b" is not a valid label name"#),
            ("regex: '(a'\naction: keep", r#"error parsing regexp "(a": unclosed group"#),
            ("action: keep\nregexp: a", "unknown field `regexp`"),
        ] {
            let err = parse(yaml).expect_err(yaml);
            assert!(err.contains(message), "{yaml}\n  got: {err}\n  want: {message}");
        }
    }

    /// Plugins get their relabel rules as YAML or JSON text; what is written must read back.
    #[test]
    fn serialized_rules_read_back() {
        for yaml in [
            "source_labels: [__address__]\nmodulus: 4\ntarget_label: __tmp_hash\naction: hashmod",
            "action: labelmap\nregex: __meta_kubernetes_(.+)\nreplacement: k8s_$1",
            "action: keepequal\nsource_labels: [a]\ntarget_label: b",
            "action: labeldrop\nregex: tmp_.*",
        ] {
            let rule = parse(yaml).unwrap();
            let text = serde_yaml::to_string(&rule).unwrap();
            let json = serde_json::to_string(&rule).unwrap();
            assert_eq!(parse(&text), Ok(rule.clone()), "{text}");
            assert_eq!(
                serde_json::from_str::<RelabelConfig>(&json).unwrap(),
                rule,
                "{json}"
            );
        }
    }

    #[test]
    fn errors_name_the_rule_and_its_line() {
        type Job = std::collections::BTreeMap<String, Vec<RelabelConfig>>;
        let yaml = "relabel_configs:\n  - action: keep\n  - action: hashmod\n    target_label: x\n";
        let err = serde_yaml::from_str::<Job>(yaml).unwrap_err().to_string();
        assert_eq!(
            err,
            "relabel_configs[1]: relabel configuration for hashmod requires non-zero modulus at line 3 column 5"
        );
    }
}
