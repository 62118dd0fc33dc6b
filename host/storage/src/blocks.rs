//! The immutable blocks beside the head: history older than the head holds, in Prometheus'
//! block format ([`wasmfed_block`]), whether wasmfed cut them from its head or a Prometheus
//! wrote them in the data directory wasmfed took over.
//!
//! Blocks are selected like the head (matchers over each block's postings, in `select`) and
//! their XOR chunks decoded on read; nothing of a block but what Prometheus keeps of an open
//! index (label names and sampled offsets) stays in memory. Overlapping blocks are allowed (a
//! backfill, or a block cut from old samples) and merged sample by sample, the first of equal
//! timestamps winning, as Prometheus' vertical merge does for identical samples. Samples
//! deleted by a block's tombstones are left out.

mod compact;
mod cut;
mod merge;
mod metrics;
mod select;

pub use compact::{block_ranges, plan};
pub use metrics::BlockMetrics;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;
use wasmfed_block::block::{block_dirs, remove_unfinished, TMP_FOR_DELETION};
use wasmfed_block::chunks::{ChunkMeta, ENCODING_XOR};
use wasmfed_block::{Block, BlockMeta, ChunkData, Error as BlockError};
use wasmfed_model::{Labels, Sample};

use crate::chunk::{ChunkIter, OpenChunk, SAMPLES_PER_CHUNK};
use crate::matcher::Matcher;

/// Series selected from the blocks: label set → samples, oldest first, one per timestamp.
pub type SelectedSamples = BTreeMap<Labels, Vec<Sample>>;

/// The open blocks of one storage directory, oldest first. Empty (and without a directory)
/// for a node that keeps no storage path.
#[derive(Default)]
pub struct Blocks {
    dir: OnceLock<PathBuf>,
    list: RwLock<Vec<Arc<Block>>>,
}

impl Blocks {
    /// [`Blocks::load`]s `dir` into a new set.
    pub fn open(dir: &Path) -> Result<Blocks, BlockError> {
        let blocks = Blocks::default();
        blocks.load(dir)?;
        Ok(blocks)
    }

    /// Makes `dir` this set's directory and opens every block in it, after deleting what a
    /// crash left half written or half deleted. A block that does not open is an error naming
    /// it: starting without part of the history would answer queries wrongly without a word.
    /// Returns how many blocks were opened.
    pub fn load(&self, dir: &Path) -> Result<usize, BlockError> {
        for removed in remove_unfinished(dir)? {
            tracing::warn!(dir = %removed.display(), "removed an unfinished block directory");
        }
        let mut opened = Vec::new();
        for path in block_dirs(dir)? {
            opened.push(Arc::new(Block::open(&path)?));
        }
        let _ = self.dir.set(dir.to_path_buf());
        {
            let mut list = self.list.write();
            list.extend(opened);
            list.sort_by_key(|b| (b.meta().min_time, b.meta().ulid));
        }
        let finished = compact::compacted_parents(&self.list.read());
        for meta in self.delete(|m| finished.contains(&m.ulid)) {
            tracing::warn!(ulid = %meta.ulid, "deleted a block already compacted into another");
        }
        Ok(self.len())
    }

    /// The directory blocks are read from and written to, once loaded.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.get().map(PathBuf::as_path)
    }

    /// Opens the block just written at `dir` and makes it visible to queries.
    pub fn add(&self, dir: &Path) -> Result<BlockMeta, BlockError> {
        let block = Arc::new(Block::open(dir)?);
        let meta = block.meta().clone();
        let mut list = self.list.write();
        list.push(block);
        list.sort_by_key(|b| (b.meta().min_time, b.meta().ulid));
        Ok(meta)
    }

    /// The metas of the open blocks, oldest first.
    pub fn metas(&self) -> Vec<BlockMeta> {
        self.list.read().iter().map(|b| b.meta().clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.list.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.read().is_empty()
    }

    /// The end (exclusive) of the newest block's range.
    pub fn max_time(&self) -> Option<i64> {
        self.list.read().iter().map(|b| b.meta().max_time).max()
    }

    /// Applies Prometheus' block retention: a block whose end is more than `retention_ms`
    /// before the newest block's end goes, and so does every block (oldest first) once the
    /// blocks, newest first, plus `other_bytes` (the log) exceed `max_bytes`. Returns what
    /// was deleted, by time and by size.
    pub fn apply_retention(
        &self,
        retention_ms: i64,
        max_bytes: Option<u64>,
        other_bytes: u64,
    ) -> (Vec<BlockMeta>, Vec<BlockMeta>) {
        let mut by_end = self.list.read().clone();
        by_end.sort_by_key(|b| std::cmp::Reverse(b.meta().max_time));
        let Some(newest) = by_end.first().map(|b| b.meta().max_time) else {
            return (Vec::new(), Vec::new());
        };
        let mut total = other_bytes;
        let (mut by_time, mut by_size) = (Vec::new(), Vec::new());
        for b in &by_end {
            total += b.size();
            if newest - b.meta().max_time > retention_ms {
                by_time.push(b.meta().ulid);
            } else if max_bytes.is_some_and(|m| total > m) {
                by_size.push(b.meta().ulid);
            }
        }
        (
            self.delete(|meta| by_time.contains(&meta.ulid)),
            self.delete(|meta| by_size.contains(&meta.ulid)),
        )
    }

    /// Deletes the blocks `doomed` picks, first renaming each so a crash mid-delete leaves a
    /// directory the next start removes, never a half block. Queries under way keep reading
    /// the maps they hold. Returns the deleted.
    pub fn delete(&self, doomed: impl Fn(&BlockMeta) -> bool) -> Vec<BlockMeta> {
        let gone: Vec<Arc<Block>> = {
            let mut list = self.list.write();
            let (gone, kept) = list.drain(..).partition(|b| doomed(b.meta()));
            *list = kept;
            gone
        };
        let mut removed = Vec::new();
        for block in gone {
            let dir = block.dir().to_path_buf();
            let tmp = PathBuf::from(format!("{}{TMP_FOR_DELETION}", dir.display()));
            let outcome = std::fs::rename(&dir, &tmp).and_then(|()| std::fs::remove_dir_all(&tmp));
            match outcome {
                Ok(()) => removed.push(block.meta().clone()),
                Err(e) => tracing::error!(dir = %dir.display(), error = %e, "deleting a block"),
            }
        }
        removed
    }

    /// Bytes of the blocks' index and chunk files.
    pub fn size(&self) -> u64 {
        self.list.read().iter().map(|b| b.size()).sum()
    }

    /// The blocks holding samples of `[mint, maxt]` (a block's range is open on the right).
    fn overlapping(&self, mint: i64, maxt: i64) -> Vec<Arc<Block>> {
        self.list
            .read()
            .iter()
            .filter(|b| b.meta().min_time <= maxt && b.meta().max_time > mint)
            .cloned()
            .collect()
    }

    /// The label sets of the series matching `matchers` in every block overlapping
    /// `[mint, maxt]`, from the indexes alone (whether a series has a sample in the range is
    /// not looked at; see [`crate::metadata`]).
    pub fn indexed_labels(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, BlockError> {
        let blocks = self.overlapping(mint, maxt);
        let mut out = Vec::new();
        let mut metas = Vec::new();
        for block in &blocks {
            for id in select::series(block.index(), matchers)? {
                out.push(block.index().series(id, &mut metas)?);
            }
        }
        Ok(out)
    }

    /// The samples with `mint <= t <= maxt` of the series matching `matchers`, by label set.
    /// Series without a sample in the range are left out.
    pub fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<SelectedSamples, BlockError> {
        let blocks = self.overlapping(mint, maxt);
        let mut out = SelectedSamples::new();
        let mut metas = Vec::new();
        for block in &blocks {
            for id in select::series(block.index(), matchers)? {
                let labels = block.index().series(id, &mut metas)?;
                let mut samples = Vec::new();
                for meta in metas
                    .iter()
                    .filter(|m| m.min_time <= maxt && m.max_time >= mint)
                {
                    samples.extend(
                        chunk_samples(block, id, meta)?
                            .skip_while(|s| s.timestamp_ms < mint)
                            .take_while(|s| s.timestamp_ms <= maxt),
                    );
                }
                if !samples.is_empty() {
                    out.entry(labels).or_default().extend(samples);
                }
            }
        }
        if blocks.len() > 1 {
            for samples in out.values_mut() {
                merge_in_place(samples);
            }
        }
        Ok(out)
    }
}

/// The samples of one chunk of the series `id` of `block`, oldest first, less those the
/// block's tombstones delete. A chunk that is not XOR (a native histogram's) yields none:
/// wasmfed stores floats only.
fn chunk_samples<'b>(
    block: &'b Block,
    id: u32,
    meta: &ChunkMeta,
) -> Result<impl Iterator<Item = Sample> + 'b, BlockError> {
    let (encoding, bytes) = block.chunks().chunk(meta.chunk_ref)?;
    let bytes = if encoding == ENCODING_XOR { bytes } else { &[] };
    let stones = block.tombstones();
    Ok(ChunkIter::new(bytes)
        .filter(move |s| !stones.is_deleted(u64::from(id), s.0))
        .map(|(timestamp_ms, value)| Sample {
            timestamp_ms,
            value,
        }))
}

/// A chunk encoded for a block: first and last sample time, XOR bytes.
pub(crate) struct EncodedChunk {
    pub min_time: i64,
    pub max_time: i64,
    pub bytes: Vec<u8>,
}

impl EncodedChunk {
    pub(crate) fn data(&self) -> ChunkData<'_> {
        ChunkData {
            min_time: self.min_time,
            max_time: self.max_time,
            encoding: ENCODING_XOR,
            bytes: &self.bytes,
        }
    }
}

/// Encodes samples (ascending, unique times) into XOR chunks of at most
/// [`SAMPLES_PER_CHUNK`] samples, as Prometheus' head cuts them.
pub(crate) fn encode_chunks(samples: &[Sample]) -> Vec<EncodedChunk> {
    samples
        .chunks(usize::from(SAMPLES_PER_CHUNK))
        .map(|run| {
            let mut chunk = OpenChunk::default();
            for s in run {
                chunk.append(s.timestamp_ms, s.value);
            }
            EncodedChunk {
                min_time: run[0].timestamp_ms,
                max_time: run[run.len() - 1].timestamp_ms,
                bytes: chunk.encoded().to_vec(),
            }
        })
        .collect()
}

/// Sorts samples gathered from overlapping sources by time, keeping the first of each
/// timestamp (the sort is stable).
pub fn merge_in_place(samples: &mut Vec<Sample>) {
    if samples
        .windows(2)
        .all(|w| w[0].timestamp_ms < w[1].timestamp_ms)
    {
        return;
    }
    samples.sort_by_key(|s| s.timestamp_ms);
    samples.dedup_by_key(|s| s.timestamp_ms);
}

#[cfg(test)]
mod tests;
