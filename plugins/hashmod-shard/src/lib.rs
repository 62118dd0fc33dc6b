//! wasmfed's stock shard selector: a target-stage plugin that keeps a target only when the
//! `hashmod` of its source labels equals this node's shard number.
//!
//! It is Prometheus' sharding recipe, a `hashmod` rule into a temporary label followed by a
//! `keep` of one value, packed into one plugin with a config that cannot be got wrong
//! ([`ShardSelector`]); the hash is `plugin_sdk::hashmod`, the same function the relabel plugin
//! uses, so both give bit-identical shards. `component` is the WIT boundary.
//!
//! Built as a component (no WASI imports), from the workspace root:
//! ```text
//! cargo build --release --target wasm32-unknown-unknown -p hashmod-shard
//! wasm-tools component new target/wasm32-unknown-unknown/release/hashmod_shard.wasm -o hashmod-shard.wasm
//! ```

mod component;
mod shard;

pub use shard::{ShardConfigError, ShardSelector};
