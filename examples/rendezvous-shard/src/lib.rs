//! Rendezvous (highest-random-weight) sharding as a wasmfed target-stage plugin.
//!
//! Prometheus' `hashmod` sharding assigns a target to `hash % N`: change N and almost every
//! target moves to another node, each move a gap and a burst of stale markers. Rendezvous
//! hashing scores every (node, target) pair and gives the target to the highest-scoring nodes;
//! adding a node moves only the targets the new node now wins, about 1/(N+1) of them, and
//! removing one moves only that node's targets. With `replicas: R`, each target is kept by its
//! R best nodes, so two nodes can scrape it for HA without any coordination.
//!
//! Configuration (JSON, given by wasmfed from the `config:` of the plugin entry):
//! `{"nodes": ["a", "b", "c"], "self": "b", "replicas": 1,
//!   "source_labels": ["__address__"], "separator": ";"}`
//! (`replicas`, `source_labels` and `separator` are optional, with these defaults).

use std::cell::RefCell;

use serde::Deserialize;

wit_bindgen::generate!({
    world: "target-plugin",
    path: "../../wit",
});

use exports::wasmfed::plugin::{lifecycle, targets};
use wasmfed::plugin::types::{Label, PluginError};

/// The validated configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rendezvous {
    nodes: Vec<String>,
    #[serde(rename = "self")]
    this: String,
    #[serde(default = "one")]
    replicas: usize,
    #[serde(default = "address")]
    source_labels: Vec<String>,
    #[serde(default = "semicolon")]
    separator: String,
}

fn one() -> usize {
    1
}
fn address() -> Vec<String> {
    vec!["__address__".into()]
}
fn semicolon() -> String {
    ";".into()
}

impl Rendezvous {
    pub fn from_json(text: &str) -> Result<Rendezvous, String> {
        let r: Rendezvous = serde_json::from_str(text).map_err(|e| format!("bad config: {e}"))?;
        if r.nodes.is_empty() {
            return Err("nodes must list at least one node".into());
        }
        if !r.nodes.contains(&r.this) {
            return Err(format!(
                "self {:?} is not among nodes {:?}",
                r.this, r.nodes
            ));
        }
        if r.replicas == 0 || r.replicas > r.nodes.len() {
            return Err(format!("replicas must be between 1 and {}", r.nodes.len()));
        }
        Ok(r)
    }

    /// Whether this node is among the `replicas` highest-scoring nodes for the target whose
    /// source values are `key`.
    pub fn keeps(&self, key: &str) -> bool {
        let mine = score(&self.this, key);
        // Ties (practically impossible) break by node name so every node agrees.
        let better = self
            .nodes
            .iter()
            .filter(|n| {
                let s = score(n, key);
                s > mine || (s == mine && n.as_str() < self.this.as_str())
            })
            .count();
        better < self.replicas
    }

    fn key(&self, labels: &[Label]) -> String {
        let values: Vec<&str> = self
            .source_labels
            .iter()
            .map(|name| {
                labels
                    .iter()
                    .find(|l| &l.name == name)
                    .map_or("", |l| l.value.as_str())
            })
            .collect();
        values.join(&self.separator)
    }
}

/// A well-mixed 64-bit score of (node, key): FNV-1a over both, then SplitMix64's finalizer.
fn score(node: &str, key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in node.bytes().chain([0xff]).chain(key.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

thread_local! {
    static CONFIG: RefCell<Option<Rendezvous>> = const { RefCell::new(None) };
}

struct Plugin;

#[cfg(target_arch = "wasm32")]
export!(Plugin);

impl lifecycle::Guest for Plugin {
    fn init(config: String) -> Result<(), PluginError> {
        let r = Rendezvous::from_json(&config).map_err(PluginError::InvalidConfig)?;
        CONFIG.with_borrow_mut(|slot| *slot = Some(r));
        Ok(())
    }
}

impl targets::Guest for Plugin {
    fn process(targets: Vec<Vec<Label>>) -> Result<Vec<Option<Vec<Label>>>, PluginError> {
        CONFIG.with_borrow(|config| {
            let r = config
                .as_ref()
                .ok_or_else(|| PluginError::Failed("called before init".into()))?;
            Ok(targets
                .into_iter()
                .map(|labels| r.keeps(&r.key(&labels)).then_some(labels))
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(n: usize, this: usize, replicas: usize) -> Rendezvous {
        let nodes: Vec<String> = (0..n).map(|i| format!("node-{i}")).collect();
        let config = serde_json::json!({"nodes": nodes, "self": nodes[this], "replicas": replicas});
        Rendezvous::from_json(&config.to_string()).unwrap()
    }

    fn owners(n: usize, replicas: usize, key: &str) -> Vec<usize> {
        (0..n)
            .filter(|&i| ring(n, i, replicas).keeps(key))
            .collect()
    }

    #[test]
    fn every_target_has_exactly_replicas_owners() {
        for replicas in [1, 2, 3] {
            for t in 0..500 {
                assert_eq!(
                    owners(5, replicas, &format!("10.0.0.{t}:9100")).len(),
                    replicas
                );
            }
        }
    }

    #[test]
    fn growing_the_ring_moves_about_one_in_n_plus_one() {
        let keys: Vec<String> = (0..2000).map(|t| format!("host-{t}:9100")).collect();
        let moved = keys
            .iter()
            .filter(|k| owners(4, 1, k) != owners(5, 1, k))
            .count();
        // Expected 2000 / 5 = 400; allow sampling noise.
        assert!((320..=480).contains(&moved), "moved {moved}");
        // Every moved target moved to the new node.
        for k in &keys {
            let (before, after) = (owners(4, 1, k), owners(5, 1, k));
            assert!(
                before == after || after == [4],
                "{k}: {before:?} -> {after:?}"
            );
        }
    }

    #[test]
    fn config_errors() {
        for (config, want) in [
            (r#"{"nodes": [], "self": "a"}"#, "at least one"),
            (r#"{"nodes": ["a"], "self": "b"}"#, "not among"),
            (
                r#"{"nodes": ["a"], "self": "a", "replicas": 2}"#,
                "between 1 and 1",
            ),
            (
                r#"{"nodes": ["a"], "self": "a", "bogus": 1}"#,
                "unknown field",
            ),
        ] {
            let err = Rendezvous::from_json(config).unwrap_err();
            assert!(err.contains(want), "{config}: {err}");
        }
    }
}
