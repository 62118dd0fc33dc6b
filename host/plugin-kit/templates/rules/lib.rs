//! {{name}}: a wasmfed rule plugin.
//!
//! At each evaluation it records `<metric>:series`, how many series of a metric (`up` unless
//! the configuration says `{"metric": "..."}`) have a sample in the last five minutes, read
//! through the `store` import. Replace `Plugin::evaluate` with your own rules;
//! `wit/rules.wit` documents the contract.

use std::cell::RefCell;

use serde::Deserialize;

wit_bindgen::generate!({
    world: "rule-plugin",
    path: "wit",
});

use exports::wasmfed::plugin::{lifecycle, rules};
use wasmfed::plugin::store::{self, MatchOp, Matcher};
use wasmfed::plugin::types::{Label, PluginError, Sample};

/// How far back a series counts as present: Prometheus' default lookback.
const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// The configuration: the plugin's `config:` in the node's YAML, given as JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "up")]
    metric: String,
}

fn up() -> String {
    "up".into()
}

impl Config {
    /// Reads the JSON configuration (`null` when the node's YAML gives none).
    pub fn parse(json: &str) -> Result<Config, String> {
        match serde_json::from_str::<Option<Config>>(json) {
            Ok(config) => Ok(config.unwrap_or(Config { metric: up() })),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The recorded metric's name.
    pub fn record(&self) -> String {
        format!("{}:series", self.metric)
    }
}

thread_local! {
    // An instance is single-threaded; the host calls `init` on a fresh one after any change.
    static CONFIG: RefCell<Option<Config>> = const { RefCell::new(None) };
}

struct Plugin;

impl lifecycle::Guest for Plugin {
    fn init(config: String) -> Result<(), PluginError> {
        let config = Config::parse(&config).map_err(PluginError::InvalidConfig)?;
        CONFIG.with(|c| *c.borrow_mut() = Some(config));
        Ok(())
    }
}

impl rules::Guest for Plugin {
    fn evaluate(at_ms: i64) -> Result<Vec<rules::RuleResult>, PluginError> {
        CONFIG.with(|c| {
            let config = c.borrow();
            let config = config
                .as_ref()
                .ok_or_else(|| PluginError::Failed("not initialised".into()))?;
            let record = config.record();
            let matchers = [Matcher {
                name: "__name__".into(),
                op: MatchOp::Equal,
                value: config.metric.clone(),
            }];
            let outcome = store::series(&matchers, at_ms - LOOKBACK_MS, at_ms).map(|found| {
                vec![Sample {
                    labels: vec![Label {
                        name: "__name__".into(),
                        value: record.clone(),
                    }],
                    timestamp_ms: at_ms,
                    value: found.len() as f64,
                }]
            });
            Ok(vec![rules::RuleResult {
                name: record,
                outcome,
            }])
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_the_metric_s_series_count() {
        assert_eq!(Config::parse("null").unwrap().record(), "up:series");
        let config = Config::parse(r#"{"metric": "node_load1"}"#).unwrap();
        assert_eq!(config.record(), "node_load1:series");
        assert!(Config::parse(r#"{"metrics": "x"}"#).is_err());
    }
}
