//! A range function over a stored range vector (`rate(x[5m])`, `avg_over_time(x[1h])`) in a
//! range query, computed for blocks of steps at once, series by series.
//!
//! The evaluator walks the expression once per step; done so, a range function would look up
//! every series' window at every step, and a selection larger than the CPU caches would stream
//! through memory once per step (a dashboard panel of 6k series at 241 steps spent two thirds
//! of its time in those lookups). Series by series, each series' samples are read once while
//! they are in cache and its windows slide forward with two cursors, as Prometheus' own
//! `rangeEval` reads a matrix selector. The results wait, per step, for their step; each is
//! the exact value the per-step path computes (the same reduction on the same window).
//!
//! Only the plain shape is taken: a matrix selector argument, constant other arguments, a
//! step on the query's grid. Anything else (a subquery argument, `quantile_over_time` of a
//! computed φ, a step inside a subquery, a second visit of a step) goes the per-step way.

use std::rc::Rc;

use promql_parser::parser::{Call, Expr, MatrixSelector};

use super::eval::{check_unique, Evaluator, Step};
use super::labels::{Labels, METRIC_NAME};
use super::numeric::{FastMap, FastSet};
use super::prefetch::{offset_ms, Selection};
use super::range_functions::{has_counter_suffix, reduce};
use super::samples::SeriesReads;
use super::value::{is_stale_marker, Sample, Value};
use super::windows::{Samples, Scratch, Window};
use super::EvalError;

/// Per call node, its results for every step of the query.
#[derive(Default)]
pub(crate) struct StepMemo(FastMap<*const Call, Precomputed>);

/// Steps computed together: enough to read each series' samples once while they are in cache
/// for many steps, few enough that the results waiting for their step stay small (16 bytes a
/// series a step).
const STEPS_AT_ONCE: usize = 32;

/// One step's results: each a series of the selection (by position) and its value.
type StepResults = Vec<(u32, f64)>;

struct Precomputed {
    /// Per step, the results not yet taken (computed a block of steps at a time).
    steps: Vec<Option<StepResults>>,
    /// Steps before this one have been computed.
    computed_until: usize,
    /// Whether the series stay apart once their names are dropped (they do unless a selector
    /// picked several metrics with otherwise equal labels): if not, each step is checked.
    names_unique: bool,
}

/// The step's results of `call`, when its shape is taken (see the module documentation).
pub(super) fn precomputed(
    ev: &mut Evaluator,
    call: &Call,
    args: &[&Expr],
    matrix_arg: usize,
    params: &[f64],
    at: Step,
) -> Result<Option<Value>, EvalError> {
    let name = call.func.name;
    let Expr::MatrixSelector(ms) = args[matrix_arg] else {
        return Ok(None);
    };
    let (start, end, step) = (ev.frame.start, ev.frame.end, ev.query_step);
    let on_grid =
        step > 0 && end > start && (start..=end).contains(&at.t) && (at.t - start) % step == 0;
    let constant = args
        .iter()
        .enumerate()
        .all(|(i, a)| i == matrix_arg || matches!(a, Expr::NumberLiteral(_)));
    if !on_grid || !constant || name == "absent_over_time" {
        return Ok(None);
    }
    let key = call as *const Call;
    let k = ((at.t - start) / step) as usize;
    if !ev.step_memo.0.contains_key(&key) {
        let names_unique = names_unique(&selection(ev, ms));
        let steps = (0..=((end - start) / step)).map(|_| None).collect();
        ev.step_memo.0.insert(
            key,
            Precomputed {
                steps,
                computed_until: 0,
                names_unique,
            },
        );
    }
    let due = ev
        .step_memo
        .0
        .get(&key)
        .is_some_and(|m| k >= m.computed_until);
    if due {
        // A block of steps from this one: each series' samples are read once for all of them,
        // and what waits for its step stays a block's worth, not the whole query's.
        let until = (k + STEPS_AT_ONCE).min(((end - start) / step + 1) as usize);
        let block = precompute(ev, call, ms, args[matrix_arg], params, k..until)?;
        if let Some(memo) = ev.step_memo.0.get_mut(&key) {
            for (slot, results) in memo.steps[k..until].iter_mut().zip(block) {
                *slot = Some(results);
            }
            memo.computed_until = until;
        }
    }
    let Some(memo) = ev.step_memo.0.get_mut(&key) else {
        return Ok(None);
    };
    let names_unique = memo.names_unique;
    let Some(found) = memo.steps.get_mut(k).and_then(Option::take) else {
        return Ok(None);
    };
    let selection = selection(ev, ms);
    let drop = name != "last_over_time" && name != "first_over_time";
    let delayed = ev.opts.delayed_name_removal;
    let out: Vec<Sample> = found
        .into_iter()
        .map(|(i, value)| Sample {
            metric: if drop && !delayed {
                selection.nameless(i as usize)
            } else {
                selection.get(i as usize).metric.clone()
            },
            value,
            drop_name: drop,
        })
        .collect();
    if drop && !delayed && !names_unique {
        check_unique(&out)?;
    }
    Ok(Some(Value::Vector(out)))
}

fn selection(ev: &Evaluator, ms: &MatrixSelector) -> Rc<Selection> {
    ev.data
        .get(&(&ms.vs as *const _))
        .cloned()
        .unwrap_or_default()
}

/// Whether no two series of `selection` have the same labels but for the metric name.
fn names_unique(selection: &Selection) -> bool {
    let mut seen: FastSet<Labels> = FastSet::default();
    (0..selection.len()).all(|i| seen.insert(selection.nameless(i)))
}

/// The results of `name` over the selection of `ms` at the query's steps `steps`, series by
/// series, and the annotations the per-step path raises (the union over the steps: the same
/// messages).
fn precompute(
    ev: &mut Evaluator,
    call: &Call,
    ms: &MatrixSelector,
    arg: &Expr,
    params: &[f64],
    steps: std::ops::Range<usize>,
) -> Result<Vec<StepResults>, EvalError> {
    let name = call.func.name;
    let (start, step) = (ev.frame.start, ev.query_step);
    let windows: Vec<Window> = steps
        .map(|k| {
            let k = k as i64;
            let t = start + k * step;
            let to = ev.reference_time(&ms.vs.at, t) - offset_ms(&ms.vs.offset);
            Window::new(t, to - ms.range.as_millis() as i64, to, ev.frame.compat)
        })
        .collect();
    let monotone = windows
        .windows(2)
        .all(|w| w[0].from <= w[1].from && w[0].end <= w[1].end);
    let selection = selection(ev, ms);
    let mut steps: Vec<StepResults> = windows.iter().map(|_| Vec::new()).collect();
    let mut scratch = Scratch::default();
    let mut any_points = false;
    let mut reads = vec![SeriesReads::default(); selection.len()];
    let mut non_counters: Vec<String> = Vec::new();
    for (i, read) in reads.iter_mut().enumerate() {
        let series = selection.get(i);
        let clean = monotone && !series.vals.iter().any(|v| is_stale_marker(*v));
        let (mut lo, mut hi) = (0, 0);
        let mut counted = false;
        for (k, win) in windows.iter().enumerate() {
            let samples = if clean {
                while lo < series.ts.len() && series.ts[lo] <= win.from {
                    lo += 1;
                }
                hi = hi.max(lo);
                while hi < series.ts.len() && series.ts[hi] <= win.end {
                    hi += 1;
                }
                Samples {
                    ts: &series.ts[lo..hi],
                    vs: &series.vals[lo..hi],
                }
            } else {
                scratch.stored(series, win.from, win.end)
            };
            let window = samples.ts.len();
            if window == 0 {
                read.read(0, false);
                continue;
            }
            any_points = true;
            let value = reduce(name, samples, params, *win)?;
            read.read(window, value.is_some());
            let Some(value) = value else {
                continue;
            };
            steps[k].push((i as u32, value));
            if !counted && (name == "rate" || name == "increase") {
                counted = true;
                let metric_name = series.metric.value(METRIC_NAME);
                if !metric_name.is_empty()
                    && !has_counter_suffix(metric_name)
                    && !non_counters.iter().any(|n| n == metric_name)
                {
                    non_counters.push(metric_name.to_string());
                }
            }
        }
    }
    if let Some(last) = windows.last() {
        ev.tally.range_reads(call, last.t, &reads);
    }
    super::range_functions::annotate(ev, name, arg, non_counters, any_points, params);
    Ok(steps)
}
