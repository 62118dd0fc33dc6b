//! `/api/v1/series`, `/api/v1/labels` and `/api/v1/label/<name>/values` as Prometheus 2.42
//! answers them, so Grafana's label and series pickers and `promtool query series|labels`
//! work against a node; scoped to the requesting tenant like the rest.
//!
//! `series` lists the label sets of the series selected by any `match[]` (required) with a
//! sample in `[start, end]`, sorted; `labels` and `label/<name>/values` read the indexes of the
//! head and blocks that overlap the range (`wasmfed_storage::metadata`), all series when no
//! `match[]` is given, and answer sorted names or values. Times default to all of time;
//! parameters are refused with Prometheus' words (`bad_data`, 400). Answering as Prometheus 3
//! (`--query.compat=3`), `limit` cuts each answer, with its "results truncated" warning.

use std::collections::BTreeSet;
use std::sync::Arc;

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::body::ResponseBody;
use super::query::{error, json_response, success_data as success, time_param};
use super::targets::label_map;
use wasmfed_model::compat::Compat;
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
    /// Prometheus 3's `limit`: most names, values or series answered (0: all). 2.42 has none.
    limit: usize,
}

/// A refused parameter: the text of Prometheus' `bad_data` answer.
type Refused = String;

fn params(
    tenant: &Tenant,
    form: &[(String, String)],
    match_prefix: bool,
) -> Result<Params, Refused> {
    let limit = match tenant.compat() {
        Compat::V2 => 0,
        Compat::V3 => limit_param(form)?,
    };
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
        limit,
    })
}

/// Prometheus 3's `parseLimitParam`: a non-negative integer as Go's `strconv.Atoi` reads it.
fn limit_param(form: &[(String, String)]) -> Result<usize, Refused> {
    let s = crate::query::value(form, "limit").unwrap_or_default();
    if s.is_empty() {
        return Ok(0);
    }
    let refuse = |why: &str| format!("invalid parameter \"limit\": {why}");
    match s.parse::<i64>() {
        Ok(n) if n < 0 => Err(refuse("limit must be non-negative")),
        Ok(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        Err(_) => {
            let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
            let why = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                "value out of range"
            } else {
                "invalid syntax"
            };
            Err(refuse(&format!("strconv.Atoi: parsing {s:?}: {why}")))
        }
    }
}

/// `list`, cut to `limit` entries (0: no limit) with Prometheus' warning when it was longer.
fn limited(list: Vec<Value>, limit: usize) -> Response<ResponseBody> {
    if limit == 0 || list.len() <= limit {
        return success(Value::Array(list));
    }
    let kept: Vec<Value> = list.into_iter().take(limit).collect();
    json_response(
        StatusCode::OK,
        json!({"status": "success", "data": kept, "warnings": ["results truncated due to limit"]})
            .to_string(),
    )
}

fn bad_data(why: &str) -> Response<ResponseBody> {
    error(StatusCode::BAD_REQUEST, "bad_data", why)
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
    let limit = p.limit;
    let found = read(move || {
        let mut all: BTreeSet<Labels> = BTreeSet::new();
        for matchers in &p.matcher_sets {
            all.extend(store.series(matchers, p.start, p.end, usize::MAX)?);
        }
        Ok(all)
    })
    .await;
    match found {
        Ok(all) => limited(all.iter().map(label_map).collect(), limit),
        Err(response) => response,
    }
}

/// `/api/v1/labels`.
pub async fn labels(tenant: &Arc<Tenant>, form: &[(String, String)]) -> Response<ResponseBody> {
    match indexed(tenant, form).await {
        Ok((sets, limit)) => {
            let names: BTreeSet<&str> = sets
                .iter()
                .flat_map(|l| l.iter().map(|l| l.name.as_str()))
                .collect();
            limited(names.into_iter().map(|n| json!(n)).collect(), limit)
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
        Ok((sets, limit)) => {
            let values: BTreeSet<&str> = sets.iter().filter_map(|l| l.get(name)).collect();
            limited(values.into_iter().map(|v| json!(v)).collect(), limit)
        }
        Err(response) => response,
    }
}

/// The label sets the index lookups of `labels` and `label/<name>/values` see, and the
/// request's limit.
async fn indexed(
    tenant: &Arc<Tenant>,
    form: &[(String, String)],
) -> Result<(BTreeSet<Labels>, usize), Response<ResponseBody>> {
    let p = params(tenant, form, false).map_err(|why| bad_data(&why))?;
    let (head, blocks, limit) = (tenant.head.clone(), tenant.blocks.clone(), p.limit);
    read(move || {
        wasmfed_storage::metadata::indexed_labels(&head, &blocks, &p.matcher_sets, p.start, p.end)
            .map_err(|e| e.to_string())
    })
    .await
    .map(|sets| (sets, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_and_cut_as_prometheus_3_does() {
        let form = |v: &str| vec![("limit".to_string(), v.to_string())];
        assert_eq!(limit_param(&[]), Ok(0));
        assert_eq!(limit_param(&form("")), Ok(0));
        assert_eq!(limit_param(&form("+2")), Ok(2));
        for (v, want) in [
            ("-1", "limit must be non-negative"),
            ("x", r#"strconv.Atoi: parsing "x": invalid syntax"#),
            (
                "99999999999999999999",
                r#"strconv.Atoi: parsing "99999999999999999999": value out of range"#,
            ),
        ] {
            assert_eq!(
                limit_param(&form(v)),
                Err(format!("invalid parameter \"limit\": {want}")),
                "{v}"
            );
        }
        let names = || vec![json!("a"), json!("b"), json!("c")];
        let body = |r: Response<ResponseBody>| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let bytes = runtime
                .block_on(http_body_util::BodyExt::collect(r.into_body()))
                .unwrap()
                .to_bytes();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        };
        assert_eq!(body(limited(names(), 0))["data"], json!(["a", "b", "c"]));
        assert_eq!(body(limited(names(), 3)).get("warnings"), None);
        let cut = body(limited(names(), 2));
        assert_eq!(cut["data"], json!(["a", "b"]));
        assert_eq!(cut["warnings"], json!(["results truncated due to limit"]));
    }
}
