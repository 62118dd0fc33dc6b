//! `--query.max-samples`: how many samples a query holds in memory at its peak, counted as
//! Prometheus' engine counts them, and the query refused when that passes the limit.
//!
//! Prometheus evaluates each node over all steps at once, and its count follows that: while a
//! node steps, the whole-range results of its inputs are held, plus the results it has made so
//! far, plus the inputs it gathered for the current step (`rangeEval`); a selector holds its
//! samples; a range function holds its inputs' results plus its own, plus the window of the
//! series it is reading (`matrixIterSlice`); a subquery's result is held by the function that
//! reads it, and its scalar arguments stay counted until the node above it ends. This
//! evaluator walks the tree once per step instead, so it cannot count in that order; it
//! tallies what each node produced at each step (and, per series, what a range function read
//! and made) and computes Prometheus' peak from the tally. Every quantity only grows with the
//! steps, so the peak of a partial tally never exceeds the final one: a cheap bound checked
//! after each step refuses a query as soon as its outcome is certain, and the exact peak is
//! checked at the end; neither refuses a query Prometheus answers.
//!
//! Where the tally is not exact, it counts less (a query at the very limit may be answered
//! here and refused by Prometheus, never the other way): a subquery's inner steps that no
//! outer step's window reaches are not evaluated here, so not counted; a range function over a
//! subquery reads its series in the order they first appear (Prometheus' is a map's order).

use promql_parser::parser::value::ValueType;
use promql_parser::parser::{Call, Expr};

use super::numeric::FastMap;
use super::value::Value;
use super::EvalError;

/// Prometheus' `ErrTooManySamples` for a query (`env` "query execution").
pub(crate) const TOO_MANY_SAMPLES: &str =
    "query processing would load too many samples into memory in query execution";

/// What one node produced, step by step.
#[derive(Clone, Copy, Debug)]
struct NodeTally {
    /// The last step counted: a subquery evaluates its inner steps again for each outer step
    /// whose window reaches them; Prometheus evaluates each once.
    counted_to: i64,
    /// Samples produced over all steps counted (Prometheus' result matrix).
    total: u64,
    /// Samples produced at `counted_to`.
    last: u64,
    /// The most held while stepping: results so far plus the step's inputs and output.
    stepping_peak: u64,
}

/// What a range function read from one series and made of it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SeriesReads {
    /// Results made (one per step with a result).
    pub produced: u64,
    /// The most samples in one window.
    pub widest: u64,
    /// The samples in the window of the last step read.
    pub last: u64,
}

impl SeriesReads {
    /// One step's read of `window` samples, making a result or not.
    pub fn read(&mut self, window: usize, produced: bool) {
        self.produced += u64::from(produced);
        self.widest = self.widest.max(window as u64);
        self.last = window as u64;
    }
}

/// A range function's reads, series by series, in the order it reads them.
#[derive(Debug)]
struct RangeFunctionTally {
    counted_to: i64,
    series: Vec<SeriesReads>,
}

/// The tally of one query (one instant or range evaluation).
#[derive(Debug)]
pub(crate) struct SampleTally {
    limit: u64,
    nodes: FastMap<usize, NodeTally>,
    range_functions: FastMap<usize, RangeFunctionTally>,
}

fn key(expr: &Expr) -> usize {
    expr as *const Expr as usize
}

impl SampleTally {
    pub fn new(limit: u64) -> SampleTally {
        SampleTally {
            limit,
            nodes: FastMap::default(),
            range_functions: FastMap::default(),
        }
    }

    /// Counts what `expr` produced at `t`.
    pub fn record(&mut self, expr: &Expr, t: i64, value: &Value) {
        let out = match value {
            Value::Scalar(_) => 1,
            Value::Vector(v) => v.len() as u64,
            Value::Matrix(m) => m.iter().map(|s| s.points.len() as u64).sum(),
            Value::String(_) => 0,
        };
        let inputs: u64 = inputs(expr)
            .iter()
            .filter_map(|c| self.nodes.get(&key(c)))
            .filter(|c| c.counted_to == t)
            .map(|c| c.last)
            .sum();
        let node = self.nodes.entry(key(expr)).or_insert(NodeTally {
            counted_to: i64::MIN,
            total: 0,
            last: 0,
            stepping_peak: 0,
        });
        if t <= node.counted_to {
            return;
        }
        node.stepping_peak = node.stepping_peak.max(node.total + inputs + out);
        node.counted_to = t;
        node.total += out;
        node.last = out;
    }

    /// Counts a range function's reads of its series up to `t` (one step, or a block of steps
    /// ending at `t`), in the order Prometheus reads them.
    pub fn range_reads(&mut self, call: &Call, t: i64, reads: &[SeriesReads]) {
        let tally = self
            .range_functions
            .entry(call as *const Call as usize)
            .or_insert(RangeFunctionTally {
                counted_to: i64::MIN,
                series: Vec::new(),
            });
        if t <= tally.counted_to {
            return;
        }
        tally.counted_to = t;
        if tally.series.len() < reads.len() {
            tally.series.resize(reads.len(), SeriesReads::default());
        }
        for (sum, read) in tally.series.iter_mut().zip(reads) {
            sum.produced += read.produced;
            sum.widest = sum.widest.max(read.widest);
            sum.last = read.last;
        }
    }

    /// Refuses the query once its peak, as far as tallied, is over the limit: `exact` at the
    /// end, a cheaper lower bound after each step.
    pub fn check(&self, root: &Expr, exact: bool) -> Result<(), EvalError> {
        if self.peak(root, exact) > self.limit {
            return Err(EvalError::Query(TOO_MANY_SAMPLES.into()));
        }
        Ok(())
    }

    fn total(&self, expr: &Expr) -> u64 {
        match expr {
            Expr::Subquery(sq) => self.total(&sq.expr),
            _ => self.nodes.get(&key(expr)).map_or(0, |n| n.total),
        }
    }

    /// What stays counted once `expr` has returned: its results, and a range function's
    /// other arguments (Prometheus does not release them until the node above ends).
    fn held(&self, expr: &Expr) -> u64 {
        let leaked = match unparenthesised(expr) {
            Expr::Call(c) => matrix_argument(c)
                .map_or(0, |(_, others)| others.iter().map(|o| self.held(o)).sum()),
            _ => 0,
        };
        self.total(expr) + leaked
    }

    /// The most samples held while `expr` is evaluated, as Prometheus counts them.
    fn peak(&self, expr: &Expr, exact: bool) -> u64 {
        match expr {
            Expr::Paren(p) => self.peak(&p.expr, exact),
            Expr::Unary(u) => self.peak(&u.expr, exact),
            Expr::Subquery(sq) => self.peak(&sq.expr, exact),
            Expr::Call(c) => match matrix_argument(c) {
                Some((matrix, others)) => self.range_function_peak(expr, c, matrix, &others, exact),
                None => self.stepping_node_peak(expr, exact),
            },
            Expr::Aggregate(_) | Expr::Binary(_) => self.stepping_node_peak(expr, exact),
            Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_)
            | Expr::Extension(_) => self.total(expr),
        }
    }

    /// `inputs` evaluated one after the other, each one's results held while the next is
    /// evaluated: the most held, and what stays held after the last.
    fn held_while_evaluating<'e>(
        &self,
        inputs: impl IntoIterator<Item = &'e Expr>,
        exact: bool,
    ) -> (u64, u64) {
        let (mut peak, mut held) = (0, 0);
        for input in inputs {
            peak = peak.max(held + self.peak(input, exact));
            held += self.held(input);
        }
        (peak, held)
    }

    /// `rangeEval`: the inputs evaluated in order, then stepped through.
    fn stepping_node_peak(&self, expr: &Expr, exact: bool) -> u64 {
        let (peak, held) = self.held_while_evaluating(inputs(expr), exact);
        let stepping = self.nodes.get(&key(expr)).map_or(0, |n| n.stepping_peak);
        peak.max(held + stepping)
    }

    /// A function of a range vector: a subquery argument evaluated first, then the other
    /// arguments, then the series read one after the other, step by step, each one's window
    /// counted on top of the results of the series before it (and, at its last step, its own).
    fn range_function_peak(
        &self,
        expr: &Expr,
        call: &Call,
        matrix: &Expr,
        others: &[&Expr],
        exact: bool,
    ) -> u64 {
        let subquery = matches!(matrix, Expr::Subquery(_)).then_some(matrix);
        let (peak, held) =
            self.held_while_evaluating(subquery.into_iter().chain(others.iter().copied()), exact);
        let reading = match self.range_functions.get(&(call as *const Call as usize)) {
            Some(tally) if exact => {
                let (mut before, mut most) = (0, 0);
                for s in &tally.series {
                    most = most.max(before + s.widest.max(s.last + s.produced));
                    before += s.produced;
                }
                most
            }
            _ => self.total(expr),
        };
        peak.max(held + reading)
    }
}

/// The inputs `rangeEval` steps through for `expr`, in its order: an aggregation's parameter
/// (unless a string) and operand, an operation's two sides, a function's arguments but strings.
fn inputs(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::Aggregate(a) => {
            let param = a.param.as_deref().filter(|p| !is_string(p));
            param.into_iter().chain([&*a.expr]).collect()
        }
        Expr::Binary(b) => vec![&*b.lhs, &*b.rhs],
        Expr::Call(c) if matrix_argument(c).is_none() => c
            .args
            .args
            .iter()
            .map(|a| &**a)
            .filter(|a| !is_string(a))
            .collect(),
        Expr::Paren(p) => vec![&*p.expr],
        Expr::Unary(u) => vec![&*u.expr],
        _ => Vec::new(),
    }
}

fn is_string(expr: &Expr) -> bool {
    expr.value_type() == ValueType::String
}

fn unparenthesised(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

/// A range function's range-vector argument (parentheses removed) and its other arguments.
fn matrix_argument(call: &Call) -> Option<(&Expr, Vec<&Expr>)> {
    let i = call
        .func
        .arg_types
        .iter()
        .position(|t| *t == ValueType::Matrix)?;
    let matrix = unparenthesised(call.args.args.get(i)?);
    let others = call
        .args
        .args
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, a)| &**a)
        .collect();
    Some((matrix, others))
}
