//! The WIT boundary: the `target-plugin` world's exports over [`ShardSelector`].
//!
//! Kept targets come back with their labels untouched (still in the host's order). The selector
//! lives in the instance between calls in a thread-local cell: an instance is single-threaded.

use std::cell::RefCell;

use crate::shard::ShardSelector;

wit_bindgen::generate!({
    world: "target-plugin",
    path: "../../wit",
});

use exports::wasmfed::plugin::{lifecycle, targets};
use wasmfed::plugin::types::{Label, PluginError};

thread_local! {
    static SELECTOR: RefCell<Option<ShardSelector>> = const { RefCell::new(None) };
}

struct HashmodShard;

// The export symbols' names (`wasmfed:plugin/...#init`) are for a component; a native
// shared library cannot carry them, and native builds only run the tests.
#[cfg(target_arch = "wasm32")]
export!(HashmodShard);

impl lifecycle::Guest for HashmodShard {
    fn init(config: String) -> Result<(), PluginError> {
        let selector = ShardSelector::from_json(&config)
            .map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
        SELECTOR.with_borrow_mut(|slot| *slot = Some(selector));
        Ok(())
    }
}

impl targets::Guest for HashmodShard {
    fn process(targets: Vec<Vec<Label>>) -> Result<Vec<Option<Vec<Label>>>, PluginError> {
        SELECTOR.with_borrow(|selector| {
            let selector = selector
                .as_ref()
                .ok_or_else(|| PluginError::Failed("hashmod-shard called before init".into()))?;
            Ok(targets
                .into_iter()
                .map(|labels| {
                    selector
                        .keeps(|name| value_of(&labels, name))
                        .then_some(labels)
                })
                .collect())
        })
    }
}

fn value_of<'a>(labels: &'a [Label], name: &str) -> &'a str {
    labels
        .iter()
        .find(|l| l.name == name)
        .map_or("", |l| l.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifecycle::Guest as _;
    use targets::Guest as _;

    fn target(address: &str) -> Vec<Label> {
        vec![
            Label {
                name: "__address__".into(),
                value: address.into(),
            },
            Label {
                name: "job".into(),
                value: "node".into(),
            },
        ]
    }

    #[test]
    fn before_init() {
        assert!(matches!(
            HashmodShard::process(vec![]),
            Err(PluginError::Failed(m)) if m.contains("before init")
        ));
    }

    #[test]
    fn init_and_process() {
        let err = HashmodShard::init(r#"{"modulus": 2, "shard": 2}"#.into()).unwrap_err();
        assert!(matches!(err, PluginError::InvalidConfig(m) if m.contains("less than")));

        HashmodShard::init(r#"{"modulus": 1000, "shard": 976}"#.into()).unwrap();
        let out = HashmodShard::process(vec![target("baz"), target("foo"), vec![]]).unwrap();
        let kept: Vec<Option<Vec<(String, String)>>> = out
            .into_iter()
            .map(|o| o.map(|labels| labels.into_iter().map(|l| (l.name, l.value)).collect()))
            .collect();
        let baz = vec![
            ("__address__".to_string(), "baz".to_string()),
            ("job".to_string(), "node".to_string()),
        ];
        assert_eq!(kept, vec![Some(baz), None, None]);
    }
}
