//! `/api/v1/series`, `/api/v1/labels` and `/api/v1/label/<name>/values` as Prometheus 2.42
//! answers them, so Grafana's label and series pickers and `promtool query series|labels`
//! work against a node; scoped to the requesting tenant like the rest.
//!
//! `series` lists the label sets of the series selected by any `match[]` (required) with a
//! sample in `[start, end]`, sorted; `labels` and `label/<name>/values` read the indexes of the
//! head and blocks that overlap the range (`wasmfed_storage::metadata`), all series when no
//! `match[]` is given, and answer sorted names or values. Times default to all of time;
//! parameters are refused with Prometheus' words (`bad_data`, 400).

use std::collections::BTreeSet;
use std::sync::Arc;

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::body::ResponseBody;
use super::query::{error, json_response, time_param};
use super::targets::label_map;
use wasmfed_model::labels::is_valid_label_name;
use wasmfed_model::Labels;
use wasmfed_node::tenant::Tenant;
use wasmfed_plugin::{HeadStore, SeriesStore};
use wasmfed_storage::{parse_selector, Matcher};

/// What "all of time" is when `start` or `end` is not given (kept clear of overflow).
const ALL_TIME: (i64, i64) = (i64::MIN / 4, i64::MAX / 4);

/// The request's `match[]` selectors, time range and parameter errors.
struct Params {
    matcher_sets: Vec<Vec<Matcher>>,
    start: i64,
    end: i64,
}

/// A refused parameter: the text of Prometheus' `bad_data` answer.
type Refused = String;

fn params(
    tenant: &Tenant,
    form: &[(String, String)],
    match_prefix: bool,
) -> Result<Params, Refused> {
    let start = time_param(form, "start", ALL_TIME.0)?;
    let end = time_param(form, "end", ALL_TIME.1)?;
    let mut matcher_sets = Vec::new();
    for (_, selector) in form.iter().filter(|(k, _)| k == "match[]") {
        let refuse = |why: String| {
            if match_prefix {
                format!("invalid parameter \"match[]\": {why}")
            } else {
                why
            }
        };
        let matchers =
            parse_selector(selector, tenant.compat()).map_err(|e| refuse(e.to_string()))?;
        if matchers.iter().all(Matcher::matches_empty) {
            return Err(refuse(
                "match[] must contain at least one non-empty matcher".into(),
            ));
        }
        matcher_sets.push(matchers);
    }
    Ok(Params {
        matcher_sets,
        start,
        end,
    })
}

fn bad_data(why: &str) -> Response<ResponseBody> {
    error(StatusCode::BAD_REQUEST, "bad_data", why)
}

fn success(data: Value) -> Response<ResponseBody> {
    json_response(
        StatusCode::OK,
        json!({ "status": "success", "data": data }).to_string(),
    )
}

/// Runs a storage read off the async threads.
async fn read<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Response<ResponseBody>> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e)) => Err(error(StatusCode::UNPROCESSABLE_ENTITY, "execution", &e)),
        Err(e) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            &e.to_string(),
        )),
    }
}

/// `/api/v1/series`.
pub async fn series(tenant: &Arc<Tenant>, form: &[(String, String)]) -> Response<ResponseBody> {
    if !form.iter().any(|(k, _)| k == "match[]") {
        return bad_data("no match[] parameter provided");
    }
    let p = match params(tenant, form, true) {
        Ok(p) => p,
        Err(why) => return bad_data(&why),
    };
    let store = HeadStore::new(tenant.head.clone(), tenant.blocks.clone());
    let found = read(move || {
        let mut all: BTreeSet<Labels> = BTreeSet::new();
        for matchers in &p.matcher_sets {
            all.extend(store.series(matchers, p.start, p.end, usize::MAX)?);
        }
        Ok(all)
    })
    .await;
    match found {
        Ok(all) => success(Value::Array(all.iter().map(label_map).collect())),
        Err(response) => response,
    }
}

/// `/api/v1/labels`.
pub async fn labels(tenant: &Arc<Tenant>, form: &[(String, String)]) -> Response<ResponseBody> {
    match indexed(tenant, form).await {
        Ok(sets) => {
            let names: BTreeSet<&str> = sets
                .iter()
                .flat_map(|l| l.iter().map(|l| l.name.as_str()))
                .collect();
            success(json!(names))
        }
        Err(response) => response,
    }
}

/// `/api/v1/label/<name>/values`.
pub async fn label_values(
    tenant: &Arc<Tenant>,
    name: &str,
    form: &[(String, String)],
) -> Response<ResponseBody> {
    if !is_valid_label_name(name) {
        return bad_data(&format!("invalid label name: {name:?}"));
    }
    match indexed(tenant, form).await {
        Ok(sets) => {
            let values: BTreeSet<&str> = sets.iter().filter_map(|l| l.get(name)).collect();
            success(json!(values))
        }
        Err(response) => response,
    }
}

/// The label sets the index lookups of `labels` and `label/<name>/values` see.
async fn indexed(
    tenant: &Arc<Tenant>,
    form: &[(String, String)],
) -> Result<BTreeSet<Labels>, Response<ResponseBody>> {
    let p = params(tenant, form, false).map_err(|why| bad_data(&why))?;
    let (head, blocks) = (tenant.head.clone(), tenant.blocks.clone());
    read(move || {
        wasmfed_storage::metadata::indexed_labels(&head, &blocks, &p.matcher_sets, p.start, p.end)
            .map_err(|e| e.to_string())
    })
    .await
}
