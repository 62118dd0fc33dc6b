//! Fetches every selector's series once, before evaluation starts.
//!
//! As in Prometheus' `populateSeries`, the time range each selector can ever look at is known
//! from the query's own range, the selector's offset and `@`, its range (for a range
//! selector) or the lookback window (for an instant one), and the ranges and offsets of the
//! subqueries around it. One `select` per selector then serves every evaluation step, which is
//! what makes range queries and subqueries affordable through a component boundary.
//!
//! A [`SelectCache`] shared by several queries (the rules of one evaluation) answers repeated
//! identical selects without asking the source again or converting its answer again.

use std::collections::HashMap;
use std::rc::Rc;

use promql_parser::label::MatchOp as ParsedOp;
use promql_parser::parser::{AtModifier, Expr, Offset, SubqueryExpr, VectorSelector};

use super::labels::{Interner, Labels, METRIC_NAME};
use super::source::{CompiledMatchers, MatchOp, Matcher, Series, Source};
use super::{too_deep, Compat, EvalError, MAX_DEPTH};

/// The series one selector selected, in label order, their samples in two columns shared by
/// all of them: a step walks the series one after the other, and contiguous data keeps that
/// walk from stalling on a cache miss per series.
#[derive(Default)]
pub(crate) struct Selection {
    metrics: Vec<Labels>,
    /// `metrics` without their metric name, made at first use: a range function drops the
    /// name of each series at every step of a range query, and would build the same label set
    /// again each time (Prometheus' evaluator keeps a like cache, `EvalNodeHelper.Dmn`).
    nameless: std::cell::OnceCell<Vec<Labels>>,
    /// Series `i` owns samples `bounds[i]..bounds[i + 1]`.
    bounds: Vec<usize>,
    ts: Vec<i64>,
    vals: Vec<f64>,
}

/// One selected series: samples oldest first, stale markers included.
#[derive(Clone, Copy)]
pub(crate) struct StoredSeries<'a> {
    pub metric: &'a Labels,
    pub ts: &'a [i64],
    pub vals: &'a [f64],
}

impl Selection {
    /// Builds a selection from a source's answer, sorting it by labels if needed (Prometheus'
    /// storage answers in label order, and result order follows it).
    fn new(selected: Vec<Series>, interner: &mut Interner) -> Selection {
        let samples: usize = selected.iter().map(|s| s.timestamps_ms.len()).sum();
        let mut converted: Vec<(Labels, Series)> = selected
            .into_iter()
            .map(|mut s| (interner.labels(std::mem::take(&mut s.labels)), s))
            .collect();
        if !converted.is_sorted_by(|a, b| a.0 <= b.0) {
            converted.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let mut out = Selection {
            metrics: Vec::with_capacity(converted.len()),
            bounds: Vec::with_capacity(converted.len() + 1),
            ts: Vec::with_capacity(samples),
            vals: Vec::with_capacity(samples),
            nameless: Default::default(),
        };
        out.bounds.push(0);
        for (metric, s) in converted {
            // A malformed answer (columns of different lengths) keeps only the common part.
            let n = s.timestamps_ms.len().min(s.values.len());
            out.ts.extend_from_slice(&s.timestamps_ms[..n]);
            out.vals.extend_from_slice(&s.values[..n]);
            out.metrics.push(metric);
            out.bounds.push(out.ts.len());
        }
        out
    }

    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    pub fn get(&self, i: usize) -> StoredSeries<'_> {
        let span = self.bounds[i]..self.bounds[i + 1];
        StoredSeries {
            metric: &self.metrics[i],
            ts: &self.ts[span.clone()],
            vals: &self.vals[span],
        }
    }

    /// Series `i`'s labels without its metric name.
    pub fn nameless(&self, i: usize) -> Labels {
        self.nameless.get_or_init(|| {
            self.metrics
                .iter()
                .map(Labels::without_metric_name)
                .collect()
        })[i]
            .clone()
    }

    pub fn iter(&self) -> impl Iterator<Item = StoredSeries<'_>> {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// Selected series by selector node.
pub(crate) type Prefetched = HashMap<*const VectorSelector, Rc<Selection>>;

/// Answers of earlier `select`s, for queries evaluated against the same data one after the
/// other. Label names and values are shared across all cached series.
#[derive(Default)]
pub struct SelectCache {
    interner: Interner,
    entries: Vec<CachedSelect>,
}

/// One answer: the matchers and time range asked, the series.
struct CachedSelect {
    matchers: Vec<Matcher>,
    start: i64,
    end: i64,
    series: Rc<Selection>,
}

impl SelectCache {
    pub fn new() -> SelectCache {
        SelectCache::default()
    }

    /// Forgets answers that could include series named `metric` (because such series have just
    /// been written). Only the name matchers are considered, so this errs towards forgetting.
    pub fn forget_metric(&mut self, metric: &str) {
        let named = Labels::from_pairs(&[(METRIC_NAME, metric)]);
        self.entries.retain(|entry| {
            let on_name: Vec<Matcher> = entry
                .matchers
                .iter()
                .filter(|m| m.name == METRIC_NAME)
                .cloned()
                .collect();
            !CompiledMatchers::new(&on_name).is_ok_and(|c| c.matches(&named))
        });
    }

    fn get(&self, matchers: &[Matcher], start: i64, end: i64) -> Option<Rc<Selection>> {
        self.entries
            .iter()
            .find(|e| e.matchers == matchers && e.start == start && e.end == end)
            .map(|e| e.series.clone())
    }
}

/// The query's own time frame, against which `@ start()` / `@ end()` resolve.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QueryFrame {
    pub start: i64,
    pub end: i64,
    /// How far back an instant selector looks, its left edge excluded: the lookback delta,
    /// one more in 2.x mode ([`super::Compat::left_closed_ms`]).
    pub lookback_ms: i64,
    /// Whose semantics: window edges and regex flags.
    pub compat: Compat,
}

impl QueryFrame {
    pub fn at(&self, at: &AtModifier) -> i64 {
        match at {
            AtModifier::Start => self.start,
            AtModifier::End => self.end,
            AtModifier::At(time) => system_time_ms(time),
        }
    }
}

pub(crate) fn system_time_ms(time: &std::time::SystemTime) -> i64 {
    match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

pub(crate) fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
        None => 0,
    }
}

/// The matchers a selector stands for: its metric name first, as Prometheus puts it.
pub fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Matcher>, EvalError> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(EvalError::Unsupported(
            "`or` between label matchers".to_string(),
        ));
    }
    Ok(name_matcher(vs)
        .into_iter()
        .chain(vs.matchers.matchers.iter().map(|m| Matcher {
            name: m.name.clone(),
            op: convert_op(&m.op),
            value: m.value.clone(),
        }))
        .collect())
}

fn name_matcher(vs: &VectorSelector) -> Option<Matcher> {
    vs.name.as_ref().map(|name| Matcher {
        name: METRIC_NAME.to_string(),
        op: MatchOp::Equal,
        value: name.clone(),
    })
}

fn convert_op(op: &ParsedOp) -> MatchOp {
    match op {
        ParsedOp::Equal => MatchOp::Equal,
        ParsedOp::NotEqual => MatchOp::NotEqual,
        ParsedOp::Re(_) => MatchOp::Regex,
        ParsedOp::NotRe(_) => MatchOp::NotRegex,
    }
}

/// Offsets and ranges of the enclosing subqueries (`subqueryTimes`): an `@` on a subquery
/// resets what came before it.
#[derive(Clone, Copy, Default)]
struct Enclosing {
    offset: i64,
    range: i64,
    at: Option<i64>,
}

struct Walker<'a> {
    frame: QueryFrame,
    source: &'a mut dyn Source,
    cache: &'a mut SelectCache,
    out: Prefetched,
}

/// Selects the series of every selector in `expr` for a query over `[start, end]`.
pub(crate) fn prefetch(
    expr: &Expr,
    frame: QueryFrame,
    source: &mut dyn Source,
    cache: &mut SelectCache,
) -> Result<Prefetched, EvalError> {
    let mut walker = Walker {
        frame,
        source,
        cache,
        out: HashMap::new(),
    };
    walker.walk(expr, Enclosing::default(), 0)?;
    Ok(walker.out)
}

impl Walker<'_> {
    fn walk(&mut self, expr: &Expr, enclosing: Enclosing, depth: usize) -> Result<(), EvalError> {
        if depth > MAX_DEPTH {
            return Err(EvalError::Query(too_deep(MAX_DEPTH)));
        }
        let depth = depth + 1;
        match expr {
            Expr::VectorSelector(vs) => self.fetch(vs, 0, enclosing),
            Expr::MatrixSelector(ms) => {
                let range = ms.range.as_millis() as i64 + self.frame.compat.left_closed_ms();
                self.fetch(&ms.vs, range, enclosing)
            }
            Expr::Subquery(sq) => self.walk(&sq.expr, self.enter(sq, enclosing), depth),
            Expr::Aggregate(a) => {
                if let Some(param) = &a.param {
                    self.walk(param, enclosing, depth)?;
                }
                self.walk(&a.expr, enclosing, depth)
            }
            Expr::Unary(u) => self.walk(&u.expr, enclosing, depth),
            Expr::Binary(b) => {
                self.walk(&b.lhs, enclosing, depth)?;
                self.walk(&b.rhs, enclosing, depth)
            }
            Expr::Paren(p) => self.walk(&p.expr, enclosing, depth),
            Expr::Call(c) => c
                .args
                .args
                .iter()
                .try_for_each(|a| self.walk(a, enclosing, depth)),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
            Expr::Extension(_) => Err(EvalError::Unsupported("extension expressions".into())),
        }
    }

    fn enter(&self, sq: &SubqueryExpr, outer: Enclosing) -> Enclosing {
        let offset = offset_ms(&sq.offset);
        let range = sq.range.as_millis() as i64 + self.frame.compat.left_closed_ms();
        match &sq.at {
            Some(at) => Enclosing {
                offset,
                range,
                at: Some(self.frame.at(at)),
            },
            None => Enclosing {
                offset: outer.offset + offset,
                range: outer.range + range,
                at: outer.at,
            },
        }
    }

    /// `getTimeRangesForSelector`, then one `select`.
    fn fetch(
        &mut self,
        vs: &VectorSelector,
        range: i64,
        enclosing: Enclosing,
    ) -> Result<(), EvalError> {
        let (mut start, mut end) = match enclosing.at {
            Some(at) => (at, at),
            None => (self.frame.start, self.frame.end),
        };
        match &vs.at {
            Some(at) => {
                start = self.frame.at(at);
                end = start;
            }
            None => {
                start -= enclosing.offset + enclosing.range;
                end -= enclosing.offset;
            }
        }
        // Both windows are open on the left: a sample exactly a lookback (or range) before
        // the evaluation time is out.
        start -= if range == 0 {
            self.frame.lookback_ms - 1
        } else {
            range - 1
        };
        let offset = offset_ms(&vs.offset);
        start -= offset;
        end -= offset;

        let mut matchers = selector_matchers(vs)?;
        for m in &mut matchers {
            if matches!(m.op, MatchOp::Regex | MatchOp::NotRegex) {
                m.value = self.frame.compat.store_regex(&m.value);
            }
        }
        let series = match self.cache.get(&matchers, start, end) {
            Some(series) => series,
            None => {
                let series = self.select(&matchers, start, end)?;
                self.cache.entries.push(CachedSelect {
                    matchers,
                    start,
                    end,
                    series: series.clone(),
                });
                series
            }
        };
        self.out.insert(vs as *const VectorSelector, series);
        Ok(())
    }

    fn select(
        &mut self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
    ) -> Result<Rc<Selection>, EvalError> {
        let selected = self
            .source
            .select(matchers, start, end)
            .map_err(EvalError::Source)?;
        Ok(Rc::new(Selection::new(selected, &mut self.cache.interner)))
    }
}
