//! Calls into rule and query plugins, and their answers in host types.
//!
//! A rule plugin answers one [`RuleResult`] per rule; a query plugin one [`QueryAnswer`] or a
//! [`QueryError`] in Prometheus' two kinds. Everything returned is checked as the labelling
//! stages' answers are (`output`): label sets normalised, invalid or repeated names refused, the
//! total numbers of samples and labels capped. A rule's sample with no labels left is refused
//! too, since it could not be stored (a query's may have none: `sum(x)`).

use wasmfed_model::{Label, Labels};

use wasmtime::Store;

use super::bindings::{
    Funcs, Returned, ReturnedAlert, ReturnedAnswer, ReturnedRule, ReturnedValue,
};
use super::error::{FailureKind, PluginError};
use super::instance::{Outcome, Plugin};
use super::limits::PluginLimits;
use super::output;
use super::sandbox::HostState;
use super::store::SelectedSeries;

/// One sample a plugin returned.
#[derive(Clone, Debug, PartialEq)]
pub struct LabeledSample {
    pub labels: Labels,
    pub timestamp_ms: i64,
    pub value: f64,
}

/// One rule's outcome in one evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleResult {
    pub name: String,
    /// The samples to write, or why the rule failed.
    pub outcome: Result<Vec<LabeledSample>, String>,
}

/// Where an alert is in its life, as Prometheus' alerting rules name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// An alert a rule plugin raised (or still lists as resolved).
#[derive(Clone, Debug, PartialEq)]
pub struct RaisedAlert {
    /// Position of its rule among the evaluation's [`RuleResult`]s.
    pub rule: usize,
    pub labels: Labels,
    /// Sorted by name; empty values kept, as Prometheus keeps them.
    pub annotations: Vec<(String, String)>,
    pub state: AlertState,
    pub value: f64,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    pub keep_firing_since_ms: Option<i64>,
}

/// What one evaluation answered: every rule's result, and the alerts it raised.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleEvaluation {
    pub rules: Vec<RuleResult>,
    pub alerts: Vec<RaisedAlert>,
}

/// A query's value, as Prometheus' `resultType`s.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryValue {
    Scalar(f64),
    String(String),
    Vector(Vec<LabeledSample>),
    Matrix(Vec<SelectedSeries>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueryAnswer {
    pub value: QueryValue,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

/// Why a query has no answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query is wrong (Prometheus' `bad_data`).
    #[error("{0}")]
    BadData(String),
    /// The query failed while running (Prometheus' `execution`).
    #[error("{0}")]
    Execution(String),
    /// The plugin failed (trap, budget, bad answer).
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

impl Plugin {
    /// One evaluation at `at_ms`: every rule's result, in the plugin's order, and the alerts
    /// the plugin raises. `previous` holds the alerts the caller last saw (`None` if no
    /// instance of the group has evaluated yet); an instance that has not evaluated before
    /// (the first after a failure, a swap or a reload) takes them over first, so its alerts
    /// go on where the last left them. Blocks for as long as the guest runs, including its
    /// reads from the store.
    pub fn evaluate(
        &self,
        at_ms: i64,
        previous: Option<&[RaisedAlert]>,
    ) -> Result<RuleEvaluation, PluginError> {
        let limits = self.limits();
        self.timed(|| {
            self.with_instance(|loaded| {
                let take_over = previous.filter(|_| !loaded.evaluated);
                loaded.evaluated = true;
                let called = self.guarded(loaded, |funcs, store| {
                    if let Some(alerts) = take_over {
                        funcs.restore_alerts(&mut *store, alerts)?;
                    }
                    funcs.evaluate(store, at_ms)
                });
                Outcome::of(called, |(results, alerts)| {
                    let rules = accept_rules(results, limits)?;
                    let alerts = accept_alerts(alerts, rules.len(), limits)?;
                    Ok(RuleEvaluation { rules, alerts })
                })
            })
        })
    }

    /// One call of a stateless query function on an idle (or fresh) instance, timed and
    /// guarded; an instance the call broke is dropped.
    fn one_call<R>(
        &self,
        call: impl FnOnce(&Funcs, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        self.timed(|| {
            self.with_instance(|loaded| match self.guarded(loaded, call) {
                Ok(answer) => Outcome::Done(Ok(answer)),
                Err(e) => Outcome::Broken(e),
            })
        })
    }

    /// Evaluates `expr` at `at_ms`. Blocks like [`Plugin::evaluate`].
    pub fn query(&self, expr: &str, at_ms: i64) -> Result<QueryAnswer, QueryError> {
        let limits = self.limits();
        let answer = self.one_call(|funcs, store| funcs.instant(store, expr, at_ms))?;
        Ok(accept_query(answer?, limits)?)
    }

    /// The series selectors of `expr`, in PromQL text, without evaluating it (the plugin's
    /// `expressions`). Blocks like [`Plugin::evaluate`].
    pub fn selectors(&self, expr: &str) -> Result<Vec<String>, QueryError> {
        let answer = self.one_call(|funcs, store| funcs.selectors(store, expr))?;
        answer.unwrap_or_else(|| {
            Err(QueryError::Execution(format!(
                "the query plugin {} does not name an expression's selectors (it does not \
                 export `wasmfed:plugin/expressions`)",
                self.name()
            )))
        })
    }

    /// Evaluates `expr` at every `step_ms` from `start_ms` to `end_ms` in one call (the
    /// plugin's `range-query`); the answer is a matrix. Blocks like [`Plugin::evaluate`].
    pub fn query_range(
        &self,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryAnswer, QueryError> {
        let limits = self.limits();
        let range = (start_ms, end_ms, step_ms);
        let answer = self.one_call(|funcs, store| funcs.range(store, expr, range))?;
        let Some(answer) = answer else {
            return Err(QueryError::Execution(format!(
                "the query plugin {} answers instant queries only (it does not export \
                 `wasmfed:plugin/range-query`)",
                self.name()
            )));
        };
        let answer = accept_query(answer?, limits)?;
        if !matches!(answer.value, QueryValue::Matrix(_)) {
            return Err(PluginError::call(
                FailureKind::BadOutput,
                "a range query answered something other than a matrix",
            )
            .into());
        }
        Ok(answer)
    }
}

/// Refuses an answer with more samples or labels than `limits` allow.
fn check_size(samples: usize, labels: usize, limits: PluginLimits) -> Result<(), PluginError> {
    let too_many = |n: usize, what: &str, max: usize| {
        PluginError::call(
            FailureKind::OutputTooLarge,
            format!("returned {n} {what}, more than the limit of {max}"),
        )
    };
    if samples > limits.max_output_samples {
        return Err(too_many(samples, "samples", limits.max_output_samples));
    }
    if labels > limits.max_output_labels {
        return Err(too_many(labels, "labels", limits.max_output_labels));
    }
    Ok(())
}

/// Normalises one returned label set; only a query may answer an empty one (`sum(x)`).
fn lift_labels(
    labels: Vec<Label>,
    index: usize,
    may_be_empty: bool,
) -> Result<Labels, PluginError> {
    let labels = output::normalise(labels, index)?;
    if labels.is_empty() && !may_be_empty {
        return Err(PluginError::call(
            FailureKind::BadOutput,
            format!("entry {index}: a sample with no labels"),
        ));
    }
    Ok(labels)
}

fn lift_samples(
    samples: Vec<Returned>,
    may_be_empty: bool,
) -> Result<Vec<LabeledSample>, PluginError> {
    samples
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            Ok(LabeledSample {
                labels: lift_labels(s.labels, i, may_be_empty)?,
                timestamp_ms: s.timestamp_ms,
                value: s.value,
            })
        })
        .collect()
}

fn accept_rules(
    results: Vec<ReturnedRule>,
    limits: PluginLimits,
) -> Result<Vec<RuleResult>, PluginError> {
    let samples = || {
        results
            .iter()
            .filter_map(|r| r.outcome.as_ref().ok())
            .flatten()
    };
    check_size(
        samples().count(),
        samples().map(|s| s.labels.len()).sum(),
        limits,
    )?;
    results
        .into_iter()
        .map(|r| {
            let outcome = match r.outcome {
                Ok(samples) => Ok(lift_samples(samples, false).map_err(|e| {
                    PluginError::call(FailureKind::BadOutput, format!("rule {:?}: {e}", r.name))
                })?),
                Err(why) => Err(why),
            };
            Ok(RuleResult {
                name: r.name,
                outcome,
            })
        })
        .collect()
}

/// Checks raised alerts as rule samples are checked (size, label sets), and that each names
/// one of the evaluation's rules.
fn accept_alerts(
    alerts: Vec<ReturnedAlert>,
    rules: usize,
    limits: PluginLimits,
) -> Result<Vec<RaisedAlert>, PluginError> {
    check_size(
        alerts.len(),
        alerts
            .iter()
            .map(|a| a.labels.len() + a.annotations.len())
            .sum(),
        limits,
    )?;
    alerts
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let bad = |why: String| {
                PluginError::call(FailureKind::BadOutput, format!("alert {i}: {why}"))
            };
            if a.rule as usize >= rules {
                return Err(bad(format!(
                    "names rule {} of an evaluation of {rules} rules",
                    a.rule
                )));
            }
            let mut annotations: Vec<(String, String)> = a
                .annotations
                .into_iter()
                .map(|l| (l.name, l.value))
                .collect();
            annotations.sort_unstable();
            if let Some(w) = annotations.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(bad(format!("annotation {:?} appears twice", w[0].0)));
            }
            Ok(RaisedAlert {
                rule: a.rule as usize,
                labels: lift_labels(a.labels, i, false)?,
                annotations,
                state: a.state,
                value: a.value,
                active_at_ms: a.active_at_ms,
                fired_at_ms: a.fired_at_ms,
                resolved_at_ms: a.resolved_at_ms,
                keep_firing_since_ms: a.keep_firing_since_ms,
            })
        })
        .collect()
}

fn accept_query(result: ReturnedAnswer, limits: PluginLimits) -> Result<QueryAnswer, PluginError> {
    let (samples, labels) = match &result.value {
        ReturnedValue::Vector(v) => (v.len(), v.iter().map(|s| s.labels.len()).sum()),
        ReturnedValue::Matrix(m) => (
            m.iter().map(|s| s.values.len()).sum(),
            m.iter().map(|s| s.labels.len()).sum(),
        ),
        _ => (0, 0),
    };
    check_size(samples, labels, limits)?;
    let value = match result.value {
        ReturnedValue::Scalar(v) => QueryValue::Scalar(v),
        ReturnedValue::String(s) => QueryValue::String(s),
        ReturnedValue::Vector(v) => QueryValue::Vector(lift_samples(v, true)?),
        ReturnedValue::Matrix(m) => QueryValue::Matrix(
            m.into_iter()
                .enumerate()
                .map(|(i, s)| {
                    if s.timestamps_ms.len() != s.values.len() {
                        return Err(PluginError::call(
                            FailureKind::BadOutput,
                            format!("entry {i}: timestamps and values differ in length"),
                        ));
                    }
                    Ok(SelectedSeries {
                        labels: lift_labels(s.labels, i, true)?,
                        timestamps_ms: s.timestamps_ms,
                        values: s.values,
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(QueryAnswer {
        value,
        warnings: result.warnings,
        infos: result.infos,
    })
}
