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
use crate::{Blocks, Head, Matcher};

/// Series with their samples, ordered as `/federate` orders families: by metric name, then by
/// label set.
pub type SeriesRuns = Vec<(Labels, Vec<Sample>)>;

/// The samples with `mint <= t <= maxt` of every series matching any of `matcher_sets`, stale
/// markers included; series without one are left out. `None` when there are more than
/// `max_samples` (counting stops there).
pub fn select_every(
    head: &Head,
    blocks: &Blocks,
    matcher_sets: &[Vec<Matcher>],
    (mint, maxt): (i64, i64),
    max_samples: usize,
) -> Result<Option<SeriesRuns>, BlockError> {
    let mut taken = 0usize;
    let mut over = |n: usize| {
        taken += n;
        taken > max_samples
    };
    let mut runs: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    if blocks.max_time().is_some_and(|end| mint < end) {
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
    let mut runs: SeriesRuns = runs.into_iter().collect();
    runs.sort_by(|(a, _), (b, _)| a.metric_name().cmp(b.metric_name()).then_with(|| a.cmp(b)));
    Ok(Some(runs))
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

    fn shown(runs: &SeriesRuns) -> Vec<String> {
        runs.iter()
            .map(|(labels, samples)| {
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
        assert_eq!(over.unwrap(), None, "7 samples, budget 6");
        let fits = select_every(&head, &blocks, &sets(&["{__name__=~\".+\"}"]), (0, 3000), 7);
        assert_eq!(fits.unwrap().unwrap().len(), 4);
    }
}
