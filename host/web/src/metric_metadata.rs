//! `/api/v1/metadata` and `/api/v1/targets/metadata`: what the tenant's targets said of their
//! metrics in `# TYPE`, `# HELP` and `# UNIT` lines (`wasmfed_scrape::metadata`), answered as
//! Prometheus 2.42 answers, quirks included: `limit` counts metric names in the first and
//! targets (not entries) in the second, and a metric named by `metric` is listed without its
//! name in the second. The order of names and targets is Go map order there, so clients do not
//! rely on it; here it is sorted.

use std::collections::{BTreeMap, BTreeSet};

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::body::ResponseBody;
use super::query::{error, success_data as success};
use super::targets::label_map;
use wasmfed_node::tenant::Tenant;
use wasmfed_scrape::metadata::MetricMetadata;
use wasmfed_scrape::ActiveTarget;
use wasmfed_storage::{parse_selector, Matcher};

/// `/api/v1/metadata`: metric name → its distinct metadata across targets.
pub fn metrics(tenant: &Tenant, form: &[(String, String)]) -> Response<ResponseBody> {
    let limit = match limit(form) {
        Ok(limit) => limit,
        Err(refused) => return refuse(&refused),
    };
    let metric = value(form, "metric");
    let mut by_name: BTreeMap<String, BTreeSet<(&'static str, String, String)>> = BTreeMap::new();
    for target in tenant.scrape.targets().active {
        let metadata = target.metadata.lock().expect("metadata lock");
        let mut add = |name: &str, m: &MetricMetadata| {
            by_name.entry(name.to_owned()).or_default().insert((
                m.kind.as_str(),
                m.help.clone(),
                m.unit.clone(),
            ));
        };
        match metric {
            "" => metadata.list().for_each(|(name, m)| add(name, m)),
            name => {
                if let Some(m) = metadata.get(name) {
                    add(name, m);
                }
            }
        }
    }
    let data: serde_json::Map<String, Value> = by_name
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .map(|(name, set)| {
            let list = set
                .into_iter()
                .map(|(kind, help, unit)| json!({"type": kind, "help": help, "unit": unit}))
                .collect();
            (name, Value::Array(list))
        })
        .collect();
    success(Value::Object(data))
}

/// `/api/v1/targets/metadata`: one entry per target and metric, for targets matching
/// `match_target`.
pub fn targets(tenant: &Tenant, form: &[(String, String)]) -> Response<ResponseBody> {
    let limit = match limit(form) {
        Ok(limit) => limit,
        Err(refused) => return refuse(&refused),
    };
    let matchers = match value(form, "match_target") {
        "" => Vec::new(),
        selector => match parse_selector(selector, tenant.compat()) {
            Ok(matchers) => matchers,
            Err(e) => return refuse(&format!("invalid parameter \"match_target\": {e}")),
        },
    };
    let metric = value(form, "metric");
    let mut out = Vec::new();
    for target in tenant.scrape.targets().active {
        if limit.is_some_and(|limit| out.len() >= limit) {
            break;
        }
        if !matches(&target, &matchers) {
            continue;
        }
        let labels = label_map(&target.target.public);
        let metadata = target.metadata.lock().expect("metadata lock");
        let entry = |m: &MetricMetadata| json!({"target": labels, "type": m.kind.as_str(), "help": m.help, "unit": m.unit});
        if metric.is_empty() {
            let mut listed: Vec<(&str, &MetricMetadata)> = metadata.list().collect();
            listed.sort_unstable_by_key(|(name, _)| *name);
            for (name, m) in listed {
                let mut e = entry(m);
                e["metric"] = Value::String(name.to_owned());
                out.push(e);
            }
        } else if let Some(m) = metadata.get(metric) {
            out.push(entry(m));
        }
    }
    success(Value::Array(out))
}

fn matches(target: &ActiveTarget, matchers: &[Matcher]) -> bool {
    let labels = &target.target.public;
    matchers
        .iter()
        .all(|m| m.matches(labels.get(&m.name).unwrap_or_default()))
}

fn value<'f>(form: &'f [(String, String)], name: &str) -> &'f str {
    crate::query::value(form, name).unwrap_or_default()
}

/// `limit` as Go's `strconv.Atoi` reads it; negative or absent is no limit.
fn limit(form: &[(String, String)]) -> Result<Option<usize>, String> {
    match value(form, "limit") {
        "" => Ok(None),
        s => s
            .parse::<i64>()
            .map(|n| usize::try_from(n).ok())
            .map_err(|_| "limit must be a number".to_owned()),
    }
}

fn refuse(message: &str) -> Response<ResponseBody> {
    error(StatusCode::BAD_REQUEST, "bad_data", message)
}
