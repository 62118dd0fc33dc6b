//! {{name}}: a wasmfed {{kind}} plugin.
//!
//! It drops every {{item}} whose `{{label}}` starts with a prefix (`debug_` unless the
//! configuration says `{"drop_prefix": "..."}`) and keeps the others as they are. Replace
//! `Plugin::decide` with your own logic; `wit/plugin.wit` documents the contract.

use std::cell::RefCell;

use serde::Deserialize;

wit_bindgen::generate!({
    world: "{{world}}",
    path: "wit",
});

use exports::wasmfed::plugin::{lifecycle, {{interface}}};
use wasmfed::plugin::types::{Label, PluginError};

/// The configuration: the plugin's `config:` in the node's YAML, given as JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "debug")]
    drop_prefix: String,
}

fn debug() -> String {
    "debug_".into()
}

impl Config {
    /// Reads the JSON configuration (`null` when the node's YAML gives none).
    pub fn parse(json: &str) -> Result<Config, String> {
        match serde_json::from_str::<Option<Config>>(json) {
            Ok(config) => Ok(config.unwrap_or(Config {
                drop_prefix: debug(),
            })),
            Err(e) => Err(e.to_string()),
        }
    }

    /// `Some(labels)` keeps the {{item}} (with these labels), `None` drops it.
    pub fn decide(&self, labels: Vec<Label>) -> Option<Vec<Label>> {
        let dropped = labels
            .iter()
            .any(|l| l.name == "{{label}}" && l.value.starts_with(&self.drop_prefix));
        (!dropped).then_some(labels)
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

impl {{interface}}::Guest for Plugin {
    fn process(batch: Vec<Vec<Label>>) -> Result<Vec<Option<Vec<Label>>>, PluginError> {
        CONFIG.with(|c| {
            let config = c.borrow();
            let config = config
                .as_ref()
                .ok_or_else(|| PluginError::Failed("not initialised".into()))?;
            Ok(batch
                .into_iter()
                .map(|labels| config.decide(labels))
                .collect())
        })
    }
}

#[cfg(target_arch = "wasm32")]
export!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(value: &str) -> Vec<Label> {
        vec![Label {
            name: "{{label}}".into(),
            value: value.into(),
        }]
    }

    #[test]
    fn drops_by_prefix() {
        let config = Config::parse("null").unwrap();
        assert!(config.decide(labels("debug_x")).is_none());
        assert!(config.decide(labels("x")).is_some());
        let config = Config::parse(r#"{"drop_prefix": "x"}"#).unwrap();
        assert!(config.decide(labels("x")).is_none());
        assert!(Config::parse(r#"{"drop": "x"}"#).is_err());
    }
}
