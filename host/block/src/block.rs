//! A whole block: written from series in label order, opened for reading.
//!
//! The writer builds the block in `<ulid>.tmp-for-creation` beside its final place and
//! renames it when every file is written and synced, as Prometheus does: a crash leaves
//! either no block or a whole one, and a directory with the temporary suffix is garbage to
//! delete at the next start ([`remove_unfinished`]).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use ulid::Ulid;
use wasmfed_model::Labels;

use crate::chunks::{ChunkData, ChunkMeta, ChunkReader, ChunkWriter, DEFAULT_SEGMENT_SIZE};
use crate::index::{IndexReader, IndexWriter};
use crate::meta::{BlockMeta, BlockStats, Compaction};
use crate::tombstones::Tombstones;
use crate::{io_error, Error};

/// Suffix of a block directory still being written.
pub const TMP_FOR_CREATION: &str = ".tmp-for-creation";
/// Suffix of a block directory being deleted.
pub const TMP_FOR_DELETION: &str = ".tmp-for-deletion";
const INDEX_FILE: &str = "index";
const CHUNKS_DIR: &str = "chunks";

/// Writes one block.
pub struct BlockWriter {
    parent: PathBuf,
    tmp: PathBuf,
    ulid: Ulid,
    min_time: i64,
    max_time: i64,
    chunks: Option<ChunkWriter>,
    series: Vec<(Labels, Vec<ChunkMeta>)>,
    stats: BlockStats,
    /// Lineage of a compacted block; `None` for a level-1 block.
    compaction: Option<Compaction>,
}

impl BlockWriter {
    /// Starts a level-1 block over `[min_time, max_time)` in `parent`.
    pub fn create(parent: &Path, min_time: i64, max_time: i64) -> Result<Self, Error> {
        Self::with_segment_size(parent, min_time, max_time, DEFAULT_SEGMENT_SIZE)
    }

    /// Like [`BlockWriter::create`] with chunk segments of at most `segment_size` bytes.
    pub fn with_segment_size(
        parent: &Path,
        min_time: i64,
        max_time: i64,
        segment_size: u64,
    ) -> Result<Self, Error> {
        let ulid = Ulid::new();
        let tmp = parent.join(format!("{ulid}{TMP_FOR_CREATION}"));
        fs::create_dir_all(&tmp).map_err(io_error(&tmp))?;
        let chunks = ChunkWriter::create(&tmp.join(CHUNKS_DIR), segment_size)?;
        Ok(BlockWriter {
            parent: parent.to_path_buf(),
            tmp,
            ulid,
            min_time,
            max_time,
            chunks: Some(chunks),
            series: Vec::new(),
            stats: BlockStats::default(),
            compaction: None,
        })
    }

    /// Makes the block a compaction of `parents`: one level above the highest, holding the
    /// union of their sources, as Prometheus' compactor writes it.
    pub fn compacted_from(&mut self, parents: &[BlockMeta]) {
        let mut sources: Vec<Ulid> = parents
            .iter()
            .flat_map(|p| p.compaction.sources.iter().copied())
            .collect();
        sources.sort();
        sources.dedup();
        self.compaction = Some(Compaction {
            level: parents
                .iter()
                .map(|p| p.compaction.level)
                .max()
                .unwrap_or(0)
                + 1,
            sources,
            parents: parents.iter().map(BlockMeta::desc).collect(),
            ..Compaction::default()
        });
    }

    /// Moves the start of the block's range later, to `min_time` (not before the start it was
    /// created with): a block cut from a head starts, in Prometheus, at the head's oldest
    /// sample when that comes after the range's aligned start.
    pub fn start_at(&mut self, min_time: i64) {
        self.min_time = self.min_time.max(min_time);
    }

    /// Series added so far (those with chunks).
    pub fn num_series(&self) -> u64 {
        self.stats.num_series
    }

    /// The ULID the block will have.
    pub fn ulid(&self) -> Ulid {
        self.ulid
    }

    /// Adds the next series (label sets strictly ascending) with its chunks in time order. A
    /// series without chunks is left out, as Prometheus leaves out series empty in a range.
    pub fn add_series(&mut self, labels: Labels, chunks: &[ChunkData<'_>]) -> Result<(), Error> {
        if chunks.is_empty() {
            return Ok(());
        }
        if self.series.last().is_some_and(|(last, _)| &labels <= last) {
            return Err(Error::Invalid {
                path: self.tmp.clone(),
                reason: format!("out-of-order series added with label set {labels:?}"),
            });
        }
        let writer = self.chunks.as_mut().expect("open until finish");
        let metas = writer.write_series(chunks)?;
        self.stats.num_series += 1;
        self.stats.num_chunks += chunks.len() as u64;
        self.stats.num_samples += chunks
            .iter()
            .map(|c| {
                c.bytes
                    .get(..2)
                    .map_or(0, |b| u64::from(u16::from_be_bytes([b[0], b[1]])))
            })
            .sum::<u64>();
        self.series.push((labels, metas));
        Ok(())
    }

    /// Writes the index, tombstones and meta, syncs, and moves the block into place.
    pub fn finish(mut self) -> Result<BlockMeta, Error> {
        self.chunks.take().expect("open until finish").finish()?;
        let mut symbols = BTreeSet::new();
        // Prometheus' tables hold "" too: the name and value of its all-series postings.
        symbols.insert("");
        for (labels, _) in &self.series {
            for label in labels.iter() {
                symbols.insert(label.name.as_str());
                symbols.insert(label.value.as_str());
            }
        }
        let symbols: Vec<&str> = symbols.into_iter().collect();
        let mut index = IndexWriter::create(&self.tmp.join(INDEX_FILE), &symbols)?;
        for (labels, metas) in &self.series {
            index.add_series(labels, metas)?;
        }
        index.finish()?;
        Tombstones::default().write(&self.tmp)?;
        let mut meta = BlockMeta::new_level1(
            self.ulid,
            self.min_time,
            self.max_time,
            std::mem::take(&mut self.stats),
        );
        if let Some(compaction) = self.compaction.take() {
            meta.compaction = compaction;
        }
        meta.write(&self.tmp)?;
        sync_dir(&self.tmp)?;
        let dest = self.parent.join(self.ulid.to_string());
        fs::rename(&self.tmp, &dest).map_err(io_error(&dest))?;
        sync_dir(&self.parent)?;
        Ok(meta)
    }
}

impl Drop for BlockWriter {
    fn drop(&mut self) {
        // Not finished (an error, or abandoned): the temporary directory is garbage.
        if self.tmp.exists() {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// Deletes the directories in `dir` that a crash left half written or half deleted.
pub fn remove_unfinished(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(TMP_FOR_CREATION) || name.ends_with(TMP_FOR_DELETION) {
            let path = entry.path();
            fs::remove_dir_all(&path).map_err(io_error(&path))?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// The block directories of `dir` (named by a ULID), oldest ULID first.
pub fn block_dirs(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut blocks = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let is_block = entry
            .file_name()
            .to_str()
            .and_then(|n| Ulid::from_string(n).ok())
            .is_some();
        if is_block && entry.path().join(crate::meta::META_FILE).exists() {
            blocks.push(entry.path());
        }
    }
    blocks.sort();
    Ok(blocks)
}

/// An open block.
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    index: IndexReader,
    chunks: ChunkReader,
    tombstones: Tombstones,
}

impl Block {
    pub fn open(dir: &Path) -> Result<Self, Error> {
        Ok(Block {
            dir: dir.to_path_buf(),
            meta: BlockMeta::read(dir)?,
            index: IndexReader::open(&dir.join(INDEX_FILE))?,
            chunks: ChunkReader::open(&dir.join(CHUNKS_DIR))?,
            tombstones: Tombstones::read(dir)?,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    pub fn index(&self) -> &IndexReader {
        &self.index
    }

    pub fn chunks(&self) -> &ChunkReader {
        &self.chunks
    }

    pub fn tombstones(&self) -> &Tombstones {
        &self.tombstones
    }

    /// Bytes of the index and chunk files, as Prometheus counts a block for size retention.
    pub fn size(&self) -> u64 {
        self.index.size() + self.chunks.size()
    }
}

#[cfg(test)]
mod tests;
