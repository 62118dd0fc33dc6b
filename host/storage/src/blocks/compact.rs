//! Compaction: blocks merged into larger ones, as Prometheus' leveled compactor plans it, so a
//! long retention is held in few blocks (fewer indexes to open and search, fewer files).
//!
//! Ranges grow by three from the head's block range (2 h → 6 h → 18 h → 54 h ...) up to the
//! largest block (`--storage.tsdb.max-block-duration`, by default a tenth of the retention, at
//! most 31 days). A plan is, in Prometheus' order: blocks that overlap in time (merged whatever
//! their ranges); else, leaving out the newest block, the first group of blocks that share an
//! aligned window of the next range and either fill it or lie wholly before the newest block.
//!
//! A crash cannot leave data twice or half: the merged block appears by a rename once it is
//! complete, its `meta.json` names its parents, and a start that finds both a block and its
//! parents deletes the parents ([`delete_compacted_parents`]).

use std::sync::Arc;

use wasmfed_block::{Block, BlockMeta, BlockWriter, Error as BlockError, Ulid};

use super::{merge, Blocks};

/// Prometheus' `ExponentialBlockRanges(min, 10, 3)`, cut at `max`.
pub fn block_ranges(min_ms: i64, max_ms: i64) -> Vec<i64> {
    let mut ranges = Vec::new();
    let mut range = min_ms;
    for _ in 0..10 {
        if range > max_ms {
            break;
        }
        ranges.push(range);
        range = range.saturating_mul(3);
    }
    ranges
}

/// The blocks to compact next (oldest first), if any. `metas` are sorted by `min_time`.
pub fn plan(metas: &[BlockMeta], ranges: &[i64]) -> Vec<Ulid> {
    let overlapping = overlapping(metas);
    if !overlapping.is_empty() {
        return overlapping;
    }
    // The newest block stays out, so a full range of blocks can still be backed up piece-wise.
    let Some((_, older)) = metas.split_last() else {
        return Vec::new();
    };
    select(older, ranges)
}

fn overlapping(metas: &[BlockMeta]) -> Vec<Ulid> {
    let mut picked = Vec::new();
    let Some(first) = metas.first() else {
        return picked;
    };
    let mut max_time = first.max_time;
    for (i, m) in metas.iter().enumerate().skip(1) {
        if m.min_time < max_time {
            if picked.is_empty() {
                picked.push(metas[i - 1].ulid);
            }
            picked.push(m.ulid);
        } else if !picked.is_empty() {
            break;
        }
        max_time = max_time.max(m.max_time);
    }
    picked
}

fn select(metas: &[BlockMeta], ranges: &[i64]) -> Vec<Ulid> {
    let Some(high_time) = metas.last().map(|m| m.min_time) else {
        return Vec::new();
    };
    for &range in ranges.iter().skip(1) {
        for group in split_by_range(metas, range) {
            if group.iter().any(|m| m.compaction.failed) {
                continue;
            }
            let (mint, maxt) = (group[0].min_time, group[group.len() - 1].max_time);
            if (maxt - mint == range || maxt <= high_time) && group.len() > 1 {
                return group.iter().map(|m| m.ulid).collect();
            }
        }
    }
    Vec::new()
}

/// Groups of consecutive blocks that lie within one aligned window of `range`; blocks that
/// cross a window's end belong to none.
fn split_by_range(metas: &[BlockMeta], range: i64) -> Vec<&[BlockMeta]> {
    let mut groups = Vec::new();
    let mut i = 0;
    while i < metas.len() {
        let window_end = metas[i].min_time.div_euclid(range) * range + range;
        if metas[i].max_time > window_end {
            i += 1;
            continue;
        }
        let start = i;
        while i < metas.len() && metas[i].max_time <= window_end {
            i += 1;
        }
        groups.push(&metas[start..i]);
    }
    groups
}

/// The blocks of `list` that a newer block names as its parents: a compaction finished but
/// crashed before it deleted them.
pub(super) fn compacted_parents(list: &[Arc<Block>]) -> Vec<Ulid> {
    let mut parents: Vec<Ulid> = list
        .iter()
        .flat_map(|b| b.meta().compaction.parents.iter().map(|p| p.ulid))
        .collect();
    parents.retain(|p| list.iter().any(|b| b.meta().ulid == *p));
    parents
}

impl Blocks {
    /// Runs one step of the compaction plan over `ranges`, if there is one: writes the merged
    /// block (none if the parents hold no sample), opens it, then deletes its parents.
    /// Returns whether a step was run.
    pub fn compact(&self, ranges: &[i64]) -> Result<bool, BlockError> {
        let Some(dir) = self.dir().map(|d| d.to_path_buf()) else {
            return Ok(false);
        };
        let list = self.list.read().clone();
        let metas: Vec<BlockMeta> = list.iter().map(|b| b.meta().clone()).collect();
        let chosen = plan(&metas, ranges);
        if chosen.len() < 2 {
            return Ok(false);
        }
        let parents: Vec<Arc<Block>> = list
            .into_iter()
            .filter(|b| chosen.contains(&b.meta().ulid))
            .collect();
        let parent_metas: Vec<BlockMeta> = parents.iter().map(|b| b.meta().clone()).collect();
        let min_time = parent_metas.iter().map(|m| m.min_time).min().unwrap_or(0);
        let max_time = parent_metas.iter().map(|m| m.max_time).max().unwrap_or(0);
        tracing::info!(
            parents = chosen.len(),
            min_time,
            max_time,
            "compacting blocks"
        );
        let mut writer = BlockWriter::create(&dir, min_time, max_time)?;
        writer.compacted_from(&parent_metas);
        merge::merge_into(&mut writer, &parents)?;
        let merged = if writer.num_series() == 0 {
            drop(writer);
            None
        } else {
            let meta = writer.finish()?;
            self.add(&dir.join(meta.ulid.to_string()))?;
            Some(meta)
        };
        self.delete(|m| chosen.contains(&m.ulid));
        if let Some(meta) = &merged {
            tracing::info!(
                ulid = %meta.ulid,
                level = meta.compaction.level,
                parents = chosen.len(),
                min_time = meta.min_time,
                max_time = meta.max_time,
                "compacted blocks"
            );
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmfed_block::BlockStats;

    fn meta(name: u128, min_time: i64, max_time: i64) -> BlockMeta {
        BlockMeta::new_level1(Ulid::from(name), min_time, max_time, BlockStats::default())
    }

    /// Prometheus 2.42's `TestLeveledCompactor_plan`, case for case (but those about
    /// tombstone-heavy blocks: wasmfed does not rewrite a block for its tombstones alone).
    #[test]
    fn plans_as_prometheus_leveled_compactor() {
        let ranges = [20, 60, 180, 540, 1620];
        let cases: Vec<(&str, Vec<BlockMeta>, Vec<u128>)> = vec![
            ("outside range", vec![meta(1, 0, 20)], vec![]),
            (
                "wait for four blocks of 20",
                vec![meta(1, 0, 20), meta(2, 20, 40)],
                vec![],
            ),
            (
                "three, but the fresh one is ignored",
                vec![meta(1, 0, 20), meta(2, 20, 40), meta(3, 40, 60)],
                vec![],
            ),
            (
                "the block filling the parent range appeared",
                vec![
                    meta(1, 0, 20),
                    meta(2, 20, 40),
                    meta(3, 40, 60),
                    meta(4, 60, 80),
                ],
                vec![1, 2, 3],
            ),
            (
                "next range appeared after a gap; fresh one ignored",
                vec![meta(1, 0, 20), meta(2, 20, 40), meta(3, 60, 80)],
                vec![],
            ),
            (
                "the gap will not be filled any more",
                vec![
                    meta(1, 0, 20),
                    meta(2, 20, 40),
                    meta(3, 60, 80),
                    meta(4, 80, 100),
                ],
                vec![1, 2],
            ),
            (
                "20, 20, 20, 60, 60",
                vec![
                    meta(1, 0, 20),
                    meta(2, 20, 40),
                    meta(3, 40, 60),
                    meta(4, 60, 120),
                    meta(5, 120, 180),
                ],
                vec![1, 2, 3],
            ),
            (
                "20 + 60 + 60",
                vec![
                    meta(2, 20, 40),
                    meta(4, 60, 120),
                    meta(6, 120, 180),
                    meta(7, 720, 960),
                    meta(5, 960, 980),
                ],
                vec![2, 4, 6],
            ),
            (
                "the fresh block is the one with the newest start, not the newest ULID",
                vec![
                    meta(5, 0, 360),
                    meta(7, 360, 420),
                    meta(8, 420, 540),
                    meta(6, 540, 560),
                ],
                vec![7, 8],
            ),
            (
                "overlapping blocks",
                vec![meta(1, 0, 20), meta(2, 19, 40), meta(3, 40, 60)],
                vec![1, 2],
            ),
            (
                "overlapping blocks, the first pair wins",
                vec![
                    meta(1, 0, 20),
                    meta(2, 19, 40),
                    meta(3, 40, 60),
                    meta(4, 50, 70),
                ],
                vec![1, 2],
            ),
            (
                "one block overlapping several",
                vec![
                    meta(1, 0, 20),
                    meta(2, 10, 60),
                    meta(3, 40, 60),
                    meta(4, 60, 80),
                ],
                vec![1, 2, 3],
            ),
        ];
        for (name, metas, want) in cases {
            let want: Vec<Ulid> = want.into_iter().map(Ulid::from).collect();
            assert_eq!(plan(&metas, &ranges), want, "{name}");
        }
    }

    #[test]
    fn ranges_grow_by_three_up_to_the_largest_block() {
        let h = 3_600_000;
        assert_eq!(
            block_ranges(2 * h, 31 * 24 * h),
            [2 * h, 6 * h, 18 * h, 54 * h, 162 * h, 486 * h]
        );
        // 15 days of retention: blocks of at most 36 h.
        assert_eq!(block_ranges(2 * h, 36 * h), [2 * h, 6 * h, 18 * h]);
        assert_eq!(block_ranges(2 * h, h), Vec::<i64>::new());
    }
}
