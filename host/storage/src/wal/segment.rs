//! Segment files: how records are framed on disk, and the writer that appends them.
//!
//! The framing is Prometheus' (`tsdb/wlog`): a segment is a sequence of 32 KiB pages; a record
//! is stored as one or more *fragments*, each with a 7-byte header — type (full, first, middle,
//! last), data length (2 bytes BE), CRC32 (4 bytes BE) — and never crosses a page boundary
//! except by being split into fragments. The rest of a page too short for a header is zero.
//! Records never cross segments either.
//!
//! Pages are what make a damaged log readable past the damage: after a corrupt fragment the
//! reader resumes at the next fragment (if the length it read is plausible) or at the next page
//! boundary, so corruption costs at most the records it touches plus the rest of its page.
//! Unlike Prometheus, the checksum covers the type and length bytes as well as the data, so
//! a flipped header bit is caught too.
//!
//! File names are 8-digit sequence numbers (`00000012`); a checkpoint is a directory
//! `checkpoint.00000012` holding segments of its own, and covers every segment up to 12.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub(super) const PAGE_SIZE: usize = 32 * 1024;
pub(super) const HEADER_LEN: usize = 7;
/// Prometheus' default: big enough that rotation is rare, small enough to delete promptly.
pub const DEFAULT_SEGMENT_SIZE: u64 = 128 * 1024 * 1024;

/// Fragment types; 0 marks the zero padding at the end of a page.
pub(super) const PAGE_TERM: u8 = 0;
pub(super) const FULL: u8 = 1;
pub(super) const FIRST: u8 = 2;
pub(super) const MIDDLE: u8 = 3;
pub(super) const LAST: u8 = 4;

const CHECKPOINT_PREFIX: &str = "checkpoint.";
const TMP_SUFFIX: &str = ".tmp";

/// The checksum of a fragment: type, length and data.
pub(super) fn fragment_crc(header: &[u8], data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header[..3]);
    h.update(data);
    h.finalize()
}

pub(super) fn segment_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index:08}"))
}

pub(super) fn checkpoint_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{CHECKPOINT_PREFIX}{index:08}"))
}

pub(super) fn checkpoint_tmp_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{CHECKPOINT_PREFIX}{index:08}{TMP_SUFFIX}"))
}

/// What a WAL directory holds: its segments and checkpoints, each sorted by number.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Listing {
    pub segments: Vec<u64>,
    pub checkpoints: Vec<u64>,
    /// Unfinished checkpoints left by a crash; safe to delete.
    pub partial: Vec<PathBuf>,
}

pub(super) fn list(dir: &Path) -> io::Result<Listing> {
    let mut listing = Listing::default();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(rest) = name.strip_prefix(CHECKPOINT_PREFIX) {
            if rest.ends_with(TMP_SUFFIX) {
                listing.partial.push(entry.path());
            } else if let Some(i) = parse_index(rest) {
                listing.checkpoints.push(i);
            }
        } else if let Some(i) = parse_index(name) {
            listing.segments.push(i);
        }
    }
    listing.segments.sort_unstable();
    listing.checkpoints.sort_unstable();
    Ok(listing)
}

fn parse_index(name: &str) -> Option<u64> {
    (name.len() >= 8 && name.bytes().all(|b| b.is_ascii_digit()))
        .then(|| name.parse().ok())
        .flatten()
}

/// Total size of the files under `dir`, recursively.
pub(super) fn dir_size(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// Makes renames and deletions in `dir` durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Appends records to one segment file through a page buffer.
pub(super) struct SegmentWriter {
    file: File,
    pub index: u64,
    page: Box<[u8; PAGE_SIZE]>,
    /// Bytes of the page in use.
    alloc: usize,
    /// Bytes of the page already written to the file.
    flushed: usize,
    /// Whole pages written before the current one.
    done_pages: u64,
    pages_per_segment: u64,
}

impl SegmentWriter {
    /// Creates segment `index` in `dir`; fails if it exists, so nothing is ever overwritten.
    pub fn create(dir: &Path, index: u64, segment_size: u64) -> io::Result<SegmentWriter> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(segment_path(dir, index))?;
        sync_dir(dir)?;
        Ok(SegmentWriter {
            file,
            index,
            page: Box::new([0; PAGE_SIZE]),
            alloc: 0,
            flushed: 0,
            done_pages: 0,
            pages_per_segment: (segment_size / PAGE_SIZE as u64).max(1),
        })
    }

    /// Bytes in the segment, written or buffered.
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.done_pages * PAGE_SIZE as u64 + self.alloc as u64
    }

    /// Whether a record of `len` bytes still fits in this segment.
    pub fn fits(&self, len: usize) -> bool {
        let in_page = (PAGE_SIZE - self.alloc).saturating_sub(HEADER_LEN);
        let free_pages = self.pages_per_segment.saturating_sub(self.done_pages + 1);
        len as u64 <= in_page as u64 + free_pages * (PAGE_SIZE - HEADER_LEN) as u64
    }

    /// Whether an empty segment could hold a record of `len` bytes at all.
    pub fn capacity_allows(&self, len: usize) -> bool {
        len as u64 <= self.pages_per_segment * (PAGE_SIZE - HEADER_LEN) as u64
    }

    /// Appends one record (the caller checked [`SegmentWriter::fits`]). Full pages go to the
    /// file as they fill; the partial page waits for [`SegmentWriter::flush`].
    pub fn log(&mut self, mut rec: &[u8]) -> io::Result<()> {
        let mut first = true;
        loop {
            if PAGE_SIZE - self.alloc < HEADER_LEN {
                self.finish_page()?;
            }
            let room = PAGE_SIZE - self.alloc - HEADER_LEN;
            let (part, rest) = rec.split_at(rec.len().min(room));
            let kind = match (first, rest.is_empty()) {
                (true, true) => FULL,
                (true, false) => FIRST,
                (false, false) => MIDDLE,
                (false, true) => LAST,
            };
            let at = self.alloc;
            let header = &mut self.page[at..at + HEADER_LEN];
            header[0] = kind;
            header[1..3].copy_from_slice(&(part.len() as u16).to_be_bytes());
            let crc = fragment_crc(header, part);
            header[3..7].copy_from_slice(&crc.to_be_bytes());
            self.page[at + HEADER_LEN..at + HEADER_LEN + part.len()].copy_from_slice(part);
            self.alloc += HEADER_LEN + part.len();
            rec = rest;
            first = false;
            if rec.is_empty() {
                return Ok(());
            }
        }
    }

    /// Writes the buffered part of the current page to the file (not synced).
    pub fn flush(&mut self) -> io::Result<()> {
        if self.flushed < self.alloc {
            self.file.write_all(&self.page[self.flushed..self.alloc])?;
            self.flushed = self.alloc;
        }
        Ok(())
    }

    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Pads the current page with zeros, writes it, syncs: the segment is complete.
    pub fn close(mut self) -> io::Result<()> {
        if self.alloc > 0 {
            self.alloc = PAGE_SIZE;
            self.flush()?;
        }
        self.sync()
    }

    /// Writes the rest of the current page (its tail is zero) and starts the next one.
    fn finish_page(&mut self) -> io::Result<()> {
        self.alloc = PAGE_SIZE;
        self.flush()?;
        self.page.fill(0);
        self.alloc = 0;
        self.flushed = 0;
        self.done_pages += 1;
        Ok(())
    }
}

/// A sequence of segments in one directory: rolls over to the next segment when a record does
/// not fit the current one.
pub(super) struct SegmentLog {
    dir: PathBuf,
    segment_size: u64,
    pub current: SegmentWriter,
}

/// A record too large for any segment (larger than the segment size).
#[derive(Debug, thiserror::Error)]
#[error("a {len}-byte record does not fit in a segment")]
pub struct RecordTooLarge {
    pub len: usize,
}

impl SegmentLog {
    pub fn create(dir: &Path, first: u64, segment_size: u64) -> io::Result<SegmentLog> {
        Ok(SegmentLog {
            dir: dir.to_owned(),
            segment_size,
            current: SegmentWriter::create(dir, first, segment_size)?,
        })
    }

    pub fn log(&mut self, rec: &[u8]) -> io::Result<()> {
        if !self.current.capacity_allows(rec.len()) {
            return Err(io::Error::other(RecordTooLarge { len: rec.len() }));
        }
        if !self.current.fits(rec.len()) {
            self.rotate()?;
        }
        self.current.log(rec)
    }

    /// The size records should be cut at: a fraction of a segment, so that rolling over wastes
    /// little, and at most 1 MiB.
    pub fn record_limit(&self) -> usize {
        let capacity = self.current.pages_per_segment as usize * (PAGE_SIZE - HEADER_LEN);
        (capacity / 4).min(1 << 20)
    }

    /// Closes the current segment and starts the next; returns the closed one's number.
    pub fn rotate(&mut self) -> io::Result<u64> {
        let next = SegmentWriter::create(&self.dir, self.current.index + 1, self.segment_size)?;
        let closed = std::mem::replace(&mut self.current, next);
        let index = closed.index;
        closed.close()?;
        Ok(index)
    }

    /// Closes the last segment, leaving it complete on disk.
    pub fn close(self) -> io::Result<()> {
        self.current.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_sorts_and_classifies() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "00000010",
            "00000002",
            "checkpoint.00000001",
            "checkpoint.00000003.tmp",
            "notes.txt",
            "0000001",
        ] {
            File::create(dir.path().join(name)).unwrap();
        }
        let got = list(dir.path()).unwrap();
        assert_eq!(got.segments, [2, 10]);
        assert_eq!(got.checkpoints, [1]);
        assert_eq!(got.partial, [dir.path().join("checkpoint.00000003.tmp")]);
    }

    #[test]
    fn records_are_split_into_fragments_at_page_ends() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 0, 4 * PAGE_SIZE as u64).unwrap();
        let big = vec![7u8; PAGE_SIZE + 100];
        w.log(b"abc").unwrap();
        w.log(&big).unwrap();
        w.flush().unwrap();
        let bytes = fs::read(segment_path(dir.path(), 0)).unwrap();
        let header = |at: usize| {
            (
                bytes[at],
                u16::from_be_bytes([bytes[at + 1], bytes[at + 2]]),
            )
        };
        assert_eq!(header(0), (FULL, 3));
        let first_len = PAGE_SIZE - 2 * HEADER_LEN - 3;
        assert_eq!(header(HEADER_LEN + 3), (FIRST, first_len as u16));
        assert_eq!(
            header(PAGE_SIZE),
            (LAST, (big.len() - first_len) as u16),
            "the rest continues on the next page"
        );
        assert_eq!(bytes.len(), PAGE_SIZE + HEADER_LEN + big.len() - first_len);
        assert_eq!(w.len(), bytes.len() as u64);
    }

    #[test]
    fn a_page_tail_too_short_for_a_header_is_padding() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 0, 4 * PAGE_SIZE as u64).unwrap();
        w.log(&vec![1u8; PAGE_SIZE - HEADER_LEN - 3]).unwrap();
        w.log(b"x").unwrap();
        w.flush().unwrap();
        let bytes = fs::read(segment_path(dir.path(), 0)).unwrap();
        assert_eq!(&bytes[PAGE_SIZE - 3..PAGE_SIZE], [0, 0, 0]);
        assert_eq!(bytes[PAGE_SIZE], FULL);
    }

    #[test]
    fn segments_roll_over_and_close_on_whole_pages() {
        let dir = tempfile::tempdir().unwrap();
        let size = 2 * PAGE_SIZE as u64;
        let mut log = SegmentLog::create(dir.path(), 5, size).unwrap();
        let rec = vec![3u8; PAGE_SIZE / 2];
        for _ in 0..5 {
            log.log(&rec).unwrap();
        }
        assert!(log.log(&vec![0u8; 2 * PAGE_SIZE]).is_err(), "too large");
        log.close().unwrap();
        assert_eq!(list(dir.path()).unwrap().segments, [5, 6]);
        for i in [5, 6] {
            let len = fs::metadata(segment_path(dir.path(), i)).unwrap().len();
            assert_eq!(len % PAGE_SIZE as u64, 0, "segment {i}: {len}");
            assert!(len <= size);
        }
    }

    #[test]
    fn existing_segments_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(segment_path(dir.path(), 1), b"old").unwrap();
        assert!(SegmentWriter::create(dir.path(), 1, DEFAULT_SEGMENT_SIZE).is_err());
        assert_eq!(fs::read(segment_path(dir.path(), 1)).unwrap(), b"old");
    }
}
