//! `/api/v1/targets` in Prometheus' JSON shape, so existing tooling can read it.
//!
//! `?state=active|dropped|any` filters as in Prometheus; a filtered-out list is an empty array.

use std::time::{SystemTime, UNIX_EPOCH};

use http::{header, Response, StatusCode};
use serde_json::{json, Map, Value};

use super::body::{full, ResponseBody};
use wasmfed_model::Labels;
use wasmfed_node::tenant::Tenant;

pub fn handle(tenant: &Tenant, query: Option<&str>) -> Response<ResponseBody> {
    let wanted = query
        .into_iter()
        .flat_map(|q| form_urlencoded::parse(q.as_bytes()))
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.to_lowercase())
        .unwrap_or_default();
    let (show_active, show_dropped) = match wanted.as_str() {
        "active" => (true, false),
        "dropped" => (false, true),
        _ => (true, true),
    };
    let view = tenant.scrape.targets();
    let active: Vec<Value> = if show_active {
        view.active
            .iter()
            .map(|a| {
                let health = a.health.lock().expect("health lock").clone();
                json!({
                    "discoveredLabels": label_map(&a.target.discovered),
                    "labels": label_map(&a.target.public),
                    "scrapePool": a.job,
                    "scrapeUrl": a.target.url,
                    "globalUrl": a.target.url,
                    "lastError": health.last_error,
                    "lastScrape": rfc3339_nano(health.last_scrape),
                    "lastScrapeDuration": health.last_duration.as_secs_f64(),
                    "health": health.health.as_str(),
                    "scrapeInterval": wasmfed_config::Duration::from(a.target.interval).to_string(),
                    "scrapeTimeout": wasmfed_config::Duration::from(a.target.timeout).to_string(),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let dropped: Vec<Value> = if show_dropped {
        view.dropped
            .iter()
            .map(|l| json!({ "discoveredLabels": label_map(l) }))
            .collect()
    } else {
        Vec::new()
    };
    let body = json!({
        "status": "success",
        "data": { "activeTargets": active, "droppedTargets": dropped },
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(body.to_string()))
        .expect("static headers are valid")
}

/// A label set as a JSON object, as Prometheus' API writes them.
pub(super) fn label_map(labels: &Labels) -> Value {
    let map: Map<String, Value> = labels
        .iter()
        .map(|l| (l.name.clone(), Value::String(l.value.clone())))
        .collect();
    Value::Object(map)
}

/// Go's `time.RFC3339Nano` in UTC: trailing zeros of the fraction trimmed; the zero time for
/// "never", as Prometheus reports a target not scraped yet.
pub(super) fn rfc3339_nano(t: Option<SystemTime>) -> String {
    let Some(since) = t.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) else {
        return "0001-01-01T00:00:00Z".to_owned();
    };
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    let nanos = since.subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_like_go() {
        for (secs, nanos, want) in [
            (0, 0, "1970-01-01T00:00:00Z"),
            (1_700_000_000, 0, "2023-11-14T22:13:20Z"),
            (1_700_000_000, 120_000_000, "2023-11-14T22:13:20.12Z"),
            (951_782_400, 1, "2000-02-29T00:00:00.000000001Z"),
            (4_102_444_799, 999_999_999, "2099-12-31T23:59:59.999999999Z"),
        ] {
            let t = UNIX_EPOCH + Duration::new(secs, nanos);
            assert_eq!(rfc3339_nano(Some(t)), want);
        }
        assert_eq!(rfc3339_nano(None), "0001-01-01T00:00:00Z");
    }
}
