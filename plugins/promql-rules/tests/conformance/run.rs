//! Runs one `eval` case the way `promqltest` does: the query itself; for an instant query also
//! the same query with `@` pinned on every selector at other evaluation times (results must not
//! change) and as a three-step range query around its time; then the result, the error and the
//! warnings/infos are compared with the expectations.

use std::time::{Duration, UNIX_EPOCH};

use promql_parser::parser::{AtModifier, Expr};
use promql_rules::engine::{
    almost_equal, Annotation, Engine, EvalError, Evaluation, RangeSeries, Sample, Severity, Value,
};
use regex::Regex;

use super::script::{Eval, Expected, Item, Kind, Matching};
use super::skips::walk;
use super::storage::Storage;

const EPSILON: f64 = 0.000001;

/// Functions whose result depends on the evaluation time even with step-invariant arguments;
/// queries using them get no `@` variants (`AtModifierUnsafeFunctions`).
const AT_UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
];

pub fn run(engine: &Engine, storage: &mut Storage, eval: &Eval, expr: &Expr) -> Result<(), String> {
    match eval.kind {
        Kind::Range { start, end, step } => {
            let result = engine.range(expr, start, end, step, storage);
            check_outcome(eval, &eval.query, result, Times::Range { start, end, step })
        }
        Kind::Instant { at } => {
            let t = eval.range_vector.map_or(at, |(_, end, _)| end);
            let mut queries = vec![(expr.clone(), t)];
            queries.extend(at_variants(expr, t));
            for (q, time) in queries {
                run_instant(engine, storage, eval, &q, time)?;
            }
            Ok(())
        }
    }
}

#[derive(Clone, Copy)]
enum Times {
    Instant,
    Range { start: i64, end: i64, step: i64 },
}

fn run_instant(
    engine: &Engine,
    storage: &mut Storage,
    eval: &Eval,
    expr: &Expr,
    t: i64,
) -> Result<(), String> {
    let text = expr.to_string();
    let times = match eval.range_vector {
        Some((start, end, step)) => Times::Range { start, end, step },
        None => Times::Instant,
    };
    let result = engine.instant(expr, t, storage);
    let scalar = matches!(
        &result,
        Ok(Evaluation {
            value: Value::Scalar(_),
            ..
        })
    );
    let failed = result.is_err();
    check_outcome(eval, &text, result, times).map_err(|e| format!("at {t}ms, {text}: {e}"))?;
    let excluded = eval.range_vector.is_some() || matches!(eval.expected, Expected::String(_));
    let context_functions = Regex::new(r"(start|end|range|step)\(\)").expect("static regex");
    if failed || excluded || context_functions.is_match(&text) {
        return Ok(());
    }
    let ranged = engine
        .range(expr, t - 60_000, t + 60_000, 60_000, storage)
        .map_err(|e| format!("at {t}ms, {text}: in range mode: {e}"))?;
    if eval.ordered {
        return Ok(());
    }
    let Value::Matrix(series) = ranged.value else {
        return Err(format!(
            "{text}: range query returned {}",
            ranged.value.type_name()
        ));
    };
    check_sorted(&series)?;
    let at_t: Vec<Sample> = series
        .iter()
        .filter_map(|s| {
            s.points.iter().find(|p| p.t == t).map(|p| Sample {
                metric: s.metric.clone(),
                value: p.v,
                drop_name: false,
            })
        })
        .collect();
    let value = if scalar {
        Value::Scalar(at_t.first().map_or(f64::NAN, |s| s.value))
    } else {
        Value::Vector(at_t)
    };
    compare(eval, value, Times::Instant).map_err(|e| format!("at {t}ms, {text}: range mode: {e}"))
}

fn check_outcome(
    eval: &Eval,
    text: &str,
    result: Result<Evaluation, EvalError>,
    times: Times,
) -> Result<(), String> {
    match (result, &eval.fail) {
        (Err(e), Some(m)) => {
            if m.matches(&e.to_string()) {
                Ok(())
            } else {
                Err(format!("expected error matching {}, got {e}", describe(m)))
            }
        }
        (Err(e), None) => Err(format!("error: {e}")),
        (Ok(_), Some(_)) => Err("expected an error, got none".into()),
        (Ok(r), None) => {
            check_annotations(eval, text, &r.annotations)?;
            compare(eval, r.value, times)
        }
    }
}

fn describe(m: &Matching) -> String {
    match m {
        Matching::Any => "anything".into(),
        Matching::Exact(s) => format!("{s:?}"),
        Matching::Pattern(r) => format!("/{r}/"),
    }
}

/// The annotation as Prometheus renders it: message, then the position of the expression it
/// is about, found in the query text.
fn render(a: &Annotation, text: &str) -> String {
    match text.find(&a.about) {
        Some(i) => format!("{} (1:{})", a.message, i + 1),
        None => a.message.clone(),
    }
}

fn check_annotations(eval: &Eval, text: &str, annotations: &[Annotation]) -> Result<(), String> {
    for (severity, expected, none_allowed, kind) in [
        (Severity::Warning, &eval.warn, eval.no_warn, "warn"),
        (Severity::Info, &eval.info, eval.no_info, "info"),
    ] {
        let actual: Vec<String> = annotations
            .iter()
            .filter(|a| a.severity == severity)
            .map(|a| render(a, text))
            .collect();
        if none_allowed && !actual.is_empty() {
            return Err(format!("unexpected {kind} annotations: {actual:?}"));
        }
        if expected.is_empty() {
            continue;
        }
        if actual.is_empty() {
            return Err(format!("expected {kind} annotations but none were found"));
        }
        if let Some(e) = expected
            .iter()
            .find(|e| !actual.iter().any(|a| e.matches(a)))
        {
            return Err(format!(
                "no {kind} annotation matches {}; found {actual:?}",
                describe(e)
            ));
        }
        if let Some(a) = actual
            .iter()
            .find(|a| !expected.iter().any(|e| e.matches(a)))
        {
            return Err(format!("unexpected {kind} annotation {a:?}"));
        }
    }
    Ok(())
}

fn check_sorted(series: &[RangeSeries]) -> Result<(), String> {
    match series.windows(2).find(|w| w[0].metric > w[1].metric) {
        Some(w) => Err(format!(
            "matrix not sorted: {} before {}",
            w[0].metric, w[1].metric
        )),
        None => Ok(()),
    }
}

fn equal(actual: f64, expected: f64) -> bool {
    let stale = promql_rules::engine::is_stale_marker;
    if stale(actual) || stale(expected) {
        return stale(actual) && stale(expected);
    }
    almost_equal(actual, expected, EPSILON)
}

fn compare(eval: &Eval, value: Value, times: Times) -> Result<(), String> {
    let expected = match &eval.expected {
        Expected::Series(s) => s.as_slice(),
        _ => &[],
    };
    match value {
        Value::Matrix(series) => {
            if eval.ordered {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            if let Expected::Scalar(_) = eval.expected {
                return Err("expected scalar result, but got matrix".into());
            }
            let Times::Range { start, end, step } = times else {
                return Err("got a range vector from an instant query".into());
            };
            check_sorted(&series)?;
            for s in &series {
                let exp = expected
                    .iter()
                    .find(|e| e.labels == s.metric)
                    .ok_or_else(|| format!("unexpected series {} with {:?}", s.metric, s.points))?;
                let mut want = Vec::new();
                for (i, item) in exp.values.iter().enumerate() {
                    let t = start + i as i64 * step;
                    if t > end {
                        return Err(format!(
                            "{} expects more points than the range holds",
                            s.metric
                        ));
                    }
                    match item {
                        Item::Float(v) => want.push((t, *v)),
                        Item::Omitted => {}
                        Item::Histogram => return Err("expected a histogram".into()),
                    }
                }
                let got: Vec<(i64, f64)> = s.points.iter().map(|p| (p.t, p.v)).collect();
                if want.len() != got.len()
                    || want
                        .iter()
                        .zip(&got)
                        .any(|(w, g)| w.0 != g.0 || !equal(g.1, w.1))
                {
                    return Err(format!(
                        "series {}: expected {want:?}, got {got:?}",
                        s.metric
                    ));
                }
            }
            if let Some(e) = expected
                .iter()
                .find(|e| !series.iter().any(|s| s.metric == e.labels))
            {
                return Err(format!("expected series {} not found", e.labels));
            }
            Ok(())
        }
        Value::Vector(samples) => {
            if let Expected::Scalar(_) = eval.expected {
                return Err(format!(
                    "expected scalar result, but got vector {}",
                    text(&samples)
                ));
            }
            for (pos, s) in samples.iter().enumerate() {
                let exp = expected
                    .iter()
                    .find(|e| e.labels == s.metric)
                    .ok_or_else(|| format!("unexpected {} {}", s.metric, s.value))?;
                if eval.ordered && exp.pos != pos + 1 {
                    return Err(format!(
                        "expected {} at position {} but was at {}",
                        s.metric,
                        exp.pos,
                        pos + 1
                    ));
                }
                match exp.values.first() {
                    Some(Item::Float(v)) if equal(s.value, *v) => {}
                    other => {
                        return Err(format!(
                            "expected {other:?} for {}, got {}",
                            s.metric, s.value
                        ))
                    }
                }
            }
            if let Some(e) = expected
                .iter()
                .find(|e| !samples.iter().any(|s| s.metric == e.labels))
            {
                return Err(format!(
                    "expected {} not found; got {}",
                    e.labels,
                    text(&samples)
                ));
            }
            Ok(())
        }
        Value::Scalar(v) => match eval.expected {
            Expected::Scalar(want) if equal(v, want) => Ok(()),
            Expected::Scalar(want) => Err(format!("expected scalar {want}, got {v}")),
            _ => Err(format!(
                "expected vector or matrix result, but got scalar {v}"
            )),
        },
        Value::String(s) => {
            let want = match &eval.expected {
                Expected::String(w) => w.as_str(),
                _ => "",
            };
            if s == want {
                Ok(())
            } else {
                Err(format!("expected string {want:?}, got {s:?}"))
            }
        }
    }
}

fn text(samples: &[Sample]) -> String {
    let parts: Vec<String> = samples
        .iter()
        .map(|s| format!("{} {}", s.metric, s.value))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// `atModifierTestCases`: the query with `@ t` on every selector and subquery that has none
/// (not inside subqueries), evaluated at other times.
fn at_variants(expr: &Expr, t: i64) -> Vec<(Expr, i64)> {
    let mut unsafe_fn = false;
    walk(expr, &mut |e| {
        if let Expr::Call(c) = e {
            unsafe_fn |= AT_UNSAFE.contains(&c.func.name);
        }
    });
    if unsafe_fn {
        return vec![];
    }
    let mut pinned = expr.clone();
    pin(&mut pinned, &at_modifier(t));
    let times = if t == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * t, 0, t / 5, t, 10 * t]
    };
    times.into_iter().map(|et| (pinned.clone(), et)).collect()
}

fn at_modifier(ms: i64) -> AtModifier {
    let d = Duration::from_millis(ms.unsigned_abs());
    AtModifier::At(if ms >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    })
}

fn pin(e: &mut Expr, at: &AtModifier) {
    match e {
        Expr::VectorSelector(vs) => {
            vs.at.get_or_insert_with(|| at.clone());
        }
        Expr::MatrixSelector(ms) => {
            ms.vs.at.get_or_insert_with(|| at.clone());
        }
        Expr::Subquery(sq) => {
            sq.at.get_or_insert_with(|| at.clone());
        }
        Expr::Aggregate(a) => {
            if let Some(p) = &mut a.param {
                pin(p, at);
            }
            pin(&mut a.expr, at);
        }
        Expr::Unary(u) => pin(&mut u.expr, at),
        Expr::Binary(b) => {
            pin(&mut b.lhs, at);
            pin(&mut b.rhs, at);
        }
        Expr::Paren(p) => pin(&mut p.expr, at),
        Expr::Call(c) => c.args.args.iter_mut().for_each(|a| pin(a, at)),
        _ => {}
    }
}
