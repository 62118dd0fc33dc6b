//! Every conversion between the generated WIT types and the host's, in both directions.
//!
//! Answers are lifted into host strings and numbers here but not judged: whether a label set
//! is valid, or an answer too large, is decided by the callers (`output`, `rules`) on host
//! types, the same way for every world. Strings are moved out of the generated records, never
//! copied.

use wasmfed_model::{Label, Labels};
use wasmfed_storage::MatchOp;

use super::{types, wit_alerts, wit_query, wit_rules, wit_store, Refusal};
use crate::rules::QueryError;
use crate::rules::{AlertState, RaisedAlert};
use crate::store::SelectedSeries;

/// A sample as a plugin returned it: labels lifted, not yet normalised or checked.
#[derive(Debug)]
pub(crate) struct Returned {
    pub(crate) labels: Vec<Label>,
    pub(crate) timestamp_ms: i64,
    pub(crate) value: f64,
}

/// One rule's outcome as a rule plugin returned it.
#[derive(Debug)]
pub(crate) struct ReturnedRule {
    pub(crate) name: String,
    pub(crate) outcome: Result<Vec<Returned>, String>,
}

/// An alert as a rule plugin raised it: labels lifted, not yet checked.
#[derive(Debug)]
pub(crate) struct ReturnedAlert {
    pub(crate) rule: u32,
    pub(crate) labels: Vec<Label>,
    pub(crate) annotations: Vec<Label>,
    pub(crate) state: AlertState,
    pub(crate) value: f64,
    pub(crate) active_at_ms: i64,
    pub(crate) fired_at_ms: Option<i64>,
    pub(crate) resolved_at_ms: Option<i64>,
    pub(crate) keep_firing_since_ms: Option<i64>,
}

/// A series with samples as a query plugin returned it (a matrix row).
#[derive(Debug)]
pub(crate) struct ReturnedSeries {
    pub(crate) labels: Vec<Label>,
    pub(crate) timestamps_ms: Vec<i64>,
    pub(crate) values: Vec<f64>,
}

#[derive(Debug)]
pub(crate) enum ReturnedValue {
    Scalar(f64),
    String(String),
    Vector(Vec<Returned>),
    Matrix(Vec<ReturnedSeries>),
}

/// A query plugin's answer.
#[derive(Debug)]
pub(crate) struct ReturnedAnswer {
    pub(crate) value: ReturnedValue,
    pub(crate) warnings: Vec<String>,
    pub(crate) infos: Vec<String>,
}

fn labels(labels: types::Labels) -> Vec<Label> {
    labels
        .into_iter()
        .map(|l| Label {
            name: l.name,
            value: l.value,
        })
        .collect()
}

/// A labelling stage's answer: one label set (or a drop) per input.
pub(super) fn label_sets(answer: Vec<Option<types::Labels>>) -> Vec<Option<Vec<Label>>> {
    answer.into_iter().map(|set| set.map(labels)).collect()
}

fn samples(samples: Vec<types::Sample>) -> Vec<Returned> {
    samples
        .into_iter()
        .map(|s| Returned {
            labels: labels(s.labels),
            timestamp_ms: s.timestamp_ms,
            value: s.value,
        })
        .collect()
}

impl From<wit_rules::RuleResult> for ReturnedRule {
    fn from(r: wit_rules::RuleResult) -> Self {
        ReturnedRule {
            name: r.name,
            outcome: r.outcome.map(samples),
        }
    }
}

impl From<wit_alerts::Alert> for ReturnedAlert {
    fn from(a: wit_alerts::Alert) -> Self {
        ReturnedAlert {
            rule: a.rule,
            labels: labels(a.labels),
            annotations: labels(a.annotations),
            state: match a.state {
                wit_alerts::AlertState::Pending => AlertState::Pending,
                wit_alerts::AlertState::Firing => AlertState::Firing,
                wit_alerts::AlertState::Inactive => AlertState::Inactive,
            },
            value: a.value,
            active_at_ms: a.active_at_ms,
            fired_at_ms: a.fired_at_ms,
            resolved_at_ms: a.resolved_at_ms,
            keep_firing_since_ms: a.keep_firing_since_ms,
        }
    }
}

/// An alert the host remembers, handed to a fresh instance (`alerts.restore`).
pub(super) fn alert_to_wit(a: &RaisedAlert) -> wit_alerts::Alert {
    let pairs = |pairs: &mut dyn Iterator<Item = (&str, &str)>| -> types::Labels {
        pairs
            .map(|(name, value)| types::Label {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect()
    };
    wit_alerts::Alert {
        rule: a.rule as u32,
        labels: pairs(&mut a.labels.iter().map(|l| (l.name.as_str(), l.value.as_str()))),
        annotations: pairs(&mut a.annotations.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
        state: match a.state {
            AlertState::Pending => wit_alerts::AlertState::Pending,
            AlertState::Firing => wit_alerts::AlertState::Firing,
            AlertState::Inactive => wit_alerts::AlertState::Inactive,
        },
        value: a.value,
        active_at_ms: a.active_at_ms,
        fired_at_ms: a.fired_at_ms,
        resolved_at_ms: a.resolved_at_ms,
        keep_firing_since_ms: a.keep_firing_since_ms,
    }
}

impl From<wit_query::QueryResult> for ReturnedAnswer {
    fn from(r: wit_query::QueryResult) -> Self {
        let value = match r.value {
            wit_query::QueryValue::Scalar(v) => ReturnedValue::Scalar(v),
            wit_query::QueryValue::String(s) => ReturnedValue::String(s),
            wit_query::QueryValue::Vector(v) => ReturnedValue::Vector(samples(v)),
            wit_query::QueryValue::Matrix(m) => ReturnedValue::Matrix(
                m.into_iter()
                    .map(|s| ReturnedSeries {
                        labels: labels(s.labels),
                        timestamps_ms: s.timestamps_ms,
                        values: s.values,
                    })
                    .collect(),
            ),
        };
        ReturnedAnswer {
            value,
            warnings: r.warnings,
            infos: r.infos,
        }
    }
}

impl From<wit_query::QueryError> for QueryError {
    fn from(e: wit_query::QueryError) -> Self {
        match e {
            wit_query::QueryError::BadData(m) => QueryError::BadData(m),
            wit_query::QueryError::Execution(m) => QueryError::Execution(m),
        }
    }
}

impl From<types::PluginError> for Refusal {
    fn from(e: types::PluginError) -> Self {
        match e {
            types::PluginError::InvalidConfig(message) => Refusal {
                invalid_config: true,
                message,
            },
            types::PluginError::Failed(message) => Refusal {
                invalid_config: false,
                message,
            },
        }
    }
}

/// A matcher of the `store` import as the host's selector parts.
pub(super) fn matcher(m: wit_store::Matcher) -> (MatchOp, String, String) {
    let op = match m.op {
        wit_store::MatchOp::Equal => MatchOp::Equal,
        wit_store::MatchOp::NotEqual => MatchOp::NotEqual,
        wit_store::MatchOp::Regex => MatchOp::Regex,
        wit_store::MatchOp::NotRegex => MatchOp::NotRegex,
    };
    (op, m.name, m.value)
}

pub(super) fn labels_to_wit(labels: Labels) -> types::Labels {
    labels
        .into_vec()
        .into_iter()
        .map(|Label { name, value }| types::Label { name, value })
        .collect()
}

pub(super) fn series_to_wit(series: SelectedSeries) -> wit_store::SeriesSamples {
    wit_store::SeriesSamples {
        labels: labels_to_wit(series.labels),
        timestamps_ms: series.timestamps_ms,
        values: series.values,
    }
}
