//! The node's plugin runtime: one wasmtime `Engine` and one sandboxed `Linker`, shared by every
//! plugin, and the load path that turns component bytes into a running [`Plugin`].
//!
//! One engine per node because compiled code, the type registry and signal handlers belong to
//! it; plugins from different tenants still never share a store, a memory or an instance.
//! Loading compiles, links against the sandbox, checks the exports against the stage's world,
//! then starts the first instance (`init`) — each step failing with its own [`PluginError`]
//! variant so a hot reload can say exactly why a new component was refused.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, OptLevel};

use super::bindings::Exports;
use super::disk_cache::DiskCache;
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
    /// compiling it once per job would make start-up and reloads slow.
    compiled: Mutex<CompileCache>,
    /// Where compiled components are kept across starts, if anywhere.
    disk: Option<DiskCache>,
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
            disk: None,
        })
    }

    /// Keeps compiled components in `dir` across starts (see `disk_cache`).
    pub fn with_disk_cache(mut self, dir: &std::path::Path) -> Self {
        self.disk = Some(DiskCache::new(dir, &self.engine));
        self
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
        let linked = self.link(wasm_bytes, world, store.is_some())?;
        let compiled = started.elapsed();
        let plugin = Plugin::start(name, world, config_json, limits, linked, store)?;
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

    /// Compiles `wasm_bytes` (or finds it compiled), links it against the sandbox (with the
    /// `store` import when `with_store`) and checks it exports `world`'s interfaces: all of
    /// loading short of starting an instance, so a hot swap can do it off the hot path.
    pub(crate) fn link(
        &self,
        wasm_bytes: &[u8],
        world: World,
        with_store: bool,
    ) -> Result<Linked, PluginError> {
        let (sha256, component) = self.compiled(wasm_bytes)?;
        let linker = if with_store {
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
        Ok(Linked {
            sha256,
            pre,
            exports,
        })
    }
}

impl PluginRuntime {
    /// The component `wasm_bytes` compiled (from the memory cache, the disk cache, or now),
    /// and its sha256.
    pub(crate) fn compiled(&self, wasm_bytes: &[u8]) -> Result<(String, Component), PluginError> {
        if wasm_bytes.starts_with(CORE_MODULE_HEADER) {
            return Err(PluginError::Compile(
                "this is a core WebAssembly module, not a component: build for wasm32-wasip2, \
                 or turn it into a component (`wasm-tools component new`)"
                    .to_string(),
            ));
        }
        let sha256 = sha256_hex(wasm_bytes);
        let cached = self
            .compiled
            .lock()
            .expect("compile cache lock")
            .get(&sha256);
        let component = match cached {
            Some(component) => component,
            None => {
                let from_disk = self
                    .disk
                    .as_ref()
                    .and_then(|d| d.load(&self.engine, &sha256));
                let component = match from_disk {
                    Some(component) => component,
                    None => self.compile(&sha256, wasm_bytes)?,
                };
                self.compiled
                    .lock()
                    .expect("compile cache lock")
                    .insert(sha256.clone(), component.clone());
                component
            }
        };
        Ok((sha256, component))
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles a component, keeping it on disk if the runtime has a disk cache.
    fn compile(&self, sha256: &str, wasm_bytes: &[u8]) -> Result<Component, PluginError> {
        let component = Component::new(&self.engine, wasm_bytes)
            .map_err(|e| PluginError::Compile(describe(&e)));
        release_freed_heap();
        let component = component?;
        if let Some(disk) = &self.disk {
            disk.store(sha256, &component);
        }
        Ok(component)
    }
}

/// Hands the heap freed so far back to the system. Cranelift's working memory for a large
/// component (the stock PromQL plugin) is tens of MB, freed when compilation ends but kept by
/// glibc's allocator in its arenas, where it stayed resident for the node's life; so is the
/// host's copy of the samples a large query selected.
pub(crate) fn release_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of the allocator's own arenas to the
    // system; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Compiled components by sha256, the most recently used last. Swapped-out versions age out
/// once [`COMPILE_CACHE_ENTRIES`] newer ones were used.
#[derive(Default)]
struct CompileCache(VecDeque<(String, Component)>);

/// Distinct components kept compiled: every stock plugin and a generous number of uploads.
const COMPILE_CACHE_ENTRIES: usize = 32;

impl CompileCache {
    fn get(&mut self, sha256: &str) -> Option<Component> {
        let at = self.0.iter().position(|(k, _)| k == sha256)?;
        let entry = self.0.remove(at)?;
        let component = entry.1.clone();
        self.0.push_back(entry);
        Some(component)
    }

    fn insert(&mut self, sha256: String, component: Component) {
        self.0.retain(|(k, _)| *k != sha256);
        if self.0.len() >= COMPILE_CACHE_ENTRIES {
            self.0.pop_front();
        }
        self.0.push_back((sha256, component));
    }
}

/// The preamble of a core module (magic, version 1); components carry a different version.
const CORE_MODULE_HEADER: &[u8] = b"\0asm\x01\0\0\0";

/// The sha256 of `bytes` in lowercase hex: how plugins are named by content everywhere
/// (caches, pins, the admin API, `wasmfed plugin inspect`).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
