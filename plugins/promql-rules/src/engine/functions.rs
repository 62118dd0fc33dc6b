//! PromQL functions over instant vectors and scalars, on one evaluation step.
//!
//! Functions over range vectors (`rate`, `*_over_time`, …) live in [`super::range_functions`]
//! and classic-histogram functions in [`super::histogram`]; this module dispatches to them.
//! Each function is a port of its namesake in Prometheus' `promql/functions.go`, float samples
//! only: native histograms never reach this engine, so the `histogram_count()` family, which
//! ignores floats, always returns an empty vector.

use std::f64::consts::PI;

use promql_parser::parser::value::ValueType;
use promql_parser::parser::{Call, Expr};

use super::eval::{check_unique, Evaluator, Step};
use super::labels::{Label, Labels, METRIC_NAME};
use super::order::{nan_low_ascending, nan_low_descending, sort_by_less, sort_reverse};
use super::prefetch::{offset_ms, selector_matchers};
use super::source::MatchOp;
use super::time::{days_in_month, Civil};
use super::value::{Sample, Value};
use super::{histogram, range_functions, EvalError};

pub(crate) fn eval(ev: &mut Evaluator, call: &Call, at: Step) -> Result<Value, EvalError> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|a| unwrap_parens(a)).collect();
    if let Some(i) = call
        .func
        .arg_types
        .iter()
        .position(|t| *t == ValueType::Matrix)
    {
        return range_functions::eval(ev, call, &args, i, at);
    }
    let t = at.t;
    let scalar = |v: f64| Ok(Value::Scalar(v));
    match name {
        "time" => scalar(t as f64 / 1000.0),
        "pi" => scalar(PI),
        "start" => scalar(ev.frame.start as f64 / 1000.0),
        "end" => scalar(ev.frame.end as f64 / 1000.0),
        "range" => scalar((ev.frame.end - ev.frame.start) as f64 / 1000.0),
        "step" => scalar(if ev.frame.start != ev.frame.end {
            ev.query_step as f64 / 1000.0
        } else {
            0.0
        }),
        "max_of" | "min_of" => {
            let a = ev.eval_scalar(args[0], at)?;
            let b = ev.eval_scalar(args[1], at)?;
            scalar(if name == "max_of" {
                go_max(a, b)
            } else {
                go_min(a, b)
            })
        }
        "scalar" => {
            let v = ev.eval_vector(args[0], at)?;
            scalar(if v.len() == 1 { v[0].value } else { f64::NAN })
        }
        "vector" => {
            let v = ev.eval_scalar(args[0], at)?;
            Ok(Value::Vector(vec![Sample {
                metric: Labels::empty(),
                value: v,
                drop_name: false,
            }]))
        }
        "timestamp" => timestamp(ev, args[0], at),
        "label_replace" => label_replace(ev, &args, at),
        "label_join" => label_join(ev, &args, at),
        "info" => Err(EvalError::Unsupported("function info()".into())),
        _ => {
            let out = vector_function(ev, call, &args, at)?;
            ev.check_step_result(&out, at)?;
            Ok(Value::Vector(out))
        }
    }
}

fn unwrap_parens(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}

/// Go's `math.Max`/`math.Min`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Functions that return an instant vector computed sample by sample or from the whole input.
fn vector_function(
    ev: &mut Evaluator,
    call: &Call,
    args: &[&Expr],
    at: Step,
) -> Result<Vec<Sample>, EvalError> {
    let name = call.func.name;
    if let Some(f) = math_function(name) {
        let input = ev.eval_vector(args[0], at)?;
        return Ok(map_values(ev, input, f));
    }
    match name {
        "round" => {
            let input = ev.eval_vector(args[0], at)?;
            let to_nearest = match args.get(1) {
                Some(a) => ev.eval_scalar(a, at)?,
                None => 1.0,
            };
            // Multiplying by the inverse loses less precision than dividing.
            let inverse = 1.0 / to_nearest;
            Ok(map_values(ev, input, move |f| {
                (f * inverse + 0.5).floor() / inverse
            }))
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let input = ev.eval_vector(args[0], at)?;
            let (lo, hi) = match name {
                "clamp" => (ev.eval_scalar(args[1], at)?, ev.eval_scalar(args[2], at)?),
                "clamp_min" => (ev.eval_scalar(args[1], at)?, f64::INFINITY),
                _ => (f64::NEG_INFINITY, ev.eval_scalar(args[1], at)?),
            };
            if hi < lo {
                return Ok(vec![]);
            }
            Ok(map_values(ev, input, move |f| go_max(lo, go_min(hi, f))))
        }
        "absent" => {
            let input = ev.eval_vector(args[0], at)?;
            Ok(if input.is_empty() {
                vec![Sample {
                    metric: absent_labels(args[0])?,
                    value: 1.0,
                    drop_name: false,
                }]
            } else {
                vec![]
            })
        }
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => sort(ev, call, args, at),
        "histogram_quantile" => {
            let q = ev.eval_scalar(args[0], at)?;
            let input = ev.eval_vector(args[1], at)?;
            Ok(histogram::quantile(ev, q, input, args[0], args[1], at.t))
        }
        "histogram_quantiles" => {
            let input = ev.eval_vector(args[0], at)?;
            let label = string_arg(args[1])?;
            let mut qs = Vec::with_capacity(args.len() - 2);
            for a in &args[2..] {
                qs.push((ev.eval_scalar(a, at)?, *a));
            }
            Ok(histogram::quantiles(ev, &qs, &label, input, args[0], at.t))
        }
        "histogram_fraction" => {
            let lower = ev.eval_scalar(args[0], at)?;
            let upper = ev.eval_scalar(args[1], at)?;
            let input = ev.eval_vector(args[2], at)?;
            Ok(histogram::fraction(ev, lower, upper, input, args[2]))
        }
        // These read native histograms only and skip floats; `start_timestamp` needs sample
        // start times, which no host provides.
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" | "start_timestamp" => {
            ev.eval_vector(args[0], at)?;
            Ok(vec![])
        }
        "days_in_month" | "day_of_month" | "day_of_week" | "day_of_year" | "hour" | "minute"
        | "month" | "year" => date_function(ev, name, args.first().copied(), at),
        _ => Err(EvalError::Unsupported(format!("function {name}()"))),
    }
}

/// Per-sample float functions (`simpleFloatFunc`).
fn math_function(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "rad" => |v| v * PI / 180.0,
        "deg" => |v| v * 180.0 / PI,
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// Applies `f` to every value; the result is no longer the named metric.
fn map_values(ev: &Evaluator, input: Vec<Sample>, f: impl Fn(f64) -> f64) -> Vec<Sample> {
    let delayed = ev.opts.delayed_name_removal;
    input
        .into_iter()
        .map(|s| Sample {
            metric: if delayed {
                s.metric
            } else {
                s.metric.without_metric_name()
            },
            value: f(s.value),
            drop_name: true,
        })
        .collect()
}

/// `timestamp()`: the time of each sample. Given a selector directly, that is the time the
/// sample was stored at; given any other expression, the evaluation time.
fn timestamp(ev: &mut Evaluator, arg: &Expr, at: Step) -> Result<Value, EvalError> {
    let delayed = ev.opts.delayed_name_removal;
    let name_dropped = |metric: Labels| {
        if delayed {
            metric
        } else {
            metric.without_metric_name()
        }
    };
    let out: Vec<Sample> = match arg {
        Expr::VectorSelector(vs) => {
            // With `@`, Prometheus reads at the `@` time and ignores the offset.
            let reference = match &vs.at {
                Some(a) => ev.frame.at(a),
                None => at.t - offset_ms(&vs.offset),
            };
            let lookback = ev.frame.lookback_ms;
            ev.series_of(vs)
                .iter()
                .filter_map(|s| {
                    super::eval::latest(s, reference, lookback).map(|(t, _)| Sample {
                        metric: name_dropped(s.metric.clone()),
                        value: t as f64 / 1000.0,
                        drop_name: true,
                    })
                })
                .collect()
        }
        _ => ev
            .eval_vector(arg, at)?
            .into_iter()
            .map(|s| Sample {
                metric: name_dropped(s.metric),
                value: at.t as f64 / 1000.0,
                drop_name: true,
            })
            .collect(),
    };
    ev.check_step_result(&out, at)?;
    Ok(Value::Vector(out))
}

pub(crate) fn string_arg(e: &Expr) -> Result<String, EvalError> {
    match unwrap_parens(e) {
        Expr::StringLiteral(s) => Ok(s.val.clone()),
        other => Err(EvalError::Query(format!(
            "expected string literal, got {other}"
        ))),
    }
}

/// `label_replace(v, dst, replacement, src, regex)`.
fn label_replace(ev: &mut Evaluator, args: &[&Expr], at: Step) -> Result<Value, EvalError> {
    let dst = string_arg(args[1])?;
    let replacement = string_arg(args[2])?;
    let src = string_arg(args[3])?;
    let pattern = string_arg(args[4])?;
    let compat = ev.opts.compat;
    let regex = compat.label_replace_regex(&pattern).ok_or_else(|| {
        EvalError::Query(format!(
            "invalid regular expression in label_replace(): {pattern}"
        ))
    })?;
    if !compat.valid_label_name(&dst) {
        return Err(EvalError::Query(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut out = ev.eval_vector(args[0], at)?;
    let mut expanded = String::new();
    for s in &mut out {
        if let Some(caps) = regex.captures(s.metric.value(&src)) {
            expanded.clear();
            caps.expand(&replacement, &mut expanded);
            s.metric = s.metric.with(&dst, &expanded);
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
    }
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// `label_join(v, dst, separator, src...)`.
fn label_join(ev: &mut Evaluator, args: &[&Expr], at: Step) -> Result<Value, EvalError> {
    let dst = string_arg(args[1])?;
    let separator = string_arg(args[2])?;
    let srcs = args[3..]
        .iter()
        .map(|a| string_arg(a))
        .collect::<Result<Vec<_>, _>>()?;
    let compat = ev.opts.compat;
    if let Some(bad) = srcs.iter().find(|s| !compat.valid_label_name(s)) {
        return Err(EvalError::Query(format!(
            "invalid source label name in label_join(): {bad}"
        )));
    }
    if !compat.valid_label_name(&dst) {
        return Err(EvalError::Query(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let mut out = ev.eval_vector(args[0], at)?;
    let mut joined = String::new();
    for s in &mut out {
        joined.clear();
        for (i, src) in srcs.iter().enumerate() {
            if i > 0 {
                joined.push_str(&separator);
            }
            joined.push_str(s.metric.value(src));
        }
        s.metric = s.metric.with(&dst, &joined);
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
    }
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// `createLabelsForAbsentFunction`: the labels a selector pins to one value with `=`.
pub(crate) fn absent_labels(arg: &Expr) -> Result<Labels, EvalError> {
    let vs = match arg {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Ok(Labels::empty()),
    };
    let mut labels: Vec<Label> = Vec::new();
    let mut has: Vec<&str> = Vec::new();
    let matchers = selector_matchers(vs)?;
    for m in &matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op == MatchOp::Equal && !has.contains(&m.name.as_str()) {
            labels.retain(|l| *l.name != *m.name);
            labels.push(Label {
                name: m.name.as_str().into(),
                value: m.value.as_str().into(),
            });
            has.push(&m.name);
        } else {
            labels.retain(|l| *l.name != *m.name);
        }
    }
    Ok(Labels::from_labels(labels))
}

fn sort(
    ev: &mut Evaluator,
    call: &Call,
    args: &[&Expr],
    at: Step,
) -> Result<Vec<Sample>, EvalError> {
    if at.multi {
        ev.notes.warn(
            "PromQL warning: sort is ineffective for range queries since results are always ordered by labels".into(),
            &Expr::Call(call.clone()),
        );
    }
    let mut v = ev.eval_vector(args[0], at)?;
    match call.func.name {
        "sort" => sort_reverse(&mut v, nan_low_descending),
        "sort_desc" => sort_reverse(&mut v, nan_low_ascending),
        name => {
            let labels = args[1..]
                .iter()
                .map(|a| string_arg(a))
                .collect::<Result<Vec<_>, _>>()?;
            let descending = name == "sort_by_label_desc";
            sort_by_less(&mut v, |a, b| {
                for l in &labels {
                    let (x, y) = (a.metric.value(l), b.metric.value(l));
                    if x != y {
                        return natural_less(x, y) != descending;
                    }
                }
                (a.metric < b.metric) != descending
            });
        }
    }
    Ok(v)
}

/// `natsort.Compare`: runs of ASCII digits compare as integers, other runs as strings.
fn natural_less(a: &str, b: &str) -> bool {
    let (ca, cb) = (chunks(a), chunks(b));
    for (i, x) in ca.iter().enumerate() {
        let Some(y) = cb.get(i) else {
            return false;
        };
        let last_a = i == ca.len() - 1;
        let last_b = i == cb.len() - 1;
        match (x.parse::<i64>(), y.parse::<i64>()) {
            (Ok(p), Ok(q)) if p != q => return p < q,
            (Ok(_), Ok(_)) => {}
            _ if x != y => return x < y,
            _ => {}
        }
        if last_a {
            return true;
        }
        if last_b {
            return false;
        }
    }
    false
}

fn chunks(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = s.as_bytes();
    for i in 1..=bytes.len() {
        if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
            out.push(&s[start..i]);
            start = i;
        }
    }
    out
}

/// `day_of_month()` and friends, in UTC; without an argument, of the evaluation time.
fn date_function(
    ev: &mut Evaluator,
    name: &str,
    arg: Option<&Expr>,
    at: Step,
) -> Result<Vec<Sample>, EvalError> {
    let f = |secs: i64| {
        let c = Civil::from_unix(secs);
        f64::from(match name {
            "days_in_month" => days_in_month(c.year, c.month),
            "day_of_month" => c.day,
            "day_of_week" => c.weekday,
            "day_of_year" => c.yearday,
            "hour" => c.hour,
            "minute" => c.minute,
            "month" => c.month,
            _ => return c.year as f64,
        })
    };
    match arg {
        None => Ok(vec![Sample {
            metric: Labels::empty(),
            value: f(at.t / 1000),
            drop_name: false,
        }]),
        Some(a) => {
            let input = ev.eval_vector(a, at)?;
            // Go converts the float to an integer number of seconds by truncation, and on
            // amd64 (what Prometheus is mostly built for) NaN, ±Inf and floats beyond int64
            // to its minimum, whose date Go's arithmetic computes wrapped around.
            let beyond = |v: f64| v.is_nan() || !(-TWO_63..TWO_63).contains(&v);
            Ok(map_values(ev, input, |v| match beyond(v) {
                true => go_min_int64_date(name),
                false => f(v as i64),
            }))
        }
    }
}

const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// What Go's `time.Unix(math.MinInt64, 0).UTC()` answers (Prometheus 2.42 and 3.x alike).
fn go_min_int64_date(name: &str) -> f64 {
    match name {
        "days_in_month" => 31.0,
        "day_of_month" => 4.0,
        "day_of_week" => 0.0,
        "day_of_year" => 339.0,
        "hour" => 15.0,
        "minute" => 30.0,
        "month" => 12.0,
        _ => 292_277_026_596.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let cases = [
            ("a1", "a2", true),
            ("a2", "a10", true),
            ("a10", "a2", false),
            ("abc", "abd", true),
            ("1", "1", true),
            ("x", "", false),
            ("", "x", false),
            ("9", "a", true),
        ];
        for (a, b, want) in cases {
            assert_eq!(natural_less(a, b), want, "{a} < {b}");
        }
    }

    #[test]
    fn absent_takes_equality_matchers_once() {
        let e = promql_parser::parser::parse(r#"x{job="a",job="b",foo="bar",baz=~"q"}"#).unwrap();
        assert_eq!(absent_labels(&e).unwrap().to_string(), r#"{foo="bar"}"#);
    }
}
