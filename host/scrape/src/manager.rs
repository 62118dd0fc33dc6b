//! The scrape manager: one task per job that turns discovered groups into running loops.
//!
//! Each job task owns its discovery and its loops. When the group set changes it rebuilds the
//! target list, keeps the loops of targets that are still there (same labels, same URL: no gap,
//! no duplicate scrape), starts loops for new ones and stops the rest, which writes their stale
//! markers. Targets with identical final labels are scraped once, as in Prometheus.
//!
//! The target stage (relabel_configs, shard selection) runs where `discovered` becomes `kept`,
//! on the whole list in one batch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::capture::InputCapture;
use super::discovery::{Discovery, CHANGE_CHECK};
use super::fetch::HttpClient;
use super::ha::HaTracker;
use super::handover::{self, Handover, LetGo};
use super::metadata::SharedMetadata;
use super::scrape_loop::{
    content_type_fallback, Carried, LoopContext, LoopHandle, LoopSettings, TargetHealth,
};
use super::stages::{GuardedStage, JobStages, StageSetupError};
use super::target::{discovered_labels, Target};
use wasmfed_config::ScrapeConfig;
use wasmfed_model::Labels;
use wasmfed_plugin::PluginLimits;

/// A target as `/api/v1/targets` shows it.
#[derive(Clone)]
pub struct ActiveTarget {
    pub job: String,
    pub target: Arc<Target>,
    pub health: Arc<Mutex<TargetHealth>>,
    pub metadata: SharedMetadata,
    /// Its next scrape's series-stage input, for recording plugin fixtures.
    pub capture: Arc<InputCapture>,
}

/// What every job currently scrapes and what its target stage dropped.
#[derive(Default)]
pub struct TargetsView {
    pub active: Vec<ActiveTarget>,
    pub dropped: Vec<Labels>,
}

struct JobView {
    active: Vec<ActiveTarget>,
    dropped: Vec<Labels>,
    /// Every discovered target and the stage that decided them, for relabel debugging.
    discovered: Vec<Labels>,
    target_stage: GuardedStage,
    /// The stage its series go through, and how target labels merge into them.
    series_stage: GuardedStage,
    honor_labels: bool,
}

/// How soon a failed target stage is asked again.
const STAGE_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// Discovery changes reach the target stage at most this often, as Prometheus' discovery
/// manager sends its updates every 5 s: a flapping source cannot churn targets and plugins.
/// A target whose labels stay the same keeps its loop across updates.
const UPDATE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

struct JobTask {
    config: ScrapeConfig,
    signal: watch::Sender<JobSignal>,
    /// Ends with the job's loops' state when it was reloaded.
    task: tokio::task::JoinHandle<HashMap<Arc<Target>, Carried>>,
}

/// What a job's task is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JobSignal {
    Run,
    /// End every target (stale markers).
    Stop,
    /// Hand every loop's state on to the job replacing this one.
    Reload,
}

/// Runs the scrape jobs of the current configuration.
pub struct ScrapeManager {
    ctx: LoopContext,
    jobs: tokio::sync::Mutex<HashMap<String, JobTask>>,
    views: Arc<Mutex<BTreeMap<String, JobView>>>,
}

impl ScrapeManager {
    pub fn new(ctx: LoopContext) -> Self {
        ScrapeManager {
            ctx,
            jobs: tokio::sync::Mutex::new(HashMap::new()),
            views: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// Makes the running jobs those of `configs`. Jobs whose configuration is unchanged keep
    /// running untouched; changed ones restart; removed ones stop (their series go stale).
    /// The plugins of every new or changed job are loaded first: if one fails, nothing changes
    /// and the error says which job and plugin refused and why.
    pub async fn apply(&self, configs: &[ScrapeConfig]) -> Result<(), StageSetupError> {
        let mut jobs = self.jobs.lock().await;
        let to_start: Vec<ScrapeConfig> = configs
            .iter()
            .filter(|c| {
                jobs.get(&c.job_name)
                    .is_none_or(|running| running.config != **c)
            })
            .cloned()
            .collect();
        let runtime = self.ctx.plugins.clone();
        let loading = to_start.clone();
        let limits = PluginLimits::default().for_tenant(&self.ctx.limits.read());
        let compat = self.ctx.compat;
        let stages = tokio::task::spawn_blocking(move || {
            loading
                .iter()
                .map(|cfg| JobStages::load(&runtime, cfg, limits, compat))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .expect("loading plugins panicked")?;
        let wanted: HashMap<&str, &ScrapeConfig> =
            configs.iter().map(|c| (c.job_name.as_str(), c)).collect();
        let names: Vec<String> = jobs.keys().cloned().collect();
        let mut carried: HashMap<String, HashMap<Arc<Target>, Carried>> = HashMap::new();
        for name in names {
            let keep = wanted
                .get(name.as_str())
                .is_some_and(|c| **c == jobs[&name].config);
            if keep {
                continue;
            }
            let job = jobs.remove(&name).expect("listed above");
            if let Some(next) = wanted.get(name.as_str()) {
                // Changed, not gone: its targets go on under the new configuration.
                let reusable = same_series(&job.config, next);
                let mut loops = reload_job(job).await;
                if !reusable {
                    loops.values_mut().for_each(Carried::decide_again);
                }
                carried.insert(name, loops);
                continue;
            }
            stop_job(job).await;
            self.views.lock().expect("views lock").remove(&name);
            self.ctx.telemetry.plugins.untrack(&self.ctx.tenant, &name);
        }
        for (cfg, stages) in to_start.into_iter().zip(stages) {
            self.ctx
                .telemetry
                .plugins
                .track(&self.ctx.tenant, &cfg.job_name, stages.plugin_list());
            let carried = carried.remove(&cfg.job_name).unwrap_or_default();
            jobs.insert(cfg.job_name.clone(), self.start_job(cfg, stages, carried));
        }
        Ok(())
    }

    /// Stops every job, writing stale markers for all their series.
    pub async fn shutdown(&self) {
        let mut jobs = self.jobs.lock().await;
        for (name, job) in jobs.drain() {
            stop_job(job).await;
            self.ctx.telemetry.plugins.untrack(&self.ctx.tenant, &name);
        }
        self.views.lock().expect("views lock").clear();
    }

    /// A job's discovered targets and its target stage, to trace what the stage does to them.
    pub fn target_stage_input(&self, job: &str) -> Option<(Vec<Labels>, GuardedStage)> {
        let views = self.views.lock().expect("views lock");
        views
            .get(job)
            .map(|v| (v.discovered.clone(), v.target_stage.clone()))
    }

    /// What a job's series stage needs to trace series as the job would store them: the stage,
    /// the labels of the job's first target (in label order) and `honor_labels`.
    pub fn series_stage_input(&self, job: &str) -> Option<(GuardedStage, Labels, bool)> {
        let views = self.views.lock().expect("views lock");
        views.get(job).map(|v| {
            let target = v
                .active
                .first()
                .map(|a| a.target.public.clone())
                .unwrap_or_default();
            (v.series_stage.clone(), target, v.honor_labels)
        })
    }

    /// The running jobs' names, in order.
    pub fn job_names(&self) -> Vec<String> {
        let views = self.views.lock().expect("views lock");
        views.keys().cloned().collect()
    }

    /// A snapshot of all targets, jobs in name order.
    pub fn targets(&self) -> TargetsView {
        let views = self.views.lock().expect("views lock");
        let mut out = TargetsView::default();
        for view in views.values() {
            out.active.extend(view.active.iter().cloned());
            out.dropped.extend(view.dropped.iter().cloned());
        }
        out
    }

    fn start_job(
        &self,
        config: ScrapeConfig,
        stages: JobStages,
        carried: HashMap<Arc<Target>, Carried>,
    ) -> JobTask {
        let (signal, signalled) = watch::channel(JobSignal::Run);
        let task = tokio::spawn(run_job(
            config.clone(),
            stages,
            self.ctx.clone(),
            self.views.clone(),
            (signalled, carried),
        ));
        JobTask {
            config,
            signal,
            task,
        }
    }
}

/// Whether two configurations of a job make the same series of what they scrape: they differ
/// at most in interval, timeout, sample limit and HTTP client, the fields Prometheus'
/// `reusableCache` ignores.
fn same_series(a: &ScrapeConfig, b: &ScrapeConfig) -> bool {
    let zero = |c: &ScrapeConfig| ScrapeConfig {
        scrape_interval: Default::default(),
        scrape_timeout: Default::default(),
        sample_limit: 0,
        http_client: Default::default(),
        ..c.clone()
    };
    zero(a) == zero(b)
}

async fn stop_job(job: JobTask) {
    let _ = job.signal.send(JobSignal::Stop);
    let _ = job.task.await;
}

/// Stops a job whose configuration changed, ending none of its targets: their loops' state.
async fn reload_job(job: JobTask) -> HashMap<Arc<Target>, Carried> {
    let _ = job.signal.send(JobSignal::Reload);
    job.task.await.unwrap_or_default()
}

async fn run_job(
    cfg: ScrapeConfig,
    stages: JobStages,
    ctx: LoopContext,
    views: Arc<Mutex<BTreeMap<String, JobView>>>,
    (mut signal, mut carried): (watch::Receiver<JobSignal>, HashMap<Arc<Target>, Carried>),
) -> HashMap<Arc<Target>, Carried> {
    let sample_limit = tightest(cfg.sample_limit, ctx.limits.read().sample_limit);
    let settings = Arc::new(LoopSettings {
        job: cfg.job_name.clone(),
        honor_labels: cfg.honor_labels,
        honor_timestamps: cfg.honor_timestamps,
        sample_limit,
        body_size_limit: cfg.body_size_limit,
        series_stage: stages.series.clone(),
        compat: cfg.compat,
        names: cfg.names,
        accept: cfg.names.accept_header().into(),
        fallback: content_type_fallback(&cfg),
        client: Arc::new(HttpClient::new(&cfg.http_client)),
        // One answer never holds more than the job may store from one scrape.
        every_sample: cfg
            .federation
            .every_sample_mode()
            .then(|| tightest(cfg.federation.max_samples_per_request, sample_limit)),
        remote_read: stages.remote_read.clone(),
        ha: HaTracker::new(&cfg.federation).map(Arc::new),
    });
    let mut discovery = Discovery::new(&cfg, &ctx.fetcher, &ctx.telemetry);
    discovery.refresh();
    let mut running: HashMap<Arc<Target>, LoopHandle> = HashMap::new();
    let mut decisions = TargetDecisions::default();
    let mut handover = Handover::new(cfg.shard_handover.as_ref());
    loop {
        let (targets, dropped, stage_failed) =
            build_targets(&cfg, &stages, &discovery, &mut decisions).await;
        let mut next: HashMap<Arc<Target>, LoopHandle> = HashMap::new();
        for target in targets {
            // A duplicate (same labels and URL) shares the first one's loop; the listing shows
            // the latest one's discovered labels, as Prometheus' does.
            if let Some(handle) = next.remove(&target) {
                next.insert(target, handle);
                continue;
            }
            let given_back = || handover.as_mut().and_then(|h| h.take_back(&target));
            let handle = running.remove(&target).or_else(given_back).unwrap_or_else(|| {
                let carried = carried.remove(&target);
                if carried.is_none() {
                    tracing::info!(job = %cfg.job_name, target = %target, "starting scrape loop");
                }
                LoopHandle::spawn(target.clone(), settings.clone(), ctx.clone(), carried)
            });
            next.insert(target, handle);
        }
        // Targets of the configuration before a reload that this one does not scrape end.
        for (target, state) in carried.drain() {
            running.insert(
                target.clone(),
                LoopHandle::spawn(target, settings.clone(), ctx.clone(), Some(state)),
            );
        }
        let given_away: HashSet<&Labels> = match handover {
            Some(_) => dropped.iter().collect(),
            None => HashSet::new(),
        };
        for (target, handle) in running.drain() {
            if let Some(h) = handover
                .as_mut()
                .filter(|_| given_away.contains(&target.discovered))
            {
                tracing::info!(job = %cfg.job_name, target = %target, "the target stage gave this target to another node: scraping it until a peer has");
                h.begin(target, handle);
                continue;
            }
            tracing::info!(job = %cfg.job_name, target = %target, "stopping scrape loop");
            handle.stop().await;
        }
        drop(given_away);
        running = next;
        let published = Published {
            dropped,
            discovered: discovered_targets(&cfg, &discovery),
            target_stage: stages.targets.clone(),
            series_stage: stages.series.clone(),
            honor_labels: cfg.honor_labels,
        };
        let leaving = handover.iter().flat_map(Handover::loops);
        publish(
            &views,
            &cfg.job_name,
            running.iter().chain(leaving),
            published,
            &ctx,
        );
        // Wait for a discovery change (taken at most every UPDATE_EVERY) or the stop signal.
        let built_at = tokio::time::Instant::now();
        let mut changed = false;
        let mut retry_at = stage_failed.then(|| built_at + STAGE_RETRY);
        loop {
            let leaving = handover.as_ref().is_some_and(|h| !h.is_empty());
            let wait = async {
                if discovery.is_dynamic() || retry_at.is_some() {
                    tokio::time::sleep(CHANGE_CHECK).await
                } else if leaving {
                    tokio::time::sleep(handover::CHECK_EVERY).await
                } else {
                    std::future::pending().await
                }
            };
            tokio::select! {
                _ = wait => {
                    let retry = retry_at.is_some_and(|at| tokio::time::Instant::now() >= at);
                    changed |= discovery.refresh();
                    if retry || (changed && built_at.elapsed() >= UPDATE_EVERY) {
                        break;
                    }
                    if let Some(h) = handover.as_mut().filter(|_| leaving) {
                        if let_go(h, &ctx, &cfg.job_name).await {
                            break; // publish the targets without them
                        }
                    }
                }
                changed = signal.changed() => {
                    let reload = changed.is_ok() && *signal.borrow() == JobSignal::Reload;
                    let mut carried = HashMap::new();
                    let leaving: Vec<_> = handover.iter_mut().flat_map(Handover::drain).collect();
                    for (target, handle) in running.drain().chain(leaving) {
                        match reload {
                            true => carried.extend(handle.reload().await.map(|c| (target, c))),
                            false => handle.stop().await,
                        }
                    }
                    return carried;
                }
            }
            retry_at = retry_at.filter(|at| tokio::time::Instant::now() < *at);
        }
    }
}

/// Stops the leaving targets a peer has scraped (or that waited too long); whether any.
async fn let_go(handover: &mut Handover, ctx: &LoopContext, job: &str) -> bool {
    let settled = handover.settle(&ctx.fetcher).await;
    let any = !settled.is_empty();
    for (target, handle, why) in settled {
        match why {
            LetGo::Scraped(peer) => {
                tracing::info!(job, target = %target, peer = %peer, "handed over: the peer scrapes it now")
            }
            LetGo::TimedOut => {
                tracing::warn!(job, target = %target, "no peer scraped this target within shard_handover.max_wait; letting go of it")
            }
        }
        handle.stop().await;
    }
    any
}

/// The target stage's last answer for each discovered label set, kept so that a failing
/// stage leaves every known target where it was.
#[derive(Default)]
struct TargetDecisions {
    last: HashMap<Labels, Option<Labels>>,
}

/// Builds the job's targets from its groups: discovered labels through the target stage (one
/// batch), then `Target::from_relabeled`. Returns the targets to scrape, the discovered label
/// sets the stage dropped and whether the stage failed (its previous decisions were used;
/// targets it never decided wait for a retry). A target the stage kept but left unscrapable
/// (no address, a bad interval or timeout) is neither: it is logged as Prometheus logs it,
/// "Creating target failed", and listed nowhere.
async fn build_targets(
    cfg: &ScrapeConfig,
    stages: &JobStages,
    discovery: &Discovery,
    decisions: &mut TargetDecisions,
) -> (Vec<Arc<Target>>, Vec<Labels>, bool) {
    let discovered = discovered_targets(cfg, discovery);
    let stage = stages.targets.clone();
    let batch = discovered.clone();
    let answer = if stage.is_empty() {
        Ok(batch.into_iter().map(Some).collect())
    } else {
        tokio::task::spawn_blocking(move || stage.process(&batch))
            .await
            .expect("target stage panicked")
    };
    let (relabeled, failed): (Vec<Option<Option<Labels>>>, bool) = match answer {
        Ok(answer) => {
            decisions.last = discovered
                .iter()
                .cloned()
                .zip(answer.iter().cloned())
                .collect();
            (answer.into_iter().map(Some).collect(), false)
        }
        Err(e) => {
            tracing::error!(job = %cfg.job_name, error = %e, "target stage failed; keeping its previous decisions");
            let previous = discovered
                .iter()
                .map(|d| decisions.last.get(d).cloned())
                .collect();
            (previous, true)
        }
    };
    let mut targets = Vec::new();
    let mut dropped = Vec::new();
    for (discovered, decision) in discovered.into_iter().zip(relabeled) {
        match decision {
            // Never decided (the stage failed before it saw this target): not scraped yet.
            None => {}
            Some(None) => dropped.push(discovered),
            Some(Some(labels)) => match Target::from_relabeled(cfg, discovered.clone(), labels) {
                Ok(t) => targets.push(Arc::new(t)),
                Err(e) => {
                    tracing::error!(job = %cfg.job_name, labels = %discovered, error = %e, "Creating target failed");
                }
            },
        }
    }
    (targets, dropped, failed)
}

/// Every target the job's discovery currently knows, with the job's `__` labels added: the
/// input of the target stage.
pub fn discovered_targets(cfg: &ScrapeConfig, discovery: &Discovery) -> Vec<Labels> {
    discovery
        .groups()
        .flat_map(|group| {
            group.targets.iter().enumerate().map(|(i, address)| {
                // A target's own labels win over its group's, as in Prometheus.
                match group.target_labels.get(i) {
                    Some(own) => {
                        let mut labels = group.labels.clone();
                        for label in own.iter() {
                            labels.set(&label.name, &label.value);
                        }
                        discovered_labels(cfg, address, &labels)
                    }
                    None => discovered_labels(cfg, address, &group.labels),
                }
            })
        })
        .collect()
}

struct Published {
    dropped: Vec<Labels>,
    discovered: Vec<Labels>,
    target_stage: GuardedStage,
    series_stage: GuardedStage,
    honor_labels: bool,
}

fn publish<'a>(
    views: &Mutex<BTreeMap<String, JobView>>,
    job: &str,
    running: impl Iterator<Item = (&'a Arc<Target>, &'a LoopHandle)>,
    published: Published,
    ctx: &LoopContext,
) {
    let mut active: Vec<ActiveTarget> = running
        .map(|(target, handle)| ActiveTarget {
            job: job.to_owned(),
            target: target.clone(),
            health: handle.health.clone(),
            metadata: handle.metadata.clone(),
            capture: handle.capture.clone(),
        })
        .collect();
    active.sort_by(|a, b| a.target.labels.cmp(&b.target.labels));
    let mut views = views.lock().expect("views lock");
    views.insert(
        job.to_owned(),
        JobView {
            active,
            dropped: published.dropped,
            discovered: published.discovered,
            target_stage: published.target_stage,
            series_stage: published.series_stage,
            honor_labels: published.honor_labels,
        },
    );
    let total: usize = views.values().map(|v| v.active.len()).sum();
    ctx.telemetry.active_targets.set(total as i64);
}

/// The tighter of two limits where 0 means none.
fn tightest(a: u64, b: u64) -> u64 {
    match (a, b) {
        (0, b) => b,
        (a, 0) => a,
        (a, b) => a.min(b),
    }
}
