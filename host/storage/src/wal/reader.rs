//! Reading a segment back: every intact record, and an account of every damaged stretch.
//!
//! The reader never stops at damage. A fragment whose checksum fails is skipped by its stated
//! length when that length stays inside the page (the likely case: a flipped data bit), and the
//! next fragment is tried; anything implausible skips to the next page boundary, where a new
//! fragment must start. Fragments of a record whose beginning was lost are dropped with it.
//! Contiguous damage is reported once, from where the first undelivered byte lies to where
//! reading resumed, so a log can name the file and the exact byte range that was lost.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::segment::{fragment_crc, FIRST, FULL, HEADER_LEN, LAST, MIDDLE, PAGE_SIZE, PAGE_TERM};

/// A stretch of a segment whose records could not be delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Where the first lost byte is: the start of the first undelivered record or fragment.
    pub offset: u64,
    /// Where reading resumed (the segment's length if it never did).
    pub end: u64,
    pub reason: &'static str,
}

/// The outcome of reading one segment.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SegmentScan {
    pub len: u64,
    pub records: u64,
    pub damage: Vec<Damage>,
}

impl SegmentScan {
    /// Where the segment should be cut if its last damage runs to the end of the file: a torn
    /// write, after which nothing intact follows.
    pub fn torn_tail(&self) -> Option<u64> {
        self.damage
            .last()
            .filter(|d| d.end == self.len)
            .map(|d| d.offset)
    }
}

/// Calls `on_record(offset, bytes)` for every intact record of the segment at `path`.
pub(super) fn read_segment(
    path: &Path,
    on_record: impl FnMut(u64, &[u8]),
) -> io::Result<SegmentScan> {
    scan(File::open(path)?, on_record)
}

pub(super) fn scan(
    mut input: impl Read,
    mut on_record: impl FnMut(u64, &[u8]),
) -> io::Result<SegmentScan> {
    let mut page = vec![0u8; PAGE_SIZE];
    let mut state = Scanner::default();
    let mut page_start = 0u64;
    loop {
        let n = read_full(&mut input, &mut page)?;
        if n == 0 {
            break;
        }
        state.page(page_start, &page[..n], &mut on_record);
        page_start += n as u64;
        if n < PAGE_SIZE {
            break;
        }
    }
    Ok(state.finish(page_start))
}

#[derive(Default)]
struct Scanner {
    /// The record being assembled from fragments, and where it began.
    pending: Vec<u8>,
    pending_start: Option<u64>,
    /// The open damage report, if the last thing read was damaged.
    open: Option<Damage>,
    done: SegmentScan,
}

impl Scanner {
    fn page(&mut self, page_start: u64, page: &[u8], on_record: &mut impl FnMut(u64, &[u8])) {
        let mut pos = 0;
        while pos < page.len() {
            let at = page_start + pos as u64;
            let kind = page[pos];
            if kind == PAGE_TERM {
                // Writers pad only the tail of a page, and never inside a record.
                let reason = if pos == 0 {
                    "page starts with zeros"
                } else if self.pending_start.is_some() {
                    "record interrupted by page padding"
                } else if page[pos..].iter().any(|&b| b != 0) {
                    "non-zero bytes in page padding"
                } else {
                    return;
                };
                self.damaged(at, reason);
                return;
            }
            if page.len() - pos < HEADER_LEN {
                self.damaged(at, "fragment header cut short");
                return;
            }
            let header = &page[pos..pos + HEADER_LEN];
            let len = usize::from(u16::from_be_bytes([header[1], header[2]]));
            let crc = u32::from_be_bytes([header[3], header[4], header[5], header[6]]);
            let end = pos + HEADER_LEN + len;
            if end > PAGE_SIZE {
                self.damaged(at, "fragment length beyond the page");
                return;
            }
            if end > page.len() {
                self.damaged(at, "fragment cut short");
                return;
            }
            let data = &page[pos + HEADER_LEN..end];
            pos = end;
            // A plausible length is trusted to find the next fragment: a flipped bit is far
            // likelier in the data than in the two length bytes, and a wrong guess only fails
            // the next checksum too.
            if fragment_crc(header, data) != crc {
                self.damaged(at, "checksum mismatch");
                continue;
            }
            if !(FULL..=LAST).contains(&kind) {
                self.damaged(at, "unknown fragment type");
                continue;
            }
            match kind {
                FULL | FIRST => {
                    if let Some(start) = self.pending_start.take() {
                        self.damaged(start, "record missing its last fragment");
                    }
                    self.resume(at);
                    if kind == FULL {
                        self.deliver(at, data, on_record);
                    } else {
                        self.pending.clear();
                        self.pending.extend_from_slice(data);
                        self.pending_start = Some(at);
                    }
                }
                MIDDLE | LAST => {
                    let Some(start) = self.pending_start else {
                        self.damaged(at, "fragment of a lost record");
                        continue;
                    };
                    self.pending.extend_from_slice(data);
                    if kind == LAST {
                        self.pending_start = None;
                        let rec = std::mem::take(&mut self.pending);
                        self.deliver(start, &rec, on_record);
                        self.pending = rec;
                    }
                }
                _ => unreachable!("checked above"),
            }
        }
    }

    fn deliver(&mut self, at: u64, rec: &[u8], on_record: &mut impl FnMut(u64, &[u8])) {
        self.done.records += 1;
        on_record(at, rec);
    }

    /// Notes damage at `at`; a record being assembled is lost with it.
    fn damaged(&mut self, at: u64, reason: &'static str) {
        let from = self.pending_start.take().unwrap_or(at);
        if self.open.is_none() {
            self.open = Some(Damage {
                offset: from,
                end: from,
                reason,
            });
        }
    }

    /// A fragment that can start a record was read intact at `at`: damage before it ends there.
    fn resume(&mut self, at: u64) {
        if let Some(mut d) = self.open.take() {
            d.end = at;
            self.done.damage.push(d);
        }
    }

    fn finish(mut self, len: u64) -> SegmentScan {
        if let Some(start) = self.pending_start.take() {
            self.damaged(start, "record cut short at the end of the segment");
        }
        if let Some(mut d) = self.open.take() {
            d.end = len;
            self.done.damage.push(d);
        }
        self.done.len = len;
        self.done
    }
}

fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::segment::{segment_path, SegmentWriter};
    use super::*;

    /// Writes `records` to a fresh segment; returns its bytes and each record's offset.
    fn segment(records: &[Vec<u8>]) -> (Vec<u8>, Vec<u64>) {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SegmentWriter::create(dir.path(), 0, 64 * PAGE_SIZE as u64).unwrap();
        let mut offsets = Vec::new();
        for r in records {
            if PAGE_SIZE - (w.len() as usize % PAGE_SIZE) < HEADER_LEN {
                offsets.push(w.len().next_multiple_of(PAGE_SIZE as u64));
            } else {
                offsets.push(w.len());
            }
            w.log(r).unwrap();
        }
        w.flush().unwrap();
        (std::fs::read(segment_path(dir.path(), 0)).unwrap(), offsets)
    }

    fn read(bytes: &[u8]) -> (Vec<(u64, Vec<u8>)>, SegmentScan) {
        let mut got = Vec::new();
        let scan = scan(bytes, |at, r| got.push((at, r.to_vec()))).unwrap();
        (got, scan)
    }

    /// Records of varied sizes: small ones, one spanning three pages, one ending a page.
    fn records() -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 1 + i as usize * 37]).collect();
        out.push(vec![0xaa; 2 * PAGE_SIZE + 5]);
        out.extend((0..10u8).map(|i| vec![i ^ 0x55; 200]));
        out
    }

    #[test]
    fn intact_segments_read_back_whole() {
        let recs = records();
        let (bytes, offsets) = segment(&recs);
        let (got, scan) = read(&bytes);
        assert_eq!(scan.damage, []);
        assert_eq!(scan.records, recs.len() as u64);
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), offsets);
        assert_eq!(got.into_iter().map(|g| g.1).collect::<Vec<_>>(), recs);
        assert_eq!(scan.torn_tail(), None);
        let (got, scan) = read(&[]);
        assert!(got.is_empty() && scan == SegmentScan::default());
    }

    #[test]
    fn a_tail_torn_at_every_byte_of_the_last_record_keeps_the_rest() {
        // Two tails: a record inside one page, cut at every byte; and one spread over three
        // pages, cut at every byte near its fragment boundaries and every 61st elsewhere (every
        // byte of it would take minutes in a debug build).
        for last in [vec![9u8; 300], vec![8u8; 2 * PAGE_SIZE + 11]] {
            let mut recs = records();
            recs.push(last);
            let (bytes, offsets) = segment(&recs);
            let start = *offsets.last().unwrap() as usize;
            let near_boundary = |cut: usize| {
                let in_page = cut % PAGE_SIZE;
                !(2 * HEADER_LEN..=PAGE_SIZE - 2 * HEADER_LEN).contains(&in_page)
            };
            let cuts = (start..bytes.len())
                .filter(|&c| c < start + 400 || near_boundary(c) || c % 61 == 0);
            for cut in cuts {
                let (got, scan) = read(&bytes[..cut]);
                assert_eq!(got.len(), recs.len() - 1, "cut at {cut}");
                assert_eq!(got.last().unwrap().1, recs[recs.len() - 2], "cut at {cut}");
                if cut == start {
                    assert_eq!(scan.damage, [], "cut exactly at a record boundary");
                } else {
                    assert_eq!(scan.torn_tail(), Some(start as u64), "cut at {cut}");
                    assert_eq!(scan.damage.len(), 1, "cut at {cut}: {:?}", scan.damage);
                }
            }
        }
    }

    #[test]
    fn a_flipped_bit_costs_only_the_records_it_touches() {
        let recs = records();
        let (bytes, offsets) = segment(&recs);
        // (record hit, where in it: header byte or data byte)
        for (victim, within) in [
            (5usize, 10usize),
            (5, 0),
            (5, 1),
            (5, 4),
            (20, 7),
            (40, 40_000),
        ] {
            let at = offsets[victim] as usize + within;
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            let (got, scan) = read(&bad);
            let lost: Vec<usize> = (0..recs.len())
                .filter(|&i| !got.iter().any(|g| g.0 == offsets[i]))
                .collect();
            assert!(lost.contains(&victim), "{victim}+{within}: lost {lost:?}");
            assert_eq!(scan.damage.len(), 1, "{victim}+{within}: {:?}", scan.damage);
            let d = &scan.damage[0];
            assert_eq!(d.offset, offsets[victim], "{victim}+{within}");
            // Resynchronisation is at the next page at the latest: every record that starts
            // there or later is kept, as is every record before the damage.
            let next_page = (at as u64 + 1).next_multiple_of(PAGE_SIZE as u64);
            assert!(d.offset <= at as u64, "{victim}+{within}: {d:?}");
            for (i, rec) in recs.iter().enumerate() {
                let kept = got.iter().any(|g| g.0 == offsets[i] && &g.1 == rec);
                if offsets[i] >= next_page.min(d.end) || offsets[i] < d.offset {
                    assert!(kept, "{victim}+{within}: record {i} is kept; {d:?}");
                }
            }
            assert_eq!(
                scan.torn_tail(),
                None,
                "{victim}+{within}: intact data follows"
            );
        }
    }

    #[test]
    fn a_data_bit_flip_loses_exactly_one_record() {
        let recs = records();
        let (bytes, offsets) = segment(&recs);
        let mut bad = bytes.clone();
        bad[offsets[3] as usize + HEADER_LEN + 2] ^= 1;
        let (got, scan) = read(&bad);
        assert_eq!(got.len(), recs.len() - 1);
        assert_eq!(
            scan.damage,
            [Damage {
                offset: offsets[3],
                end: offsets[4],
                reason: "checksum mismatch"
            }]
        );
    }

    #[test]
    fn garbage_in_padding_and_orphans_are_reported() {
        let recs = records();
        let (mut bytes, offsets) = segment(&recs);
        // Zero a whole page holding the middle of the big record: its start and end are lost.
        let big = offsets[40] as usize;
        let page = big.next_multiple_of(PAGE_SIZE);
        bytes[page..page + PAGE_SIZE].fill(0);
        let (got, scan) = read(&bytes);
        assert_eq!(got.len(), recs.len() - 1);
        assert_eq!(scan.damage.len(), 1, "{:?}", scan.damage);
        assert_eq!(scan.damage[0].offset, big as u64);
        assert_eq!(scan.damage[0].end, offsets[41]);
    }
}
