//! The plugin's configuration: a JSON array of Prometheus relabel rules, or `null` for none.
//!
//! Each rule is read and validated by the `relabel-config` crate, which the host's config
//! module uses too (it hands its YAML rules over as this JSON), so a rule means the same, and
//! is refused with the same words, on both sides. This module only adds what is the plugin's
//! own: the array around the rules and which rule is to blame.

use std::fmt;

use relabel_config::RelabelConfig;
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
    RelabelConfig::deserialize(rule).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
                "rules[0]: invalid type: integer `1`, expected a relabel config",
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
