//! `histogram_quantile`, `histogram_quantiles` and `histogram_fraction` over classic
//! histograms: series that share all labels but `le`, one per bucket.
//!
//! Ports of `funcHistogramQuantile`, `funcHistogramFraction`, `resetHistograms`,
//! `BucketQuantile` and `BucketFraction` from Prometheus, including its repair of
//! non-monotonic buckets and the warnings and infos it raises.

use promql_parser::parser::Expr;

use super::eval::Evaluator;
use super::format::{go_format_g, go_quote};
use super::labels::{Labels, METRIC_NAME};
use super::numeric::{almost_equal, FastMap};
use super::value::Sample;

const BUCKET_LABEL: &str = "le";

#[derive(Clone, Copy, Debug)]
struct Bucket {
    upper: f64,
    count: f64,
}

/// One classic histogram: the labels of its series without `le`, and its buckets.
struct Histogram {
    metric: Labels,
    buckets: Vec<Bucket>,
}

/// Groups the input's series into histograms by their labels without `le`; series whose `le`
/// is not a number are skipped with a warning.
fn gather(ev: &mut Evaluator, input: Vec<Sample>, about: &Expr) -> Vec<Histogram> {
    let mut index: FastMap<Labels, usize> = FastMap::default();
    let mut out: Vec<Histogram> = Vec::new();
    let without_le = [BUCKET_LABEL.to_string()];
    for s in input {
        let le = s.metric.value(BUCKET_LABEL);
        let Ok(upper) = parse_go_float(le) else {
            let name = if ev.opts.delayed_name_removal {
                s.metric.value(METRIC_NAME)
            } else {
                ""
            };
            let mut message = format!(
                "PromQL warning: bucket label \"le\" is missing or has a malformed value of {}",
                go_quote(le)
            );
            if !name.is_empty() {
                message.push_str(&format!(" for metric name {}", go_quote(name)));
            }
            ev.notes.warn(message, about);
            continue;
        };
        let metric = s.metric.drop(&without_le);
        let i = *index.entry(metric.clone()).or_insert_with(|| {
            out.push(Histogram {
                metric,
                buckets: Vec::new(),
            });
            out.len() - 1
        });
        out[i].buckets.push(Bucket {
            upper,
            count: s.value,
        });
    }
    out
}

/// `strconv.ParseFloat` for the spellings `le` labels use (`+Inf`, `0.5`, `1e3`).
fn parse_go_float(s: &str) -> Result<f64, ()> {
    s.parse().map_err(|_| ())
}

fn warn_quantile(ev: &mut Evaluator, q: f64, about: &Expr) {
    if !(0.0..=1.0).contains(&q) {
        ev.notes.warn(
            format!(
                "PromQL warning: quantile value should be between 0 and 1, got {}",
                go_format_g(q)
            ),
            about,
        );
    }
}

/// The output label set: without the metric name unless names are dropped late.
fn output_metric(ev: &Evaluator, metric: &Labels) -> Labels {
    if ev.opts.delayed_name_removal {
        metric.clone()
    } else {
        metric.without_metric_name()
    }
}

pub(crate) fn quantile(
    ev: &mut Evaluator,
    q: f64,
    input: Vec<Sample>,
    q_expr: &Expr,
    about: &Expr,
    t: i64,
) -> Vec<Sample> {
    warn_quantile(ev, q, q_expr);
    let histograms = gather(ev, input, about);
    let mut out = Vec::with_capacity(histograms.len());
    for mut h in histograms {
        let (value, forced) = bucket_quantile(q, &mut h.buckets);
        note_forced(ev, &h.metric, about, t, forced);
        out.push(Sample {
            metric: output_metric(ev, &h.metric),
            value,
            drop_name: true,
        });
    }
    out
}

/// `histogram_quantiles(v, label, q...)`: one output series per histogram and quantile, the
/// quantile as `label`.
pub(crate) fn quantiles(
    ev: &mut Evaluator,
    qs: &[(f64, &Expr)],
    label: &str,
    input: Vec<Sample>,
    about: &Expr,
    t: i64,
) -> Vec<Sample> {
    for &(q, q_expr) in qs {
        warn_quantile(ev, q, q_expr);
    }
    let histograms = gather(ev, input, about);
    let mut out = Vec::new();
    for &(q, _) in qs {
        for h in &histograms {
            let mut buckets = h.buckets.clone();
            let (value, forced) = bucket_quantile(q, &mut buckets);
            note_forced(ev, &h.metric, about, t, forced);
            out.push(Sample {
                metric: output_metric(ev, &h.metric).with(label, &open_metrics_float(q)),
                value,
                drop_name: true,
            });
        }
    }
    out
}

fn note_forced(
    ev: &mut Evaluator,
    metric: &Labels,
    about: &Expr,
    t: i64,
    forced: Option<(f64, f64, f64)>,
) {
    if let Some(stats) = forced {
        let name = if ev.opts.delayed_name_removal {
            metric.value(METRIC_NAME)
        } else {
            ""
        };
        ev.notes.forced_monotonicity(name, about, t, stats);
    }
}

pub(crate) fn fraction(
    ev: &mut Evaluator,
    lower: f64,
    upper: f64,
    input: Vec<Sample>,
    about: &Expr,
) -> Vec<Sample> {
    let histograms = gather(ev, input, about);
    histograms
        .into_iter()
        .map(|mut h| Sample {
            metric: output_metric(ev, &h.metric),
            value: bucket_fraction(lower, upper, &mut h.buckets),
            drop_name: true,
        })
        .collect()
}

/// `labels.FormatOpenMetricsFloat`.
fn open_metrics_float(f: f64) -> String {
    match f {
        1.0 => "1.0".into(),
        0.0 => "0.0".into(),
        -1.0 => "-1.0".into(),
        _ => {
            let s = go_format_g(f);
            if s.contains(['e', '.']) || !f.is_finite() {
                s
            } else {
                s + ".0"
            }
        }
    }
}

/// Sorts by upper bound and merges buckets with equal bounds (`coalesceBuckets`).
fn sort_and_coalesce(buckets: &mut Vec<Bucket>) {
    buckets.sort_by(|a, b| {
        a.upper
            .partial_cmp(&b.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut out: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.drain(..) {
        match out.last_mut() {
            Some(last) if last.upper == b.upper => last.count += b.count,
            _ => out.push(b),
        }
    }
    *buckets = out;
}

/// `BucketQuantile`; also returns, when monotonicity had to be forced, the lowest and highest
/// bucket bound affected and the largest decrease removed.
fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> (f64, Option<(f64, f64, f64)>) {
    if q.is_nan() {
        return (f64::NAN, None);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, None);
    }
    if q > 1.0 {
        return (f64::INFINITY, None);
    }
    sort_and_coalesce(buckets);
    if buckets.last().is_none_or(|b| b.upper != f64::INFINITY) {
        return (f64::NAN, None);
    }
    let forced = ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let b = buckets[..buckets.len() - 1].partition_point(|x| x.count < rank);
    let value = if b == buckets.len() - 1 {
        buckets[buckets.len() - 2].upper
    } else if b == 0 && buckets[0].upper <= 0.0 {
        buckets[0].upper
    } else {
        let (mut start, end, mut count) = (0.0, buckets[b].upper, buckets[b].count);
        if b > 0 {
            start = buckets[b - 1].upper;
            count -= buckets[b - 1].count;
            rank -= buckets[b - 1].count;
        }
        start + (end - start) * (rank / count)
    };
    (value, forced)
}

/// `ensureMonotonicAndIgnoreSmallDeltas` with Prometheus' tolerance of 1e-12.
fn ensure_monotonic(buckets: &mut [Bucket]) -> Option<(f64, f64, f64)> {
    let (mut forced, mut min_bucket, mut max_bucket, mut max_diff) =
        (false, f64::INFINITY, f64::NEG_INFINITY, 0.0);
    let mut prev = buckets[0].count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, 1e-12) {
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            forced = true;
            min_bucket = min_bucket.min(b.upper);
            max_bucket = max_bucket.max(b.upper);
            if prev - curr > max_diff {
                max_diff = prev - curr;
            }
            continue;
        }
        prev = curr;
    }
    forced.then_some((min_bucket, max_bucket, max_diff))
}

/// `BucketFraction`: the share of observations between `lower` and `upper`, interpolating
/// linearly within buckets.
fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    sort_and_coalesce(buckets);
    if buckets.last().is_none_or(|b| b.upper != f64::INFINITY) {
        return f64::NAN;
    }
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if buckets[0].upper <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, b) in buckets.iter().enumerate() {
        if i > 0 {
            lower_bound = buckets[i - 1].upper;
        }
        let upper_bound = b.upper;
        let interpolate = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                b.count
            } else {
                rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(v: &[(f64, f64)]) -> Vec<Bucket> {
        v.iter()
            .map(|&(upper, count)| Bucket { upper, count })
            .collect()
    }

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let inf = f64::INFINITY;
        type Case<'a> = (f64, &'a [(f64, f64)], f64);
        let cases: &[Case] = &[
            (0.5, &[(1.0, 10.0), (2.0, 20.0), (inf, 20.0)], 1.0),
            (0.75, &[(1.0, 10.0), (2.0, 20.0), (inf, 20.0)], 1.5),
            (1.0, &[(1.0, 10.0), (2.0, 20.0), (inf, 30.0)], 2.0),
            (0.5, &[(1.0, 10.0), (2.0, 20.0)], f64::NAN),
            (0.5, &[(inf, 10.0)], f64::NAN),
            (0.5, &[(-1.0, 10.0), (inf, 10.0)], -1.0),
        ];
        for (q, b, want) in cases {
            let (got, _) = bucket_quantile(*q, &mut buckets(b));
            assert!(almost_equal(got, *want, 1e-12), "q={q} {b:?}: {got}");
        }
    }

    #[test]
    fn non_monotonic_buckets_are_repaired_and_reported() {
        let inf = f64::INFINITY;
        let mut b = buckets(&[(1.0, 10.0), (2.0, 8.0), (inf, 10.0)]);
        let (got, forced) = bucket_quantile(0.5, &mut b);
        assert_eq!(got, 0.5);
        assert_eq!(forced, Some((2.0, 2.0, 2.0)));
    }

    #[test]
    fn fractions() {
        let inf = f64::INFINITY;
        let b = [(1.0, 10.0), (2.0, 20.0), (inf, 20.0)];
        let cases = [
            (0.0, 1.0, 0.5),
            (0.0, 1.5, 0.75),
            (f64::NEG_INFINITY, inf, 1.0),
            (2.0, 1.0, 0.0),
        ];
        for (lo, hi, want) in cases {
            assert_eq!(
                bucket_fraction(lo, hi, &mut buckets(&b)),
                want,
                "[{lo}, {hi}]"
            );
        }
    }

    #[test]
    fn le_values() {
        let cases = [
            ("1", Ok(1.0)),
            ("+Inf", Ok(f64::INFINITY)),
            ("0.5e1", Ok(5.0)),
            ("", Err(())),
            ("x", Err(())),
        ];
        for (s, want) in cases {
            assert_eq!(parse_go_float(s), want, "{s:?}");
        }
    }
}
