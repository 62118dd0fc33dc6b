//! Tests of the plugin runtime against real components: hand-written hostile ones (`wat`) and
//! `wit-bindgen` guests built by `wasmfed-artifacts` from `host/artifacts/guests/`.

mod disk_cache;
mod guests;
mod hostile;
mod inspect;
mod relabel;
mod swap;
mod wat;

use std::sync::OnceLock;

use super::PluginRuntime;
use wasmfed_model::Labels;

const IDENTITY: &[u8] = wasmfed_artifacts::IDENTITY;
const PROBE: &[u8] = wasmfed_artifacts::PROBE;

/// One engine for all tests, as on a node.
fn runtime() -> &'static PluginRuntime {
    static RUNTIME: OnceLock<PluginRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| PluginRuntime::new().expect("engine"))
}

/// The identity guest loaded by `runtime` for `world`.
fn identity_in(runtime: &PluginRuntime, world: crate::World) -> crate::Plugin {
    runtime
        .load(
            "identity",
            IDENTITY,
            world,
            "null",
            crate::PluginLimits::default(),
        )
        .expect("identity loads")
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}
