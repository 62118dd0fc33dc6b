//! Replacing a running plugin's component, and trying a candidate in its shadow first.
//!
//! A swap is prepared entirely off the hot path: the new component is compiled and linked by
//! the runtime, then a first instance is started and `init`-ed with the plugin's configuration.
//! Only when all of that worked is the new version installed, with one pointer store: calls in
//! flight finish on the old version (they hold it), the next call takes the new one, and the
//! plugin's generation moves on so the series stage forgets answers the old version gave. A
//! component that fails any step is refused with the step's error and nothing changes.
//!
//! Shadow mode runs a candidate beside the live version on the same batches: the live answer
//! is the one used; the candidate's is compared with it entry by entry, and differences are
//! counted, the first [`KEPT_DIFFERENCES`] kept for an operator to read. The candidate can then
//! be promoted (installed as a swap would) or dropped. A failing candidate is counted and never
//! affects the live answer.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;

use wasmfed_model::Labels;

use super::engine::PluginRuntime;
use super::error::PluginError;
use super::instance::{Linked, Outcome, Plugin, Version};
use super::output;
use super::World;

/// How many differences a shadow keeps for inspection.
pub const KEPT_DIFFERENCES: usize = 20;

/// A candidate running in a plugin's shadow.
pub struct Shadow {
    version: Arc<Version>,
    batches: AtomicU64,
    /// Entries (series or targets) the candidate answered differently.
    differences: AtomicU64,
    failures: AtomicU64,
    examples: Mutex<Vec<Difference>>,
}

/// One input the live version and the candidate disagreed on.
#[derive(Clone, Debug, PartialEq)]
pub struct Difference {
    pub input: Labels,
    /// What each answered (`None`: dropped).
    pub live: Option<Labels>,
    pub candidate: Option<Labels>,
}

/// What a shadow has seen so far.
#[derive(Clone, Debug, PartialEq)]
pub struct ShadowReport {
    pub sha256: String,
    pub batches: u64,
    pub differences: u64,
    pub failures: u64,
    pub examples: Vec<Difference>,
}

impl Plugin {
    /// Starts a version's first instance, counting a refusal against the plugin.
    fn prepare(&self, linked: Linked) -> Result<Arc<Version>, PluginError> {
        let version = Version::new(linked);
        if let Err(e) = self.warm(&version) {
            self.stats().record_swap_refused();
            return Err(e);
        }
        Ok(version)
    }

    /// Installs a prepared version (see [`Plugin::prepare`]).
    fn commit(&self, version: Arc<Version>) {
        self.install(version);
        self.stats().record_swap();
        tracing::info!(
            plugin = self.name(),
            sha256 = &self.sha256()[..12],
            "plugin swapped"
        );
    }

    /// Runs `linked` in this plugin's shadow, replacing any earlier candidate. Only the
    /// labelling stages have batches to compare.
    fn start_shadow(&self, linked: Linked) -> Result<(), PluginError> {
        if !matches!(self.world(), World::Target | World::Series) {
            return Err(PluginError::WrongWorld(format!(
                "shadow mode compares target or series batches; {} is a {} plugin",
                self.name(),
                self.world()
            )));
        }
        let version = Version::new(linked);
        self.warm(&version)?;
        *self.shadow.write() = Some(Arc::new(Shadow {
            version,
            batches: AtomicU64::new(0),
            differences: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            examples: Mutex::new(Vec::new()),
        }));
        // Cached answers would keep the candidate from ever seeing a batch: start over.
        self.bump_generation();
        Ok(())
    }

    pub fn shadow_report(&self) -> Option<ShadowReport> {
        let shadow = self.shadow.read().clone()?;
        let examples = shadow.examples.lock().clone();
        Some(ShadowReport {
            sha256: shadow.version.sha256.clone(),
            batches: shadow.batches.load(Relaxed),
            differences: shadow.differences.load(Relaxed),
            failures: shadow.failures.load(Relaxed),
            examples,
        })
    }

    /// Makes the candidate the live version. False when there is none.
    pub fn promote_shadow(&self) -> bool {
        let Some(shadow) = self.shadow.write().take() else {
            return false;
        };
        self.commit(shadow.version.clone());
        true
    }

    /// Stops the candidate. False when there was none.
    pub fn drop_shadow(&self) -> bool {
        self.shadow.write().take().is_some()
    }

    /// Runs the candidate, if any, on `batch` and compares with the live `answer`.
    pub(super) fn run_shadow(&self, batch: &[Labels], answer: &[Option<Labels>]) {
        let Some(shadow) = self.shadow.read().clone() else {
            return;
        };
        shadow.batches.fetch_add(1, Relaxed);
        let candidate = self.with_instance_of(&shadow.version, |loaded| {
            let called = self.guarded(loaded, |funcs, store| funcs.process(store, batch));
            Outcome::of(called, |a| {
                output::accept(a, batch.len(), self.limits().max_output_labels)
            })
        });
        let candidate = match candidate {
            Ok(candidate) => candidate,
            Err(e) => {
                shadow.failures.fetch_add(1, Relaxed);
                tracing::debug!(plugin = self.name(), "shadow candidate failed: {e}");
                return;
            }
        };
        let mut found = 0;
        for ((input, live), cand) in batch.iter().zip(answer).zip(candidate) {
            let live = live.clone().filter(|l| !l.is_empty());
            let cand = cand.filter(|l| !l.is_empty());
            if live == cand {
                continue;
            }
            found += 1;
            let mut examples = shadow.examples.lock();
            if examples.len() < KEPT_DIFFERENCES {
                examples.push(Difference {
                    input: input.clone(),
                    live,
                    candidate: cand,
                });
            }
        }
        shadow.differences.fetch_add(found, Relaxed);
    }
}

impl PluginRuntime {
    /// Swaps `wasm_bytes` into every plugin of `plugins` (those sharing a name, say), all or
    /// none: each is linked for its own world and started with its own configuration first,
    /// and installed only when every one of them started. Returns the new sha256.
    pub fn swap(&self, plugins: &[Arc<Plugin>], wasm_bytes: &[u8]) -> Result<String, PluginError> {
        pinned_elsewhere(plugins, wasm_bytes)?;
        let mut prepared = Vec::with_capacity(plugins.len());
        for plugin in plugins {
            let linked = self
                .link(wasm_bytes, plugin.world(), plugin.has_store())
                .inspect_err(|_| plugin.stats().record_swap_refused())?;
            prepared.push(plugin.prepare(linked)?);
        }
        let mut sha256 = String::new();
        for (plugin, version) in plugins.iter().zip(prepared) {
            sha256.clone_from(&version.sha256);
            plugin.commit(version);
        }
        Ok(sha256)
    }

    /// Starts `wasm_bytes` as the shadow candidate of every plugin of `plugins`, all or none.
    pub fn shadow(&self, plugins: &[Arc<Plugin>], wasm_bytes: &[u8]) -> Result<(), PluginError> {
        pinned_elsewhere(plugins, wasm_bytes)?;
        for (i, plugin) in plugins.iter().enumerate() {
            let started = self
                .link(wasm_bytes, plugin.world(), plugin.has_store())
                .and_then(|linked| plugin.start_shadow(linked));
            if let Err(e) = started {
                for earlier in &plugins[..i] {
                    earlier.drop_shadow();
                }
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Refuses `wasm_bytes` for plugins pinned to other content (and counts the refusal).
fn pinned_elsewhere(plugins: &[Arc<Plugin>], wasm_bytes: &[u8]) -> Result<(), PluginError> {
    for plugin in plugins {
        if let Some(pin) = plugin.pin() {
            crate::stock::check_pin(pin, wasm_bytes).map_err(|e| {
                plugin.stats().record_swap_refused();
                PluginError::Pinned(format!("plugin {:?} is pinned: {e}", plugin.name()))
            })?;
        }
    }
    Ok(())
}
