//! The `index` file of a block (format version 2): symbols, series with their chunk metas,
//! label indices, postings, their offset tables and the table of contents at the end.
//!
//! - [`writer`] writes it section by section in the order and with the padding Prometheus'
//!   `index.Writer` uses, so a block's index is byte-identical to Prometheus' for the same
//!   series and chunk references (a test compares with promtool's);
//! - [`reader`] maps it and keeps only what Prometheus keeps in memory: every 32nd symbol
//!   offset and, per label name, every 32nd entry of the postings offset table. Series,
//!   postings lists and label values are read from the map on demand, so an open block costs
//!   memory in proportion to its label names, not its series.

mod reader;
mod symbols;
mod writer;

pub use reader::{IndexReader, Postings};
pub use writer::IndexWriter;

use crate::encoding::{Decbuf, DecodeError, Encode};

/// First four bytes of an index file.
pub const MAGIC: u32 = 0xBAAA_D700;
/// The only index version Prometheus has written since 2.0's first releases.
pub const FORMAT_V2: u8 = 2;
/// Magic and version.
const HEADER_LEN: usize = 5;
/// Six section offsets and a CRC.
const TOC_LEN: usize = 6 * 8 + 4;
/// Series entries start at multiples of this; a series' reference is its offset over it.
const SERIES_ALIGNMENT: u64 = 16;
/// The reader keeps one symbol offset (and one postings table entry per name) in this many.
const SAMPLING: usize = 32;

/// Offsets of the index's sections, from its last 52 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Toc {
    symbols: u64,
    series: u64,
    label_indices: u64,
    label_indices_table: u64,
    postings: u64,
    postings_table: u64,
}

impl Toc {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(TOC_LEN);
        for off in [
            self.symbols,
            self.series,
            self.label_indices,
            self.label_indices_table,
            self.postings,
            self.postings_table,
        ] {
            b.put_be64(off);
        }
        let crc = crate::encoding::crc32(&b);
        b.put_be32(crc);
        b
    }

    fn decode(file: &[u8]) -> Result<Toc, DecodeError> {
        let start = file.len().checked_sub(TOC_LEN).ok_or(DecodeError::Short)?;
        let mut d = Decbuf::new(&file[start..]);
        let body = d.bytes(TOC_LEN - 4)?;
        crate::encoding::check(body, d.be32()?)?;
        let mut d = Decbuf::new(body);
        Ok(Toc {
            symbols: d.be64()?,
            series: d.be64()?,
            label_indices: d.be64()?,
            label_indices_table: d.be64()?,
            postings: d.be64()?,
            postings_table: d.be64()?,
        })
    }
}

#[cfg(test)]
mod tests;
