//! `GET /api/v1/plugins/{name}/fixture?job=J[&stage=target|series][&target=T]`: a plugin
//! step's current input on a live node, as a `wasmfed plugin test` fixture (YAML).
//!
//! The input is what the plugin gets now: at the target stage the job's discovered targets
//! (only those whose `__address__` is `target`, if given); at the series stage the series of
//! the next scrape of the job's target whose `instance` is `target` (needed when the job has
//! more than one), decoded and merged with the target's labels as the node does before the
//! stage. The stage is run plugin by plugin on it with the plugins the node runs now, so the
//! step's input is what the steps before it answered, and the expected answers written are
//! what the live component answers: the fixture passes against that component, and fails
//! the day a new version answers otherwise. The fixture's text is `wasmfed_scrape::recording`'s,
//! as `wasmfed relabel test --record` writes it.
//!
//! Behind the admin token, like the rest of the plugin API (it shows a tenant's targets and
//! series); `X-Scope-OrgID` names the tenant. A series-stage recording waits for the target's
//! next scrape (its interval and timeout, and a few seconds more at most).

use std::time::Duration;

use http::{header, Response, StatusCode};

use super::body::{full, ResponseBody};
use super::plugins::error;
use wasmfed_config::{PluginRef, PluginSource};
use wasmfed_model::Labels;
use wasmfed_node::tenant::Tenant;
use wasmfed_plugin::{sha256_hex, stock, Plugin, World};
use wasmfed_scrape::recording::record;
use wasmfed_scrape::stages::GuardedStage;

/// Beyond a target's interval and timeout, how long a series-stage recording waits.
const SCRAPE_GRACE: Duration = Duration::from_secs(5);

/// The query's parameters.
struct Asked {
    job: String,
    stage: Option<World>,
    target: Option<String>,
}

pub async fn handle(tenant: &Tenant, name: &str, query: Option<&str>) -> Response<ResponseBody> {
    let asked = match parse(query) {
        Ok(asked) => asked,
        Err(why) => return error(StatusCode::BAD_REQUEST, "bad_data", &why),
    };
    match fixture(tenant, name, &asked).await {
        Ok(text) => Response::builder()
            .header(header::CONTENT_TYPE, "application/yaml")
            .body(full(text))
            .expect("static headers are valid"),
        Err((status, kind, why)) => error(status, kind, &why),
    }
}

fn parse(query: Option<&str>) -> Result<Asked, String> {
    let mut asked = Asked {
        job: String::new(),
        stage: None,
        target: None,
    };
    for (key, value) in query
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
    {
        match &*key {
            "job" => asked.job = value.into_owned(),
            "stage" => {
                asked.stage = Some(match &*value {
                    "target" => World::Target,
                    "series" => World::Series,
                    _ => return Err(format!("stage {value:?}: target or series")),
                })
            }
            "target" => asked.target = Some(value.into_owned()),
            _ => return Err(format!("unknown parameter {key:?} (job, stage, target)")),
        }
    }
    if asked.job.is_empty() {
        return Err("missing parameter: job".into());
    }
    Ok(asked)
}

type Failure = (StatusCode, &'static str, String);

fn not_found(why: String) -> Failure {
    (StatusCode::NOT_FOUND, "not_found", why)
}

async fn fixture(tenant: &Tenant, name: &str, asked: &Asked) -> Result<String, Failure> {
    let job = &asked.job;
    let (Some((discovered, target_stage)), Some((series_stage, _, _))) = (
        tenant.scrape.target_stage_input(job),
        tenant.scrape.series_stage_input(job),
    ) else {
        let jobs = tenant.scrape.job_names().join(", ");
        return Err(not_found(format!("no running job {job:?} (jobs: {jobs})")));
    };
    let (world, stage) = pick_stage(name, job, asked.stage, target_stage, series_stage)?;
    let (input, source) = match world {
        World::Target => {
            let input: Vec<Labels> = discovered
                .into_iter()
                .filter(|l| {
                    asked
                        .target
                        .as_deref()
                        .is_none_or(|t| l.get("__address__") == Some(t))
                })
                .collect();
            if input.is_empty() {
                return Err(not_found(format!(
                    "job {job:?} has no discovered target{}",
                    asked
                        .target
                        .as_ref()
                        .map_or(String::new(), |t| format!(" at {t:?}"))
                )));
            }
            (
                input,
                format!(
                    "job {job:?}'s {} discovered targets",
                    asked.target.as_ref().map_or("", |_| "chosen")
                ),
            )
        }
        _ => next_scrape(tenant, job, asked.target.as_deref()).await?,
    };
    let traces = {
        let stage = stage.clone();
        tokio::task::spawn_blocking(move || stage.trace(&input))
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
    };
    let plugins: Vec<PluginRef> = stage.plugins().iter().map(|p| plugin_ref(p)).collect();
    let steps = plugins.len();
    let step = plugins
        .iter()
        .position(|p| p.name == name)
        .expect("picked by name");
    let recording = record(plugins, world, &traces)
        .into_iter()
        .find(|r| r.plugin.name == name)
        .ok_or_else(|| {
            not_found(format!(
                "no input reached plugin {name:?}: the plugins before it dropped all of {source}"
            ))
        })?;
    let sha256 = recording.plugin.sha256.as_deref().unwrap_or_default();
    let component = match &recording.plugin.source {
        PluginSource::Stock(name) if name.is_empty() => {
            format!("<the component with sha256 {sha256}, uploaded through the admin API>")
        }
        _ => recording.component(),
    };
    let comment = format!(
        "Recorded from a live node: tenant {:?}, job {job:?}, {world} stage, plugin {name:?} \
         (step {} of {steps}), from {source}.\n\
         Expected: what the running component (sha256 {sha256}) answered.\n\
         Run: wasmfed plugin test {component} --fixture <this file>",
        tenant.name,
        step + 1,
    );
    recording
        .fixture(&comment)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, "internal", e))
}

/// A running plugin as a recording names it: its source is the file it was loaded from, or
/// the stock plugin it is, or (an upload through the admin API, which no file holds) a stock
/// source with no name.
fn plugin_ref(plugin: &Plugin) -> PluginRef {
    let sha256 = plugin.sha256();
    let from_file = plugin
        .file()
        .filter(|_| plugin.file_sha256().is_none_or(|f| f == sha256));
    let source = match from_file {
        Some(file) => PluginSource::File(file.to_owned()),
        None => PluginSource::Stock(
            stock::NAMES
                .iter()
                .find(|n| stock::component(n).is_some_and(|c| sha256_hex(c) == sha256))
                .map_or(String::new(), |n| (*n).to_owned()),
        ),
    };
    PluginRef {
        name: plugin.name().to_owned(),
        source,
        sha256: Some(sha256),
        config_json: plugin.config().to_owned(),
    }
}

/// The stage whose plugins include `name`: the one asked for, or the only one that has it.
fn pick_stage(
    name: &str,
    job: &str,
    asked: Option<World>,
    target_stage: GuardedStage,
    series_stage: GuardedStage,
) -> Result<(World, GuardedStage), Failure> {
    let names = |stage: &GuardedStage| -> Vec<String> {
        stage
            .plugins()
            .iter()
            .map(|p| p.name().to_owned())
            .collect()
    };
    let (in_targets, in_series) = (names(&target_stage), names(&series_stage));
    let has = |names: &[String]| names.iter().any(|n| n == name);
    match (asked, has(&in_targets), has(&in_series)) {
        (Some(World::Target) | None, true, false) | (Some(World::Target), true, true) => {
            Ok((World::Target, target_stage))
        }
        (Some(World::Series) | None, false, true) | (Some(World::Series), true, true) => {
            Ok((World::Series, series_stage))
        }
        (None, true, true) => Err((
            StatusCode::BAD_REQUEST,
            "bad_data",
            format!("job {job:?} runs {name:?} at both stages: add stage=target or stage=series"),
        )),
        _ => Err(not_found(format!(
            "job {job:?} runs no plugin {name:?}{} (target stage: [{}]; series stage: [{}])",
            asked.map_or(String::new(), |w| format!(" at its {w} stage")),
            in_targets.join(", "),
            in_series.join(", ")
        ))),
    }
}

/// The series of the next scrape of the job's target `instance` (or its only target), as the
/// series stage gets them, and where they came from.
async fn next_scrape(
    tenant: &Tenant,
    job: &str,
    instance: Option<&str>,
) -> Result<(Vec<Labels>, String), Failure> {
    let active: Vec<_> = tenant
        .scrape
        .targets()
        .active
        .into_iter()
        .filter(|a| a.job == job)
        .collect();
    let instances = || {
        active
            .iter()
            .filter_map(|a| a.target.public.get("instance"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = match instance {
        Some(instance) => active
            .iter()
            .find(|a| a.target.public.get("instance") == Some(instance))
            .ok_or_else(|| {
                not_found(format!(
                    "job {job:?} scrapes no target {instance:?} (targets: {})",
                    instances()
                ))
            })?,
        None if active.len() == 1 => &active[0],
        None => {
            return Err((
                StatusCode::BAD_REQUEST,
                "bad_data",
                format!(
                    "job {job:?} scrapes {} targets: say which with target=INSTANCE ({})",
                    active.len(),
                    instances()
                ),
            ))
        }
    };
    let wait = chosen.target.interval + chosen.target.timeout + SCRAPE_GRACE;
    let captured = tokio::time::timeout(wait, chosen.capture.next_scrape())
        .await
        .map_err(|_| {
            (
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!("target {} was not scraped within {wait:?}", chosen.target),
            )
        })?;
    match &*captured {
        Ok(series) => Ok((
            series.clone(),
            format!("the series of a scrape of {}", chosen.target.public),
        )),
        Err(why) => Err((
            StatusCode::BAD_GATEWAY,
            "scrape_failed",
            format!("the scrape of {} failed: {why}", chosen.target),
        )),
    }
}
