//! The `chunks/` directory of a block: numbered segment files (`000001`, `000002`, ...) of at
//! most 512 MiB, each an 8-byte header (magic `0x85BD40DD`, version 1, padding) followed by
//! chunks written back to back as `uvarint len | encoding byte | data | CRC32(encoding, data)`.
//!
//! A chunk is referred to from the index by `segment index << 32 | offset in segment`, the
//! segment index counting the files in name order from 0. Chunk bytes are opaque here (the
//! encoding byte says XOR, histogram...): decoding them is storage's business.
//!
//! The writer keeps one series' chunks in one segment when they fit, as Prometheus' writer
//! does, so the files it writes are the ones Prometheus would write for the same chunks. The
//! reader maps the segments and checks each chunk's CRC before handing it out, as Prometheus'
//! reader does.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::encoding::{crc32, Decbuf, Encode};
use crate::{io_error, Error};

/// First four bytes of a segment file.
pub const MAGIC: u32 = 0x85BD_40DD;
/// Magic, version byte and three bytes of padding.
pub const SEGMENT_HEADER_SIZE: u64 = 8;
/// Prometheus' segment size.
pub const DEFAULT_SEGMENT_SIZE: u64 = 512 * 1024 * 1024;
const FORMAT_V1: u8 = 1;
/// The largest chunk header and trailer: a 5-byte length, the encoding byte and the CRC.
const MAX_CHUNK_OVERHEAD: u64 = 5 + 1 + 4;

/// The encoding byte of a float chunk.
pub const ENCODING_XOR: u8 = 1;

/// Where a chunk lives: segment index in the upper 32 bits, byte offset in the lower.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChunkRef(pub u64);

impl ChunkRef {
    pub fn new(segment: u32, offset: u32) -> Self {
        ChunkRef(u64::from(segment) << 32 | u64::from(offset))
    }

    pub fn segment(self) -> usize {
        (self.0 >> 32) as usize
    }

    pub fn offset(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }
}

/// One chunk to write: its time range (first and last sample, both inclusive), encoding and
/// encoded bytes.
#[derive(Clone, Copy, Debug)]
pub struct ChunkData<'a> {
    pub min_time: i64,
    pub max_time: i64,
    pub encoding: u8,
    pub bytes: &'a [u8],
}

/// A chunk as the index lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkMeta {
    pub min_time: i64,
    pub max_time: i64,
    pub chunk_ref: ChunkRef,
}

/// The segment file name Prometheus gives the `index`-th segment (from 0).
fn segment_name(index: usize) -> String {
    format!("{:06}", index + 1)
}

/// Writes the segments of one new block.
pub struct ChunkWriter {
    dir: PathBuf,
    segment_size: u64,
    segments: usize,
    current: Option<BufWriter<File>>,
    pos: u64,
    buf: Vec<u8>,
}

impl ChunkWriter {
    /// Creates `dir` (the block's `chunks/`), empty.
    pub fn create(dir: &Path, segment_size: u64) -> Result<Self, Error> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        Ok(ChunkWriter {
            dir: dir.to_path_buf(),
            segment_size: segment_size.max(SEGMENT_HEADER_SIZE + MAX_CHUNK_OVERHEAD),
            segments: 0,
            current: None,
            pos: 0,
            buf: Vec::with_capacity(64),
        })
    }

    /// Writes one series' chunks, in order, and returns their metas. They share a segment
    /// unless the current one cannot hold them all, as in Prometheus' `WriteChunks`.
    pub fn write_series(&mut self, chunks: &[ChunkData<'_>]) -> Result<Vec<ChunkMeta>, Error> {
        let size = |c: &ChunkData<'_>| c.bytes.len() as u64 + MAX_CHUNK_OVERHEAD;
        let total: u64 = chunks.iter().map(size).sum();
        if self.current.is_none()
            || (self.pos > SEGMENT_HEADER_SIZE && self.pos + total > self.segment_size)
        {
            self.cut()?;
        }
        let mut metas = Vec::with_capacity(chunks.len());
        for (i, chunk) in chunks.iter().enumerate() {
            if i > 0 && self.pos + size(chunk) > self.segment_size {
                self.cut()?;
            }
            metas.push(self.write_chunk(chunk)?);
        }
        Ok(metas)
    }

    fn write_chunk(&mut self, chunk: &ChunkData<'_>) -> Result<ChunkMeta, Error> {
        let offset = u32::try_from(self.pos).map_err(|_| Error::Invalid {
            path: self.dir.clone(),
            reason: format!("chunk segment offset {} exceeds 4 GiB", self.pos),
        })?;
        let chunk_ref = ChunkRef::new(self.segments as u32 - 1, offset);
        self.buf.clear();
        self.buf.put_uvarint(chunk.bytes.len() as u64);
        let len_bytes = self.buf.len();
        self.buf.push(chunk.encoding);
        let crc = crc32c::crc32c_append(crc32(&[chunk.encoding]), chunk.bytes);
        let path = self.segment_path();
        let out = self.current.as_mut().expect("a segment is open");
        out.write_all(&self.buf)
            .and_then(|()| out.write_all(chunk.bytes))
            .and_then(|()| out.write_all(&crc.to_be_bytes()))
            .map_err(io_error(&path))?;
        self.pos += (len_bytes + 1 + chunk.bytes.len() + 4) as u64;
        Ok(ChunkMeta {
            min_time: chunk.min_time,
            max_time: chunk.max_time,
            chunk_ref,
        })
    }

    fn segment_path(&self) -> PathBuf {
        self.dir.join(segment_name(self.segments.saturating_sub(1)))
    }

    fn cut(&mut self) -> Result<(), Error> {
        self.finish_segment()?;
        let path = self.dir.join(segment_name(self.segments));
        let file = File::create(&path).map_err(io_error(&path))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut header = Vec::with_capacity(SEGMENT_HEADER_SIZE as usize);
        header.put_be32(MAGIC);
        header.extend_from_slice(&[FORMAT_V1, 0, 0, 0]);
        out.write_all(&header).map_err(io_error(&path))?;
        self.current = Some(out);
        self.segments += 1;
        self.pos = SEGMENT_HEADER_SIZE;
        Ok(())
    }

    fn finish_segment(&mut self) -> Result<(), Error> {
        let path = self.segment_path();
        if let Some(out) = self.current.take() {
            let file = out
                .into_inner()
                .map_err(|e| io_error(&path)(e.into_error()))?;
            file.sync_all().map_err(io_error(&path))?;
        }
        Ok(())
    }

    /// Flushes and syncs the last segment.
    pub fn finish(mut self) -> Result<(), Error> {
        self.finish_segment()
    }
}

/// The segments of one block, mapped read-only.
pub struct ChunkReader {
    dir: PathBuf,
    segments: Vec<Mmap>,
}

impl ChunkReader {
    /// Maps every numbered file of `dir` in number order and checks their headers.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let mut numbered = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let entry = entry.map_err(io_error(dir))?;
            if let Some(n) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u64>().ok())
            {
                numbered.push((n, entry.path()));
            }
        }
        numbered.sort();
        let mut segments = Vec::with_capacity(numbered.len());
        for (_, path) in numbered {
            let map = crate::map_file(&path)?;
            crate::check_header(&path, &map, MAGIC, FORMAT_V1, "chunk segment")?;
            segments.push(map);
        }
        Ok(ChunkReader {
            dir: dir.to_path_buf(),
            segments,
        })
    }

    /// Total bytes of the segments.
    pub fn size(&self) -> u64 {
        self.segments.iter().map(|m| m.len() as u64).sum()
    }

    /// The encoding byte and data of the chunk at `r`, its CRC checked.
    pub fn chunk(&self, r: ChunkRef) -> Result<(u8, &[u8]), Error> {
        let segment = self
            .segments
            .get(r.segment())
            .ok_or_else(|| Error::Invalid {
                path: self.dir.clone(),
                reason: format!(
                    "chunk reference {:#x}: segment index {} out of range ({} segments)",
                    r.0,
                    r.segment(),
                    self.segments.len()
                ),
            })?;
        let corrupt = |source| Error::Corrupt {
            path: self.dir.join(segment_name(r.segment())),
            section: format!("chunk at offset {}", r.offset()),
            source,
        };
        let mut d = Decbuf::new(segment.get(r.offset()..).unwrap_or_default());
        let len = d.uvarint().map_err(corrupt)? as usize;
        let rest = d.remaining();
        let body = rest
            .get(..1 + len)
            .ok_or(corrupt(crate::DecodeError::Short))?;
        let mut tail = Decbuf::new(&rest[body.len()..]);
        let stored = tail.be32().map_err(corrupt)?;
        crate::encoding::check(body, stored).map_err(corrupt)?;
        Ok((body[0], &body[1..]))
    }
}
