//! The symbol table of a mapped index: every 32nd symbol's offset is kept, a lookup skips at
//! most 31 strings from there, which bounds both the memory an open block
//! keeps and the work of one lookup.

use super::SAMPLING;
use crate::encoding::{Decbuf, DecodeError};

pub(super) struct Symbols {
    /// Offsets (in the file) of symbols 0, 32, 64...
    sampled: Vec<usize>,
    count: usize,
}

impl Symbols {
    /// Reads the table at `off`, checking its CRC.
    pub(super) fn read(file: &[u8], off: usize) -> Result<Symbols, DecodeError> {
        let body = Decbuf::section_be32(file, off)?;
        let body_start = off + 4;
        let mut d = body;
        let count = d.be32()? as usize;
        let mut sampled = Vec::with_capacity(count.div_ceil(SAMPLING));
        for i in 0..count {
            if i % SAMPLING == 0 {
                sampled.push(body_start + (body.len() - d.len()));
            }
            d.uvarint_bytes()?;
        }
        Ok(Symbols { sampled, count })
    }

    pub(super) fn len(&self) -> usize {
        self.count
    }

    /// The symbol numbered `id`.
    pub(super) fn lookup<'a>(&self, file: &'a [u8], id: u32) -> Result<&'a str, DecodeError> {
        let id = id as usize;
        if id >= self.count {
            return Err(DecodeError::Short);
        }
        let mut d = Decbuf::new(&file[self.sampled[id / SAMPLING]..]);
        for _ in 0..id % SAMPLING {
            d.uvarint_bytes()?;
        }
        d.uvarint_str()
    }
}
