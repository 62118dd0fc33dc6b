//! `/api/v1/relabel?job=NAME`: what a running job's target stage does to each of its
//! discovered targets, plugin by plugin — the live counterpart of `wasmfed relabel test`.
//!
//! The stage is re-run on the current discovery (plugins are pure functions of their config and
//! input), on a blocking thread, so the answer reflects exactly what the node runs.

use http::{header, Response, StatusCode};
use serde_json::{json, Value};

use super::body::{full, ResponseBody};
use super::server::text;
use super::targets::label_map;
use wasmfed_node::tenant::Tenant;

pub async fn handle(tenant: &Tenant, query: Option<&str>) -> Response<ResponseBody> {
    let job = query
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .find(|(k, _)| k == "job")
        .map(|(_, v)| v.into_owned());
    let Some(job) = job else {
        return text(StatusCode::BAD_REQUEST, "missing parameter: job\n");
    };
    let Some((discovered, stage)) = tenant.scrape.target_stage_input(&job) else {
        return text(StatusCode::NOT_FOUND, &format!("no running job {job:?}\n"));
    };
    let traces = match tokio::task::spawn_blocking(move || stage.trace(&discovered)).await {
        Ok(traces) => traces,
        Err(e) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("tracing failed: {e}\n"),
            )
        }
    };
    let targets: Vec<Value> = traces
        .iter()
        .map(|t| {
            let steps: Vec<Value> = t
                .steps
                .iter()
                .map(|(plugin, out)| json!({"plugin": plugin, "labels": out.as_ref().map(label_map)}))
                .collect();
            let dropped_by = match (&t.error, t.steps.last()) {
                (Some(_), _) => Value::Null,
                (None, Some((plugin, None))) => json!(plugin),
                _ => Value::Null,
            };
            json!({
                "discoveredLabels": label_map(&t.input),
                "steps": steps,
                "droppedBy": dropped_by,
                "error": t.error,
            })
        })
        .collect();
    let body = json!({"status": "success", "data": {"job": job, "targets": targets}});
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(body.to_string()))
        .expect("static headers are valid")
}
