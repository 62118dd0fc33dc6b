//! The plugins shipped inside the `wasmfed` binary, built from `plugins/` by `build.rs`.
//!
//! Configurations name them with `stock: <name>`; `relabel_configs` and
//! `metric_relabel_configs` run through `relabel` without being named.

use std::borrow::Cow;

use wasmfed_config::PluginSource;

/// The component bytes a configuration names: a stock plugin's, or a file's; refused if
/// `pin` (a `sha256:` in the configuration) names other content.
pub fn read(source: &PluginSource, pin: Option<&str>) -> Result<Cow<'static, [u8]>, String> {
    let bytes = read_unpinned(source)?;
    if let Some(pin) = pin {
        check_pin(pin, &bytes)?;
    }
    Ok(bytes)
}

/// Refuses `bytes` unless their sha256 is `pin`, naming both.
pub fn check_pin(pin: &str, bytes: &[u8]) -> Result<(), String> {
    let actual = crate::sha256_hex(bytes);
    if actual == pin {
        Ok(())
    } else {
        Err(format!(
            "sha256 mismatch: the configuration pins {pin}, the component is {actual}"
        ))
    }
}

fn read_unpinned(source: &PluginSource) -> Result<Cow<'static, [u8]>, String> {
    match source {
        PluginSource::Stock(name) => component(name).map(Cow::Borrowed).ok_or_else(|| {
            format!(
                "no stock plugin {name:?} (stock plugins: {})",
                NAMES.join(", ")
            )
        }),
        PluginSource::File(path) => std::fs::read(path)
            .map(Cow::Owned)
            .map_err(|e| format!("reading {}: {e}", path.display())),
    }
}

/// Names of the stock plugins, for messages.
pub const NAMES: &[&str] = &["relabel", "hashmod-shard", "promql-rules"];

/// The stock `relabel` plugin: `relabel_configs` and `metric_relabel_configs`.
pub const RELABEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/relabel.wasm"));
/// The stock `hashmod-shard` plugin: Prometheus' hashmod sharding as a target plugin.
pub const HASHMOD_SHARD: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hashmod-shard.wasm"));
/// The stock `promql-rules` plugin: recording rules and queries.
pub const PROMQL_RULES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/promql-rules.wasm"));

/// The component bytes of a stock plugin.
pub fn component(name: &str) -> Option<&'static [u8]> {
    match name {
        "relabel" => Some(RELABEL),
        "hashmod-shard" => Some(HASHMOD_SHARD),
        "promql-rules" => Some(PROMQL_RULES),
        _ => None,
    }
}
