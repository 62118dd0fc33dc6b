//! The scrape manager: one task per job that turns discovered groups into running loops.
//!
//! Each job task owns its discovery and its loops. When the group set changes it rebuilds the
//! target list, keeps the loops of targets that are still there (same labels, same URL: no gap,
//! no duplicate scrape), starts loops for new ones and stops the rest, which writes their stale
//! markers. Targets with identical final labels are scraped once, as in Prometheus.
//!
//! The target stage (relabel_configs, shard selection) runs where `discovered` becomes `kept`,
//! on the whole list in one batch.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::discovery::{Discovery, CHANGE_CHECK};
use super::scrape_loop::{LoopContext, LoopHandle, LoopSettings, TargetHealth};
use super::target::{discovered_labels, Target};
use crate::config::ScrapeConfig;
use crate::model::Labels;

/// A target as `/api/v1/targets` shows it.
#[derive(Clone)]
pub struct ActiveTarget {
    pub job: String,
    pub target: Arc<Target>,
    pub health: Arc<Mutex<TargetHealth>>,
}

/// What every job currently scrapes and what its target stage dropped.
#[derive(Default)]
pub struct TargetsView {
    pub active: Vec<ActiveTarget>,
    pub dropped: Vec<Labels>,
}

#[derive(Default)]
struct JobView {
    active: Vec<ActiveTarget>,
    dropped: Vec<Labels>,
}

struct JobTask {
    config: ScrapeConfig,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
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
    pub async fn apply(&self, configs: &[ScrapeConfig]) {
        let mut jobs = self.jobs.lock().await;
        let wanted: HashMap<&str, &ScrapeConfig> =
            configs.iter().map(|c| (c.job_name.as_str(), c)).collect();
        let names: Vec<String> = jobs.keys().cloned().collect();
        for name in names {
            let keep = wanted
                .get(name.as_str())
                .is_some_and(|c| **c == jobs[&name].config);
            if !keep {
                let job = jobs.remove(&name).expect("listed above");
                stop_job(job).await;
                self.views.lock().expect("views lock").remove(&name);
            }
        }
        for cfg in configs {
            if !jobs.contains_key(&cfg.job_name) {
                jobs.insert(cfg.job_name.clone(), self.start_job(cfg.clone()));
            }
        }
    }

    /// Stops every job, writing stale markers for all their series.
    pub async fn shutdown(&self) {
        let mut jobs = self.jobs.lock().await;
        for (_, job) in jobs.drain() {
            stop_job(job).await;
        }
        self.views.lock().expect("views lock").clear();
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

    fn start_job(&self, config: ScrapeConfig) -> JobTask {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run_job(
            config.clone(),
            self.ctx.clone(),
            self.views.clone(),
            stopped,
        ));
        JobTask { config, stop, task }
    }
}

async fn stop_job(job: JobTask) {
    let _ = job.stop.send(true);
    let _ = job.task.await;
}

async fn run_job(
    cfg: ScrapeConfig,
    ctx: LoopContext,
    views: Arc<Mutex<BTreeMap<String, JobView>>>,
    mut stopped: watch::Receiver<bool>,
) {
    let settings = LoopSettings {
        job: cfg.job_name.clone(),
        honor_labels: cfg.honor_labels,
        honor_timestamps: cfg.honor_timestamps,
        sample_limit: cfg.sample_limit,
        body_size_limit: cfg.body_size_limit,
    };
    if !(cfg.relabel_configs.is_empty()
        && cfg.metric_relabel_configs.is_empty()
        && cfg.target_plugins.is_empty()
        && cfg.series_plugins.is_empty())
    {
        // Issue #3 runs these through the plugin stages; until then, say so instead of silently
        // scraping targets a shard should not own.
        tracing::warn!(job = %cfg.job_name, "relabel rules and plugins are validated but not executed yet");
    }
    let mut discovery = Discovery::new(&cfg);
    discovery.refresh();
    let mut running: HashMap<Arc<Target>, LoopHandle> = HashMap::new();
    loop {
        let (targets, dropped) = build_targets(&cfg, &discovery);
        let mut next: HashMap<Arc<Target>, LoopHandle> = HashMap::new();
        for target in targets {
            if next.contains_key(&target) {
                continue;
            }
            let handle = running.remove(&target).unwrap_or_else(|| {
                tracing::info!(job = %cfg.job_name, target = %target, "starting scrape loop");
                LoopHandle::spawn(target.clone(), settings.clone(), ctx.clone())
            });
            next.insert(target, handle);
        }
        for (target, handle) in running.drain() {
            tracing::info!(job = %cfg.job_name, target = %target, "stopping scrape loop");
            handle.stop().await;
        }
        running = next;
        publish(&views, &cfg.job_name, &running, dropped, &ctx);
        // Wait for a discovery change or the stop signal.
        loop {
            let wait = async {
                if discovery.has_files() {
                    tokio::time::sleep(CHANGE_CHECK).await
                } else {
                    std::future::pending().await
                }
            };
            tokio::select! {
                _ = wait => if discovery.refresh() { break },
                _ = stopped.changed() => {
                    for (_, handle) in running.drain() {
                        handle.stop().await;
                    }
                    return;
                }
            }
        }
    }
}

/// Builds the job's targets from its groups. Targets that can't be scraped are logged and
/// listed as dropped.
fn build_targets(cfg: &ScrapeConfig, discovery: &Discovery) -> (Vec<Arc<Target>>, Vec<Labels>) {
    let mut targets = Vec::new();
    let mut dropped = Vec::new();
    for group in discovery.groups() {
        for address in &group.targets {
            let discovered = discovered_labels(cfg, address, &group.labels);
            match Target::from_relabeled(cfg, discovered.clone(), discovered.clone()) {
                Ok(t) => targets.push(Arc::new(t)),
                Err(e) => {
                    tracing::warn!(job = %cfg.job_name, labels = %discovered, error = %e, "target dropped");
                    dropped.push(discovered);
                }
            }
        }
    }
    (targets, dropped)
}

fn publish(
    views: &Mutex<BTreeMap<String, JobView>>,
    job: &str,
    running: &HashMap<Arc<Target>, LoopHandle>,
    dropped: Vec<Labels>,
    ctx: &LoopContext,
) {
    let mut active: Vec<ActiveTarget> = running
        .iter()
        .map(|(target, handle)| ActiveTarget {
            job: job.to_owned(),
            target: target.clone(),
            health: handle.health.clone(),
        })
        .collect();
    active.sort_by(|a, b| a.target.labels.cmp(&b.target.labels));
    let mut views = views.lock().expect("views lock");
    views.insert(job.to_owned(), JobView { active, dropped });
    let total: usize = views.values().map(|v| v.active.len()).sum();
    ctx.telemetry.active_targets.set(total as i64);
}
