//! A loaded plugin: one compiled component, pre-linked once, run in a small pool of instances.
//!
//! Each instance has its own `Store` (its own memory, fuel and limiter), so calls from several
//! threads run in parallel on different instances; a call takes an idle instance or makes a
//! fresh one (instantiation is microseconds; `init` runs again on it). An instance whose call
//! failed inside the guest is dropped, never reused: a trapped component cannot be entered
//! again, and one that ran out of budget may have been stopped halfway through changing its
//! own state. The next call then gets a fresh instance, so one bad batch never poisons the
//! next. At most one idle instance per core is kept, which bounds the guest memory a plugin
//! holds between calls to `cores × memory cap`; a query instance that grew large is not kept
//! at all.
//!
//! `process` blocks its thread for as long as the guest runs (up to the fuel budget) and WASI
//! calls inside it drive a Tokio runtime of their own, so async callers run it on a blocking
//! thread (`tokio::task::spawn_blocking`), not on a runtime worker.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::{Mutex, RwLock};
use wasmtime::component::InstancePre;
use wasmtime::Store;

use wasmfed_model::Labels;

use super::bindings::{Exports, Funcs, Refusal};
use super::error::{classify, describe, FailureKind, PluginError};
use super::limits::PluginLimits;
use super::output;
use super::sandbox::HostState;
use super::stats::PluginStats;
use super::store::StoreAccess;
use super::swap::Shadow;
use super::World;

/// Memory a query instance may hold between calls (see [`Plugin::keeps`]).
pub const QUERY_INSTANCE_KEEP_BYTES: usize = 32 << 20;

pub struct Plugin {
    name: Arc<str>,
    world: World,
    config: String,
    limits: PluginLimits,
    /// What the `store` import reads (rule and query plugins only).
    store: Option<StoreAccess>,
    /// The component calls run on; replaced whole by a hot swap (`super::swap`).
    current: RwLock<Arc<Version>>,
    /// Bumped by every swap, so caches of this plugin's answers know to start over.
    generation: AtomicU64,
    pub(super) shadow: RwLock<Option<Arc<Shadow>>>,
    max_idle: usize,
    stats: PluginStats,
    /// The component file it was loaded from (watched for changes) and the sha256 of what it
    /// held then; `None` for stock plugins.
    file: Option<(PathBuf, String)>,
    /// The only content accepted (`sha256:` in the configuration).
    pin: Option<String>,
}

/// A compiled component linked for its world: what every instance is made from.
pub(crate) struct Linked {
    pub(crate) sha256: String,
    pub(crate) pre: InstancePre<HostState>,
    pub(crate) exports: Exports,
}

/// One version of a plugin's component and its idle instances. Calls in flight keep the
/// version they started on alive, so a swap never cuts one short.
pub(super) struct Version {
    pub(super) sha256: String,
    pre: InstancePre<HostState>,
    exports: Exports,
    idle: Mutex<Vec<Loaded>>,
}

impl Version {
    pub(super) fn new(linked: Linked) -> Arc<Version> {
        Arc::new(Version {
            sha256: linked.sha256,
            pre: linked.pre,
            exports: linked.exports,
            idle: Mutex::new(Vec::new()),
        })
    }
}

/// One instance with its store, ready for a call.
pub(super) struct Loaded {
    store: Store<HostState>,
    funcs: Funcs,
    /// Whether a rule evaluation ran on it (a fresh one takes over the alerts it replaces).
    pub(super) evaluated: bool,
}

/// How a call into an instance ended, and whether that instance may serve another call.
pub(super) enum Outcome<T> {
    /// The guest returned; its answer may still be refused.
    Done(Result<T, PluginError>),
    /// The guest failed mid-call; the instance is dropped.
    Broken(PluginError),
}

impl<T> Outcome<T> {
    /// The usual ending of a guest call: an answer checked by `accept`, a refusal, or a
    /// broken instance.
    pub(super) fn of<R>(
        called: Result<Result<R, Refusal>, PluginError>,
        accept: impl FnOnce(R) -> Result<T, PluginError>,
    ) -> Outcome<T> {
        match called {
            Ok(Ok(answer)) => Outcome::Done(accept(answer)),
            Ok(Err(refusal)) => Outcome::Done(Err(refused(refusal))),
            Err(e) => Outcome::Broken(e),
        }
    }
}

impl Plugin {
    /// Makes the first instance and runs `init` on it, so a plugin that cannot start is
    /// refused at load time rather than on its first batch.
    pub(crate) fn start(
        name: &str,
        world: World,
        config: &str,
        limits: PluginLimits,
        linked: Linked,
        store: Option<StoreAccess>,
    ) -> Result<Self, PluginError> {
        let version = Version::new(linked);
        let plugin = Plugin {
            name: Arc::from(name),
            world,
            config: config.to_string(),
            limits,
            store,
            current: RwLock::new(version.clone()),
            generation: AtomicU64::new(0),
            shadow: RwLock::new(None),
            max_idle: std::thread::available_parallelism().map_or(1, usize::from),
            stats: PluginStats::default(),
            file: None,
            pin: None,
        };
        plugin.warm(&version)?;
        Ok(plugin)
    }

    /// Starts `version`'s first instance (`init` included), keeping it idle for the first call.
    pub(super) fn warm(&self, version: &Version) -> Result<(), PluginError> {
        let first = self.instantiate(version)?;
        version.idle.lock().push(first);
        Ok(())
    }

    /// Makes `version` the one new calls run on.
    pub(super) fn install(&self, version: Arc<Version>) {
        *self.current.write() = version;
        self.bump_generation();
    }

    /// Tells caches of this plugin's answers to start over.
    pub(super) fn bump_generation(&self) {
        self.generation.fetch_add(1, Relaxed);
    }

    /// The version new calls run on.
    pub(super) fn current(&self) -> Arc<Version> {
        self.current.read().clone()
    }

    /// Changes each time the plugin's component is swapped.
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    pub fn config(&self) -> &str {
        &self.config
    }

    /// Pins the plugin to `sha256` (lowercase hex): swaps and shadows of other content, by a
    /// changed file or an upload, are refused.
    pub fn with_pin(mut self, sha256: Option<String>) -> Self {
        self.pin = sha256;
        self
    }

    /// The content the plugin is pinned to, if any.
    pub fn pin(&self) -> Option<&str> {
        self.pin.as_deref()
    }

    /// Records the file the component came from, so changes to it are swapped in.
    pub fn with_file(mut self, path: PathBuf) -> Self {
        self.file = Some((path, self.sha256()));
        self
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_ref().map(|(path, _)| path.as_path())
    }

    /// The sha256 of the file's content when the plugin was loaded from it.
    pub fn file_sha256(&self) -> Option<&str> {
        self.file.as_ref().map(|(_, sha)| sha.as_str())
    }

    /// Whether it reads the store (rule and query plugins).
    pub(crate) fn has_store(&self) -> bool {
        self.store.is_some()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hex SHA-256 of the running component's bytes, to tell which build is running.
    pub fn sha256(&self) -> String {
        self.current.read().sha256.clone()
    }

    pub fn world(&self) -> World {
        self.world
    }

    pub fn limits(&self) -> PluginLimits {
        self.limits
    }

    /// Counters for this plugin's self-metrics.
    pub fn stats(&self) -> &PluginStats {
        &self.stats
    }

    /// One batch through the stage: one entry per input, same order; `None` drops the input.
    ///
    /// The call runs under the plugin's limits. A trap, an exhausted budget, a memory cap
    /// breach, an answer of the wrong size or shape, or the plugin's own `plugin-error` fails
    /// this call only, as [`PluginError::Call`]; the plugin stays usable. Making a fresh
    /// instance for the call (after an earlier failure) can fail too, as
    /// [`PluginError::Init`]. Blocks: see the module documentation.
    pub fn process(&self, batch: &[Labels]) -> Result<Vec<Option<Labels>>, PluginError> {
        let answer = self.timed(|| {
            self.with_instance(|loaded| {
                let called = self.guarded(loaded, |funcs, store| funcs.process(store, batch));
                Outcome::of(called, |answer| {
                    output::accept(answer, batch.len(), self.limits.max_output_labels)
                })
            })
        })?;
        self.run_shadow(batch, &answer);
        Ok(answer)
    }

    /// Runs `call`, counting it (duration, failure kind) and logging a failure.
    pub(super) fn timed<T>(
        &self,
        call: impl FnOnce() -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let started = Instant::now();
        let result = call();
        self.stats.record_call(
            started.elapsed(),
            result.as_ref().err().and_then(PluginError::kind),
        );
        if let Err(e) = &result {
            tracing::warn!(plugin = &*self.name, world = %self.world, "{e}");
        }
        result
    }

    /// Runs `call` on an idle instance (or a fresh one), putting the instance back unless the
    /// call broke it.
    pub(super) fn with_instance<T>(
        &self,
        call: impl FnOnce(&mut Loaded) -> Outcome<T>,
    ) -> Result<T, PluginError> {
        self.with_instance_of(&self.current(), call)
    }

    /// [`Plugin::with_instance`] on a given version (a shadow candidate's, say).
    pub(super) fn with_instance_of<T>(
        &self,
        version: &Version,
        call: impl FnOnce(&mut Loaded) -> Outcome<T>,
    ) -> Result<T, PluginError> {
        let idle = version.idle.lock().pop();
        let mut loaded = match idle {
            Some(loaded) => loaded,
            None => self.instantiate(version)?,
        };
        match call(&mut loaded) {
            Outcome::Done(result) => {
                if self.keeps(&loaded) {
                    let mut idle = version.idle.lock();
                    if idle.len() < self.max_idle {
                        idle.push(loaded);
                    }
                } else {
                    // A large query: its instance and the host's copy of what it read go.
                    drop(loaded);
                    super::engine::release_freed_heap();
                }
                result
            }
            Outcome::Broken(error) => Err(error),
        }
    }

    /// Whether an instance that answered is kept for the next call. A query instance that
    /// grew past [`QUERY_INSTANCE_KEEP_BYTES`] is dropped instead: linear memory never shrinks,
    /// so one query over days of history would otherwise pin its peak for the node's life. A
    /// query instance holds no state, and a fresh one costs an instantiation and `init`.
    /// Other worlds keep theirs: a rule plugin's instance holds its rules' state.
    fn keeps(&self, loaded: &Loaded) -> bool {
        self.world != World::Query || loaded.store.data().memory.used() <= QUERY_INSTANCE_KEEP_BYTES
    }

    /// One guest call under a fresh budget; a failure inside the guest is classified.
    pub(super) fn guarded<R>(
        &self,
        loaded: &mut Loaded,
        call: impl FnOnce(&Funcs, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let store = &mut loaded.store;
        if let Err(e) = store.set_fuel(self.limits.fuel_per_call) {
            return Err(PluginError::call(FailureKind::Trap, describe(&e)));
        }
        store.data_mut().start_call();
        let answer = call(&loaded.funcs, store);
        self.stats.record_fuel(self.fuel_used(store));
        let denied = store.data_mut().memory.take_denied();
        answer.map_err(|e| PluginError::call(classify(&e, denied), describe(&e)))
    }

    /// A fresh instance, `init`-ed with the plugin's configuration under the call budget.
    fn instantiate(&self, version: &Version) -> Result<Loaded, PluginError> {
        let started = self.start_instance(version);
        self.stats.record_instantiation(started.is_ok());
        started
    }

    fn start_instance(&self, version: &Version) -> Result<Loaded, PluginError> {
        let mut store = Store::new(
            version.pre.engine(),
            HostState::new(&self.name, self.limits.memory_bytes, self.store.clone()),
        );
        store.limiter(|state| &mut state.memory);
        store.set_hostcall_fuel(self.limits.max_output_bytes);
        let failed = |store: &mut Store<HostState>, e: wasmtime::Error| {
            let kind = classify(&e, store.data_mut().memory.take_denied());
            PluginError::Init(format!("{kind}: {}", describe(&e)))
        };
        if let Err(e) = store.set_fuel(self.limits.fuel_per_call) {
            return Err(failed(&mut store, e));
        }
        // Start functions run here, under the same budget as `init`.
        let instance = match version.pre.instantiate(&mut store) {
            Ok(instance) => instance,
            Err(e) => return Err(failed(&mut store, e)),
        };
        let funcs = version.exports.bind(&mut store, &instance)?;
        store.data_mut().start_call();
        let outcome = funcs.init(&mut store, &self.config);
        self.stats.record_fuel(self.fuel_used(&store));
        match outcome {
            Ok(Ok(())) => Ok(Loaded {
                store,
                funcs,
                evaluated: false,
            }),
            Ok(Err(refusal)) => Err(PluginError::Init(refusal_text(&refusal))),
            Err(e) => Err(failed(&mut store, e)),
        }
    }

    /// Fuel burnt since the budget was last set (the store's fuel never exceeds it).
    fn fuel_used(&self, store: &Store<HostState>) -> u64 {
        let left = store.get_fuel().unwrap_or(0);
        self.limits.fuel_per_call.saturating_sub(left)
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("world", &self.world)
            .field("sha256", &self.sha256())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

pub(super) fn refused(refusal: Refusal) -> PluginError {
    PluginError::call(FailureKind::Guest, refusal_text(&refusal))
}

fn refusal_text(refusal: &Refusal) -> String {
    if refusal.invalid_config {
        format!("invalid config: {}", refusal.message)
    } else {
        refusal.message.clone()
    }
}
