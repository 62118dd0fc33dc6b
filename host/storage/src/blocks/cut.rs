//! Cutting the head into blocks, on Prometheus' schedule: once the head spans more than one
//! and a half block ranges, its oldest range (up to the next multiple of the range, as
//! Prometheus aligns blocks) is written as a block, and so on while the rest still spans that
//! much; the head then forgets what the blocks hold. With 2 h blocks the head keeps 1.5–2.5 h,
//! whatever the retention.
//!
//! Appends into a range being cut are refused first (the head's minimum valid time moves to
//! the range's end before its samples are read), so no sample can land in the head behind a
//! block and be truncated unwritten. The caller checkpoints the log afterwards, so restart
//! replays the head's range only.

use wasmfed_block::{BlockMeta, Error as BlockError};

use super::Blocks;
use crate::Head;

impl Blocks {
    /// Writes the head's completed ranges of `range_ms` into blocks in this set's directory
    /// and truncates the head after them. Does nothing without a directory. Returns the blocks
    /// written, oldest first.
    pub fn cut_head(&self, head: &Head, range_ms: i64) -> Result<Vec<BlockMeta>, BlockError> {
        let mut written = Vec::new();
        let Some(dir) = self.dir().map(|d| d.to_path_buf()) else {
            return Ok(written);
        };
        let Some((first, last)) = head.time_range() else {
            return Ok(written);
        };
        // Chunks straddling an earlier cut still hold samples before it.
        let mut start = first.max(head.min_valid_time());
        while last - start > range_ms / 2 * 3 {
            // As Prometheus: from the head's start to the end of the aligned range holding it.
            let block_end = start.div_euclid(range_ms) * range_ms + range_ms;
            head.set_min_valid_time(block_end);
            if let Some(meta) = head.persist_block(&dir, start, block_end)? {
                let path = dir.join(meta.ulid.to_string());
                self.add(&path)?;
                tracing::info!(
                    ulid = %meta.ulid,
                    min_time = meta.min_time,
                    max_time = meta.max_time,
                    series = meta.stats.num_series,
                    samples = meta.stats.num_samples,
                    "wrote a block from the head"
                );
                written.push(meta);
            }
            start = block_end;
        }
        if !written.is_empty() {
            head.truncate_before(start);
        }
        Ok(written)
    }
}
