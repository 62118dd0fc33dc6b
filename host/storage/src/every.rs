//! Every sample of the selected series in a time window, across the head and the blocks: what
//! `/federate`'s every-sample mode sends, where plain `/federate` sends the newest only.
//!
//! Stale markers are samples here: a receiver that stores every sample must learn where a
//! series ended, as the node did. The answer is bounded: a window holding more than the
//! caller's budget is not read to its end ([`select_every`] answers `None`), so the caller can
//! narrow the window instead of holding an unbounded backlog in memory.

use std::collections::BTreeMap;

use wasmfed_block::Error as BlockError;
use wasmfed_model::{Labels, Sample};

use crate::blocks::merge_in_place;
use crate::head::federation::Stale;
use crate::{Blocks, Head, LatestSamples, Matcher};

/// The selected series, ordered as `/federate` orders families (by metric name, then by label
/// set) with their string table, and each one's samples (`runs[i]` for the `i`th series).
pub struct EveryRuns {
    pub selected: LatestSamples,
    pub runs: Vec<Vec<Sample>>,
}

impl EveryRuns {
    pub fn samples(&self) -> usize {
        self.runs.iter().map(Vec::len).sum()
    }
}

/// The samples with `mint <= t <= maxt` of every series matching any of `matcher_sets`, stale
/// markers included; series without one are left out. `None` when there are more than
/// `max_samples` (counting stops there).
///
/// Within the head this is `/federate`'s own selection (one pass under the catalog lock, label
/// sets as string ids, no `Labels` built), then each series' samples by ref. Only a window
/// reaching into the blocks takes the general way, label sets compared as strings.
pub fn select_every(
    head: &Head,
    blocks: &Blocks,
    matcher_sets: &[Vec<Matcher>],
    (mint, maxt): (i64, i64),
    max_samples: usize,
) -> Result<Option<EveryRuns>, BlockError> {
    if blocks.max_time().is_some_and(|end| mint < end) {
        return with_blocks(head, blocks, matcher_sets, (mint, maxt), max_samples);
    }
    let selected = head.select_newest(matcher_sets, mint.saturating_sub(1), maxt, Stale::Keep);
    let mut taken = 0usize;
    let mut runs = Vec::with_capacity(selected.len());
    for series in selected.iter() {
        let samples = head.samples(series.series_ref, mint, maxt);
        taken += samples.len();
        if taken > max_samples {
            return Ok(None);
        }
        runs.push(samples);
    }
    Ok(Some(EveryRuns { selected, runs }))
}

/// [`select_every`] over the blocks and the head, merged by label set.
fn with_blocks(
    head: &Head,
    blocks: &Blocks,
    matcher_sets: &[Vec<Matcher>],
    (mint, maxt): (i64, i64),
    max_samples: usize,
) -> Result<Option<EveryRuns>, BlockError> {
    let mut taken = 0usize;
    let mut over = |n: usize| {
        taken += n;
        taken > max_samples
    };
    let mut runs: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    for matchers in matcher_sets {
        for (labels, samples) in blocks.select(matchers, mint, maxt)? {
            if runs.contains_key(&labels) {
                continue; // selected by an earlier set
            }
            if over(samples.len()) {
                return Ok(None);
            }
            runs.insert(labels, samples);
        }
    }
    let mut refs: Vec<_> = matcher_sets.iter().flat_map(|m| head.select(m)).collect();
    refs.sort_unstable();
    refs.dedup();
    for r in refs {
        let samples = head.samples(r, mint, maxt);
        if samples.is_empty() {
            continue;
        }
        let Some(labels) = head.labels(r) else {
            continue;
        };
        if over(samples.len()) {
            return Ok(None);
        }
        let run = runs.entry(labels).or_default();
        if run.is_empty() {
            *run = samples;
        } else {
            // Blocks first: of equal timestamps, the block's is kept, as queries keep it.
            run.extend(samples);
            merge_in_place(run);
        }
    }
    let mut runs: Vec<(Labels, Vec<Sample>)> = runs.into_iter().collect();
    runs.sort_by(|(a, _), (b, _)| a.metric_name().cmp(b.metric_name()).then_with(|| a.cmp(b)));
    // The newest sample of each run stands in for it in the string table's selection, which
    // orders series as they are sorted here.
    let newest = runs
        .iter()
        .map(|(l, s)| (l.clone(), s[s.len() - 1]))
        .collect();
    Ok(Some(EveryRuns {
        selected: LatestSamples::from_series(newest),
        runs: runs.into_iter().map(|(_, s)| s).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_selector;
    use wasmfed_model::compat::Compat;
    use wasmfed_model::STALE_NAN;

    fn sets(selectors: &[&str]) -> Vec<Vec<Matcher>> {
        selectors
            .iter()
            .map(|s| parse_selector(s, Compat::V3).unwrap())
            .collect()
    }

    fn shown(every: &EveryRuns) -> Vec<String> {
        every
            .selected
            .iter()
            .zip(&every.runs)
            .map(|(series, samples)| {
                let labels = every.selected.labels(&series);
                let samples: Vec<String> = samples
                    .iter()
                    .map(|s| match wasmfed_model::is_stale_nan(s.value) {
                        true => format!("stale@{}", s.timestamp_ms),
                        false => format!("{}@{}", s.value, s.timestamp_ms),
                    })
                    .collect();
                format!("{labels} {}", samples.join(" "))
            })
            .collect()
    }

    #[test]
    fn every_sample_in_the_window_in_family_order() {
        let head = Head::with_series(&[
            (
                &[("__name__", "b"), ("j", "1")],
                &[(900, 0.0), (1000, 1.0), (1500, 2.0)],
            ),
            (
                &[("A", "x"), ("__name__", "a")],
                &[(1200, 3.0), (1300, STALE_NAN)],
            ),
            (&[("__name__", "a"), ("j", "2")], &[(2001, 4.0)]),
            (&[("__name__", "c")], &[(1100, 5.0)]),
        ]);
        let blocks = Blocks::default();
        let runs = select_every(
            &head,
            &blocks,
            &sets(&["{__name__=~\"a|b\"}", "b"]),
            (1000, 2000),
            10,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            shown(&runs),
            [
                "{A=\"x\", __name__=\"a\"} 3@1200 stale@1300",
                "{__name__=\"b\", j=\"1\"} 1@1000 2@1500",
            ]
        );
        let over = select_every(&head, &blocks, &sets(&["{__name__=~\".+\"}"]), (0, 3000), 6);
        assert!(over.unwrap().is_none(), "7 samples, budget 6");
        let fits = select_every(&head, &blocks, &sets(&["{__name__=~\".+\"}"]), (0, 3000), 7);
        assert_eq!(fits.unwrap().unwrap().runs.len(), 4);
    }

    #[test]
    fn a_window_into_the_blocks_merges_them_with_the_head_and_answers_alike() {
        let head = Head::with_series(&[
            (
                &[("__name__", "b"), ("j", "1")],
                &[(1_000, 1.0), (5_000, 2.0), (9_000, 3.0)],
            ),
            (
                &[("A", "x"), ("__name__", "a")],
                &[(2_000, 4.0), (8_000, STALE_NAN)],
            ),
            (&[("__name__", "c")], &[(3_000, 5.0)]),
        ]);
        let all = sets(&["{__name__=~\".+\"}"]);
        let from_head = select_every(&head, &Blocks::default(), &all, (0, 10_000), 100)
            .unwrap()
            .unwrap();
        // The first half persisted as a block (the head keeps its samples too): the same runs.
        let dir = tempfile::tempdir().unwrap();
        head.persist_block(dir.path(), 0, 4_000).unwrap().unwrap();
        let blocks = Blocks::open(dir.path()).unwrap();
        let merged = select_every(&head, &blocks, &all, (0, 10_000), 100)
            .unwrap()
            .unwrap();
        assert_eq!(shown(&merged), shown(&from_head));
        assert_eq!(merged.samples(), 6);
        assert!(select_every(&head, &blocks, &all, (0, 10_000), 5)
            .unwrap()
            .is_none());
    }
}
