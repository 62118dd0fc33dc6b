//! Merging blocks into one, for compaction: the parents' series are walked in label order
//! together (each block's postings are in label order already), and a series found in several
//! parents gets all their chunks.
//!
//! Chunks are copied as they are (no decoding) when they follow one another in time, which is
//! the case for blocks cut from the head one after another. They are decoded, merged and
//! re-encoded only when they overlap (a backfill, or a block cut from old samples) or when a
//! tombstone deletes some of their samples, which compaction applies for good.

use std::sync::Arc;

use wasmfed_block::chunks::ChunkMeta;
use wasmfed_block::index::Postings;
use wasmfed_block::{Block, BlockWriter, ChunkData, Error as BlockError};
use wasmfed_model::{Labels, Sample};

use super::{chunk_samples, encode_chunks, merge_in_place, EncodedChunk};

/// One parent's position in the walk.
struct Cursor<'a> {
    block: &'a Block,
    ids: Postings<'a>,
    current: Option<(Labels, u32, Vec<ChunkMeta>)>,
}

impl<'a> Cursor<'a> {
    fn new(block: &'a Block) -> Result<Self, BlockError> {
        let mut cursor = Cursor {
            block,
            ids: block.index().all_postings()?,
            current: None,
        };
        cursor.advance()?;
        Ok(cursor)
    }

    fn advance(&mut self) -> Result<(), BlockError> {
        self.current = match self.ids.next() {
            None => None,
            Some(id) => {
                let mut metas = Vec::new();
                let labels = self.block.index().series(id, &mut metas)?;
                Some((labels, id, metas))
            }
        };
        Ok(())
    }
}

/// Adds every series of `parents` to `writer`, in label order.
pub(super) fn merge_into(
    writer: &mut BlockWriter,
    parents: &[Arc<Block>],
) -> Result<(), BlockError> {
    let mut cursors = parents
        .iter()
        .map(|b| Cursor::new(b))
        .collect::<Result<Vec<_>, _>>()?;
    loop {
        let Some(labels) = cursors
            .iter()
            .filter_map(|c| c.current.as_ref().map(|(l, _, _)| l))
            .min()
            .cloned()
        else {
            return Ok(());
        };
        // (block, series id, chunk) of every parent holding this series.
        let mut chunks: Vec<(&Block, u32, ChunkMeta)> = Vec::new();
        for cursor in cursors.iter_mut() {
            if cursor
                .current
                .as_ref()
                .is_some_and(|(l, _, _)| *l == labels)
            {
                let (_, id, metas) = cursor.current.take().expect("checked");
                chunks.extend(metas.into_iter().map(|m| (cursor.block, id, m)));
                cursor.advance()?;
            }
        }
        chunks.sort_by_key(|(_, _, m)| (m.min_time, m.max_time));
        let in_sequence = chunks.windows(2).all(|w| w[0].2.max_time < w[1].2.min_time);
        let untouched = chunks
            .iter()
            .all(|(b, id, _)| b.tombstones().intervals(u64::from(*id)).is_empty());
        if in_sequence && untouched {
            let data = chunks
                .iter()
                .map(|(b, _, m)| {
                    let (encoding, bytes) = b.chunks().chunk(m.chunk_ref)?;
                    Ok(ChunkData {
                        min_time: m.min_time,
                        max_time: m.max_time,
                        encoding,
                        bytes,
                    })
                })
                .collect::<Result<Vec<_>, BlockError>>()?;
            writer.add_series(labels, &data)?;
            continue;
        }
        let mut samples: Vec<Sample> = Vec::new();
        for (block, id, meta) in &chunks {
            samples.extend(chunk_samples(block, *id, meta)?);
        }
        merge_in_place(&mut samples);
        let encoded = encode_chunks(&samples);
        let data: Vec<ChunkData<'_>> = encoded.iter().map(EncodedChunk::data).collect();
        writer.add_series(labels, &data)?;
    }
}
