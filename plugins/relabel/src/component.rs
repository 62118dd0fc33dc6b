//! The WIT boundary: the `relabel-plugin` world's exports, converting the generated label type
//! to the crate's own and back, and nothing else.
//!
//! The compiled rules live in the instance for its lifetime: `init` sets them, each `process`
//! call reads them. A component instance is single-threaded, so a thread-local cell holds them
//! (and native tests, one thread each, get their own).

use std::cell::RefCell;

use crate::labels::{Label, LabelSet};
use crate::rules::Rules;

wit_bindgen::generate!({
    world: "relabel-plugin",
    path: "../../wit",
});

use exports::wasmfed::plugin::{lifecycle, series, targets};
use wasmfed::plugin::types::{Label as WitLabel, PluginError};

thread_local! {
    static RULES: RefCell<Option<Rules>> = const { RefCell::new(None) };
}

struct RelabelPlugin;

// The export symbols' names (`wasmfed:plugin/...#init`) are for a component; a native
// shared library cannot carry them, and native builds only run the tests.
#[cfg(target_arch = "wasm32")]
export!(RelabelPlugin);

impl lifecycle::Guest for RelabelPlugin {
    fn init(config: String) -> Result<(), PluginError> {
        let rules =
            Rules::from_json(&config).map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
        RULES.with_borrow_mut(|slot| *slot = Some(rules));
        Ok(())
    }
}

impl targets::Guest for RelabelPlugin {
    fn process(targets: Vec<Vec<WitLabel>>) -> Result<Vec<Option<Vec<WitLabel>>>, PluginError> {
        process_batch(targets)
    }
}

impl series::Guest for RelabelPlugin {
    fn process(series: Vec<Vec<WitLabel>>) -> Result<Vec<Option<Vec<WitLabel>>>, PluginError> {
        process_batch(series)
    }
}

/// Both stages apply the same rule list; outputs come back sorted by name.
fn process_batch(batch: Vec<Vec<WitLabel>>) -> Result<Vec<Option<Vec<WitLabel>>>, PluginError> {
    RULES.with_borrow(|rules| {
        let rules = rules
            .as_ref()
            .ok_or_else(|| PluginError::Failed("relabel plugin called before init".into()))?;
        let mut scratch = rules.scratch();
        Ok(batch
            .into_iter()
            .map(|labels| {
                let mut set = LabelSet::new(labels.into_iter().map(from_wit).collect());
                rules
                    .apply(&mut set, &mut scratch)
                    .then(|| set.into_vec().into_iter().map(to_wit).collect())
            })
            .collect())
    })
}

fn from_wit(label: WitLabel) -> Label {
    Label {
        name: label.name,
        value: label.value,
    }
}

fn to_wit(label: Label) -> WitLabel {
    WitLabel {
        name: label.name,
        value: label.value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifecycle::Guest as _;

    fn wit(pairs: &[(&str, &str)]) -> Vec<WitLabel> {
        pairs
            .iter()
            .map(|&(name, value)| WitLabel {
                name: name.into(),
                value: value.into(),
            })
            .collect()
    }

    fn pairs(labels: &[WitLabel]) -> Vec<(&str, &str)> {
        labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect()
    }

    #[test]
    fn process_before_init_fails() {
        let err = <RelabelPlugin as targets::Guest>::process(vec![]).unwrap_err();
        assert!(matches!(err, PluginError::Failed(m) if m.contains("before init")));
    }

    #[test]
    fn invalid_config_is_reported_and_keeps_the_old_rules() {
        RelabelPlugin::init(r#"[{"action": "drop", "source_labels": ["a"], "regex": "x"}]"#.into())
            .unwrap();
        let err = RelabelPlugin::init(r#"[{"action": "hashmod", "target_label": "t"}]"#.into())
            .unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidConfig(m)
                if m == "rules[0]: relabel configuration for hashmod requires non-zero modulus"),
            "{err:?}"
        );
        let out = <RelabelPlugin as series::Guest>::process(vec![wit(&[("a", "x")])]).unwrap();
        assert!(matches!(out.as_slice(), [None]));
    }

    #[test]
    fn both_stages_apply_the_rules_in_batch_order() {
        RelabelPlugin::init(
            r#"[
                {"source_labels": ["__name__"], "regex": "go_.*", "action": "drop"},
                {"source_labels": ["instance"], "regex": "([^:]+):.*", "target_label": "host"},
                {"regex": "tmp", "action": "labeldrop"}
            ]"#
            .into(),
        )
        .unwrap();
        let batch = || {
            vec![
                wit(&[("__name__", "up"), ("instance", "db:9100"), ("tmp", "1")]),
                wit(&[("__name__", "go_goroutines"), ("instance", "db:9100")]),
                // Unsorted, with an empty value: still handled, and the output is sorted.
                wit(&[
                    ("z", "1"),
                    ("empty", ""),
                    ("instance", "web:80"),
                    ("__name__", "x"),
                ]),
                wit(&[]),
            ]
        };
        let want: Vec<Option<Vec<(&str, &str)>>> = vec![
            Some(vec![
                ("__name__", "up"),
                ("host", "db"),
                ("instance", "db:9100"),
            ]),
            None,
            Some(vec![
                ("__name__", "x"),
                ("host", "web"),
                ("instance", "web:80"),
                ("z", "1"),
            ]),
            Some(vec![]),
        ];
        let series = <RelabelPlugin as series::Guest>::process(batch()).unwrap();
        let targets = <RelabelPlugin as targets::Guest>::process(batch()).unwrap();
        for out in [series, targets] {
            let got: Vec<_> = out.iter().map(|o| o.as_deref().map(pairs)).collect();
            assert_eq!(got, want);
        }
    }
}
