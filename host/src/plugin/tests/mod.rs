//! Tests of the plugin runtime against real components: hand-written hostile ones (`wat`) and
//! `wit-bindgen` guests built by `build.rs` (`host/tests/guests/`).

mod wat;

use std::sync::OnceLock;

use super::*;

const IDENTITY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/identity.wasm"));
const PROBE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/probe.wasm"));

fn runtime() -> &'static PluginRuntime {
    static RUNTIME: OnceLock<PluginRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| PluginRuntime::new().expect("engine"))
}

#[test]
fn smoke() {
    let c = wat::Guest::default().component();
    let p = runtime().load("empty", &c, World::Target, "null", PluginLimits::default());
    println!("{p:?}");
    let p = runtime().load("identity", IDENTITY, World::Target, "null", PluginLimits::default()).unwrap();
    println!("{:?}", p.process(&[crate::model::Labels::from_pairs([("__name__", "x")])]));
    let p = runtime().load("probe", PROBE, World::Series, "null", PluginLimits::default());
    println!("{p:?}");
}
