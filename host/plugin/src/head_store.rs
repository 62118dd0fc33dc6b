//! The head and the blocks beside it, as rule and query plugins read them through their
//! `store` import.
//!
//! Series come sorted by label set and with their raw samples, stale markers included: the
//! plugin applies PromQL's lookback and staleness itself. A series with no sample in the asked
//! range is left out, as Prometheus' querier leaves it out. Blocks are read only when the
//! range reaches back before the head's start; a series in both is one series, its samples
//! merged by time (the head's newer samples after the blocks' older ones).

use std::sync::Arc;

use crate::{AnswerBudget, SelectedSeries, SeriesStore};
use wasmfed_model::{Labels, Sample};
use wasmfed_storage::blocks::{merge_in_place, SelectedSamples};
use wasmfed_storage::{Blocks, Head, Matcher};

/// Every series of one tenant's storage.
pub struct HeadStore {
    head: Arc<Head>,
    blocks: Arc<Blocks>,
}

impl HeadStore {
    pub fn new(head: Arc<Head>, blocks: Arc<Blocks>) -> HeadStore {
        HeadStore { head, blocks }
    }

    /// The blocks' samples of the range, when it reaches before the head's start.
    fn older_from_blocks(
        &self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<SelectedSamples, String> {
        let reaches_blocks = self
            .blocks
            .max_time()
            .is_some_and(|blocks_end| start_ms < blocks_end);
        if !reaches_blocks {
            return Ok(SelectedSamples::new());
        }
        self.blocks
            .select(matchers, start_ms, end_ms)
            .map_err(|e| format!("reading blocks: {e}"))
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
        let mut merged = self.older_from_blocks(matchers, start_ms, end_ms)?;
        let mut out = Vec::new();
        let only_head = merged.is_empty();
        for r in self.head.select(matchers) {
            let samples = self.head.samples(r, start_ms, end_ms);
            if samples.is_empty() {
                continue;
            }
            let Some(labels) = self.head.labels(r) else {
                continue;
            };
            if only_head {
                // Streamed in the head's order (by label set), checked as it goes.
                let series = selected(labels, &samples);
                budget.take_series(&series)?;
                out.push(series);
            } else {
                let all = merged.entry(labels).or_default();
                all.extend(samples);
                merge_in_place(all);
            }
        }
        for (labels, samples) in merged {
            let series = selected(labels, &samples);
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
        let mut labels: Vec<Labels> = self
            .older_from_blocks(matchers, start_ms, end_ms)?
            .into_keys()
            .collect();
        for r in self.head.select(matchers) {
            if self.head.latest(r, start_ms - 1, end_ms).is_none() {
                continue;
            }
            labels.extend(self.head.labels(r));
        }
        labels.sort_unstable();
        labels.dedup();
        for l in &labels {
            budget.take_labels(l)?;
        }
        Ok(labels)
    }
}

fn selected(labels: Labels, samples: &[Sample]) -> SelectedSeries {
    SelectedSeries {
        labels,
        timestamps_ms: samples.iter().map(|s| s.timestamp_ms).collect(),
        values: samples.iter().map(|s| s.value).collect(),
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
        let store = HeadStore::new(head(), Arc::default());
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
        let store = HeadStore::new(head(), Arc::default());
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
        let store = HeadStore::new(head(), Arc::default());
        let err = store.select(&up(), 0, 10_000, 40).unwrap_err();
        assert!(err.contains("more than the plugin's"), "{err}");
    }

    #[test]
    fn blocks_and_head_answer_as_one_store() {
        let whole = HeadStore::new(head(), Arc::default());
        let dir = tempfile::tempdir().unwrap();
        let blocks = Arc::new(Blocks::open(dir.path()).unwrap());
        let cut = head();
        // [0, 1.8 s) goes to a block; the head forgets it (its chunks hold everything, so
        // truncation keeps them: the samples then sit in both, and are answered once).
        cut.persist_block(dir.path(), 0, 1_800).unwrap().unwrap();
        blocks
            .add(&dir.path().join(blocks_dir_entry(dir.path())))
            .unwrap();
        let split = HeadStore::new(cut, blocks);
        let any = vec![Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()];
        for (start, end) in [(0, 10_000), (1_000, 1_000), (1_500, 2_000), (2_000, 5_000)] {
            let (a, b) = (
                whole.select(&any, start, end, 1 << 20).unwrap(),
                split.select(&any, start, end, 1 << 20).unwrap(),
            );
            let key =
                |s: &SelectedSeries| (s.labels.clone(), s.timestamps_ms.clone(), s.values.clone());
            assert_eq!(
                a.iter().map(key).collect::<Vec<_>>(),
                b.iter().map(key).collect::<Vec<_>>(),
                "[{start}, {end}]"
            );
            assert_eq!(
                whole.series(&any, start, end, 1 << 20).unwrap(),
                split.series(&any, start, end, 1 << 20).unwrap()
            );
        }
    }

    fn blocks_dir_entry(dir: &std::path::Path) -> std::path::PathBuf {
        std::fs::read_dir(dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name()
            .into()
    }
}
