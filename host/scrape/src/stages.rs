//! A job's plugin stages, built from its configuration before the job starts.
//!
//! `relabel_configs` become the stock `relabel` plugin at the head of the target stage,
//! `metric_relabel_configs` the same plugin at the head of the series stage (each handed its
//! rules as JSON with the `--query.compat` release to compile their regexes as: 2.42's `.`
//! stops at a newline, 3.x's does not), followed by the
//! job's `target_plugins` / `series_plugins` in order. Everything is compiled and `init`-ed
//! here, off the scrape path, so a bad rule or plugin refuses the configuration (with the
//! plugin's reason) before any running job is touched.
//!
//! A stage that keeps failing is put in a back-off, so a broken plugin costs one failed call
//! per back-off period instead of one per scrape.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmfed_config::NameValidation;
use wasmfed_config::{PluginRef, PluginSource, RelabelConfig, ScrapeConfig};
use wasmfed_model::compat::Compat;
use wasmfed_model::Labels;
use wasmfed_plugin::registry::JobPlugins;
use wasmfed_plugin::{stock, Plugin, PluginLimits, PluginRuntime, Stage, StageError, World};
use wasmfed_storage::parse_selector;

use super::remote_read::RemoteRead;

/// Consecutive failures after which a stage backs off.
const FAILURES_BEFORE_BACKOFF: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Why a job's plugins (or its remote-read selectors) could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("job {job:?}: {}{reason}", match plugin.is_empty() {
    true => String::new(),
    false => format!("plugin {plugin:?}: "),
})]
pub struct StageSetupError {
    pub job: String,
    /// Empty when the job's stage as a whole failed.
    pub plugin: String,
    pub reason: String,
}

/// The target and series stages of one job, and what it pulls by remote read.
#[derive(Clone)]
pub struct JobStages {
    pub targets: GuardedStage,
    pub series: GuardedStage,
    /// `federation.remote_read`: its `match[]` selectors, parsed.
    pub remote_read: Option<Arc<RemoteRead>>,
}

impl JobStages {
    /// Loads every plugin of `cfg`. Blocking (compiles components): call off the async path.
    pub fn load(
        runtime: &PluginRuntime,
        cfg: &ScrapeConfig,
        limits: PluginLimits,
        compat: Compat,
    ) -> Result<JobStages, StageSetupError> {
        let stage = |world| {
            let plugins = stage_plugins(cfg, world, compat)
                .iter()
                .map(|p| load_one(runtime, cfg, p, world, limits))
                .collect::<Result<Vec<_>, _>>()?;
            let stage = Stage::new(world, plugins).map_err(|e| StageSetupError {
                job: cfg.job_name.clone(),
                plugin: String::new(),
                reason: e.to_string(),
            })?;
            Ok(GuardedStage::new(stage))
        };
        let remote_read = match cfg.federation.remote_read {
            false => None,
            true => Some(Arc::new(remote_read(cfg, compat)?)),
        };
        Ok(JobStages {
            remote_read,
            targets: stage(World::Target)?,
            series: stage(World::Series)?,
        })
    }
}

/// The plugins of a job's target or series stage, in the order they run: the job's relabel
/// rules (as the stock `relabel` plugin, named after their key) if it has any, then its own.
pub fn stage_plugins(cfg: &ScrapeConfig, world: World, compat: Compat) -> Vec<PluginRef> {
    let (name, rules, extra): (&str, &[RelabelConfig], &[PluginRef]) = match world {
        World::Target => ("relabel_configs", &cfg.relabel_configs, &cfg.target_plugins),
        _ => (
            "metric_relabel_configs",
            &cfg.metric_relabel_configs,
            &cfg.series_plugins,
        ),
    };
    let mut plugins = Vec::new();
    if !rules.is_empty() {
        // A job of Prometheus 3 with legacy validation writes legacy target names only.
        let names = match cfg.names.validation {
            NameValidation::Legacy => "legacy",
            NameValidation::Utf8 => "utf8",
        };
        let config = serde_json::json!({"compat": compat.major(), "names": names, "rules": rules});
        plugins.push(PluginRef {
            name: name.to_owned(),
            source: PluginSource::Stock("relabel".into()),
            sha256: None,
            config_json: config.to_string(),
        });
    }
    plugins.extend(extra.iter().cloned());
    plugins
}

/// A job's remote-read selectors: its `match[]` params, read as its Prometheus reads them.
fn remote_read(cfg: &ScrapeConfig, compat: Compat) -> Result<RemoteRead, StageSetupError> {
    let selectors = cfg.params.get("match[]").map_or(&[][..], Vec::as_slice);
    let selectors = selectors
        .iter()
        .map(|s| {
            parse_selector(s, compat).map_err(|e| StageSetupError {
                job: cfg.job_name.clone(),
                plugin: String::new(),
                reason: format!("federation.remote_read: match[] {s:?}: {e}"),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(RemoteRead {
        selectors,
        overlap_ms: cfg.federation.read_overlap.as_std().as_millis() as i64,
    })
}

impl JobStages {
    /// Every plugin of the job with the stage it runs in, for metrics and debugging.
    pub fn plugin_list(&self) -> JobPlugins {
        [("target", &self.targets), ("series", &self.series)]
            .into_iter()
            .flat_map(|(stage, s)| {
                s.plugins()
                    .iter()
                    .map(move |p| (stage.to_owned(), p.clone()))
            })
            .collect()
    }
}

fn load_one(
    runtime: &PluginRuntime,
    cfg: &ScrapeConfig,
    plugin: &PluginRef,
    world: World,
    limits: PluginLimits,
) -> Result<Arc<Plugin>, StageSetupError> {
    let (name, source, pin) = (&plugin.name, &plugin.source, plugin.sha256.as_deref());
    let fail = |reason: String| StageSetupError {
        job: cfg.job_name.clone(),
        plugin: name.to_owned(),
        reason,
    };
    let bytes = stock::read(source, pin).map_err(fail)?;
    let plugin = runtime
        .load(name, &bytes, world, &plugin.config_json, limits)
        .map_err(|e| fail(e.to_string()))?;
    Ok(Arc::new(
        match source {
            PluginSource::File(path) => plugin.with_file(path.clone()),
            PluginSource::Stock(_) => plugin,
        }
        .with_pin(pin.map(str::to_owned)),
    ))
}

/// A stage with its failure back-off.
#[derive(Clone)]
pub struct GuardedStage {
    stage: Stage,
    health: Arc<Mutex<Backoff>>,
}

#[derive(Default)]
struct Backoff {
    consecutive_failures: u32,
    until: Option<Instant>,
    period: Duration,
    last_error: String,
}

/// Why a stage gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum StageFailure {
    #[error("{0}")]
    Failed(#[from] StageError),
    #[error("stage backing off after {failures} consecutive failures (last: {last})")]
    BackingOff { failures: u32, last: String },
}

impl GuardedStage {
    /// A stage without plugins: keeps everything unchanged.
    pub fn empty(world: World) -> Self {
        GuardedStage::new(
            Stage::new(world, Vec::new()).expect("no plugin can be of the wrong world"),
        )
    }

    pub fn new(stage: Stage) -> Self {
        GuardedStage {
            stage,
            health: Arc::new(Mutex::new(Backoff::default())),
        }
    }

    /// Whether the stage has any plugin (an empty stage keeps everything unchanged).
    /// See [`Stage::generation`].
    pub fn generation(&self) -> u64 {
        self.stage.generation()
    }

    pub fn is_empty(&self) -> bool {
        self.stage.plugins().is_empty()
    }

    pub fn plugins(&self) -> &[Arc<Plugin>] {
        self.stage.plugins()
    }

    /// Runs a batch, unless the stage is backing off.
    pub fn process(&self, batch: &[Labels]) -> Result<Vec<Option<Labels>>, StageFailure> {
        if self.is_empty() {
            return Ok(batch.iter().cloned().map(Some).collect());
        }
        {
            let health = self.health.lock().expect("backoff lock");
            if health.until.is_some_and(|until| Instant::now() < until) {
                return Err(StageFailure::BackingOff {
                    failures: health.consecutive_failures,
                    last: health.last_error.clone(),
                });
            }
        }
        let result = self.stage.process(batch);
        let mut health = self.health.lock().expect("backoff lock");
        match &result {
            Ok(_) => *health = Backoff::default(),
            Err(e) => {
                health.consecutive_failures += 1;
                health.last_error = e.to_string();
                if health.consecutive_failures >= FAILURES_BEFORE_BACKOFF {
                    health.period = if health.period.is_zero() {
                        FIRST_BACKOFF
                    } else {
                        (health.period * 2).min(MAX_BACKOFF)
                    };
                    health.until = Some(Instant::now() + health.period);
                    tracing::warn!(error = %e, failures = health.consecutive_failures, backoff = ?health.period, "plugin stage backing off");
                }
            }
        }
        Ok(result?)
    }
}

/// What each plugin of a stage did to one input, for relabel debugging.
#[derive(Debug)]
pub struct StageTrace {
    pub input: Labels,
    /// Each plugin's name and what it returned (`None`: dropped). Stops at the drop.
    pub steps: Vec<(String, Option<Labels>)>,
    /// Set when a plugin failed on the batch.
    pub error: Option<String>,
}

impl GuardedStage {
    /// Runs `batch` plugin by plugin, recording every intermediate label set. Blocking.
    pub fn trace(&self, batch: &[Labels]) -> Vec<StageTrace> {
        let mut traces: Vec<StageTrace> = batch
            .iter()
            .map(|input| StageTrace {
                input: input.clone(),
                steps: Vec::new(),
                error: None,
            })
            .collect();
        let mut current: Vec<Option<Labels>> = batch.iter().cloned().map(Some).collect();
        for plugin in self.plugins() {
            let (positions, alive): (Vec<usize>, Vec<Labels>) = current
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.clone().map(|l| (i, l)))
                .unzip();
            if alive.is_empty() {
                break;
            }
            match plugin.process(&alive) {
                Ok(answers) => {
                    for (i, answer) in positions.into_iter().zip(answers) {
                        let answer = answer.filter(|l| !l.is_empty());
                        traces[i]
                            .steps
                            .push((plugin.name().to_owned(), answer.clone()));
                        current[i] = answer;
                    }
                }
                Err(e) => {
                    for i in positions {
                        traces[i].error = Some(format!("plugin {}: {e}", plugin.name()));
                        current[i] = None;
                    }
                }
            }
        }
        traces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDENTITY: &[u8] = wasmfed_artifacts::IDENTITY;

    fn stage() -> GuardedStage {
        let runtime = PluginRuntime::new().unwrap();
        let plugin = runtime
            .load(
                "identity",
                IDENTITY,
                World::Series,
                "null",
                PluginLimits::default(),
            )
            .unwrap();
        GuardedStage::new(Stage::new(World::Series, vec![Arc::new(plugin)]).unwrap())
    }

    fn named(name: &str) -> Labels {
        Labels::from_pairs([("__name__", name)])
    }

    #[test]
    fn repeated_failures_back_off_and_success_resets() {
        let stage = stage();
        let ok = [named("a"), named("drop_me")];
        assert_eq!(stage.process(&ok).unwrap(), [Some(named("a")), None]);
        let failing = [named("fail_me")];
        for _ in 0..FAILURES_BEFORE_BACKOFF {
            assert!(matches!(
                stage.process(&failing),
                Err(StageFailure::Failed(_))
            ));
        }
        let calls = stage.plugins()[0].stats().calls();
        match stage.process(&ok) {
            Err(StageFailure::BackingOff { failures, last }) => {
                assert_eq!(failures, FAILURES_BEFORE_BACKOFF);
                assert!(last.contains("asked to fail"), "{last}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            stage.plugins()[0].stats().calls(),
            calls,
            "no call while backing off"
        );
        // Past the back-off the stage is asked again, and a success clears the count.
        stage.health.lock().unwrap().until = Some(Instant::now());
        assert!(stage.process(&ok).is_ok());
        assert_eq!(stage.health.lock().unwrap().consecutive_failures, 0);
    }

    #[test]
    fn an_empty_stage_keeps_everything() {
        let stage = GuardedStage::empty(World::Series);
        assert_eq!(stage.process(&[named("x")]).unwrap(), [Some(named("x"))]);
    }
}
