//! The node's plugin runtime: one wasmtime `Engine` and one sandboxed `Linker`, shared by every
//! plugin, and the load path that turns component bytes into a running [`Plugin`].
//!
//! One engine per node because compiled code, the type registry and signal handlers belong to
//! it; plugins from different tenants still never share a store, a memory or an instance.
//! Loading compiles, links against the sandbox, checks the exports against the stage's world,
//! then starts the first instance (`init`) — each step failing with its own [`PluginError`]
//! variant so a hot reload can say exactly why a new component was refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, OptLevel};

use super::bindings::Exports;
use super::error::{describe, PluginError};
use super::instance::{Linked, Plugin};
use super::limits::PluginLimits;
use super::sandbox::{self, HostState};
use super::store::{SeriesStore, StoreAccess};
use super::World;

pub struct PluginRuntime {
    engine: Engine,
    linker: Linker<HostState>,
    /// `linker` plus the `store` import, for rule and query plugins.
    store_linker: Linker<HostState>,
    /// Compiled components by sha256: the stock `relabel` plugin serves every job's rules, and
    /// compiling it once per job would make start-up and reloads slow. Entries live as long as
    /// the node; swapping components at runtime (issue #5) is what will need eviction.
    compiled: Mutex<HashMap<String, Component>>,
}

impl PluginRuntime {
    pub fn new() -> Result<Self, PluginError> {
        let mut config = Config::new();
        config.consume_fuel(true);
        config.cranelift_opt_level(OptLevel::Speed);
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(describe(&e)))?;
        let linker = sandbox::linker(&engine).map_err(|e| PluginError::Engine(describe(&e)))?;
        let store_linker =
            sandbox::store_linker(&engine).map_err(|e| PluginError::Engine(describe(&e)))?;
        Ok(PluginRuntime {
            engine,
            linker,
            store_linker,
            compiled: Mutex::default(),
        })
    }

    /// Compiles `wasm_bytes` (a component, built for `wasm32-unknown-unknown` and made a
    /// component, or built for `wasm32-wasip2`), checks it exports `world`'s interfaces, and
    /// starts it with `config_json`. Compiling takes milliseconds to seconds: keep it off hot
    /// paths. For the target and series stages; rule and query plugins need a store
    /// ([`PluginRuntime::load_with_store`]).
    pub fn load(
        &self,
        name: &str,
        wasm_bytes: &[u8],
        world: World,
        config_json: &str,
        limits: PluginLimits,
    ) -> Result<Plugin, PluginError> {
        if matches!(world, World::Rule | World::Query) {
            return Err(PluginError::WrongWorld(format!(
                "a {world} plugin needs a store to read from"
            )));
        }
        self.load_inner(name, wasm_bytes, world, config_json, limits, None)
    }

    /// [`PluginRuntime::load`] for a rule or query plugin, whose `store` import reads `store`.
    /// One call's answer from the store is capped at the plugin's memory.
    pub fn load_with_store(
        &self,
        name: &str,
        wasm_bytes: &[u8],
        world: World,
        config_json: &str,
        limits: PluginLimits,
        store: Arc<dyn SeriesStore>,
    ) -> Result<Plugin, PluginError> {
        let access = StoreAccess {
            store,
            max_bytes: limits.memory_bytes,
        };
        self.load_inner(name, wasm_bytes, world, config_json, limits, Some(access))
    }

    fn load_inner(
        &self,
        name: &str,
        wasm_bytes: &[u8],
        world: World,
        config_json: &str,
        limits: PluginLimits,
        store: Option<StoreAccess>,
    ) -> Result<Plugin, PluginError> {
        let started = Instant::now();
        if wasm_bytes.starts_with(CORE_MODULE_HEADER) {
            return Err(PluginError::Compile(
                "this is a core WebAssembly module, not a component: build for wasm32-wasip2, \
                 or turn it into a component (`wasm-tools component new`)"
                    .to_string(),
            ));
        }
        let sha256 = hex(&Sha256::digest(wasm_bytes));
        let cached = self
            .compiled
            .lock()
            .expect("compile cache lock")
            .get(&sha256)
            .cloned();
        let component = match cached {
            Some(component) => component,
            None => {
                let component = Component::new(&self.engine, wasm_bytes)
                    .map_err(|e| PluginError::Compile(describe(&e)))?;
                self.compiled
                    .lock()
                    .expect("compile cache lock")
                    .insert(sha256.clone(), component.clone());
                component
            }
        };
        let compiled = started.elapsed();
        let linker = if store.is_some() {
            &self.store_linker
        } else {
            &self.linker
        };
        let pre = linker.instantiate_pre(&component).map_err(|e| {
            PluginError::WrongWorld(format!(
                "it imports what plugins are not given: {}",
                describe(&e)
            ))
        })?;
        let exports = Exports::find(&pre, world)?;
        let linked = Linked {
            pre,
            exports,
            store,
        };
        let plugin = Plugin::start(name, sha256, world, config_json, limits, linked)?;
        tracing::info!(
            plugin = name,
            %world,
            sha256 = &plugin.sha256()[..12],
            bytes = wasm_bytes.len(),
            compile_ms = compiled.as_secs_f64() * 1e3,
            load_ms = started.elapsed().as_secs_f64() * 1e3,
            "plugin loaded"
        );
        Ok(plugin)
    }
}

/// The preamble of a core module (magic, version 1); components carry a different version.
const CORE_MODULE_HEADER: &[u8] = b"\0asm\x01\0\0\0";

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
