//! What a rule plugin reads and writes: the node's store behind a [`Store`] trait (the
//! `store` import in a component, anything an author likes in a native test), matchers,
//! samples and each rule's result, converted to the WIT records at the export boundary.

use std::fmt;

use crate::bindings::rule::exports::wasmfed::plugin::rules as wit_rules;
use crate::bindings::rule::wasmfed::plugin::store as wit_store;
use crate::bindings::types as wit_types;
use crate::Labels;

pub use wit_store::{MatchOp, Matcher};

impl Matcher {
    /// `name="value"`.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Matcher {
        Matcher::new(name, MatchOp::Equal, value)
    }

    /// `name!="value"`.
    pub fn not_equal(name: impl Into<String>, value: impl Into<String>) -> Matcher {
        Matcher::new(name, MatchOp::NotEqual, value)
    }

    /// `name=~"regex"` (fully anchored, as in PromQL).
    pub fn regex(name: impl Into<String>, regex: impl Into<String>) -> Matcher {
        Matcher::new(name, MatchOp::Regex, regex)
    }

    /// `name!~"regex"`.
    pub fn not_regex(name: impl Into<String>, regex: impl Into<String>) -> Matcher {
        Matcher::new(name, MatchOp::NotRegex, regex)
    }

    fn new(name: impl Into<String>, op: MatchOp, value: impl Into<String>) -> Matcher {
        Matcher {
            name: name.into(),
            op,
            value: value.into(),
        }
    }
}

/// Why the store did not answer (e.g. the answer would exceed the plugin's output budget).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// One series and its samples in the asked range, oldest first. Values are bit-exact:
/// Prometheus' stale marker is passed as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesSamples {
    pub labels: Labels,
    pub timestamps_ms: Vec<i64>,
    pub values: Vec<f64>,
}

/// The node's stored series as a rule plugin sees them (only its own tenant's).
pub trait Store {
    /// Series matching all `matchers` with their samples in `[start_ms, end_ms]`.
    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SeriesSamples>, StoreError>;

    /// The label sets of the series matching all `matchers` with a sample in
    /// `[start_ms, end_ms]`, without their samples (far cheaper than `select`).
    fn series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Labels>, StoreError>;
}

/// The node's store, through the component's `store` import (only inside a node or
/// `wasmfed plugin test`).
pub struct HostStore;

impl Store for HostStore {
    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SeriesSamples>, StoreError> {
        let found = wit_store::select(matchers, start_ms, end_ms).map_err(StoreError)?;
        Ok(found
            .into_iter()
            .map(|s| SeriesSamples {
                labels: s.labels.into(),
                timestamps_ms: s.timestamps_ms,
                values: s.values,
            })
            .collect())
    }

    fn series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Labels>, StoreError> {
        let found = wit_store::series(matchers, start_ms, end_ms).map_err(StoreError)?;
        Ok(found.into_iter().map(Labels::from).collect())
    }
}

/// One value at one time (milliseconds since the Unix epoch) for the host to store.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub timestamp_ms: i64,
    pub value: f64,
}

/// One rule's outcome in one evaluation: its samples, or why it failed (the text an operator
/// sees; the rule's earlier series are left as they are).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleResult {
    /// The rule's name: a recording rule's metric name.
    pub name: String,
    pub outcome: Result<Vec<Sample>, String>,
}

impl RuleResult {
    /// `name`'s outcome; any error that displays is its failure's text.
    pub fn new<E: fmt::Display>(
        name: impl Into<String>,
        outcome: Result<Vec<Sample>, E>,
    ) -> RuleResult {
        RuleResult {
            name: name.into(),
            outcome: outcome.map_err(|e| e.to_string()),
        }
    }
}

impl From<Sample> for wit_types::Sample {
    fn from(sample: Sample) -> wit_types::Sample {
        wit_types::Sample {
            labels: sample.labels.into(),
            timestamp_ms: sample.timestamp_ms,
            value: sample.value,
        }
    }
}

impl From<RuleResult> for wit_rules::RuleResult {
    fn from(result: RuleResult) -> wit_rules::RuleResult {
        wit_rules::RuleResult {
            name: result.name,
            outcome: result
                .outcome
                .map(|samples| samples.into_iter().map(Into::into).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_carry_their_operator() {
        for (matcher, op) in [
            (Matcher::equal("job", "a"), MatchOp::Equal),
            (Matcher::not_equal("job", "a"), MatchOp::NotEqual),
            (Matcher::regex("job", "a"), MatchOp::Regex),
            (Matcher::not_regex("job", "a"), MatchOp::NotRegex),
        ] {
            assert_eq!(
                (matcher.name.as_str(), matcher.value.as_str()),
                ("job", "a")
            );
            assert_eq!(matcher.op, op);
        }
    }

    #[test]
    fn results_become_wit_records() {
        let sample = Sample {
            labels: Labels::from([("__name__", "up:series")]),
            timestamp_ms: 60_000,
            value: 2.0,
        };
        let kept: wit_rules::RuleResult =
            RuleResult::new("up:series", Ok::<_, StoreError>(vec![sample])).into();
        let samples = kept.outcome.unwrap();
        assert_eq!(samples.len(), 1);
        assert_eq!((samples[0].timestamp_ms, samples[0].value), (60_000, 2.0));
        assert_eq!(samples[0].labels[0].value, "up:series");
        let failed: wit_rules::RuleResult =
            RuleResult::new("x", Err(StoreError("over budget".into()))).into();
        assert_eq!(failed.outcome.unwrap_err(), "over budget");
    }
}
