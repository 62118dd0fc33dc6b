//! A client for Prometheus' instant-query API (`/api/v1/query`), which wasmfed and the real
//! Prometheus both answer: results come back as plain Rust values so tests can put the two
//! side by side.
//!
//! Timestamps are whole milliseconds, as both store them; the JSON spells them as seconds
//! with the milliseconds as decimals, which rounding recovers exactly.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::harness::{enc, get, wait_for};

/// A label set, name included, in name order.
pub type LabelMap = BTreeMap<String, String>;

/// One series of a range-selector answer: its labels and its raw samples.
pub type Series = (LabelMap, Vec<(i64, f64)>);

/// `time=` as Prometheus reads it: Unix seconds with milliseconds.
pub fn time_param(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// The `data` of a successful query at `at_ms` (the server's now when `None`).
pub fn query(
    addr: SocketAddr,
    expr: &str,
    at_ms: Option<i64>,
) -> Result<serde_json::Value, String> {
    let mut path = format!("/api/v1/query?query={}", enc(expr));
    if let Some(ms) = at_ms {
        path.push_str(&format!("&time={}", time_param(ms)));
    }
    let response = get(addr, &path)?;
    let body = response.json();
    if response.status != 200 || body["status"] != "success" {
        return Err(format!(
            "{expr}: status {}: {}",
            response.status,
            response.text()
        ));
    }
    Ok(body["data"].clone())
}

/// An instant vector: each sample's labels and value.
pub fn vector(
    addr: SocketAddr,
    expr: &str,
    at_ms: Option<i64>,
) -> Result<Vec<(LabelMap, f64)>, String> {
    let data = query(addr, expr, at_ms)?;
    if data["resultType"] != "vector" {
        return Err(format!("{expr}: not a vector: {data}"));
    }
    result(&data)?
        .iter()
        .map(|s| Ok((labels(&s["metric"])?, point(&s["value"])?.1)))
        .collect()
}

/// Waits until `expr` answers `n` series at each of `addrs` (servers that have scraped).
pub fn wait_for_series(addrs: &[SocketAddr], expr: &str, n: usize) {
    for &addr in addrs {
        wait_for(
            "the series to be scraped",
            std::time::Duration::from_secs(60),
            || {
                let got = vector(addr, expr, None)?.len();
                (got == n)
                    .then_some(())
                    .ok_or(format!("{addr}: {got} of {n} series of {expr}"))
            },
        );
    }
}

/// The raw samples a range selector returns at `at`, by series (labels as text), values as
/// bits for exact comparison. JSON spells every NaN `"NaN"`, so all NaNs are the same NaN.
pub fn raw_samples(
    addr: SocketAddr,
    expr: &str,
    at: i64,
) -> Result<BTreeMap<String, Vec<(i64, u64)>>, String> {
    let bits = |v: f64| {
        if v.is_nan() {
            f64::NAN.to_bits()
        } else {
            v.to_bits()
        }
    };
    Ok(matrix(addr, expr, Some(at))?
        .into_iter()
        .map(|(labels, points)| {
            let points = points.into_iter().map(|(t, v)| (t, bits(v))).collect();
            (format!("{labels:?}"), points)
        })
        .collect())
}

/// The raw samples a range selector (`name[5m]`) returns.
pub fn matrix(addr: SocketAddr, expr: &str, at_ms: Option<i64>) -> Result<Vec<Series>, String> {
    let data = query(addr, expr, at_ms)?;
    if data["resultType"] != "matrix" {
        return Err(format!("{expr}: not a matrix: {data}"));
    }
    result(&data)?
        .iter()
        .map(|s| {
            let values = s["values"]
                .as_array()
                .ok_or_else(|| format!("no values: {s}"))?
                .iter()
                .map(point)
                .collect::<Result<_, _>>()?;
            Ok((labels(&s["metric"])?, values))
        })
        .collect()
}

fn result(data: &serde_json::Value) -> Result<&Vec<serde_json::Value>, String> {
    data["result"]
        .as_array()
        .ok_or_else(|| format!("no result: {data}"))
}

pub fn labels(metric: &serde_json::Value) -> Result<LabelMap, String> {
    metric
        .as_object()
        .ok_or_else(|| format!("bad metric: {metric}"))?
        .iter()
        .map(|(k, v)| match v.as_str() {
            Some(v) => Ok((k.clone(), v.to_owned())),
            None => Err(format!("bad label value: {metric}")),
        })
        .collect()
}

/// `[1700000000.5, "1.25"]` → `(1700000000500, 1.25)`; values keep Prometheus' spellings of
/// the special floats.
pub fn point(pair: &serde_json::Value) -> Result<(i64, f64), String> {
    let bad = || format!("bad point: {pair}");
    let t = pair[0].as_f64().ok_or_else(bad)?;
    let v = match pair[1].as_str().ok_or_else(bad)? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        text => text.parse().map_err(|_| bad())?,
    };
    Ok(((t * 1000.0).round() as i64, v))
}

/// Builds a label set from pairs, for comparing with answers.
pub fn label_map(pairs: &[(&str, &str)]) -> LabelMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
