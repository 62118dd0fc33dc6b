//! `/api/v1/relabel?job=NAME[&series=TEXT...]`: what a running job's target stage does to each
//! of its discovered targets, plugin by plugin — the live counterpart of `wasmfed relabel
//! test` — and, for each `series` given (exposition syntax, `name{label="value"}`), what its
//! series stage does to it as scraped from the job's first target.
//!
//! The stages are re-run on the current discovery (plugins are pure functions of their config
//! and input), on a blocking thread, so the answer reflects exactly what the node runs.

use http::{header, Response, StatusCode};
use serde_json::{json, Value};

use super::body::{full, ResponseBody};
use super::server::text;
use super::targets::label_map;
use wasmfed_node::tenant::Tenant;
use wasmfed_scrape::honor::merge_target_labels;
use wasmfed_scrape::parse::parse_series;
use wasmfed_scrape::stages::StageTrace;

pub async fn handle(tenant: &Tenant, query: Option<&str>) -> Response<ResponseBody> {
    let pairs: Vec<(String, String)> = query
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let Some(job) = pairs
        .iter()
        .find(|(k, _)| k == "job")
        .map(|(_, v)| v.clone())
    else {
        return text(StatusCode::BAD_REQUEST, "missing parameter: job\n");
    };
    let (Some((discovered, targets)), Some((series_stage, target_labels, honor))) = (
        tenant.scrape.target_stage_input(&job),
        tenant.scrape.series_stage_input(&job),
    ) else {
        return text(StatusCode::NOT_FOUND, &format!("no running job {job:?}\n"));
    };
    let mut series = Vec::new();
    for (_, text_form) in pairs
        .iter()
        .filter(|(k, v)| k == "series" && !v.trim().is_empty())
    {
        match parse_series(text_form.trim()) {
            Ok(scraped) => {
                series.push(merge_target_labels(scraped, &target_labels, honor).without_empty())
            }
            Err(e) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    &format!("series {text_form:?}: {e}\n"),
                )
            }
        }
    }
    let traced = tokio::task::spawn_blocking(move || {
        (targets.trace(&discovered), series_stage.trace(&series))
    })
    .await;
    let (target_traces, series_traces) = match traced {
        Ok(traces) => traces,
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("tracing failed: {e}\n"),
            )
        }
    };
    let body = json!({"status": "success", "data": {
        "job": job,
        "targets": target_traces.iter().map(|t| trace(t, "discoveredLabels")).collect::<Vec<_>>(),
        "seriesTarget": label_map(&target_labels),
        "series": series_traces.iter().map(|t| trace(t, "scrapedLabels")).collect::<Vec<_>>(),
    }});
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(body.to_string()))
        .expect("static headers are valid")
}

/// One input's way through a stage: each plugin's output and the plugin that dropped it.
fn trace(t: &StageTrace, input_key: &str) -> Value {
    let steps: Vec<Value> = t
        .steps
        .iter()
        .map(|(plugin, out)| json!({"plugin": plugin, "labels": out.as_ref().map(label_map)}))
        .collect();
    let dropped_by = match (&t.error, t.steps.last()) {
        (None, Some((plugin, None))) => json!(plugin),
        _ => Value::Null,
    };
    let mut out = json!({
        "steps": steps,
        "droppedBy": dropped_by,
        "error": t.error,
    });
    out[input_key] = label_map(&t.input);
    out
}
