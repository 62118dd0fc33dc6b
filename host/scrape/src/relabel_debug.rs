//! `wasmfed relabel test`: what a job's relabel rules and plugins do to its targets and to
//! given series, step by step, without scraping anything.
//!
//! Relabeling is where Prometheus users lose the most time ("why is this target dropped?"), so
//! this shows every discovered target (or series) before and after each plugin of its stage
//! and names the step that dropped it. The plugins are the very components a node would run.
//! Each step is also kept as a [`Recording`] (what went into one plugin and what it answered),
//! from which `wasmfed relabel test --record DIR` writes `wasmfed plugin test` fixtures: a
//! plugin author's regression test, taken from a real configuration and its real discovery.

use std::fmt::Write;
use std::path::Path;

use anyhow::{anyhow, Context};

use crate::discovery::Discovery;
use crate::fetch::Fetcher;
use crate::honor::merge_target_labels;
use crate::manager::discovered_targets;
use crate::parse::parse_series;
use crate::recording::{record, Recording};
use crate::stages::{stage_plugins, JobStages, StageTrace};
use crate::target::Target;
use wasmfed_config::{Config, ScrapeConfig};
use wasmfed_model::compat::Compat;
use wasmfed_model::Labels;
use wasmfed_plugin::{PluginLimits, PluginRuntime, World};

/// The report's text, and each plugin step's recording.
#[derive(Debug)]
pub struct Report {
    pub text: String,
    pub recordings: Vec<Recording>,
}

/// The report for `job` in the config at `path`: its targets, then each of `series` (exposition
/// syntax, e.g. `http_requests_total{code="200"}`) as scraped from its first kept target, with
/// the file read as `compat`'s Prometheus generation reads it.
pub fn report(path: &Path, job: &str, series: &[String], compat: Compat) -> anyhow::Result<Report> {
    let config = Config::load(path, compat)?.config;
    // The node's own jobs, then each tenant's (job names are unique only within a tenant).
    let all_jobs = || {
        config
            .scrape_configs
            .iter()
            .chain(config.tenants.iter().flat_map(|t| &t.scrape_configs))
    };
    let cfg = all_jobs().find(|c| c.job_name == job).ok_or_else(|| {
        let jobs: Vec<&str> = all_jobs().map(|c| c.job_name.as_str()).collect();
        anyhow!(
            "no job {job:?} in {} (jobs: {})",
            path.display(),
            jobs.join(", ")
        )
    })?;
    let runtime = PluginRuntime::new().context("starting the plugin runtime")?;
    let stages = JobStages::load(&runtime, cfg, PluginLimits::default(), compat)?;
    let discovery = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a runtime for discovery")?
        .block_on(Discovery::snapshot(cfg, &Fetcher::default()))
        .map_err(|e| anyhow!(e))?;
    let discovered = discovered_targets(cfg, &discovery);
    let mut out = String::new();
    let traces = stages.targets.trace(&discovered);
    let mut recordings = record(
        stage_plugins(cfg, World::Target, compat),
        World::Target,
        &traces,
    );
    let mut first_kept: Option<Target> = None;
    let kept = traces.iter().filter(|t| final_labels(t).is_some()).count();
    let _ = writeln!(
        out,
        "job {job:?}: {} targets discovered, {kept} kept, {} dropped\n",
        traces.len(),
        traces.len() - kept
    );
    for trace in &traces {
        write_trace(&mut out, "target", trace);
        match final_labels(trace) {
            Some(labels) => match Target::from_relabeled(cfg, trace.input.clone(), labels) {
                Ok(target) => {
                    let _ = writeln!(
                        out,
                        "  => scraped at {} with labels {}\n",
                        target.url, target.public
                    );
                    first_kept.get_or_insert(target);
                }
                Err(e) => {
                    let _ = writeln!(out, "  => dropped: {e}\n");
                }
            },
            None => {
                let _ = writeln!(out, "  => dropped by {}\n", dropped_by(trace));
            }
        }
    }
    if !series.is_empty() {
        let traces = write_series(&mut out, cfg, &stages, first_kept.as_ref(), series)?;
        recordings.extend(record(
            stage_plugins(cfg, World::Series, compat),
            World::Series,
            &traces,
        ));
    }
    Ok(Report {
        text: out,
        recordings,
    })
}

fn write_series(
    out: &mut String,
    cfg: &ScrapeConfig,
    stages: &JobStages,
    target: Option<&Target>,
    series: &[String],
) -> anyhow::Result<Vec<StageTrace>> {
    let target_labels = target.map(|t| t.public.clone()).unwrap_or_default();
    let _ = writeln!(
        out,
        "series as scraped from {} (honor_labels: {}):\n",
        target.map_or("no target".to_owned(), |t| t.url.clone()),
        cfg.honor_labels
    );
    let mut batch = Vec::new();
    for text in series {
        let scraped = parse_series(text).map_err(|e| anyhow!("series {text:?}: {e}"))?;
        batch.push(merge_target_labels(scraped, &target_labels, cfg.honor_labels).without_empty());
    }
    let traces = stages.series.trace(&batch);
    for trace in &traces {
        write_trace(out, "series", trace);
        match final_labels(trace) {
            Some(labels) => {
                let _ = writeln!(out, "  => stored as {labels}\n");
            }
            None => {
                let _ = writeln!(out, "  => dropped by {}\n", dropped_by(trace));
            }
        }
    }
    Ok(traces)
}

fn write_trace(out: &mut String, what: &str, trace: &StageTrace) {
    let _ = writeln!(out, "{what} {}", trace.input);
    for (plugin, result) in &trace.steps {
        match result {
            Some(labels) => {
                let _ = writeln!(out, "  {plugin}: {labels}");
            }
            None => {
                let _ = writeln!(out, "  {plugin}: dropped");
            }
        }
    }
    if let Some(error) = &trace.error {
        let _ = writeln!(out, "  failed: {error}");
    }
}

/// The labels the last step left, or the input when the stage has no plugin; None if dropped.
fn final_labels(trace: &StageTrace) -> Option<Labels> {
    if trace.error.is_some() {
        return None;
    }
    match trace.steps.last() {
        None => Some(trace.input.clone()),
        Some((_, result)) => result.clone(),
    }
}

fn dropped_by(trace: &StageTrace) -> String {
    match (&trace.error, trace.steps.last()) {
        (Some(error), _) => format!("a failure ({error})"),
        (None, Some((plugin, None))) => plugin.clone(),
        _ => "nothing".to_owned(),
    }
}
