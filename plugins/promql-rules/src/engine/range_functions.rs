//! PromQL functions over range vectors (`rate`, `increase`, `*_over_time`, …), on one
//! evaluation step.
//!
//! Each series' window is borrowed from it, or copied into one reused buffer when stale
//! markers must be left out, as Prometheus' `matrixIterSlice` does (`windows`), and reduced
//! to at most one value, so a step costs O(samples in the windows) with no allocation per
//! series beyond its output label set (`range_steps` computes blocks of steps at once). The
//! reductions are ports of `promql/functions.go` for float samples, including Prometheus'
//! extrapolation in `rate`/`increase`/`delta` and its Kahan-compensated sums.

use promql_parser::parser::{Call, Expr};

use super::eval::{check_unique, Evaluator, Step};
use super::format::go_format_g;
use super::functions::absent_labels;
use super::labels::METRIC_NAME;
use super::numeric::{kahan_inc, quantile};
use super::prefetch::{offset_ms, Selection};
use super::samples::SeriesReads;
use super::value::{RangeSeries, Sample, Value};
use super::windows::{Samples, Scratch, Window};
use super::{Compat, EvalError};

enum Input<'a> {
    Stored(&'a Selection),
    Computed(Vec<RangeSeries>),
}

pub(crate) fn eval(
    ev: &mut Evaluator,
    call: &Call,
    args: &[&Expr],
    matrix_arg: usize,
    at: Step,
) -> Result<Value, EvalError> {
    let name = call.func.name;
    let mut params = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i != matrix_arg {
            params.push(ev.eval_scalar(a, at)?);
        }
    }
    if let Some(steps) = super::range_steps::precomputed(ev, call, args, matrix_arg, &params, at)? {
        return Ok(steps);
    }
    let arg = args[matrix_arg];
    let computed;
    let (input, win) = match arg {
        Expr::MatrixSelector(ms) => {
            let end = ev.reference_time(&ms.vs.at, at.t) - offset_ms(&ms.vs.offset);
            let start = end - ms.range.as_millis() as i64;
            (
                Input::Stored(ev.series_of(&ms.vs)),
                Window::new(at.t, start, end, ev.frame.compat),
            )
        }
        Expr::Subquery(sq) => {
            let end = ev.reference_time(&sq.at, at.t) - offset_ms(&sq.offset);
            let start = end - sq.range.as_millis() as i64;
            computed = ev.subquery(sq, at.t)?;
            (
                Input::Computed(computed),
                Window::new(at.t, start, end, ev.frame.compat),
            )
        }
        other => {
            return Err(EvalError::Query(format!(
                "expected a range vector argument to {name}(), got {other}"
            )))
        }
    };

    let delayed = ev.opts.delayed_name_removal;
    // `last_over_time` and `first_over_time` act like an offset: the metric keeps its name.
    let drops_name = name != "last_over_time" && name != "first_over_time";
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let mut any_points = false;
    let mut non_counters: Vec<String> = Vec::new();
    let count = match &input {
        Input::Stored(s) => s.len(),
        Input::Computed(c) => c.len(),
    };
    let mut reads = vec![SeriesReads::default(); count];
    for i in 0..count {
        let (metric, input_drops_name, samples) = match &input {
            Input::Stored(s) => {
                let series = s.get(i);
                (
                    series.metric,
                    false,
                    scratch.stored(series, win.from, win.end),
                )
            }
            Input::Computed(c) => (
                &c[i].metric,
                c[i].drop_name,
                scratch.points(&c[i].points, win.from, win.end),
            ),
        };
        if samples.is_empty() {
            continue;
        }
        any_points = true;
        let window = samples.len();
        let value = reduce(name, samples, &params, win)?;
        reads[i].read(window, value.is_some());
        let Some(value) = value else {
            continue;
        };
        if name == "rate" || name == "increase" {
            let metric_name = metric.value(METRIC_NAME);
            if !metric_name.is_empty()
                && !has_counter_suffix(metric_name)
                && !non_counters.iter().any(|n| n == metric_name)
            {
                non_counters.push(metric_name.to_string());
            }
        }
        let drop = drops_name || input_drops_name;
        out.push(Sample {
            metric: match (&input, drop && !delayed) {
                (_, false) => metric.clone(),
                (Input::Stored(s), true) => s.nameless(i),
                (Input::Computed(_), true) => metric.without_metric_name(),
            },
            value,
            drop_name: drop,
        });
    }

    ev.tally.range_reads(call, at.t, &reads);
    annotate(ev, name, arg, non_counters, any_points, &params);
    if name == "absent_over_time" {
        return Ok(Value::Vector(if any_points {
            vec![]
        } else {
            vec![Sample {
                metric: absent_labels(arg)?,
                value: 1.0,
                drop_name: true,
            }]
        }));
    }
    if !delayed {
        check_unique(&out)?;
    }
    Ok(Value::Vector(out))
}

/// The annotations of a range function's evaluation: metrics `rate`/`increase` read that are
/// not named as counters, a `quantile_over_time` φ outside [0, 1] when any window had points.
pub(super) fn annotate(
    ev: &mut Evaluator,
    name: &str,
    arg: &Expr,
    non_counters: Vec<String>,
    any_points: bool,
    params: &[f64],
) {
    for metric_name in non_counters {
        ev.notes.info(
            format!("PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {}", super::format::go_quote(&metric_name)),
            arg,
        );
    }
    if name == "quantile_over_time" && any_points && !(0.0..=1.0).contains(&params[0]) {
        ev.notes.warn(
            format!(
                "PromQL warning: quantile value should be between 0 and 1, got {}",
                go_format_g(params[0])
            ),
            arg,
        );
    }
}

pub(super) fn has_counter_suffix(name: &str) -> bool {
    ["_total", "_sum", "_count", "_bucket"]
        .iter()
        .any(|s| name.ends_with(s))
}

/// One series' window reduced to a value, or `None` when the function has no result for it.
pub(super) fn reduce(
    name: &str,
    s: Samples,
    params: &[f64],
    win: Window,
) -> Result<Option<f64>, EvalError> {
    let (first_t, first) = s.first();
    let (last_t, last) = s.last();
    let changes = |counts: fn(f64, f64) -> bool| {
        s.vs.windows(2).filter(|w| counts(w[0], w[1])).count() as f64
    };
    Ok(Some(match name {
        "rate" => return Ok(extrapolated_rate(s, win, true, true)),
        "increase" => return Ok(extrapolated_rate(s, win, true, false)),
        "delta" => return Ok(extrapolated_rate(s, win, false, false)),
        "irate" => return Ok(instant_value(s, true)),
        "idelta" => return Ok(instant_value(s, false)),
        "resets" => changes(|a, b| b < a),
        "changes" => changes(|a, b| b != a && !(a.is_nan() && b.is_nan())),
        "deriv" => {
            if s.len() < 2 {
                return Ok(None);
            }
            linear_regression(s, first_t).0
        }
        "predict_linear" => {
            if s.len() < 2 {
                return Ok(None);
            }
            let (slope, intercept) = linear_regression(s, win.t);
            slope * params[0] + intercept
        }
        "double_exponential_smoothing" => {
            return double_exponential_smoothing(s.vs, params[0], params[1])
        }
        "avg_over_time" => average(s.vs),
        "sum_over_time" => {
            let (mut sum, mut c) = (0.0, 0.0);
            for &v in s.vs {
                (sum, c) = kahan_inc(v, sum, c);
            }
            if sum.is_infinite() {
                sum
            } else {
                sum + c
            }
        }
        "count_over_time" => s.len() as f64,
        "max_over_time" => s.vs[extreme(s.vs, |cur, max| cur > max)],
        "min_over_time" => s.vs[extreme(s.vs, |cur, min| cur < min)],
        "ts_of_max_over_time" => s.ts[extreme(s.vs, |cur, max| cur >= max)] as f64 / 1000.0,
        "ts_of_min_over_time" => s.ts[extreme(s.vs, |cur, min| cur <= min)] as f64 / 1000.0,
        "last_over_time" => last,
        "first_over_time" => first,
        "ts_of_last_over_time" => last_t as f64 / 1000.0,
        "ts_of_first_over_time" => first_t as f64 / 1000.0,
        "present_over_time" | "absent_over_time" => 1.0,
        "quantile_over_time" => quantile(params[0], &mut s.vs.to_vec()),
        "stddev_over_time" => variance(s.vs).sqrt(),
        "stdvar_over_time" => variance(s.vs),
        "mad_over_time" => {
            if s.vs.iter().any(|v| v.is_nan()) {
                f64::NAN
            } else {
                let mut values = s.vs.to_vec();
                let median = quantile(0.5, &mut values);
                for v in &mut values {
                    *v = (*v - median).abs();
                }
                quantile(0.5, &mut values)
            }
        }
        _ => return Err(EvalError::Unsupported(format!("function {name}()"))),
    }))
}

/// `extrapolatedRate`: the increase over the window, extrapolated towards its edges when the
/// samples come close enough to them (within 110% of the average interval), never below a
/// counter's zero point.
fn extrapolated_rate(s: Samples, win: Window, is_counter: bool, is_rate: bool) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let ((first_t, first), (last_t, last)) = (s.first(), s.last());
    let mut result = last - first;
    if is_counter {
        for w in s.vs.windows(2) {
            if w[1] < w[0] {
                result += w[0];
            }
        }
    }
    let mut to_start = (first_t - win.start) as f64 / 1000.0;
    let mut to_end = (win.end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let average_interval = sampled / (s.len() - 1) as f64;
    let threshold = average_interval * 1.1;
    // A counter's zero point limits the extrapolation to the start: after deciding whether to
    // extrapolate all the way in 3.x, before it in 2.42.
    let to_zero = (is_counter && result > 0.0 && first >= 0.0).then(|| sampled * (first / result));
    let limit_to_zero = |to_start: &mut f64| {
        if let Some(z) = to_zero.filter(|z| z < to_start) {
            *to_start = z;
        }
    };
    if win.compat == Compat::V2 {
        limit_to_zero(&mut to_start);
    }
    if to_start >= threshold {
        to_start = average_interval / 2.0;
    }
    if win.compat == Compat::V3 {
        limit_to_zero(&mut to_start);
    }
    if to_end >= threshold {
        to_end = average_interval / 2.0;
    }
    let mut factor = 1.0;
    if sampled != 0.0 {
        factor = (sampled + to_start + to_end) / sampled;
    }
    if is_rate {
        factor /= win.range_secs();
    }
    Some(result * factor)
}

/// `instantValue`: from the last two samples; `irate` restarts from zero at a counter reset.
fn instant_value(s: Samples, is_rate: bool) -> Option<f64> {
    let n = s.len();
    if n < 2 {
        return None;
    }
    let (a_t, a) = (s.ts[n - 2], s.vs[n - 2]);
    let (b_t, b) = (s.ts[n - 1], s.vs[n - 1]);
    let interval = b_t - a_t;
    if interval == 0 {
        return None;
    }
    // At a counter reset (a drop, NaN excepted), irate starts again from zero.
    let reset = is_rate && b < a;
    let mut result = if reset { b } else { b - a };
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// `linearRegression`: least squares slope and the intercept at `intercept_time`.
fn linear_regression(s: Samples, intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = s.vs[0];
    let mut const_y = true;
    for (i, (&t, &v)) in s.ts.iter().zip(s.vs).enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_time) as f64 / 1e3;
        (sum_x, c_x) = kahan_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_inc(v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_inc(x * v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    (slope, sum_y / n - slope * sum_x / n)
}

/// `avg_over_time`: a Kahan-compensated sum divided at the end, switching to an incremental
/// mean if the sum would overflow.
fn average(vs: &[f64]) -> f64 {
    let (mut sum, mut count, mut mean, mut c) = (vs[0], 1.0, 0.0, 0.0);
    let mut incremental = false;
    for (i, &v) in vs.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let (s, nc) = kahan_inc(v, sum, c);
            if !s.is_infinite() {
                (sum, c) = (s, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

/// `compareOverTime`: the index of the first value that `better` prefers over all before it;
/// NaN loses.
fn extreme(vs: &[f64], better: fn(f64, f64) -> bool) -> usize {
    let mut best = 0;
    for (i, &v) in vs.iter().enumerate() {
        if better(v, vs[best]) || vs[best].is_nan() {
            best = i;
        }
    }
    best
}

/// `varianceOverTime`: Welford's algorithm with Kahan-compensated running sums.
fn variance(vs: &[f64]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &v in vs {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// `double_exponential_smoothing(v, sf, tf)`.
fn double_exponential_smoothing(vs: &[f64], sf: f64, tf: f64) -> Result<Option<f64>, EvalError> {
    if sf <= 0.0 || sf >= 1.0 {
        return Err(EvalError::Query(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"
        )));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(EvalError::Query(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"
        )));
    }
    if vs.len() < 2 {
        return Ok(None);
    }
    let (mut s0, mut s1, mut b) = (0.0, vs[0], vs[1] - vs[0]);
    for (i, &v) in vs.iter().enumerate().skip(1) {
        let scaled = sf * v;
        // The trend at the previous point (`calcTrendValue`).
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, scaled + y);
    }
    Ok(Some(s1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(v: &[(i64, f64)]) -> (Vec<i64>, Vec<f64>) {
        v.iter().copied().unzip()
    }

    fn samples<'a>(c: &'a (Vec<i64>, Vec<f64>)) -> Samples<'a> {
        Samples { ts: &c.0, vs: &c.1 }
    }

    #[test]
    fn rate_extrapolates_to_the_window_edges() {
        // 0, 10, 20, ... at 10s steps, window (0s, 60s] at 60s: samples 10s..60s.
        let c = cols(&[
            (10_000, 1.0),
            (20_000, 2.0),
            (30_000, 3.0),
            (40_000, 4.0),
            (50_000, 5.0),
            (60_000, 6.0),
        ]);
        let p = samples(&c);
        let win = Window::new(60_000, 0, 60_000, Compat::V3);
        // Increase 5 over 50s, extrapolated 10s to the start (below 110% of 10s): 6 over 60s.
        assert_eq!(extrapolated_rate(p, win, true, false), Some(6.0));
        assert_eq!(extrapolated_rate(p, win, true, true), Some(0.1));
        // A counter is not extrapolated below zero: from 1 at 10s, zero is at 0s anyway.
        let c = cols(&[(30_000, 1.0), (40_000, 3.0)]);
        let p = samples(&c);
        let win = Window::new(40_000, 0, 40_000, Compat::V3);
        // To start 30s > 11s, so half an interval (5s); zero point 5s back: increase 2*15/10.
        assert_eq!(
            extrapolated_rate(p, win, true, false),
            Some(2.0 * 15.0 / 10.0)
        );
        let single = Samples {
            ts: &p.ts[..1],
            vs: &p.vs[..1],
        };
        assert_eq!(extrapolated_rate(single, win, true, false), None);
    }

    #[test]
    fn prometheus_2_limits_to_the_zero_point_before_the_threshold() {
        // 1 at 30s, 2 at 40s in (0s, 40s]: 30s to the start (over 1.1 intervals), zero point
        // 10s back. 3.x extrapolates half an interval (5s), 2.42 to the zero point (10s).
        let c = cols(&[(30_000, 1.0), (40_000, 2.0)]);
        let p = samples(&c);
        let cases = [
            (Compat::V3, true, 1.5),
            (Compat::V2, true, 2.0),
            // A gauge has no zero point: both extrapolate half an interval.
            (Compat::V2, false, 1.5),
            (Compat::V3, false, 1.5),
        ];
        for (compat, counter, want) in cases {
            let win = Window::new(40_000, 0, 40_000, compat);
            assert_eq!(
                extrapolated_rate(p, win, counter, false),
                Some(want),
                "{compat:?} counter={counter}"
            );
        }
    }

    #[test]
    fn counter_resets() {
        let c = cols(&[(0, 5.0), (1000, 1.0), (2000, 3.0)]);
        let p = samples(&c);
        let first_two = Samples {
            ts: &p.ts[..2],
            vs: &p.vs[..2],
        };
        let win = Window::new(2000, -1, 2000, Compat::V3);
        assert_eq!(reduce("resets", p, &[], win).unwrap(), Some(1.0));
        assert_eq!(instant_value(p, true), Some(2.0));
        assert_eq!(instant_value(first_two, true), Some(1.0));
        assert_eq!(instant_value(first_two, false), Some(-4.0));
    }

    #[test]
    fn over_time_reductions() {
        let c = cols(&[(0, 3.0), (1000, f64::NAN), (2000, 1.0), (3000, 3.0)]);
        let p = samples(&c);
        let win = Window::new(3000, -1, 3000, Compat::V3);
        let cases = [
            ("max_over_time", 3.0),
            ("min_over_time", 1.0),
            ("ts_of_max_over_time", 3.0),
            ("count_over_time", 4.0),
            ("changes", 3.0),
            ("last_over_time", 3.0),
        ];
        for (name, want) in cases {
            assert_eq!(reduce(name, p, &[], win).unwrap(), Some(want), "{name}");
        }
        let c = cols(&[(0, 1.0), (1000, 2.0), (2000, 3.0), (3000, 4.0)]);
        let p = samples(&c);
        assert_eq!(reduce("avg_over_time", p, &[], win).unwrap(), Some(2.5));
        assert_eq!(reduce("stdvar_over_time", p, &[], win).unwrap(), Some(1.25));
        assert_eq!(reduce("deriv", p, &[], win).unwrap(), Some(1.0));
        assert_eq!(
            reduce("predict_linear", p, &[10.0], win).unwrap(),
            Some(14.0)
        );
    }
}
