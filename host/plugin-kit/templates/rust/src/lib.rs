//! {{name}}: a wasmfed {{kind}} plugin.
//!
//! It drops every {{item}} whose `{{label}}` starts with a prefix (`debug_` unless the
//! configuration says `{drop_prefix: ...}`) and keeps the others as they are. Replace
//! `DropPrefix::process` with your own logic. `wasmfed-guest/` is the SDK it is written with
//! (label sets, configuration, errors, the component's exports: `cargo doc -p wasmfed-guest
//! --open`); `wasmfed-guest/wit/plugin.wit` is the contract with the node.

use serde::Deserialize;
use wasmfed_guest::{Error, LabelPlugin, Labels, Plugin};

/// The configuration: the plugin's `config:` in the node's YAML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "debug")]
    drop_prefix: String,
}

fn debug() -> String {
    "debug_".into()
}

/// The plugin, made from its configuration once per instance.
pub struct DropPrefix {
    prefix: String,
}

impl Plugin for DropPrefix {
    type Config = Config;

    fn new(config: Config) -> Result<DropPrefix, Error> {
        Ok(DropPrefix {
            prefix: config.drop_prefix,
        })
    }
}

impl LabelPlugin for DropPrefix {
    /// `Some(labels)` keeps the {{item}} (with these labels), `None` drops it.
    fn process(&self, labels: Labels) -> Result<Option<Labels>, Error> {
        let dropped = labels
            .get("{{label}}")
            .is_some_and(|value| value.starts_with(&self.prefix));
        Ok((!dropped).then_some(labels))
    }
}

wasmfed_guest::export_{{kind}}_plugin!(DropPrefix);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_by_prefix() {
        let plugin = DropPrefix::from_config("null").unwrap();
        let debug = Labels::from([("{{label}}", "debug_x")]);
        assert_eq!(plugin.process(debug).unwrap(), None);
        let kept = Labels::from([("{{label}}", "x")]);
        assert_eq!(plugin.process(kept.clone()).unwrap(), Some(kept.clone()));
        let plugin = DropPrefix::from_config(r#"{"drop_prefix": "x"}"#).unwrap();
        assert_eq!(plugin.process(kept).unwrap(), None);
        assert!(matches!(
            DropPrefix::from_config(r#"{"drop": "x"}"#),
            Err(Error::InvalidConfig(why)) if why.contains("unknown field `drop`")
        ));
    }
}
