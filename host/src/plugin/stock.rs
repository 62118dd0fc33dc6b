//! The plugins shipped inside the `wasmfed` binary, built from `plugins/` by `build.rs`.
//!
//! Configurations name them with `stock: <name>`; `relabel_configs` and
//! `metric_relabel_configs` run through `relabel` without being named.

/// Names of the stock plugins, for messages.
pub const NAMES: &[&str] = &["relabel", "hashmod-shard", "promql-rules"];

/// The component bytes of a stock plugin.
pub fn component(name: &str) -> Option<&'static [u8]> {
    match name {
        "relabel" => Some(include_bytes!(concat!(env!("OUT_DIR"), "/relabel.wasm"))),
        "hashmod-shard" => Some(include_bytes!(concat!(
            env!("OUT_DIR"),
            "/hashmod-shard.wasm"
        ))),
        _ => None,
    }
}
