//! The WIT boundary: the `rule-plugin` world. `store.select` becomes the engine's [`Source`],
//! `lifecycle.init` builds the [`RuleSet`] and `rules.evaluate` runs it; this module only
//! converts between the generated types and the crate's own.
//!
//! The rule set lives in the instance for its lifetime (it remembers what each rule recorded
//! last, for stale markers). A component instance is single-threaded, so a thread-local cell
//! holds it; native tests, one thread each, get their own.
//!
//! `evaluate` returns what the rules that succeeded recorded. The interface has no place for
//! per-rule failures, so they reach the host only when every rule failed: then the call fails
//! with all their messages.

use std::cell::RefCell;

use crate::engine::{MatchOp, Matcher, Series, Source};
use crate::rules::RuleSet;

wit_bindgen::generate!({
    world: "rule-plugin",
    path: "../../wit",
});

use exports::wasmfed::plugin::{lifecycle, rules};
use wasmfed::plugin::store;
use wasmfed::plugin::types::{Label as WitLabel, PluginError, Sample as WitSample};

thread_local! {
    static RULES: RefCell<Option<RuleSet>> = const { RefCell::new(None) };
}

struct RulePlugin;

// The export symbols' names (`wasmfed:plugin/...#init`) are for a component; a native shared
// library cannot carry them, and native builds only run the tests.
#[cfg(target_arch = "wasm32")]
export!(RulePlugin);

impl lifecycle::Guest for RulePlugin {
    fn init(config: String) -> Result<(), PluginError> {
        if config.trim() == "null" {
            return Err(PluginError::InvalidConfig(
                "the promql-rules plugin needs a configuration with rule groups".into(),
            ));
        }
        let rules =
            RuleSet::from_json(&config).map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
        RULES.with_borrow_mut(|slot| *slot = Some(rules));
        Ok(())
    }
}

impl rules::Guest for RulePlugin {
    fn evaluate(at_ms: i64) -> Result<Vec<WitSample>, PluginError> {
        RULES.with_borrow_mut(|slot| {
            let rules = slot
                .as_mut()
                .ok_or_else(|| PluginError::Failed("promql-rules called before init".into()))?;
            let evaluation = rules.evaluate(at_ms, &mut HostStore);
            if !evaluation.failures.is_empty() && evaluation.failures.len() == rules.rule_count() {
                let messages: Vec<String> =
                    evaluation.failures.iter().map(|f| f.to_string()).collect();
                return Err(PluginError::Failed(messages.join("; ")));
            }
            Ok(evaluation
                .samples
                .into_iter()
                .map(|s| WitSample {
                    labels: s
                        .labels
                        .iter()
                        .map(|l| WitLabel {
                            name: l.name.to_string(),
                            value: l.value.to_string(),
                        })
                        .collect(),
                    timestamp_ms: s.timestamp_ms,
                    value: s.value,
                })
                .collect())
        })
    }
}

/// The host's store, through the `store.select` import.
struct HostStore;

impl Source for HostStore {
    fn select(
        &mut self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Series>, String> {
        let matchers: Vec<store::Matcher> = matchers
            .iter()
            .map(|m| store::Matcher {
                name: m.name.clone(),
                op: match m.op {
                    MatchOp::Equal => store::MatchOp::Equal,
                    MatchOp::NotEqual => store::MatchOp::NotEqual,
                    MatchOp::Regex => store::MatchOp::Regex,
                    MatchOp::NotRegex => store::MatchOp::NotRegex,
                },
                value: m.value.clone(),
            })
            .collect();
        Ok(store::select(&matchers, start_ms, end_ms)?
            .into_iter()
            .map(|s| Series {
                labels: s.labels.into_iter().map(|l| (l.name, l.value)).collect(),
                timestamps_ms: s.timestamps_ms,
                values: s.values,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifecycle::Guest as _;
    use rules::Guest as _;

    #[test]
    fn evaluate_before_init_fails() {
        let err = RulePlugin::evaluate(0).unwrap_err();
        assert!(matches!(err, PluginError::Failed(m) if m.contains("before init")));
    }

    #[test]
    fn init_refuses_bad_configs_and_keeps_the_old_rules() {
        RulePlugin::init(
            r#"{"groups": [{"name": "g", "rules": [{"record": "two", "expr": "1 + 1"}]}]}"#.into(),
        )
        .unwrap();
        for bad in [
            "null",
            "{",
            r#"{"groups": [{"name": "g", "rules": [{"record": "r", "expr": "sum("}]}]}"#,
        ] {
            let err = RulePlugin::init(bad.into()).unwrap_err();
            assert!(
                matches!(err, PluginError::InvalidConfig(_)),
                "{bad}: {err:?}"
            );
        }
        let out = RulePlugin::evaluate(60_000).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].labels[0].name, "__name__");
        assert_eq!(out[0].labels[0].value, "two");
        assert_eq!((out[0].timestamp_ms, out[0].value), (60_000, 2.0));
    }

    #[test]
    fn all_rules_failing_fails_the_call() {
        RulePlugin::init(
            r#"{"groups": [{"name": "g", "rules": [{"record": "s", "expr": "\"text\""}]}]}"#.into(),
        )
        .unwrap();
        let err = RulePlugin::evaluate(0).unwrap_err();
        assert!(
            matches!(&err, PluginError::Failed(m) if m.contains("rule result is not a vector or scalar")),
            "{err:?}"
        );
    }
}
