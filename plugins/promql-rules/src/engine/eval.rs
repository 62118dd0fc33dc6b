//! The evaluator: one expression at one evaluation time.
//!
//! Prometheus evaluates every node over all steps of a query at once (a matrix per node); this
//! evaluator walks the tree once per step instead. For a recording rule, which is one instant
//! query, that is the same work without per-step bookkeeping, and a node's output is a plain
//! vector of samples. Range queries and subqueries loop over their steps; the series were all
//! fetched beforehand ([`super::prefetch`]), so a step only binary-searches each series.
//! Prometheus' cross-step checks (duplicate label sets) are applied per step, where they
//! trigger on the same inputs.

use promql_parser::parser::{Expr, MatrixSelector, SubqueryExpr, UnaryExpr, VectorSelector};

use super::labels::Labels;
use super::notes::Notes;
use super::numeric::{FastMap, FastSet};
use super::prefetch::{offset_ms, Prefetched, QueryFrame, Selection, StoredSeries};
use super::value::{is_stale_marker, Point, RangeSeries, Sample, Value};
use super::{aggregate, binary, functions, too_deep, EvalError, Options, MAX_DEPTH};

/// Where an evaluation happens.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    /// Evaluation time, ms.
    pub t: i64,
    /// The evaluation is one step of several (a range query or a subquery); some of
    /// Prometheus' checks and warnings depend on it.
    pub multi: bool,
}

pub(crate) struct Evaluator<'a> {
    pub opts: &'a Options,
    pub frame: QueryFrame,
    /// The range query's step, ms (0 for an instant query).
    pub query_step: i64,
    pub data: Prefetched,
    pub notes: Notes,
    /// What a selector the prefetch did not see selects.
    pub empty: Selection,
    /// How many `eval` calls are under way, to refuse a tree deeper than [`MAX_DEPTH`] (plus
    /// its leaves) rather than overflow the stack.
    pub depth: usize,
    /// Range functions computed for every step at once (`range_steps`).
    pub step_memo: super::range_steps::StepMemo,
    /// Aggregations' groups, remembered across steps (`grouping`).
    pub group_memo: super::grouping::GroupMemo,
    /// What each node produced, for `--query.max-samples` (`samples`).
    pub tally: super::samples::SampleTally,
}

impl Evaluator<'_> {
    pub fn eval(&mut self, expr: &Expr, at: Step) -> Result<Value, EvalError> {
        if self.depth > MAX_DEPTH {
            return Err(EvalError::Query(too_deep(MAX_DEPTH)));
        }
        self.depth += 1;
        let value = self.eval_node(expr, at);
        self.depth -= 1;
        if let Ok(v) = &value {
            self.tally.record(expr, at.t, v);
        }
        value
    }

    fn eval_node(&mut self, expr: &Expr, at: Step) -> Result<Value, EvalError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, at),
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.vector_selector(vs, at.t))),
            Expr::MatrixSelector(ms) => Ok(Value::Matrix(self.matrix_selector(ms, at.t))),
            Expr::Subquery(sq) => Ok(Value::Matrix(self.subquery(sq, at.t)?)),
            Expr::Unary(u) => self.unary(u, at),
            Expr::Binary(b) => self.binary(b, at),
            Expr::Aggregate(a) => aggregate::eval(self, a, at),
            Expr::Call(c) => functions::eval(self, c, at),
            Expr::Extension(_) => Err(EvalError::Unsupported("extension expressions".into())),
        }
    }

    pub fn eval_vector(&mut self, expr: &Expr, at: Step) -> Result<Vec<Sample>, EvalError> {
        match self.eval(expr, at)? {
            Value::Vector(v) => Ok(v),
            other => Err(EvalError::Query(format!(
                "expected instant vector, got {}",
                other.type_name()
            ))),
        }
    }

    pub fn eval_scalar(&mut self, expr: &Expr, at: Step) -> Result<f64, EvalError> {
        match self.eval(expr, at)? {
            Value::Scalar(f) => Ok(f),
            other => Err(EvalError::Query(format!(
                "expected scalar, got {}",
                other.type_name()
            ))),
        }
    }

    /// The series a selector selected.
    pub fn series_of(&self, vs: &VectorSelector) -> &Selection {
        self.data
            .get(&(vs as *const VectorSelector))
            .map_or(&self.empty, |s| s)
    }

    /// The time a selector or subquery reads at: its `@` time or the step's, minus its offset.
    pub fn reference_time(&self, at: &Option<promql_parser::parser::AtModifier>, t: i64) -> i64 {
        at.as_ref().map_or(t, |a| self.frame.at(a))
    }

    fn vector_selector(&self, vs: &VectorSelector, t: i64) -> Vec<Sample> {
        let reference = self.reference_time(&vs.at, t) - offset_ms(&vs.offset);
        let lookback = self.frame.lookback_ms;
        self.series_of(vs)
            .iter()
            .filter_map(|s| {
                latest(s, reference, lookback).map(|(_, value)| Sample {
                    metric: s.metric.clone(),
                    value,
                    drop_name: false,
                })
            })
            .collect()
    }

    /// A range selector on its own (the result of an instant query such as `x[5m]`).
    fn matrix_selector(&self, ms: &MatrixSelector, t: i64) -> Vec<RangeSeries> {
        let end = self.reference_time(&ms.vs.at, t) - offset_ms(&ms.vs.offset);
        let start = end - ms.range.as_millis() as i64 - self.frame.compat.left_closed_ms();
        let mut out = Vec::new();
        for s in self.series_of(&ms.vs).iter() {
            let mut points = Vec::new();
            window(s, start, end, &mut points);
            if !points.is_empty() {
                out.push(RangeSeries {
                    metric: s.metric.clone(),
                    points,
                    drop_name: false,
                });
            }
        }
        out
    }

    /// Evaluates the inner expression at the subquery's steps: multiples of its step within
    /// `(end - range, end]` (`[end - range, end]` in 2.x mode).
    pub fn subquery(&mut self, sq: &SubqueryExpr, t: i64) -> Result<Vec<RangeSeries>, EvalError> {
        let end = self.reference_time(&sq.at, t) - offset_ms(&sq.offset);
        let range = sq.range.as_millis() as i64 + self.frame.compat.left_closed_ms();
        let interval = match sq.step {
            Some(step) if !step.is_zero() => step.as_millis() as i64,
            _ => self.opts.no_step_subquery_interval_ms,
        };
        // Integer division truncates toward zero, as in Go.
        let mut start = interval * ((end - range) / interval);
        if start <= end - range {
            start += interval;
        }
        let multi = start != end;
        let mut index: FastMap<Labels, usize> = FastMap::default();
        let mut out: Vec<RangeSeries> = Vec::new();
        let mut ts = start;
        while ts <= end {
            let step = Step { t: ts, multi };
            for s in self.eval_vector(&sq.expr, step)? {
                let i = *index.entry(s.metric.clone()).or_insert_with(|| {
                    out.push(RangeSeries {
                        metric: s.metric.clone(),
                        points: Vec::new(),
                        drop_name: s.drop_name,
                    });
                    out.len() - 1
                });
                let points = &mut out[i].points;
                if points.last().is_some_and(|p| p.t == ts) {
                    return Err(duplicate_labelset());
                }
                points.push(Point { t: ts, v: s.value });
            }
            ts += interval;
        }
        Ok(out)
    }

    fn unary(&mut self, u: &UnaryExpr, at: Step) -> Result<Value, EvalError> {
        match self.eval(&u.expr, at)? {
            Value::Scalar(f) => Ok(Value::Scalar(-f)),
            Value::Vector(mut v) => {
                let delayed = self.opts.delayed_name_removal;
                for s in &mut v {
                    s.value = -s.value;
                    if !delayed {
                        s.metric = s.metric.without_metric_name();
                    }
                    s.drop_name = true;
                }
                if !delayed {
                    check_unique(&v)?;
                }
                Ok(Value::Vector(v))
            }
            other => Err(EvalError::Query(format!(
                "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                other.type_name()
            ))),
        }
    }

    fn binary(
        &mut self,
        b: &promql_parser::parser::BinaryExpr,
        at: Step,
    ) -> Result<Value, EvalError> {
        use binary::BinOp;
        let op = BinOp::from_token(b.op)?;
        let return_bool = b.return_bool();
        let delayed = self.opts.delayed_name_removal;
        let lhs = self.eval(&b.lhs, at)?;
        let rhs = self.eval(&b.rhs, at)?;
        let out = match (lhs, rhs) {
            (Value::Scalar(l), Value::Scalar(r)) => {
                return Ok(Value::Scalar(binary::scalar_binop(op, l, r)))
            }
            (Value::Vector(l), Value::Scalar(r)) => {
                binary::vector_scalar(op, l, r, false, return_bool, delayed, self.opts.compat)
            }
            (Value::Scalar(l), Value::Vector(r)) => {
                binary::vector_scalar(op, r, l, true, return_bool, delayed, self.opts.compat)
            }
            (Value::Vector(l), Value::Vector(r)) => {
                let matching = binary::Matching::new(b.modifier.as_ref(), op.is_set());
                if op.is_set() {
                    binary::set_op(op, l, r, &matching)
                } else {
                    binary::vector_vector(op, l, r, &matching, return_bool, delayed, self.opts.compat)?
                }
            }
            (l, r) => {
                return Err(EvalError::Query(format!(
                    "binary expression must contain only scalar and instant vector types, got {} and {}",
                    l.type_name(),
                    r.type_name()
                )))
            }
        };
        self.check_step_result(&out, at)?;
        Ok(Value::Vector(out))
    }

    /// The duplicate check Prometheus' `rangeEval` applies to each step's output: always when
    /// assembling several steps, and for a single step unless names are dropped late.
    pub fn check_step_result(&self, v: &[Sample], at: Step) -> Result<(), EvalError> {
        if at.multi || !self.opts.delayed_name_removal {
            check_unique(v)?;
        }
        Ok(())
    }
}

/// The newest sample at or before `reference` and after `reference - lookback`, unless it is
/// a stale marker.
pub(crate) fn latest(s: StoredSeries, reference: i64, lookback: i64) -> Option<(i64, f64)> {
    let i = s.ts.partition_point(|&t| t <= reference);
    if i == 0 {
        return None;
    }
    let (t, v) = (s.ts[i - 1], s.vals[i - 1]);
    if t <= reference - lookback || is_stale_marker(v) {
        return None;
    }
    Some((t, v))
}

/// Appends the samples in `(start, end]` to `out`, stale markers left out.
pub(crate) fn window(s: StoredSeries, start: i64, end: i64, out: &mut Vec<Point>) {
    let lo = s.ts.partition_point(|&t| t <= start);
    let hi = s.ts.partition_point(|&t| t <= end);
    if lo >= hi {
        return;
    }
    out.reserve(hi - lo);
    for (&t, &v) in s.ts[lo..hi].iter().zip(&s.vals[lo..hi]) {
        if !is_stale_marker(v) {
            out.push(Point { t, v });
        }
    }
}

pub(crate) fn duplicate_labelset() -> EvalError {
    EvalError::Query("vector cannot contain metrics with the same labelset".into())
}

/// Fails when two samples have the same label set.
pub(crate) fn check_unique(v: &[Sample]) -> Result<(), EvalError> {
    if v.len() < 2 {
        return Ok(());
    }
    let mut seen = FastSet::with_capacity_and_hasher(v.len(), Default::default());
    for s in v {
        if !seen.insert(&s.metric) {
            return Err(duplicate_labelset());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series<'a>(metric: &'a Labels, ts: &'a [i64], vals: &'a [f64]) -> StoredSeries<'a> {
        StoredSeries { metric, ts, vals }
    }

    #[test]
    fn lookback_is_open_on_the_left_and_stale_markers_end_series() {
        let stale = f64::from_bits(super::super::value::STALE_NAN_BITS);
        let m = Labels::empty();
        let vals = [1.0, 2.0, stale];
        let s = series(&m, &[0, 10_000, 20_000], &vals);
        let cases = [
            (-1, None),
            (0, Some(1.0)),
            (9_999, Some(1.0)),
            (10_000, Some(2.0)),
            (19_999, Some(2.0)),
            (20_000, None),
        ];
        for (t, want) in cases {
            assert_eq!(latest(s, t, 300_000).map(|(_, v)| v), want, "t={t}");
        }
        let s = series(&m, &[0], &[1.0]);
        assert_eq!(latest(s, 299_999, 300_000).map(|(_, v)| v), Some(1.0));
        assert_eq!(latest(s, 300_000, 300_000), None);
    }

    #[test]
    fn windows_are_open_on_the_left() {
        let stale = f64::from_bits(super::super::value::STALE_NAN_BITS);
        let m = Labels::empty();
        let vals = [1.0, 2.0, stale, 4.0];
        let s = series(&m, &[0, 10, 20, 30], &vals);
        let cases: &[(i64, i64, &[i64])] = &[
            (0, 30, &[10, 30]),
            (-1, 10, &[0, 10]),
            (30, 40, &[]),
            (10, 10, &[]),
        ];
        for &(start, end, want) in cases {
            let mut out = Vec::new();
            window(s, start, end, &mut out);
            let got: Vec<i64> = out.iter().map(|p| p.t).collect();
            assert_eq!(got, want, "({start}, {end}]");
        }
    }
}
