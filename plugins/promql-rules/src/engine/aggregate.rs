//! Aggregation operators (`sum`, `avg`, `count`, `min`, `max`, `group`, `stddev`, `stdvar`,
//! `quantile`, `topk`, `bottomk`, `limitk`, `limit_ratio`, `count_values`) with `by` and
//! `without`, on one evaluation step.
//!
//! A port of `aggregation`, `aggregationK` and `aggregationCountValues` from Prometheus'
//! `promql/engine.go`, float samples only. Groups are found by the bytes of their grouping
//! labels (`grouping`; the `sum`-like operators remember them across a range query's steps);
//! each input sample costs one lookup, and only a new group allocates. Output follows the
//! order in which groups first appear in the input, as in Prometheus.

use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_LIMITK, T_LIMIT_RATIO, T_MAX, T_MIN,
    T_QUANTILE, T_STDDEV, T_STDVAR, T_SUM, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, Expr};

use super::eval::{Evaluator, Step};
use super::format::{go_format_f, go_format_g, go_quote};
use super::grouping::{Grouping, Groups, NodeGroups};
use super::labels::Labels;
use super::numeric::{kahan_inc, labels_hash, quantile};
use super::order::{
    heap_fix, heap_pop, heap_push, nan_low_ascending, nan_low_descending, sort_reverse,
};
use super::value::{Sample, Value};
use super::{Compat, EvalError};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Quantile,
    Topk,
    Bottomk,
    Limitk,
    LimitRatio,
    CountValues,
}

impl Op {
    fn from_expr(a: &AggregateExpr) -> Result<Op, EvalError> {
        Ok(match a.op.id() {
            T_SUM => Op::Sum,
            T_AVG => Op::Avg,
            T_COUNT => Op::Count,
            T_MIN => Op::Min,
            T_MAX => Op::Max,
            T_GROUP => Op::Group,
            T_STDDEV => Op::Stddev,
            T_STDVAR => Op::Stdvar,
            T_QUANTILE => Op::Quantile,
            T_TOPK => Op::Topk,
            T_BOTTOMK => Op::Bottomk,
            T_LIMITK => Op::Limitk,
            T_LIMIT_RATIO => Op::LimitRatio,
            T_COUNT_VALUES => Op::CountValues,
            _ => return Err(EvalError::Unsupported(format!("aggregation {}", a.op))),
        })
    }
}

pub(crate) fn eval(ev: &mut Evaluator, a: &AggregateExpr, at: Step) -> Result<Value, EvalError> {
    let op = Op::from_expr(a)?;
    let grouping = Grouping::new(&a.modifier);
    if op == Op::CountValues {
        let label = match &a.param {
            Some(p) => match ev.eval(p, at)? {
                Value::String(s) => s,
                other => return Err(type_error("count_values", other.type_name())),
            },
            None => return Err(type_error("count_values", "none")),
        };
        if !ev.opts.compat.valid_label_name(&label) {
            return Err(EvalError::Query(format!(
                "invalid label name {}",
                go_quote(&label)
            )));
        }
        let input = ev.eval_vector(&a.expr, at)?;
        return Ok(Value::Vector(count_values(&grouping, &label, input)));
    }
    let param = match &a.param {
        Some(p) => Some(ev.eval_scalar(p, at)?),
        None => None,
    };
    let input = ev.eval_vector(&a.expr, at)?;
    let param_value = param.unwrap_or(0.0);
    match op {
        Op::Topk | Op::Bottomk | Op::Limitk | Op::LimitRatio => {
            let param_expr = a.param.as_deref();
            Ok(Value::Vector(select_k(
                ev,
                op,
                &grouping,
                param_value,
                param_expr,
                input,
            )?))
        }
        _ => {
            if op == Op::Quantile && !(0.0..=1.0).contains(&param_value) {
                if let Some(p) = &a.param {
                    ev.notes.warn(
                        format!(
                            "PromQL warning: quantile value should be between 0 and 1, got {}",
                            go_format_g(param_value)
                        ),
                        p,
                    );
                }
            }
            let compat = ev.opts.compat;
            let node = ev
                .group_memo
                .node(a as *const AggregateExpr as usize, input.len());
            Ok(Value::Vector(reduce(
                op,
                &grouping,
                param_value,
                input,
                compat,
                node,
            )))
        }
    }
}

fn type_error(what: &str, got: &str) -> EvalError {
    EvalError::Query(format!("unexpected {got} parameter for {what}"))
}

/// The running state of one group (`groupedAggregation`).
struct Acc {
    labels: Labels,
    value: f64,
    mean: f64,
    kahan: f64,
    count: f64,
    incremental_mean: bool,
    values: Vec<f64>,
    drop_name: bool,
}

/// `sum` … `quantile`: one output sample per group.
///
/// A group of one has a standard deviation of 0 in 2.42 whatever its value; 3.x makes it NaN
/// when that value is NaN or infinite.
fn reduce(
    op: Op,
    grouping: &Grouping,
    q: f64,
    input: Vec<Sample>,
    compat: Compat,
    node: &mut NodeGroups,
) -> Vec<Sample> {
    // This step's accumulator of each of the node's groups, in order of first appearance.
    let mut slot_of: Vec<usize> = vec![usize::MAX; node.len()];
    let mut accs: Vec<Acc> = Vec::new();
    for s in input {
        let f = s.value;
        let group = node.group(grouping, &s.metric);
        if group >= slot_of.len() {
            slot_of.resize(group + 1, usize::MAX);
        }
        let new = slot_of[group] == usize::MAX;
        if new {
            slot_of[group] = accs.len();
        }
        let g = slot_of[group];
        if new {
            accs.push(Acc {
                labels: node.labels(group),
                value: match op {
                    Op::Stddev | Op::Stdvar if !f.is_finite() && compat == Compat::V3 => f64::NAN,
                    Op::Stddev | Op::Stdvar => 0.0,
                    Op::Group => 1.0,
                    _ => f,
                },
                mean: f,
                kahan: 0.0,
                count: 1.0,
                incremental_mean: false,
                values: if op == Op::Quantile { vec![f] } else { vec![] },
                drop_name: s.drop_name,
            });
            continue;
        }
        let acc = &mut accs[g];
        acc.drop_name |= s.drop_name;
        match op {
            Op::Sum => (acc.value, acc.kahan) = kahan_inc(f, acc.value, acc.kahan),
            Op::Avg => {
                acc.count += 1.0;
                if !acc.incremental_mean {
                    let (sum, c) = kahan_inc(f, acc.value, acc.kahan);
                    if !sum.is_infinite() {
                        (acc.value, acc.kahan) = (sum, c);
                        continue;
                    }
                    // The running sum would overflow: continue with an incremental mean.
                    acc.incremental_mean = true;
                    acc.mean = acc.value / (acc.count - 1.0);
                    acc.kahan /= acc.count - 1.0;
                }
                let q = (acc.count - 1.0) / acc.count;
                (acc.mean, acc.kahan) = kahan_inc(f / acc.count, q * acc.mean, q * acc.kahan);
            }
            Op::Max if acc.value < f || acc.value.is_nan() => acc.value = f,
            Op::Min if acc.value > f || acc.value.is_nan() => acc.value = f,
            Op::Count => acc.count += 1.0,
            Op::Stddev | Op::Stdvar => {
                acc.count += 1.0;
                let delta = f - acc.mean;
                acc.mean += delta / acc.count;
                acc.value += delta * (f - acc.mean);
            }
            Op::Quantile => acc.values.push(f),
            _ => {}
        }
    }
    accs.into_iter()
        .map(|mut acc| {
            let value = match op {
                Op::Avg if acc.incremental_mean => acc.mean + acc.kahan,
                Op::Avg => acc.value / acc.count + acc.kahan / acc.count,
                Op::Count => acc.count,
                Op::Stdvar => acc.value / acc.count,
                Op::Stddev => (acc.value / acc.count).sqrt(),
                Op::Quantile => quantile(q, &mut acc.values),
                Op::Sum => acc.value + acc.kahan,
                _ => acc.value,
            };
            Sample {
                metric: acc.labels,
                value,
                drop_name: acc.drop_name,
            }
        })
        .collect()
}

/// `topk`, `bottomk`, `limitk`, `limit_ratio`: up to k input samples per group.
fn select_k(
    ev: &mut Evaluator,
    op: Op,
    grouping: &Grouping,
    param: f64,
    param_expr: Option<&Expr>,
    input: Vec<Sample>,
) -> Result<Vec<Sample>, EvalError> {
    let mut ratio = 0.0;
    let mut k = 0usize;
    if op == Op::LimitRatio {
        if param == 0.0 {
            return Ok(vec![]);
        }
        if param.is_nan() {
            return Err(EvalError::Query("Ratio value is NaN".into()));
        }
        if let Some(p) = param_expr {
            for (bound, over) in [(1.0, param > 1.0), (-1.0, param < -1.0)] {
                if over {
                    ev.notes.warn(
                        format!(
                            "PromQL warning: ratio value should be between -1 and 1, got {}, capping to {}",
                            go_format_g(param),
                            go_format_g(bound)
                        ),
                        p,
                    );
                }
            }
        }
        ratio = param.clamp(-1.0, 1.0);
    } else {
        if param < 1.0 {
            return Ok(vec![]);
        }
        if param.is_nan() {
            return Err(EvalError::Query("Parameter value is NaN".into()));
        }
        if param >= i64::MAX as f64 {
            return Err(EvalError::Query(format!(
                "Scalar value {} overflows int64",
                go_format_g(param)
            )));
        }
        k = (param as i64).min(input.len() as i64) as usize;
    }

    let compat = ev.opts.compat;
    let mut groups = Groups::new();
    let mut heaps: Vec<Vec<Sample>> = Vec::new();
    for s in input {
        let (g, new) = groups.of(grouping, &s.metric);
        if new {
            heaps.push(Vec::new());
        }
        let heap = &mut heaps[g];
        match op {
            Op::Topk | Op::Bottomk => {
                let (less, beats): (fn(f64, f64) -> bool, bool) = match op {
                    Op::Topk => (
                        nan_low_ascending,
                        heap.first().is_some_and(|t| t.value < s.value),
                    ),
                    _ => (
                        nan_low_descending,
                        heap.first().is_some_and(|t| t.value > s.value),
                    ),
                };
                let top_nan = heap.first().is_some_and(|t| t.value.is_nan());
                if heap.len() < k {
                    heap_push(heap, s, less);
                } else if compat == Compat::V2 && (beats || top_nan) {
                    // 2.42 pops the top and pushes the new sample (k = 1: in place), and lets
                    // any sample displace a NaN, a NaN too.
                    if k == 1 {
                        heap[0] = s;
                    } else {
                        heap_pop(heap, less);
                        heap_push(heap, s, less);
                    }
                } else if compat == Compat::V3 && (beats || (top_nan && !s.value.is_nan())) {
                    heap[0] = s;
                    if k > 1 {
                        heap_fix(heap, 0, less);
                    }
                }
            }
            Op::Limitk => {
                if heap.len() < k {
                    heap_push(heap, s, nan_low_ascending);
                }
            }
            _ => {
                if in_ratio(ratio, &s.metric) {
                    heap_push(heap, s, nan_low_ascending);
                }
            }
        }
    }
    let mut out = Vec::new();
    for mut heap in heaps {
        if heap.len() > 1 {
            match op {
                Op::Topk => sort_reverse(&mut heap, nan_low_ascending),
                Op::Bottomk => sort_reverse(&mut heap, nan_low_descending),
                _ => {}
            }
        }
        out.extend(heap);
    }
    Ok(out)
}

/// `HashRatioSampler.AddRatioSample`: a series is in a ratio `r >= 0` when its label hash,
/// scaled to [0, 1], is below `r`; a negative ratio takes the complementary slice.
fn in_ratio(ratio: f64, metric: &Labels) -> bool {
    let offset = labels_hash(metric) as f64 / u64::MAX as f64;
    (ratio >= 0.0 && offset < ratio) || (ratio < 0.0 && offset >= 1.0 + ratio)
}

/// `count_values`: one output per group and distinct value, the value as a label.
fn count_values(grouping: &Grouping, label: &str, input: Vec<Sample>) -> Vec<Sample> {
    // With `by`, the value label is one of the grouping labels.
    let grouping = if grouping.without {
        Grouping {
            without: true,
            labels: grouping.labels.clone(),
        }
    } else {
        let mut labels = grouping.labels.clone();
        labels.push(label.to_string());
        labels.sort();
        labels.dedup();
        Grouping {
            without: false,
            labels,
        }
    };
    let mut groups = Groups::new();
    let mut out: Vec<Sample> = Vec::new();
    for s in input {
        let metric = s.metric.with(label, &go_format_f(s.value));
        let (g, new) = groups.of(&grouping, &metric);
        if new {
            out.push(Sample {
                metric: grouping.labels_of(&metric),
                value: 1.0,
                drop_name: false,
            });
        } else {
            out[g].value += 1.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql_parser::parser::LabelModifier;

    fn input() -> Vec<Sample> {
        [
            ("a", "x", 1.0),
            ("b", "x", 3.0),
            ("a", "y", f64::NAN),
            ("b", "y", 2.0),
        ]
        .iter()
        .map(|&(job, i, value)| Sample {
            metric: Labels::from_pairs(&[("__name__", "m"), ("job", job), ("i", i)]),
            value,
            drop_name: false,
        })
        .collect()
    }

    fn by(labels: &[&str]) -> Grouping {
        Grouping::new(&Some(LabelModifier::include(labels.to_vec())))
    }

    fn text(v: &[Sample]) -> Vec<String> {
        v.iter()
            .map(|s| format!("{} {}", s.metric, s.value))
            .collect()
    }

    #[test]
    fn reductions_by_job() {
        let cases: &[(Op, &[&str])] = &[
            (Op::Sum, &[r#"{job="a"} NaN"#, r#"{job="b"} 5"#]),
            (Op::Count, &[r#"{job="a"} 2"#, r#"{job="b"} 2"#]),
            (Op::Max, &[r#"{job="a"} 1"#, r#"{job="b"} 3"#]),
            (Op::Min, &[r#"{job="a"} 1"#, r#"{job="b"} 2"#]),
            (Op::Avg, &[r#"{job="a"} NaN"#, r#"{job="b"} 2.5"#]),
            (Op::Group, &[r#"{job="a"} 1"#, r#"{job="b"} 1"#]),
            (Op::Stdvar, &[r#"{job="a"} NaN"#, r#"{job="b"} 0.25"#]),
        ];
        for (op, want) in cases {
            assert_eq!(
                text(&reduce(
                    *op,
                    &by(&["job"]),
                    0.0,
                    input(),
                    Compat::V3,
                    &mut NodeGroups::default()
                )),
                *want,
                "{op:?}"
            );
        }
    }

    #[test]
    fn a_group_of_one_deviates_by_nothing_in_2_42() {
        let one = |value: f64| {
            vec![Sample {
                metric: Labels::from_pairs(&[("job", "a")]),
                value,
                drop_name: false,
            }]
        };
        // (value, 2.x, 3.x)
        let cases = [
            (f64::NAN, "0", "NaN"),
            (f64::INFINITY, "0", "NaN"),
            (2.0, "0", "0"),
        ];
        for (value, v2, v3) in cases {
            for (compat, want) in [(Compat::V2, v2), (Compat::V3, v3)] {
                for op in [Op::Stdvar, Op::Stddev] {
                    let got = reduce(
                        op,
                        &by(&[]),
                        0.0,
                        one(value),
                        compat,
                        &mut NodeGroups::default(),
                    )[0]
                    .value;
                    assert_eq!(got.to_string(), want, "{op:?} of {value} ({compat:?})");
                }
            }
        }
    }

    #[test]
    fn without_drops_the_metric_name() {
        let g = Grouping::new(&Some(LabelModifier::exclude(vec!["i"])));
        assert_eq!(
            text(&reduce(
                Op::Count,
                &g,
                0.0,
                input(),
                Compat::V3,
                &mut NodeGroups::default()
            )),
            [r#"{job="a"} 2"#, r#"{job="b"} 2"#]
        );
    }

    #[test]
    fn count_values_by_value() {
        let out = count_values(&by(&[]), "v", input());
        assert_eq!(
            text(&out),
            [
                r#"{v="1"} 1"#,
                r#"{v="3"} 1"#,
                r#"{v="NaN"} 1"#,
                r#"{v="2"} 1"#
            ]
        );
    }
}
