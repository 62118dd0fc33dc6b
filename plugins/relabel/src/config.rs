//! The plugin's configuration: a JSON array of Prometheus relabel rules, or `null` for none,
//! read as Prometheus 3 reads them; or `{"compat": 2|3, "rules": [...]}` to name the release.
//!
//! Each rule is read and validated by the `relabel-config` crate, which the host's config
//! module uses too (it hands its YAML rules over as this JSON), so a rule means the same, and
//! is refused with the same words, on both sides. This module only adds what is the plugin's
//! own: the array around the rules, which rule is to blame, and the release: Prometheus 2.42
//! compiles a rule's regex as `^(?:…)$` (`.` stops at a newline) with Go 1.19, 3.x as
//! `^(?s:…)$`, so with `"compat": 2` each rule is read as 2.42 would. Names follow
//! the release (legacy for 2, UTF-8 for 3) unless `"names": "legacy"|"utf8"` says otherwise (a
//! Prometheus 3 job with `metric_name_validation_scheme: legacy`).

use std::fmt;

use promregex::{Pattern, Release};
use relabel_config::{with_release, NameScheme, RelabelConfig};
use serde::Deserialize;

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

/// The configuration with the release named.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WithRelease {
    compat: u8,
    #[serde(default)]
    names: Option<String>,
    rules: Option<Vec<serde_json::Value>>,
}

/// The rules of a configuration and the label names they may write.
#[derive(Debug)]
pub struct Parsed {
    pub rules: Vec<RelabelConfig>,
    pub names: NameScheme,
}

/// Reads the plugin's configuration: a JSON array of rules, or `null` for none, or the rules
/// with the release to read them as.
pub fn parse_rules(json: &str) -> Result<Parsed, ConfigError> {
    let whole = |message: String| ConfigError {
        rule: None,
        message,
    };
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| whole(format!("relabel rules must be a JSON array of rules: {e}")))?;
    let (rules, release, names) = if value.is_object() {
        let with = WithRelease::deserialize(value).map_err(|e| whole(e.to_string()))?;
        let release = match with.compat {
            2 => Release::V2,
            3 => Release::V3,
            n => return Err(whole(format!("unknown compat {n}: 2 or 3"))),
        };
        let names = match with.names.as_deref() {
            None => NameScheme::of_release(release),
            Some("legacy") => NameScheme::Legacy,
            Some("utf8") => NameScheme::Utf8,
            Some(other) => return Err(whole(format!("unknown names {other:?}: legacy or utf8"))),
        };
        (with.rules, release, names)
    } else {
        let rules = Option::<Vec<serde_json::Value>>::deserialize(value)
            .map_err(|e| whole(format!("relabel rules must be a JSON array of rules: {e}")))?;
        (rules, Release::V3, NameScheme::Utf8)
    };
    let rules = rules
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(index, rule)| {
            parse_rule(rule, release, names).map_err(|message| ConfigError {
                rule: Some(index),
                message,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Parsed { rules, names })
}

/// One rule, read as `release` reads it, its target names checked by `names`.
fn parse_rule(
    rule: serde_json::Value,
    release: Release,
    names: NameScheme,
) -> Result<RelabelConfig, String> {
    if rule.is_null() {
        return Err("empty or null relabeling rule".into());
    }
    let mut rule =
        with_release(release, || RelabelConfig::deserialize(rule)).map_err(|e| e.to_string())?;
    rule.check_names(names).map_err(|e| e.to_string())?;
    // The default `(.*)` was compiled as 3 compiles it; 2's does not match a newline.
    if release != Release::V3 {
        rule.regex =
            Pattern::for_release(rule.regex.as_str(), release).map_err(|e| e.to_string())?;
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2.42's `.` stops at a newline, also in the default `(.*)`; 3.x's does not.
    #[test]
    fn each_release_compiles_as_its_own() {
        let rule = r#"[{"action": "keep", "regex": "a.b"}, {"target_label": "x"}]"#;
        for (json, want) in [
            (rule.to_string(), true),
            (format!(r#"{{"compat": 3, "rules": {rule}}}"#), true),
            (format!(r#"{{"compat": 2, "rules": {rule}}}"#), false),
        ] {
            let rules = parse_rules(&json).unwrap().rules;
            assert_eq!(rules[0].regex.is_match("a\nb"), want, "{json}");
            assert_eq!(rules[1].regex.is_match("a\nb"), want, "{json}");
        }
    }

    /// Prometheus 3 writes any UTF-8 target name; 2 and a legacy job only legacy ones.
    #[test]
    fn names_follow_the_release_or_the_job() {
        let rule = r#"[{"target_label": "a.b"}]"#;
        assert_eq!(parse_rules(rule).unwrap().names, NameScheme::Utf8);
        let legacy = r#"{"compat": 3, "names": "legacy", "rules": []}"#;
        assert_eq!(parse_rules(legacy).unwrap().names, NameScheme::Legacy);
        let in_2 = r#"{"compat": 2, "rules": []}"#;
        assert_eq!(parse_rules(in_2).unwrap().names, NameScheme::Legacy);
    }

    #[test]
    fn whole_configs() {
        assert_eq!(parse_rules("null").unwrap().rules.len(), 0);
        assert_eq!(parse_rules("[]").unwrap().rules.len(), 0);
        assert_eq!(
            parse_rules(r#"[{"action": "keep"}, {"action": "drop", "regex": "x"}]"#)
                .unwrap()
                .rules
                .len(),
            2
        );
        for (json, want) in [
            ("{}", "missing field `compat`"),
            (r#"{"compat": 4, "rules": []}"#, "unknown compat 4: 2 or 3"),
            (
                r#"{"compat": 2, "rules": [{"action": "keep", "regex": "(?<n>x)"}]}"#,
                "rules[0]: error parsing regexp: invalid or unsupported Perl syntax: `(?<`",
            ),
            (
                "true",
                "relabel rules must be a JSON array of rules: invalid type: boolean",
            ),
            ("", "relabel rules must be a JSON array of rules: EOF"),
            (
                "[1]",
                "rules[0]: invalid type: integer `1`, expected a relabel config",
            ),
            (
                r#"{"compat": 3, "names": "legacy", "rules": [{"target_label": "a.b"}]}"#,
                "rules[0]: \"a.b\" is invalid 'target_label' for replace action",
            ),
            (
                r#"{"compat": 2, "rules": [{"target_label": "a.b"}]}"#,
                "rules[0]: \"a.b\" is invalid 'target_label' for replace action",
            ),
            (
                r#"{"compat": 3, "names": "ascii", "rules": []}"#,
                "unknown names \"ascii\": legacy or utf8",
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
}
