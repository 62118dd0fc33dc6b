//! Bit-granular writing and reading of a byte buffer, the substrate of the XOR chunk encoding.
//!
//! Bits are packed most significant first, as Prometheus' `tsdb/chunkenc/bstream.go` does, so a
//! chunk written here has the same bytes as one written by Prometheus. Sizing the buffer is left
//! to its owner ([`BitWriter::grow_to`]): only the chunk knows how many samples are still to
//! come, and an open chunk lives in every active series, so neither doubling (a quarter unused
//! on average) nor small steps (a dozen reallocations per chunk) is right for it.

/// Appends bits to a growing byte buffer.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    /// Bits still free in the last byte (0 when a new byte must be started).
    free: u8,
}

impl BitWriter {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes that can be written before the buffer must grow.
    pub(crate) fn spare(&self) -> usize {
        self.bytes.capacity() - self.bytes.len()
    }

    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Grows the buffer to hold `capacity` bytes in all (no-op if it already does).
    pub(crate) fn grow_to(&mut self, capacity: usize) {
        self.bytes
            .reserve_exact(capacity.saturating_sub(self.bytes.len()));
    }

    /// The same buffer, emptied: its capacity is kept for the next writing.
    pub(crate) fn cleared(mut self) -> Self {
        self.bytes.clear();
        self.free = 0;
        self
    }

    pub(crate) fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Writes a whole byte, at whatever bit offset the stream is.
    pub(crate) fn write_byte(&mut self, byte: u8) {
        self.write_bits(u64::from(byte), 8);
    }

    /// Writes the low `n` bits of `value` (`n <= 64`), most significant first.
    ///
    /// Fills the free bits of the last byte, then appends whole bytes and a partial one at
    /// once: an append writes a few fields of up to 64 bits, and going bit by bit through them
    /// was a visible share of a scrape's CPU.
    pub(crate) fn write_bits(&mut self, value: u64, n: u8) {
        debug_assert!(n <= 64);
        if n == 0 {
            return;
        }
        // Left-aligned: the first bit to write is the top bit.
        let mut bits = value << (64 - u32::from(n));
        let mut n = u32::from(n);
        if self.free > 0 {
            let take = u32::from(self.free).min(n);
            let last = self.bytes.len() - 1;
            self.bytes[last] |= ((bits >> 56) as u8) >> (8 - u32::from(self.free));
            self.free -= take as u8;
            n -= take;
            bits = bits.checked_shl(take).unwrap_or(0);
        }
        if n == 0 {
            return;
        }
        let len = n.div_ceil(8) as usize;
        self.bytes.extend_from_slice(&bits.to_be_bytes()[..len]);
        self.free = ((8 - n % 8) % 8) as u8;
    }
}

/// Reads bits back from a byte slice written by [`BitWriter`].
#[derive(Clone, Debug)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits from the start of `bytes`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    pub(crate) fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.pos / 8)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(bit == 1)
    }

    pub(crate) fn read_byte(&mut self) -> Option<u8> {
        self.read_bits(8).map(|b| b as u8)
    }

    /// Reads `n` bits (`n <= 64`) as the low bits of the result; `None` past the end.
    pub(crate) fn read_bits(&mut self, n: u8) -> Option<u64> {
        debug_assert!(n <= 64);
        if n == 0 {
            return Some(0);
        }
        let end = self.pos + usize::from(n);
        if end > self.bytes.len() * 8 {
            return None;
        }
        let start = self.pos / 8;
        let offset = (self.pos % 8) as u32;
        // Fast path: one unaligned big-endian load covers offset + n when n <= 56.
        if n <= 56 {
            if let Some(word) = self.bytes.get(start..start + 8) {
                let word = u64::from_be_bytes(word.try_into().expect("8 bytes"));
                self.pos = end;
                return Some((word << offset) >> (64 - u32::from(n)));
            }
        }
        let mut out = 0u64;
        let mut need = n;
        while need > 0 {
            let byte = self.bytes[self.pos / 8];
            let avail = 8 - (self.pos % 8) as u8;
            let take = avail.min(need);
            let bits = (u64::from(byte) >> (avail - take)) & ((1u64 << take) - 1);
            out = (out << take) | bits;
            self.pos += usize::from(take);
            need -= take;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_fields_round_trip_at_every_alignment() {
        let fields: &[(u64, u8)] = &[
            (1, 1),
            (0b10, 2),
            (0x3fff, 14),
            (0, 5),
            (u64::MAX, 64),
            (0xab, 8),
            (0x1_2345_6789, 33),
            (0, 64),
            (0x00ff_ffff_ffff_ffff, 56),
            (1 << 56, 57),
        ];
        for skew in 0..8u8 {
            let mut w = BitWriter::default();
            w.write_bits(0, skew);
            for &(v, n) in fields {
                w.write_bits(v, n);
            }
            let mut r = BitReader::new(w.bytes());
            assert_eq!(r.read_bits(skew), Some(0));
            for &(v, n) in fields {
                assert_eq!(r.read_bits(n), Some(v), "skew {skew}, {n} bits");
            }
        }
    }

    #[test]
    fn bits_are_packed_most_significant_first() {
        let mut w = BitWriter::default();
        w.write_bit(true);
        w.write_bits(0b011, 3);
        w.write_byte(0xff);
        assert_eq!(w.bytes(), &[0b1011_1111, 0b1111_0000]);
    }

    #[test]
    fn reading_past_the_end_fails() {
        let mut r = BitReader::new(&[0xff]);
        assert_eq!(r.read_bits(7), Some(0x7f));
        assert_eq!(r.read_bits(2), None);
        assert_eq!(r.read_bit(), Some(true));
        assert_eq!(r.read_bit(), None);
    }
}
