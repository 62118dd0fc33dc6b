//! The newest sample of each selected series across the head and the blocks, for `/federate`.
//!
//! Prometheus' `/federate` reads its whole database: a lookback window that reaches back before
//! the head's start (a long `--query.lookback-delta`, blocks cut every few seconds in tests, a
//! series that stopped before the last cut) finds its newest samples in blocks. Most requests
//! never reach that far, and they keep the head's fast path ([`Head::select_latest`]) untouched.
//! Only when a block ends inside the window are the blocks read, and then a series is chosen
//! by its newest sample over both sources *before* stale markers are dropped: a series whose
//! head says it went stale must not come back with an older value from a block.

use std::collections::BTreeMap;

use wasmfed_block::Error as BlockError;
use wasmfed_model::{is_stale_nan, Labels, Sample};

use crate::head::federation::Stale;
use crate::{Blocks, Head, LatestSamples, Matcher};

/// The newest non-stale sample in `(mint_exclusive, maxt]` of every series, in the head or in
/// a block, matching any of `matcher_sets`. Of equal timestamps, the block's sample is kept,
/// as queries merge them ([`crate::blocks::merge_in_place`], blocks first).
pub fn select_latest(
    head: &Head,
    blocks: &Blocks,
    matcher_sets: &[Vec<Matcher>],
    mint_exclusive: i64,
    maxt: i64,
) -> Result<LatestSamples, BlockError> {
    let reaches_blocks = blocks
        .max_time()
        .is_some_and(|end| end - 1 > mint_exclusive);
    if !reaches_blocks {
        return Ok(head.select_latest(matcher_sets, mint_exclusive, maxt));
    }
    let from_head = head.select_newest(matcher_sets, mint_exclusive, maxt, Stale::Keep);
    let mut newest: BTreeMap<Labels, Sample> = from_head
        .iter()
        .map(|s| (from_head.labels(&s), s.sample))
        .collect();
    for matchers in matcher_sets {
        for (labels, samples) in blocks.select(matchers, mint_exclusive + 1, maxt)? {
            let Some(last) = samples.last() else {
                continue;
            };
            newest
                .entry(labels)
                .and_modify(|kept| {
                    if last.timestamp_ms >= kept.timestamp_ms {
                        *kept = *last;
                    }
                })
                .or_insert(*last);
        }
    }
    Ok(LatestSamples::from_series(
        newest
            .into_iter()
            .filter(|(_, s)| !is_stale_nan(s.value))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_selector;
    use crate::testing::TestSeries;
    use wasmfed_model::compat::Compat;
    use wasmfed_model::STALE_NAN;

    /// `name{labels} value@t` per selected series, in order.
    fn text(latest: &LatestSamples) -> Vec<String> {
        latest
            .iter()
            .map(|s| {
                format!(
                    "{} {}@{}",
                    latest.labels(&s),
                    s.sample.value,
                    s.sample.timestamp_ms
                )
            })
            .collect()
    }

    fn sets(selectors: &[&str]) -> Vec<Vec<Matcher>> {
        selectors
            .iter()
            .map(|s| parse_selector(s, Compat::V3).expect("valid"))
            .collect()
    }

    /// A head cut at 10 000 (blocks hold what came before), then the head's own samples.
    fn storage(dir: &std::path::Path) -> (Head, Blocks) {
        let old: &[TestSeries] = &[
            // In both: the head's newer sample wins.
            (&[("__name__", "m"), ("k", "both")], &[(9_000, 1.0)]),
            // Only in the blocks: stopped before the cut.
            (
                &[("__name__", "m"), ("k", "gone")],
                &[(8_000, 2.0), (9_500, 3.0)],
            ),
            // Went stale in the head: the block's older value must not come back.
            (&[("__name__", "m"), ("k", "stale")], &[(9_000, 4.0)]),
            // Stale in the block, absent from the head.
            (
                &[("__name__", "m"), ("k", "ended")],
                &[(9_000, 5.0), (9_900, STALE_NAN)],
            ),
            // Out of the window.
            (&[("__name__", "m"), ("k", "old")], &[(1_000, 6.0)]),
            (&[("__name__", "other")], &[(9_800, 7.0)]),
        ];
        let blocks_head = Head::with_series(old);
        blocks_head
            .persist_block(dir, 0, 10_000)
            .expect("written")
            .expect("not empty");
        let blocks = Blocks::open(dir).expect("blocks open");
        let head = Head::with_series(&[
            (&[("__name__", "m"), ("k", "both")], &[(10_500, 8.0)]),
            (&[("__name__", "m"), ("k", "stale")], &[(10_100, STALE_NAN)]),
            (&[("__name__", "m"), ("k", "new")], &[(11_000, 9.0)]),
        ]);
        (head, blocks)
    }

    #[test]
    fn blocks_answer_what_the_window_reaches_before_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let (head, blocks) = storage(dir.path());
        let cases: &[(&[&str], i64, &[&str])] = &[
            (
                &["m"],
                5_000,
                &[
                    "{__name__=\"m\", k=\"both\"} 8@10500",
                    "{__name__=\"m\", k=\"gone\"} 3@9500",
                    "{__name__=\"m\", k=\"new\"} 9@11000",
                ],
            ),
            (
                &["m", "other", "{k=\"gone\"}"],
                5_000,
                &[
                    "{__name__=\"m\", k=\"both\"} 8@10500",
                    "{__name__=\"m\", k=\"gone\"} 3@9500",
                    "{__name__=\"m\", k=\"new\"} 9@11000",
                    "{__name__=\"other\"} 7@9800",
                ],
            ),
            // The window starts after the blocks end: the head alone.
            (
                &["m"],
                10_000,
                &[
                    "{__name__=\"m\", k=\"both\"} 8@10500",
                    "{__name__=\"m\", k=\"new\"} 9@11000",
                ],
            ),
            // The window's start is exclusive: a sample at 9 500 is out.
            (&["{k=\"gone\"}"], 9_500, &[]),
            (
                &["{k=\"gone\"}"],
                9_499,
                &["{__name__=\"m\", k=\"gone\"} 3@9500"],
            ),
        ];
        for (selectors, mint_exclusive, want) in cases {
            let got = select_latest(&head, &blocks, &sets(selectors), *mint_exclusive, 20_000)
                .expect("selects");
            assert_eq!(text(&got), *want, "{selectors:?} after {mint_exclusive}");
        }
    }

    #[test]
    fn the_merged_table_reads_like_the_heads() {
        let dir = tempfile::tempdir().unwrap();
        let (head, blocks) = storage(dir.path());
        let merged = select_latest(&head, &blocks, &sets(&["m"]), 5_000, 20_000).unwrap();
        let strings: Vec<&str> = merged.strings().collect();
        assert_eq!(strings, ["__name__", "both", "gone", "k", "m", "new"]);
        let only_head = select_latest(&head, &blocks, &sets(&["m"]), 10_000, 20_000).unwrap();
        let from_series = LatestSamples::from_series(
            only_head
                .iter()
                .map(|s| (only_head.labels(&s), s.sample))
                .collect(),
        );
        assert_eq!(text(&from_series), text(&only_head));
        assert_eq!(
            from_series.strings().collect::<Vec<_>>(),
            only_head.strings().collect::<Vec<_>>()
        );
    }
}
