//! Comparing two query API answers as the differential tests need: the same error kind,
//! or the same result type and data, with floats equal within 1e-9 relative.
//!
//! Series sets are compared order-insensitively: Prometheus does not define the order of an
//! instant vector, except for a top-level `sort`, `sort_desc`, `topk` or `bottomk`, whose
//! order its own tests check (`eval_ordered`). There the values must come in the same order;
//! series with equal values may come in either (Go's `sort.Sort` is not stable).

use std::net::SocketAddr;

use crate::harness::{enc, get};
use crate::query_api::{labels, point, time_param, LabelMap};

/// What `/api/v1/query` answered.
#[derive(Debug)]
pub enum Answer {
    Error {
        status: u16,
        error_type: String,
        message: String,
    },
    Scalar(i64, f64),
    String(i64, String),
    Vector(Vec<(LabelMap, i64, f64)>),
    Matrix(Vec<(LabelMap, Vec<(i64, f64)>)>),
}

/// The two answers side by side.
pub enum Verdict {
    Same,
    /// Both refused the query the same way, in other words.
    SameErrorOtherMessage,
    Different(String),
}

/// Asks `addr` for `expr` at `at_ms`; a transport failure or an unreadable body is an `Err`.
pub fn ask(addr: SocketAddr, expr: &str, at_ms: i64) -> Result<Answer, String> {
    let path = format!(
        "/api/v1/query?query={}&time={}",
        enc(expr),
        time_param(at_ms)
    );
    ask_path(addr, &path)
}

/// Asks `addr` for the range query `expr` with `params` (`start`, `end`, `step`, as given).
pub fn ask_range(addr: SocketAddr, expr: &str, params: &str) -> Result<Answer, String> {
    ask_path(
        addr,
        &format!("/api/v1/query_range?query={}&{params}", enc(expr)),
    )
}

/// Asks `addr` for `path` (a query API request) and reads the answer.
fn ask_path(addr: SocketAddr, path: &str) -> Result<Answer, String> {
    let response = get(addr, path)?;
    let body = response.json();
    if body["status"] == "error" {
        return Ok(Answer::Error {
            status: response.status,
            error_type: body["errorType"].as_str().unwrap_or_default().to_owned(),
            message: body["error"].as_str().unwrap_or_default().to_owned(),
        });
    }
    let data = &body["data"];
    let unreadable = || {
        format!(
            "unreadable answer ({}): {}",
            response.status,
            response.text()
        )
    };
    let result = &data["result"];
    Ok(match data["resultType"].as_str() {
        Some("scalar") => {
            let (t, v) = point(result)?;
            Answer::Scalar(t, v)
        }
        Some("string") => {
            let (t, _) = point(&serde_json::json!([result[0], "0"]))?;
            Answer::String(t, result[1].as_str().ok_or_else(unreadable)?.to_owned())
        }
        Some("vector") => Answer::Vector(
            result
                .as_array()
                .ok_or_else(unreadable)?
                .iter()
                .map(|s| {
                    let (t, v) = point(&s["value"])?;
                    Ok((labels(&s["metric"])?, t, v))
                })
                .collect::<Result<_, String>>()?,
        ),
        Some("matrix") => Answer::Matrix(
            result
                .as_array()
                .ok_or_else(unreadable)?
                .iter()
                .map(|s| {
                    let points = s["values"].as_array().ok_or_else(unreadable)?;
                    let points = points.iter().map(point).collect::<Result<_, _>>()?;
                    Ok((labels(&s["metric"])?, points))
                })
                .collect::<Result<_, String>>()?,
        ),
        _ => return Err(unreadable()),
    })
}

/// Equal within 1e-9 relative; NaN equals NaN, infinities only themselves. Results that
/// cancel to about zero (a sum of a value and its negation, in another order) compare with
/// an absolute 1e-12, where a relative bound means nothing.
pub fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    let diff = (a - b).abs();
    diff <= 1e-9 * a.abs().max(b.abs()) || diff <= 1e-12
}

/// Compares Prometheus' answer (`theirs`) with wasmfed's (`ours`).
pub fn compare(theirs: &Answer, ours: &Answer, ordered: bool) -> Verdict {
    use Answer::*;
    let different = |why: std::string::String| Verdict::Different(why);
    match (theirs, ours) {
        (
            Error {
                status: s1,
                error_type: t1,
                message: m1,
            },
            Error {
                status: s2,
                error_type: t2,
                message: m2,
            },
        ) => {
            if (s1, t1) != (s2, t2) {
                different(format!("error {s1} {t1} vs {s2} {t2}"))
            } else if m1 != m2 {
                Verdict::SameErrorOtherMessage
            } else {
                Verdict::Same
            }
        }
        (Scalar(t1, v1), Scalar(t2, v2)) if t1 == t2 && close(*v1, *v2) => Verdict::Same,
        (String(t1, v1), String(t2, v2)) if t1 == t2 && v1 == v2 => Verdict::Same,
        (Vector(a), Vector(b)) => match vectors(a, b, ordered) {
            None => Verdict::Same,
            Some(why) => different(why),
        },
        (Matrix(a), Matrix(b)) => match matrices(a, b) {
            None => Verdict::Same,
            Some(why) => different(why),
        },
        _ => different("other result type or value".into()),
    }
}

type Sample = (LabelMap, i64, f64);

fn vectors(theirs: &[Sample], ours: &[Sample], ordered: bool) -> Option<String> {
    if theirs.len() != ours.len() {
        return Some(format!("{} series vs {}", theirs.len(), ours.len()));
    }
    if ordered {
        // Runs of equal values in Prometheus' order, each compared as a set.
        let mut start = 0;
        while start < theirs.len() {
            let mut end = start + 1;
            while end < theirs.len() && close(theirs[end].2, theirs[start].2) {
                end += 1;
            }
            if let Some(why) = unordered(&theirs[start..end], &ours[start..end]) {
                return Some(format!("in order, at {start}..{end}: {why}"));
            }
            start = end;
        }
        return None;
    }
    unordered(theirs, ours)
}

fn unordered(theirs: &[Sample], ours: &[Sample]) -> Option<String> {
    let sorted = |v: &[Sample]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let (theirs, ours) = (sorted(theirs), sorted(ours));
    theirs.iter().zip(&ours).find_map(|(a, b)| {
        (a.0 != b.0 || a.1 != b.1 || !close(a.2, b.2))
            .then(|| format!("{:?} {} {} vs {:?} {} {}", a.0, a.1, a.2, b.0, b.1, b.2))
    })
}

type Range = (LabelMap, Vec<(i64, f64)>);

/// Matrices (range selectors, subqueries) compared series by series, point by point.
pub fn matrices(theirs: &[Range], ours: &[Range]) -> Option<String> {
    if theirs.len() != ours.len() {
        return Some(format!("{} series vs {}", theirs.len(), ours.len()));
    }
    let sorted = |m: &[Range]| {
        let mut m = m.to_vec();
        m.sort_by(|a, b| a.0.cmp(&b.0));
        m
    };
    sorted(theirs)
        .iter()
        .zip(&sorted(ours))
        .find_map(|((l1, p1), (l2, p2))| {
            let same = l1 == l2
                && p1.len() == p2.len()
                && p1
                    .iter()
                    .zip(p2)
                    .all(|(a, b)| a.0 == b.0 && close(a.1, b.1));
            (!same).then(|| format!("{l1:?} {p1:?} vs {l2:?} {p2:?}"))
        })
}
