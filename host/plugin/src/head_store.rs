//! The head, as rule and query plugins read it through their `store` import.
//!
//! Series come sorted by label set (the head's select order) and with their raw samples,
//! stale markers included: the plugin applies PromQL's lookback and staleness itself. A series
//! with no sample in the asked range is left out, as Prometheus' querier leaves it out.

use std::sync::Arc;

use crate::{AnswerBudget, SelectedSeries, SeriesStore};
use wasmfed_model::Labels;
use wasmfed_storage::{Head, Matcher};

/// Every series of one head.
pub struct HeadStore {
    head: Arc<Head>,
}

impl HeadStore {
    pub fn new(head: Arc<Head>) -> HeadStore {
        HeadStore { head }
    }
}

impl SeriesStore for HeadStore {
    fn select(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        max_bytes: usize,
    ) -> Result<Vec<SelectedSeries>, String> {
        let mut budget = AnswerBudget::new(max_bytes);
        let mut out = Vec::new();
        for r in self.head.select(matchers) {
            let samples = self.head.samples(r, start_ms, end_ms);
            if samples.is_empty() {
                continue;
            }
            let Some(labels) = self.head.labels(r) else {
                continue;
            };
            let series = SelectedSeries {
                labels,
                timestamps_ms: samples.iter().map(|s| s.timestamp_ms).collect(),
                values: samples.iter().map(|s| s.value).collect(),
            };
            budget.take_series(&series)?;
            out.push(series);
        }
        Ok(out)
    }

    fn series(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
        max_bytes: usize,
    ) -> Result<Vec<Labels>, String> {
        let mut budget = AnswerBudget::new(max_bytes);
        let mut out = Vec::new();
        for r in self.head.select(matchers) {
            if self.head.latest(r, start_ms - 1, end_ms).is_none() {
                continue;
            }
            let Some(labels) = self.head.labels(r) else {
                continue;
            };
            budget.take_labels(&labels)?;
            out.push(labels);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_storage::MatchOp;

    fn head() -> Arc<Head> {
        let head = Arc::new(Head::new());
        for (name, job, samples) in [
            ("up", "a", &[(1_000, 1.0), (2_000, 0.0)][..]),
            ("up", "b", &[(5_000, 1.0)][..]),
            ("mem", "a", &[(1_500, 7.0)][..]),
        ] {
            let (r, _) =
                head.get_or_create(&Labels::from_pairs([("__name__", name), ("job", job)]));
            for &(t, v) in samples {
                head.append(r, t, v).unwrap();
            }
        }
        head
    }

    fn up() -> Vec<Matcher> {
        vec![Matcher::new(MatchOp::Equal, "__name__", "up").unwrap()]
    }

    #[test]
    fn select_returns_sorted_series_with_their_samples_in_range() {
        let store = HeadStore::new(head());
        let got = store.select(&up(), 1_000, 2_000, 1 << 20).unwrap();
        assert_eq!(got.len(), 1, "job b has nothing in range");
        assert_eq!(
            got[0].labels,
            Labels::from_pairs([("__name__", "up"), ("job", "a")])
        );
        assert_eq!(got[0].timestamps_ms, [1_000, 2_000]);
        assert_eq!(got[0].values, [1.0, 0.0]);
        let all = store.select(&up(), 0, 10_000, 1 << 20).unwrap();
        let jobs: Vec<&str> = all.iter().map(|s| s.labels.get("job").unwrap()).collect();
        assert_eq!(jobs, ["a", "b"]);
    }

    #[test]
    fn series_lists_label_sets_with_a_sample_in_range() {
        let store = HeadStore::new(head());
        let got = store.series(&up(), 3_000, 6_000, 1 << 20).unwrap();
        assert_eq!(
            got,
            [Labels::from_pairs([("__name__", "up"), ("job", "b")])]
        );
        // The range is closed on both ends.
        assert_eq!(store.series(&up(), 2_000, 2_000, 1 << 20).unwrap().len(), 1);
    }

    #[test]
    fn an_answer_over_budget_is_refused() {
        let store = HeadStore::new(head());
        let err = store.select(&up(), 0, 10_000, 40).unwrap_err();
        assert!(err.contains("more than the plugin's"), "{err}");
    }
}
