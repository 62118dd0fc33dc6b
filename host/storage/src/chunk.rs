//! Gorilla-compressed sample chunks, byte-compatible with Prometheus' `tsdb/chunkenc/xor.go`.
//!
//! Layout: a 2-byte big-endian sample count, then the first sample (timestamp as a zig-zag
//! varint, value as 64 raw bits), the second (timestamp delta as a uvarint, value XOR-encoded),
//! then every further one as a delta-of-delta timestamp in a 1/16/20/24/68-bit bucket plus an
//! XOR-encoded value. Regular scrapes cost about one bit per timestamp and a few bits per value.
//!
//! Keeping Prometheus' exact format costs nothing and lets a later WAL, snapshot or remote-read
//! path reuse the bytes as they are. Values are stored by bit pattern, so every NaN — and in
//! particular the stale marker — comes back bit-exact.
//!
//! [`OpenChunk`] is the appendable tail of a series; once it holds [`SAMPLES_PER_CHUNK`] samples
//! its bytes are copied into a [`SealedChunk`] in the head's shared [`ChunkPages`] and the open
//! chunk starts over in the same buffer.

use super::bstream::{BitReader, BitWriter};

mod files;
mod pages;
pub use pages::{ChunkPages, PagedBytes, PAGE_BYTES};

/// Samples per chunk, as Prometheus' head aims for: about 1.3 bytes per sample on regular
/// scrapes, while a range read decodes at most one partly needed chunk at each end.
pub const SAMPLES_PER_CHUNK: u16 = 120;

const HEADER_LEN: usize = 2;

/// The most one sample adds to the stream: the first is the header, a varint of up to 10 bytes
/// and 8 raw bytes; a later one at most a 68-bit timestamp bucket and a 77-bit value.
const MAX_SAMPLE_BYTES: usize = 20;

/// The appendable chunk at the head of a series, plus the encoder state the next sample needs.
#[derive(Debug)]
pub struct OpenChunk {
    bits: BitWriter,
    t: i64,
    v: f64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
    /// The sample count. The header's copy in the stream is written only when the bytes are
    /// handed out ([`OpenChunk::encoded`], [`OpenChunk::cut`]): once the chunk has grown past
    /// a cache line, touching its front on every append costs a cache miss of its own.
    count: u16,
}

impl Default for OpenChunk {
    fn default() -> Self {
        OpenChunk {
            bits: BitWriter::default(),
            t: 0,
            v: 0.0,
            t_delta: 0,
            // 0xff means "no leading/trailing window yet": the first XOR must spell its own.
            leading: 0xff,
            trailing: 0,
            count: 0,
        }
    }
}

impl OpenChunk {
    /// Bytes encoded so far, header included.
    pub fn size(&self) -> usize {
        self.bits.bytes().len()
    }

    pub fn len(&self) -> u16 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// The newest sample, without decoding.
    pub fn last(&self) -> Option<(i64, f64)> {
        (!self.is_empty()).then_some((self.t, self.v))
    }

    /// The oldest sample's timestamp, read from the front of the stream.
    pub fn min_time(&self) -> Option<i64> {
        if self.count == 0 {
            return None;
        }
        read_varint(&mut BitReader::new(&self.bits.bytes()[HEADER_LEN..]))
    }

    /// The last written byte, which the next append completes (for prefetching; never
    /// dereferenced).
    pub(crate) fn tail_ptr(&self) -> *const u8 {
        self.bits.bytes().as_ptr_range().end.wrapping_sub(1)
    }

    /// The samples so far, oldest first.
    pub fn iter(&self) -> ChunkIter<'_> {
        ChunkIter::with_count(self.bits.bytes(), self.count)
    }

    /// The encoded chunk as Prometheus writes it, header included.
    pub fn encoded(&mut self) -> &[u8] {
        self.write_header();
        self.bits.bytes()
    }

    fn write_header(&mut self) {
        if let Some(header) = self.bits.bytes_mut().get_mut(..HEADER_LEN) {
            header.copy_from_slice(&self.count.to_be_bytes());
        }
    }

    /// Appends a sample. The caller guarantees `t` is not older than the last one and that the
    /// chunk is not full: ordering rules belong to the series, not the encoding.
    pub fn append(&mut self, t: i64, v: f64) {
        let n = self.len();
        debug_assert!(n < u16::MAX);
        if self.bits.spare() < MAX_SAMPLE_BYTES {
            self.bits.grow_to(self.next_capacity());
        }
        match n {
            0 => {
                self.bits.write_bits(0, 16);
                write_varint(&mut self.bits, t);
                self.bits.write_bits(v.to_bits(), 64);
            }
            1 => {
                self.t_delta = t.wrapping_sub(self.t) as u64;
                write_uvarint(&mut self.bits, self.t_delta);
                self.write_value(v);
            }
            _ => {
                let t_delta = t.wrapping_sub(self.t) as u64;
                let dod = t_delta.wrapping_sub(self.t_delta) as i64;
                match dod {
                    0 => self.bits.write_bit(false),
                    d if bit_range(d, 14) => {
                        self.bits.write_bits(0b10, 2);
                        self.bits.write_bits(d as u64, 14);
                    }
                    d if bit_range(d, 17) => {
                        self.bits.write_bits(0b110, 3);
                        self.bits.write_bits(d as u64, 17);
                    }
                    d if bit_range(d, 20) => {
                        self.bits.write_bits(0b1110, 4);
                        self.bits.write_bits(d as u64, 20);
                    }
                    d => {
                        self.bits.write_bits(0b1111, 4);
                        self.bits.write_bits(d as u64, 64);
                    }
                }
                self.t_delta = t_delta;
                self.write_value(v);
            }
        }
        self.t = t;
        self.v = v;
        self.count = n + 1;
    }

    /// The buffer size to grow to: room for as many samples again as the chunk holds, or for
    /// the rest of a full chunk once a quarter is written, at the bytes per sample it has
    /// needed so far, with an eighth to spare.
    ///
    /// Growing with the sample count makes a fresh series' first chunk reallocate about six
    /// times instead of the dozen or more of fixed-ratio steps, and leaves at most half of it
    /// unused until it is a quarter full. Reallocation was a tenth of a steady scrape's CPU.
    /// Later chunks reuse the buffer ([`OpenChunk::cut`]) and grow only if they need more.
    fn next_capacity(&self) -> usize {
        let len = self.size();
        let n = usize::from(self.count);
        let least = len + MAX_SAMPLE_BYTES;
        if n < 2 {
            return least.max(2 * MAX_SAMPLE_BYTES);
        }
        // The first sample (raw timestamp and value) says nothing about the rest.
        let first = HEADER_LEN + uvarint_len(zigzag(self.min_time().unwrap_or(0))) + 8;
        let later = len.saturating_sub(first);
        let full = usize::from(SAMPLES_PER_CHUNK);
        let target = if 4 * n >= full { full } else { 2 * n };
        let samples = target.saturating_sub(n);
        let more = later * samples * 9 / ((n - 1) * 8);
        // Never a step too small to be worth a copy, as the last few samples would ask for.
        (len + more + MAX_SAMPLE_BYTES).max(least + len / 8)
    }

    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.bits.capacity()
    }

    fn write_value(&mut self, v: f64) {
        let delta = v.to_bits() ^ self.v.to_bits();
        if delta == 0 {
            self.bits.write_bit(false);
            return;
        }
        self.bits.write_bit(true);
        // Five bits hold the leading-zero count, so it is clamped to 31.
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.bits.write_bit(false);
            let significant = 64 - self.leading - self.trailing;
            self.bits.write_bits(delta >> self.trailing, significant);
        } else {
            self.leading = leading;
            self.trailing = trailing;
            self.bits.write_bit(true);
            self.bits.write_bits(u64::from(leading), 5);
            let significant = 64 - leading - trailing;
            // 64 significant bits do not fit in 6 bits; 0 stands for 64 (0 never occurs).
            self.bits.write_bits(u64::from(significant) & 0x3f, 6);
            self.bits.write_bits(delta >> trailing, significant);
        }
    }

    /// Copies the samples so far into a sealed chunk in `pages` and starts over empty in the
    /// same buffer, so a series allocates its open chunk once, not once a chunk span. `None`
    /// (and nothing changed) for an empty chunk.
    pub fn cut(&mut self, pages: &ChunkPages) -> Option<SealedChunk> {
        let min_t = self.min_time()?;
        self.write_header();
        let sealed = SealedChunk {
            min_t,
            max_t: self.t,
            bytes: pages.store(self.bits.bytes(), self.t),
        };
        let bits = std::mem::take(&mut self.bits);
        *self = OpenChunk {
            bits: bits.cleared(),
            ..OpenChunk::default()
        };
        Some(sealed)
    }
}

/// A full chunk: immutable, in a shared page, with its time range kept beside it so that
/// range reads and retention can skip it without decoding.
#[derive(Clone, Debug)]
pub struct SealedChunk {
    pub min_t: i64,
    pub max_t: i64,
    bytes: PagedBytes,
}

impl SealedChunk {
    pub fn bytes(&self) -> &[u8] {
        self.bytes.bytes()
    }
}

/// Decodes the samples of a chunk, oldest first. A truncated stream (which this module never
/// writes) ends the iteration early rather than yielding garbage.
#[derive(Clone, Debug)]
pub struct ChunkIter<'a> {
    r: BitReader<'a>,
    remaining: u16,
    read: u16,
    t: i64,
    v: f64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
}

impl<'a> ChunkIter<'a> {
    /// Decodes an encoded chunk, header included.
    pub fn new(bytes: &'a [u8]) -> Self {
        ChunkIter::with_count(bytes, num_samples(bytes))
    }

    /// Decodes `count` samples from a chunk whose header may be out of date.
    fn with_count(bytes: &'a [u8], count: u16) -> Self {
        ChunkIter {
            r: BitReader::new(bytes.get(HEADER_LEN..).unwrap_or_default()),
            remaining: count,
            read: 0,
            t: 0,
            v: 0.0,
            t_delta: 0,
            leading: 0,
            trailing: 0,
        }
    }

    fn decode_next(&mut self) -> Option<(i64, f64)> {
        match self.read {
            0 => {
                self.t = read_varint(&mut self.r)?;
                self.v = f64::from_bits(self.r.read_bits(64)?);
            }
            1 => {
                self.t_delta = read_uvarint(&mut self.r)?;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
            _ => {
                let mut prefix = 0u8;
                for _ in 0..4 {
                    prefix <<= 1;
                    if !self.r.read_bit()? {
                        break;
                    }
                    prefix |= 1;
                }
                let width = match prefix {
                    0b0 => 0,
                    0b10 => 14,
                    0b110 => 17,
                    0b1110 => 20,
                    _ => 64,
                };
                let dod = match width {
                    0 => 0,
                    64 => self.r.read_bits(64)? as i64,
                    w => {
                        let bits = self.r.read_bits(w)?;
                        // Negative values come back as large unsigned ones (see bit_range).
                        if bits > 1 << (w - 1) {
                            bits as i64 - (1i64 << w)
                        } else {
                            bits as i64
                        }
                    }
                };
                self.t_delta = self.t_delta.wrapping_add(dod as u64);
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
        }
        self.read += 1;
        Some((self.t, self.v))
    }

    fn read_value(&mut self) -> Option<()> {
        if !self.r.read_bit()? {
            return Some(());
        }
        if self.r.read_bit()? {
            self.leading = self.r.read_bits(5)? as u8;
            let significant = match self.r.read_bits(6)? as u8 {
                0 => 64,
                s => s,
            };
            self.trailing = 64u8.checked_sub(self.leading + significant)?;
        }
        let significant = 64 - self.leading - self.trailing;
        let bits = self.r.read_bits(significant)?;
        self.v = f64::from_bits(self.v.to_bits() ^ (bits << self.trailing));
        Some(())
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        if self.read == self.remaining {
            return None;
        }
        let sample = self.decode_next();
        if sample.is_none() {
            self.remaining = self.read;
        }
        sample
    }
}

fn num_samples(bytes: &[u8]) -> u16 {
    match bytes {
        [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
        _ => 0,
    }
}

/// Whether `x` fits the signed `nbits` bucket as Prometheus defines it: the range is
/// asymmetric, `-(2^(n-1) - 1) ..= 2^(n-1)`, because the decoder maps raw values above
/// `2^(n-1)` to negatives.
fn bit_range(x: i64, nbits: u8) -> bool {
    let half = 1i64 << (nbits - 1);
    -(half - 1) <= x && x <= half
}

/// Go's `binary.PutVarint`: zig-zag, then uvarint.
fn write_varint(w: &mut BitWriter, x: i64) {
    write_uvarint(w, zigzag(x));
}

fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

/// Bytes [`write_uvarint`] takes for `x`.
fn uvarint_len(x: u64) -> usize {
    (64 - x.leading_zeros() as usize).max(1).div_ceil(7)
}

/// Go's `binary.PutUvarint`: 7 bits a byte, least significant group first.
fn write_uvarint(w: &mut BitWriter, mut x: u64) {
    while x >= 0x80 {
        w.write_byte(x as u8 | 0x80);
        x >>= 7;
    }
    w.write_byte(x as u8);
}

fn read_varint(r: &mut BitReader<'_>) -> Option<i64> {
    let u = read_uvarint(r)?;
    Some((u >> 1) as i64 ^ -((u & 1) as i64))
}

fn read_uvarint(r: &mut BitReader<'_>) -> Option<u64> {
    let mut x = 0u64;
    for shift in (0..64).step_by(7) {
        let b = r.read_byte()?;
        if b < 0x80 {
            return Some(x | u64::from(b) << shift);
        }
        x |= u64::from(b & 0x7f) << shift;
    }
    None
}

#[cfg(test)]
mod tests;
