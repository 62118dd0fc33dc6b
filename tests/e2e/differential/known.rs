//! The known differences between wasmfed (`--query.compat=2`) and Prometheus 2.42 that the
//! differential test tolerates, each with why and a narrow rule recognising it. Anything not
//! recognised here fails the test.
//!
//! | name | what Prometheus answers | why wasmfed does not follow |
//! |------|-------------------------|-----------------------------|
//! | `go-map-order-ties` | `topk`/`bottomk` over `histogram_quantile` or a subquery keeps, of equal values, whichever came first in Go's map iteration | 2.42 builds `histogram_quantile`'s output (`funcHistogramQuantile`) and every multi-step evaluation (`rangeEval`, which subqueries use) by ranging over a Go map, whose order is randomised; which tie is kept changes from query to query |
//! | `count-values-last-bit` | `count_values` labels spelled from values one unit in the last place apart | Go's `math` package and Rust's `libm` round some results (`sinh`, `exp`, `^`…) differently in the last bit: within 1e-9 as values, but a label spells every digit |
//! | `step-invariant-empty-subquery` | a subquery whose window holds no step of its grid but whose body is step-invariant (`@`) gets one point, after the evaluation time | a Prometheus bug, in 2.42 and 3.x alike (`engine.go`, `StepInvariantExpr` evaluates once at the subquery's aligned start even when that start is past its end); wasmfed answers the window's points, none |

use super::compare::{close, compare, Answer, Verdict};
use crate::query_api::LabelMap;

type Sample = (LabelMap, i64, f64);

/// One tolerated difference.
pub struct Known {
    pub name: &'static str,
    /// Whether this query, asked at this time (ms), and these answers (Prometheus', wasmfed's)
    /// show this difference.
    pub applies: fn(expr: &str, at_ms: i64, theirs: &Answer, ours: &Answer) -> bool,
}

pub const KNOWN: &[Known] = &[
    Known {
        name: "go-map-order-ties",
        applies: |expr, _, theirs, ours| {
            (expr.contains("topk") || expr.contains("bottomk"))
                && (expr.contains("histogram_quantile") || has_subquery(expr))
                && same_values(theirs, ours)
        },
    },
    Known {
        name: "count-values-last-bit",
        applies: |expr, _, theirs, ours| {
            expr.contains("count_values") && labels_close(theirs, ours)
        },
    },
    Known {
        name: "step-invariant-empty-subquery",
        applies: |expr, at_ms, theirs, ours| {
            let Answer::Matrix(series) = theirs else {
                return false;
            };
            has_subquery(expr)
                && expr.contains('@')
                && matches!(ours, Answer::Matrix(m) if m.is_empty())
                && series
                    .iter()
                    .all(|(_, points)| points.len() == 1 && points[0].0 > at_ms)
        },
    },
];

/// Whether `expr` has a subquery: a `:` inside `[...]` (none of the data set's label values
/// has one).
fn has_subquery(expr: &str) -> bool {
    expr.split('[')
        .skip(1)
        .any(|rest| rest.split(']').next().is_some_and(|r| r.contains(':')))
}

fn vectors<'a>(theirs: &'a Answer, ours: &'a Answer) -> Option<(&'a [Sample], &'a [Sample])> {
    match (theirs, ours) {
        (Answer::Vector(a), Answer::Vector(b)) if a.len() == b.len() => Some((a, b)),
        _ => None,
    }
}

/// Two vectors with the same values (in some order), whatever their labels.
fn same_values(theirs: &Answer, ours: &Answer) -> bool {
    let Some((a, b)) = vectors(theirs, ours) else {
        return false;
    };
    let sorted = |v: &[Sample]| {
        let mut values: Vec<f64> = v.iter().map(|s| s.2).collect();
        values.sort_by(f64::total_cmp);
        values
    };
    sorted(a).iter().zip(sorted(b)).all(|(x, y)| close(*x, y))
}

/// Two vectors alike but for label values that are numbers within 1e-9 of each other.
fn labels_close(theirs: &Answer, ours: &Answer) -> bool {
    let Some((a, b)) = vectors(theirs, ours) else {
        return false;
    };
    let sorted = |v: &[Sample]| {
        let mut v = v.to_vec();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v
    };
    let number_close = |x: &str, y: &str| match (x.parse::<f64>(), y.parse::<f64>()) {
        (Ok(x), Ok(y)) => close(x, y),
        _ => false,
    };
    sorted(a).iter().zip(sorted(b)).all(|(x, y)| {
        close(x.2, y.2)
            && x.0.keys().eq(y.0.keys())
            && x.0
                .values()
                .zip(y.0.values())
                .all(|(p, q)| p == q || number_close(p, q))
    })
}

/// The known difference a range query's answers show, if any: at every step where the
/// matrices differ, the two step's vectors show the same known difference (a range query is
/// an instant query per step).
pub fn recognise_range(expr: &str, theirs: &Answer, ours: &Answer) -> Option<&'static Known> {
    let (Answer::Matrix(a), Answer::Matrix(b)) = (theirs, ours) else {
        return None;
    };
    let (a, b) = (steps(a), steps(b));
    let times: std::collections::BTreeSet<i64> = a.keys().chain(b.keys()).copied().collect();
    let mut found = None;
    for t in times {
        let at = |m: &std::collections::BTreeMap<i64, Vec<Sample>>| {
            Answer::Vector(m.get(&t).cloned().unwrap_or_default())
        };
        let (theirs, ours) = (at(&a), at(&b));
        if matches!(compare(&theirs, &ours, false), Verdict::Same) {
            continue;
        }
        let known = recognise(expr, t, &theirs, &ours)?;
        if found.is_some_and(|k: &Known| k.name != known.name) {
            return None;
        }
        found = Some(known);
    }
    found
}

/// A matrix as the vector at each of its steps.
fn steps(m: &[(LabelMap, Vec<(i64, f64)>)]) -> std::collections::BTreeMap<i64, Vec<Sample>> {
    let mut out: std::collections::BTreeMap<i64, Vec<Sample>> = Default::default();
    for (labels, points) in m {
        for &(t, v) in points {
            out.entry(t).or_default().push((labels.clone(), t, v));
        }
    }
    out
}

/// The known difference this comparison shows, if any.
pub fn recognise(expr: &str, at_ms: i64, theirs: &Answer, ours: &Answer) -> Option<&'static Known> {
    KNOWN
        .iter()
        .find(|k| (k.applies)(expr, at_ms, theirs, ours))
}
