//! A PromQL evaluator with Prometheus' semantics, for float samples.
//!
//! [`Engine::instant`] evaluates a parsed expression at one time, as a recording rule or an
//! instant query does; [`Engine::range`] evaluates it at every step of a range. Series come from
//! a [`Source`], one `select` per selector for the whole query ([`prefetch`]). Results, error
//! messages and warnings match Prometheus' own (the engine of the release whose conformance
//! tests ship in `shared/conformance/promql`): lookback and staleness, extrapolation in
//! `rate`, Kahan summation, NaN ordering, when the metric name is dropped, which label sets
//! collide.
//!
//! Queries evaluated one after the other against the same data (the rules of one evaluation)
//! can share a [`SelectCache`] through [`Engine::instant_cached`], so that a select repeated by
//! several rules is asked and converted once.
//!
//! Nothing here knows about WebAssembly or WIT; the plugin's glue converts at its boundary.
//! Native histograms are out of scope: a source only yields floats.

mod aggregate;
mod binary;
mod eval;
mod format;
mod functions;
mod grouping;
mod histogram;
mod labels;
mod notes;
mod numeric;
mod order;
mod prefetch;
mod range_functions;
mod range_steps;
mod samples;
mod source;
#[cfg(test)]
mod tests;
mod time;
mod value;
mod windows;

use promql_parser::parser::value::ValueType;
use promql_parser::parser::Expr;
use regex::Regex;

pub use labels::{Label, Labels, METRIC_NAME};
pub use numeric::almost_equal;
#[cfg(test)]
pub(crate) use source::select_stored;
pub use source::{CompiledMatchers, MatchOp, Matcher, Series, Source};
pub use time::parse_duration_ms;
pub use value::{
    is_stale_marker, Annotation, Point, RangeSeries, Sample, Severity, Value, STALE_NAN_BITS,
};

use eval::{duplicate_labelset, Evaluator, Step};
use notes::Notes;
pub(crate) use numeric::{FastMap, FastSet};
use prefetch::{prefetch, QueryFrame};
pub use prefetch::{selector_matchers, SelectCache};

/// How deep an expression tree may be, leaves aside: the evaluator recurses once per level,
/// in a WebAssembly stack of well under a MiB. `crate::parse` refuses text nested beyond
/// two thirds of this up front, which keeps every tree it builds within it.
pub const MAX_DEPTH: usize = 150;

pub(crate) fn too_deep(limit: usize) -> String {
    format!("query is nested too deeply (over {limit} levels)")
}

/// Why an evaluation failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The query itself fails, with Prometheus' message.
    #[error("{0}")]
    Query(String),
    /// The data source failed.
    #[error("expanding series: {0}")]
    Source(String),
    /// The query uses something this engine does not implement.
    #[error("not supported by this engine: {0}")]
    Unsupported(String),
}

/// Which Prometheus release's PromQL to follow where 2.x and 3.x differ (the 3.0 migration
/// guide's PromQL section and the UTF-8 names of its "Miscellaneous"):
///
/// - range selectors, subqueries and the lookback window include a sample exactly at their
///   left edge in 2.x (`[t - range, t]`), not in 3.x (`(t - range, t]`);
/// - a regex matcher's or `label_replace`'s `.` matches a newline in 3.x only;
/// - `holt_winters` is 2.x's name for 3.x's experimental `double_exponential_smoothing`;
/// - quoted (UTF-8) metric and label names (`{"a.b"}`, `by ("a.b")`) and label names outside
///   `[a-zA-Z_][a-zA-Z0-9_]*` (in `label_replace`, `label_join`, `count_values`, rule labels)
///   are 3.x's; 2.x refuses them;
/// - 2.x mode is 2.42's function set, without the functions and aggregations added since
///   (`limitk`, `sort_by_label`, `mad_over_time`, …);
/// - 2.42 had no PromQL warnings or infos (annotations came in 2.46), so 2.x mode returns
///   none;
/// - `rate`/`increase`/`delta` extrapolation: 2.42 limits the extrapolation to a counter's
///   zero point before deciding whether to extrapolate to the window's start at all; 3.x
///   decides first (Prometheus #13725), which changes results when the zero point lies
///   between half a sample interval and 1.1 of one before the first sample.
///
/// Not followed, with why: Kahan summation in `sum`, `avg`, `avg_over_time` (2.50–3.0) only
/// moves the last digits, and one summation keeps the code single; durations and numbers
/// being interchangeable (`x[300]`, `time() - 1h`, accepted since 3.0) and numbers with `_`
/// (accepted since 2.53) are decided by promql-parser's lexer, which accepts the first and
/// refuses the second in both modes; `le`/`quantile` label normalisation is done at ingestion
/// (the scrape side), not by the query language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compat {
    /// Prometheus 2.42.
    V2,
    /// Prometheus 3 (the release of the conformance tests in `shared/conformance/promql`).
    #[default]
    V3,
}

impl Compat {
    /// How much further back than `t - range` (or `t - lookback`) a window reaches, in ms:
    /// timestamps are whole milliseconds, so the closed `[t - range, t]` is `(t - range - 1, t]`.
    pub(crate) fn left_closed_ms(self) -> i64 {
        match self {
            Compat::V2 => 1,
            Compat::V3 => 0,
        }
    }

    /// Whether `name` may be a label name: any non-empty UTF-8 in 3.x, the legacy character
    /// set in 2.x (`model.LabelName.IsValid`).
    pub fn valid_label_name(self, name: &str) -> bool {
        match self {
            Compat::V3 => !name.is_empty(),
            Compat::V2 => {
                let mut chars = name.chars();
                chars
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            }
        }
    }

    /// `label_replace`'s regex as the release compiles it, `^(?:` (2.x) or `^(?s:` (3.x) +
    /// `pattern` + `)$` in Go's syntax; `None` where Go refuses it (Prometheus' message names
    /// no reason). Translated by promregex but compiled here: expanding the replacement needs
    /// the regex crate's captures, which promregex's `Pattern` keeps to itself.
    pub(crate) fn label_replace_regex(self, pattern: &str) -> Option<Regex> {
        let anchored = match self {
            Compat::V2 => format!("^(?:{pattern})$"),
            Compat::V3 => format!("^(?s:{pattern})$"),
        };
        Regex::new(&promregex::translate(&anchored).ok()?).ok()
    }

    /// A selector's regex as the store (which compiles as Prometheus 3 does) must read it to
    /// match as the release does: 2.x's `.` does not match a newline. Still Go's syntax.
    pub(crate) fn store_regex(self, pattern: &str) -> String {
        match self {
            Compat::V2 => format!("(?-s:{pattern})"),
            Compat::V3 => pattern.to_string(),
        }
    }
}

/// Evaluation settings; the defaults are Prometheus'.
#[derive(Clone, Debug)]
pub struct Options {
    /// How far back an instant selector looks for a sample (`--query.lookback-delta`).
    pub lookback_delta_ms: i64,
    /// Keep `__name__` until the end of evaluation instead of dropping it where a function or
    /// operator changes the metric's meaning (Prometheus' `promql-delayed-name-removal`
    /// feature flag, off by default, on in its conformance tests).
    pub delayed_name_removal: bool,
    /// The step of a subquery written without one (`expr[1h:]`): Prometheus uses the global
    /// evaluation interval.
    pub no_step_subquery_interval_ms: i64,
    /// The release whose semantics to follow where 2.x and 3.x differ.
    pub compat: Compat,
    /// Allow Prometheus 3's experimental functions and aggregations (its
    /// `promql-experimental-functions` feature flag, off by default, on in its conformance
    /// tests); 2.x mode has none.
    pub experimental_functions: bool,
    /// The most samples a query may hold in memory at once, counted as Prometheus counts
    /// them (`--query.max-samples`; [`samples`]).
    pub max_samples: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            lookback_delta_ms: 5 * 60 * 1000,
            delayed_name_removal: false,
            no_step_subquery_interval_ms: 60 * 1000,
            compat: Compat::V3,
            experimental_functions: false,
            max_samples: 50_000_000,
        }
    }
}

/// A query's value and the warnings and infos raised while computing it.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub value: Value,
    pub annotations: Vec<Annotation>,
}

#[derive(Clone, Debug, Default)]
pub struct Engine {
    opts: Options,
}

impl Engine {
    pub fn new(opts: Options) -> Engine {
        Engine { opts }
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Parses `text` in this engine's dialect ([`crate::parse::parse`]).
    pub fn parse(&self, text: &str) -> Result<Expr, String> {
        crate::parse::parse(text, &self.opts)
    }

    /// What the evaluation raised, as the release reports it: 2.42 had no annotations.
    fn annotations(&self, notes: Notes) -> Vec<Annotation> {
        match self.opts.compat {
            Compat::V2 => Vec::new(),
            Compat::V3 => notes.finish(),
        }
    }

    /// Evaluates `expr` at `t_ms`. Cost: one `select` per selector, then O(samples read) for
    /// selectors and range functions and O(samples) hash lookups for each aggregation and
    /// vector matching.
    pub fn instant(
        &self,
        expr: &Expr,
        t_ms: i64,
        source: &mut dyn Source,
    ) -> Result<Evaluation, EvalError> {
        self.instant_cached(expr, t_ms, source, &mut SelectCache::new())
    }

    /// [`Engine::instant`], answering selects from `cache` where an earlier query asked the
    /// same, and adding its own answers to it.
    pub fn instant_cached(
        &self,
        expr: &Expr,
        t_ms: i64,
        source: &mut dyn Source,
        cache: &mut SelectCache,
    ) -> Result<Evaluation, EvalError> {
        let mut ev = self.evaluator(expr, t_ms, t_ms, 0, source, cache)?;
        let value = ev.eval(
            expr,
            Step {
                t: t_ms,
                multi: false,
            },
        )?;
        ev.tally.check(expr, true)?;
        let value = match value {
            Value::Vector(v) if self.opts.delayed_name_removal => {
                let v: Vec<Sample> = v.into_iter().map(drop_flagged_name).collect();
                eval::check_unique(&v)?;
                Value::Vector(v)
            }
            Value::Matrix(m) => Value::Matrix(self.finish_matrix(m)?),
            other => other,
        };
        Ok(Evaluation {
            value,
            annotations: self.annotations(ev.notes),
        })
    }

    /// Evaluates `expr` at `start_ms`, `start_ms + step_ms`, … up to `end_ms`; the result is a
    /// matrix sorted by labels.
    pub fn range(
        &self,
        expr: &Expr,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        source: &mut dyn Source,
    ) -> Result<Evaluation, EvalError> {
        if let Some(refusal) = range_type_error(expr) {
            return Err(EvalError::Query(refusal));
        }
        if step_ms <= 0 {
            return Err(EvalError::Query(
                "zero or negative query resolution step widths are not accepted".into(),
            ));
        }
        let mut cache = SelectCache::new();
        let mut ev = self.evaluator(expr, start_ms, end_ms, step_ms, source, &mut cache)?;
        let multi = start_ms != end_ms;
        let mut index: FastMap<Labels, usize> = FastMap::default();
        let mut series: Vec<RangeSeries> = Vec::new();
        let mut t = start_ms;
        while t <= end_ms {
            let value = ev.eval(expr, Step { t, multi })?;
            ev.tally.check(expr, false)?;
            let samples = match value {
                Value::Scalar(v) => vec![Sample {
                    metric: Labels::empty(),
                    value: v,
                    drop_name: false,
                }],
                Value::Vector(v) => v,
                other => {
                    return Err(EvalError::Query(format!(
                        "unexpected {} in range query",
                        other.type_name()
                    )))
                }
            };
            for s in samples {
                let i = *index.entry(s.metric.clone()).or_insert_with(|| {
                    series.push(RangeSeries {
                        metric: s.metric.clone(),
                        points: Vec::new(),
                        drop_name: s.drop_name,
                    });
                    series.len() - 1
                });
                let points = &mut series[i].points;
                if points.last().is_some_and(|p| p.t == t) {
                    return Err(duplicate_labelset());
                }
                points.push(Point { t, v: s.value });
            }
            t += step_ms;
        }
        ev.tally.check(expr, true)?;
        Ok(Evaluation {
            value: Value::Matrix(self.finish_matrix(series)?),
            annotations: self.annotations(ev.notes),
        })
    }

    fn evaluator<'a>(
        &'a self,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        source: &mut dyn Source,
        cache: &mut SelectCache,
    ) -> Result<Evaluator<'a>, EvalError> {
        let frame = QueryFrame {
            start,
            end,
            lookback_ms: self.opts.lookback_delta_ms + self.opts.compat.left_closed_ms(),
            compat: self.opts.compat,
        };
        Ok(Evaluator {
            opts: &self.opts,
            frame,
            query_step: step,
            data: prefetch(expr, frame, source, cache)?,
            notes: Notes::default(),
            empty: Default::default(),
            depth: 0,
            step_memo: Default::default(),
            group_memo: Default::default(),
            tally: samples::SampleTally::new(self.opts.max_samples),
        })
    }

    /// Drops late-dropped names, merges series that now share labels (an error where they
    /// overlap in time) and sorts by labels (`cleanupMetricLabels`, `sortMatrixResult`).
    fn finish_matrix(&self, mut series: Vec<RangeSeries>) -> Result<Vec<RangeSeries>, EvalError> {
        if self.opts.delayed_name_removal {
            for s in &mut series {
                if s.drop_name {
                    s.metric = s.metric.without_metric_name();
                }
            }
            let mut merged: Vec<RangeSeries> = Vec::with_capacity(series.len());
            let mut index: FastMap<Labels, usize> = FastMap::default();
            for s in series {
                match index.get(&s.metric) {
                    Some(&i) => {
                        let target = &mut merged[i].points;
                        target.extend(s.points);
                        target.sort_by_key(|p| p.t);
                        if target.windows(2).any(|w| w[0].t == w[1].t) {
                            return Err(duplicate_labelset());
                        }
                    }
                    None => {
                        index.insert(s.metric.clone(), merged.len());
                        merged.push(s);
                    }
                }
            }
            series = merged;
        }
        series.sort_by(|a, b| a.metric.cmp(&b.metric));
        Ok(series)
    }
}

/// The vector selectors of `expr` (those inside range selectors too) in PromQL text, in the
/// order they appear, as Prometheus' `parser.ExtractSelectors` finds them.
pub fn selectors(expr: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        let mut children: Vec<&Expr> = Vec::new();
        match e {
            Expr::VectorSelector(vs) => out.push(vs.to_string()),
            Expr::MatrixSelector(ms) => out.push(ms.vs.to_string()),
            Expr::Subquery(sq) => children.push(&sq.expr),
            Expr::Aggregate(a) => {
                children.extend(a.param.as_deref());
                children.push(&a.expr);
            }
            Expr::Unary(u) => children.push(&u.expr),
            Expr::Binary(b) => children.extend([&*b.lhs, &*b.rhs]),
            Expr::Paren(p) => children.push(&p.expr),
            Expr::Call(c) => children.extend(c.args.args.iter().map(|a| &**a)),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
        // Pushed in reverse, so the leftmost child is looked at first.
        stack.extend(children.into_iter().rev());
    }
    out
}

/// Why `expr` cannot be a range query, in Prometheus' words: only a scalar or an instant
/// vector can.
pub fn range_type_error(expr: &Expr) -> Option<String> {
    let kind = match expr.value_type() {
        ValueType::Vector | ValueType::Scalar => return None,
        ValueType::Matrix => "range vector",
        ValueType::String => "string",
    };
    Some(format!(
        "invalid expression type \"{kind}\" for range query, must be Scalar or instant Vector"
    ))
}

fn drop_flagged_name(mut s: Sample) -> Sample {
    if s.drop_name {
        s.metric = s.metric.without_metric_name();
    }
    s
}
