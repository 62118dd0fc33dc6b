//! Persisting a range of the head into a block ([`wasmfed_block`]), so the head (its memory,
//! its log, its replay at start) holds only the recent range, as Prometheus' head does.
//!
//! The samples of each series in the range are re-encoded into XOR chunks of at most
//! 120 samples that never cross the block's bounds (the head's own chunks
//! may). Series are written in label order, which the index requires; only their label sets
//! and chunk references are held until the index is written, never their samples.

use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

use wasmfed_block::{BlockMeta, BlockWriter, ChunkData, Error as BlockError};
use wasmfed_model::Labels;

use super::{Head, SeriesRef};
use crate::blocks::{encode_chunks, EncodedChunk};

impl Head {
    /// The times of the oldest and newest sample of all series, if any.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let mut range: Option<(i64, i64)> = None;
        for shard in self.shards.iter() {
            for s in shard.read().values() {
                if let Some((first, last)) = s.samples.lock().time_range() {
                    range = Some(match range {
                        None => (first, last),
                        Some((a, b)) => (a.min(first), b.max(last)),
                    });
                }
            }
        }
        range
    }

    /// Refuses samples older than `t` from now on ([`crate::AppendError::OutOfBounds`]).
    pub fn set_min_valid_time(&self, t: i64) {
        self.min_valid_ms.fetch_max(t, Relaxed);
    }

    /// The oldest time an append is accepted at.
    pub fn min_valid_time(&self) -> i64 {
        self.min_valid_ms.load(Relaxed)
    }

    /// Writes the samples with `mint <= t < maxt` into a new block in `dir`, whose range runs
    /// from its oldest sample (at `mint` or later) to `maxt`. `None` when the range holds no
    /// sample (no block is written).
    pub fn persist_block(
        &self,
        dir: &Path,
        mint: i64,
        maxt: i64,
    ) -> Result<Option<BlockMeta>, BlockError> {
        let mut series: Vec<(Labels, SeriesRef)> = Vec::new();
        for shard in self.shards.iter() {
            let refs: Vec<u64> = shard
                .read()
                .iter()
                .filter(|(_, s)| {
                    s.samples
                        .lock()
                        .time_range()
                        .is_some_and(|(first, last)| first < maxt && last >= mint)
                })
                .map(|(&r, _)| r)
                .collect();
            series.extend(
                refs.into_iter()
                    .filter_map(|r| Some((self.labels(SeriesRef(r))?, SeriesRef(r)))),
            );
        }
        if series.is_empty() {
            return Ok(None);
        }
        series.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut writer = BlockWriter::create(dir, mint, maxt)?;
        let mut oldest = i64::MAX;
        for (labels, r) in series {
            let encoded = encode_chunks(&self.samples(r, mint, maxt - 1));
            oldest = encoded.first().map_or(oldest, |c| oldest.min(c.min_time));
            let chunks: Vec<ChunkData<'_>> = encoded.iter().map(EncodedChunk::data).collect();
            writer.add_series(labels, &chunks)?;
        }
        // Series whose samples straddle the range without one inside it add nothing.
        if writer.num_series() == 0 {
            return Ok(None);
        }
        // As Prometheus' head block: from the oldest sample written, not the range's start.
        writer.start_at(oldest);
        writer.finish().map(Some)
    }
}
