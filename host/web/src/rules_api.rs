//! `/api/v1/rules` and `/api/v1/alerts` in Prometheus 2.42's JSON, so Grafana's alert list,
//! `amtool`-side tooling and dashboards that read Prometheus' rule API read wasmfed's.
//!
//! Both are scoped to the requesting tenant. Rules come from the configured groups (sorted by
//! file, then name, as Prometheus lists them) with what each group's last evaluation said:
//! per rule its health and last error, per alerting rule its alerts (pending and firing;
//! resolved ones are kept for re-sending but not listed, as in Prometheus). A group's
//! evaluation time is measured around the plugin call; a rule's own time is not measured
//! inside the sandbox, so each rule reports its group's.

use std::time::{Duration, UNIX_EPOCH};

use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use super::body::ResponseBody;
use super::query::json_response;
use super::targets::{label_map, rfc3339_nano};
use wasmfed_node::tenant::Tenant;
use wasmfed_plugin::{AlertState, RaisedAlert};
use wasmfed_rules::{Group, GroupStatus, RuleInfo};

/// `/api/v1/alerts`: every pending and firing alert of the tenant.
pub fn alerts(tenant: &Tenant) -> Response<ResponseBody> {
    let alerts: Vec<Value> = tenant
        .rules
        .groups()
        .iter()
        .flat_map(|g| g.status().alerts.iter().cloned().collect::<Vec<_>>())
        .filter(|a| a.state != AlertState::Inactive)
        .map(|a| alert(&a))
        .collect();
    ok(json!({ "alerts": alerts }))
}

/// `/api/v1/rules[?type=alert|record]`.
pub fn rules(tenant: &Tenant, query: Option<&str>) -> Response<ResponseBody> {
    let wanted = query
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .find(|(k, _)| k == "type")
        .map(|(_, v)| v.to_lowercase())
        .unwrap_or_default();
    let (alerting, recording) = match wanted.as_str() {
        "" => (true, true),
        "alert" => (true, false),
        "record" => (false, true),
        other => {
            let body = json!({
                "status": "error",
                "errorType": "bad_data",
                "error": format!("invalid parameter \"type\": not supported value {other:?}"),
            });
            return respond(StatusCode::BAD_REQUEST, body);
        }
    };
    let groups: Vec<Value> = tenant
        .rules
        .groups()
        .iter()
        .map(|g| group(g, alerting, recording))
        .collect();
    ok(json!({ "groups": groups }))
}

fn group(g: &Group, alerting: bool, recording: bool) -> Value {
    let status = g.status();
    let last = time(status.last_evaluation_ms);
    let took = status.evaluation_time.as_secs_f64();
    let count = g.rules.len().max(status.rules.len());
    let mut rules = Vec::new();
    for i in 0..count {
        let info = g.rules.get(i);
        let alerts: Vec<&RaisedAlert> = status.alerts.iter().filter(|a| a.rule == i).collect();
        let name = info
            .map(|r| r.name.clone())
            .or_else(|| status.rules.get(i).map(|(n, _)| n.clone()))
            .unwrap_or_default();
        let (health, error) = health(&status, i);
        let is_alert = info.map_or(!alerts.is_empty(), |r| r.alert.is_some());
        let mut rule = Map::new();
        if is_alert {
            if !alerting {
                continue;
            }
            let active: Vec<&&RaisedAlert> = alerts
                .iter()
                .filter(|a| a.state != AlertState::Inactive)
                .collect();
            let state = active
                .iter()
                .map(|a| a.state)
                .max()
                .unwrap_or(AlertState::Inactive);
            let settings = info.and_then(|r| r.alert.as_ref());
            rule.insert("state".into(), state.as_str().into());
            rule.insert("name".into(), name.into());
            rule.insert("query".into(), query(info).into());
            rule.insert(
                "duration".into(),
                go_number(settings.map_or(0.0, |s| s.for_duration.as_std().as_secs_f64())),
            );
            rule.insert(
                "keepFiringFor".into(),
                go_number(settings.map_or(0.0, |s| s.keep_firing_for.as_std().as_secs_f64())),
            );
            rule.insert(
                "labels".into(),
                info.map_or(json!({}), |r| label_map(&r.labels)),
            );
            rule.insert(
                "annotations".into(),
                Value::Object(
                    settings
                        .map(|s| {
                            s.annotations
                                .iter()
                                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
            );
            rule.insert(
                "alerts".into(),
                active.iter().map(|a| alert(a)).collect::<Vec<_>>().into(),
            );
        } else {
            if !recording {
                continue;
            }
            rule.insert("name".into(), name.into());
            rule.insert("query".into(), query(info).into());
            if let Some(r) = info.filter(|r| !r.labels.is_empty()) {
                rule.insert("labels".into(), label_map(&r.labels));
            }
        }
        rule.insert("health".into(), health.into());
        if let Some(e) = error {
            rule.insert("lastError".into(), e.into());
        }
        rule.insert("evaluationTime".into(), go_number(took));
        rule.insert("lastEvaluation".into(), last.clone().into());
        rule.insert(
            "type".into(),
            if is_alert { "alerting" } else { "recording" }.into(),
        );
        rules.push(Value::Object(rule));
    }
    json!({
        "name": g.key.name,
        "file": g.key.file,
        "rules": rules,
        "interval": go_number(g.interval.as_secs_f64()),
        "limit": g.limit,
        "evaluationTime": go_number(took),
        "lastEvaluation": last,
    })
}

fn query(info: Option<&RuleInfo>) -> String {
    info.map(|r| r.query.clone()).unwrap_or_default()
}

/// Prometheus' rule health: `unknown` before the first evaluation, then `ok` or `err`.
fn health(status: &GroupStatus, rule: usize) -> (&'static str, Option<String>) {
    if status.last_evaluation_ms.is_none() {
        return ("unknown", None);
    }
    match status.rules.get(rule) {
        Some((_, Some(error))) => ("err", Some(error.clone())),
        Some((_, None)) => ("ok", None),
        None => ("unknown", None),
    }
}

fn alert(a: &RaisedAlert) -> Value {
    json!({
        "labels": label_map(&a.labels),
        "annotations": Value::Object(
            a.annotations
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
        "state": a.state.as_str(),
        "activeAt": time(Some(a.active_at_ms)),
        "value": go_e(a.value),
    })
}

fn time(ms: Option<i64>) -> String {
    rfc3339_nano(ms.map(|ms| UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)))
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: the shortest digits, always with an exponent
/// of at least two digits (`7e+00`, `1.2345e+03`, `NaN`, `+Inf`).
fn go_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let rust = format!("{v:e}");
    let (mantissa, exp) = rust.split_once('e').expect("LowerExp writes an exponent");
    let exp: i32 = exp.parse().expect("LowerExp writes a decimal exponent");
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
}

/// A float as Go's encoding/json writes it: whole numbers without a fraction (`2`, not `2.0`).
fn go_number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

fn ok(data: Value) -> Response<ResponseBody> {
    respond(StatusCode::OK, json!({ "status": "success", "data": data }))
}

fn respond(status: StatusCode, body: Value) -> Response<ResponseBody> {
    json_response(status, body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_spelled_as_go_s_e_format() {
        for (v, want) in [
            (7.0, "7e+00"),
            (1234.5, "1.2345e+03"),
            (0.000123, "1.23e-04"),
            (-2.5e300, "-2.5e+300"),
            (0.0, "0e+00"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(go_e(v), want, "{v}");
        }
    }

    #[test]
    fn numbers_are_written_as_go_writes_them() {
        assert_eq!(go_number(2.0).to_string(), "2");
        assert_eq!(go_number(0.0).to_string(), "0");
        assert_eq!(go_number(0.25).to_string(), "0.25");
    }
}
