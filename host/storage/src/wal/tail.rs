//! Reading the log as it is written: what a remote-write queue sends from.
//!
//! A queue that reads the node's own log, as Prometheus' does, needs no buffer of its own: a
//! receiver that is down only makes the queue stop reading, and the data waits in the log. A
//! position in the log ([`Position`]: a segment and the byte where a record starts) is small
//! enough to keep on disk, so a restart resumes where the receiver last acknowledged. What the
//! queue has not read yet is kept from deletion by a hold (see `hold`).
//!
//! The tail first reads the series of the newest checkpoint before where it starts (every
//! series alive then, under the refs samples name), then the segments in order: series records
//! always, samples from the start position on. The segment being written is read up to its last
//! complete record and read again on the next call from the page that record ended in (a page
//! is at most 32 KiB). A segment is done when the writer has moved past it (`active`): only
//! then is a torn or damaged end final. When a newer checkpoint appears behind the tail, its
//! series are delivered again and a [`TailItem::SeriesReset`] says that series logged up to it
//! and not delivered again are gone, so a consumer's map of series does not grow forever.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use wasmfed_model::{Label, Labels};

use super::reader::scan;
use super::record::{decode, is_series, Record, RefSample};
use super::segment::{checkpoint_path, list, segment_path, PAGE_SIZE};
use crate::SeriesRef;

/// Where a record starts in the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// Where a tail starts delivering samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TailStart {
    /// From this record on (a position kept from an earlier run).
    At(Position),
    /// Samples with a timestamp at or after this (ms), from the oldest segment on: a new queue
    /// sends what is recent, as Prometheus' does from its start time.
    Since(i64),
}

/// What one read delivered, in log order.
#[derive(Clone, Debug, PartialEq)]
pub enum TailItem {
    /// A series: its ref and labels, and the segment (or checkpoint) its record was read from.
    Series {
        series: SeriesRef,
        labels: Labels,
        segment: u64,
    },
    /// The samples of one record, from where it starts.
    Samples {
        at: Position,
        samples: Vec<RefSample>,
    },
    /// Checkpoint `checkpoint` was read: its series were delivered again; series read from
    /// records up to it and not delivered again are gone from the head.
    SeriesReset { checkpoint: u64 },
    /// Segments were deleted before the tail read them: what lay between is not delivered.
    Lost { from: Position, to: Position },
}

/// What one [`WalTail::read`] found.
#[derive(Debug, Default)]
pub struct TailRead {
    pub items: Vec<TailItem>,
    /// Everything written so far was read.
    pub caught_up: bool,
    /// Bytes of the log read.
    pub bytes: u64,
}

/// A reader following one log directory.
pub struct WalTail {
    dir: PathBuf,
    /// The segment the writer works on (every lower one is complete).
    active: Arc<AtomicU64>,
    start: TailStart,
    started: bool,
    /// The next record to read is at or after here.
    at: Position,
    /// The newest checkpoint whose series were delivered.
    checkpoint: Option<u64>,
}

impl WalTail {
    pub(super) fn new(dir: &Path, active: Arc<AtomicU64>, start: TailStart) -> WalTail {
        WalTail {
            dir: dir.to_owned(),
            active,
            start,
            started: false,
            at: Position::default(),
            checkpoint: None,
        }
    }

    /// Where the next record will be read from.
    pub fn position(&self) -> Position {
        self.at
    }

    /// Reads on from where the last call stopped, about `max_bytes` of the log at most (at
    /// least one whole record). Blocking (file I/O).
    pub fn read(&mut self, max_bytes: u64) -> io::Result<TailRead> {
        let mut out = TailRead::default();
        if !self.started {
            self.begin(&mut out.items)?;
            self.started = true;
        }
        self.follow_checkpoints(&mut out.items)?;
        loop {
            if out.bytes >= max_bytes {
                return Ok(out);
            }
            // Read before the file: if the writer had moved on, what the file holds is final.
            let done = self.active.load(Ordering::Acquire) > self.at.segment;
            let path = segment_path(&self.dir, self.at.segment);
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if !done {
                        out.caught_up = true;
                        return Ok(out);
                    }
                    self.skip_missing(&mut out.items)?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let limit = (max_bytes - out.bytes).max(4 << 20);
            let (read, end, torn) = self.read_segment(file, limit, &mut out.items)?;
            out.bytes += read;
            let cut_by_limit = read >= limit;
            match torn {
                // The rest is read by the next round.
                Some(at) if cut_by_limit => self.at.offset = at,
                // Not written yet.
                Some(at) if !done => {
                    self.at.offset = at;
                    out.caught_up = true;
                    return Ok(out);
                }
                _ if cut_by_limit => self.at.offset = end,
                // Complete (a record cut short at its end was never finished: a crash, or
                // a write failure the writer moved on from).
                _ if done => {
                    self.at = Position {
                        segment: self.at.segment + 1,
                        offset: 0,
                    }
                }
                _ => {
                    self.at.offset = end;
                    out.caught_up = true;
                    return Ok(out);
                }
            }
        }
    }

    /// Reads segment `self.at.segment` from the page holding `self.at.offset`, at most about
    /// `limit` bytes. Returns the bytes read, where reading ended, and the start of a record cut
    /// short at that end, if any.
    fn read_segment(
        &mut self,
        mut file: File,
        limit: u64,
        items: &mut Vec<TailItem>,
    ) -> io::Result<(u64, u64, Option<u64>)> {
        let page = PAGE_SIZE as u64;
        let from = self.at.offset / page * page;
        file.seek(SeekFrom::Start(from))?;
        let limit = limit.next_multiple_of(page);
        let (segment, skip_before) = (self.at.segment, self.at.offset);
        let start = self.start;
        let mut undecodable = 0u64;
        let found = scan(file.take(limit), |at, rec| {
            let at = from + at;
            if at < skip_before {
                return;
            }
            let here = Position {
                segment,
                offset: at,
            };
            if deliver(rec, here, segment, start, items).is_err() {
                undecodable += 1;
            }
        })?;
        let end = from + found.len;
        let torn = found.torn_tail().map(|t| from + t);
        for d in &found.damage {
            // The page's start may continue a record read before (not damage), and damage
            // running to the end is a record cut short, which the caller decides about.
            if torn == Some(from + d.offset) || from + d.end <= skip_before {
                continue;
            }
            tracing::warn!(
                segment,
                offset = from + d.offset,
                end = from + d.end,
                reason = d.reason,
                "WAL damage skipped by a remote-write tail"
            );
        }
        if undecodable > 0 {
            tracing::warn!(
                segment,
                records = undecodable,
                "WAL records that do not decode skipped by a remote-write tail"
            );
        }
        Ok((found.len, end, torn))
    }

    /// Finds where to begin: the newest checkpoint before the start, its series delivered.
    ///
    /// Retention keeps, for a held position, the checkpoint before it and every segment after
    /// that checkpoint, or, while there has been no checkpoint before it, every segment from
    /// the first (see `hold`). A position whose log is gone (a hold given up, a wiped
    /// directory) is lost up to where the log now starts.
    fn begin(&mut self, items: &mut Vec<TailItem>) -> io::Result<()> {
        let listing = list(&self.dir)?;
        let oldest = listing.segments.first().copied();
        let newest_checkpoint = listing.checkpoints.last().copied();
        // Where the log as it is now starts: after its newest checkpoint, or at its oldest
        // segment.
        let beginning = |c: Option<u64>| c.map_or(oldest.unwrap_or(0), |c| c + 1);
        let (checkpoint, segment) = match self.start {
            TailStart::Since(_) => (newest_checkpoint, beginning(newest_checkpoint)),
            TailStart::At(p) => {
                let mut below = listing
                    .checkpoints
                    .iter()
                    .copied()
                    .filter(|&c| c < p.segment);
                let written = p.segment <= self.active.load(Ordering::Acquire);
                match below.next_back() {
                    Some(c) if written => (Some(c), c + 1),
                    None if written && oldest.is_some_and(|o| o == 0 && o <= p.segment) => {
                        (None, 0)
                    }
                    _ => {
                        let to = Position {
                            segment: beginning(newest_checkpoint),
                            offset: 0,
                        };
                        items.push(TailItem::Lost { from: p, to });
                        self.start = TailStart::Since(i64::MIN);
                        (newest_checkpoint, to.segment)
                    }
                }
            }
        };
        if let Some(c) = checkpoint {
            self.read_checkpoint(c, items)?;
        }
        self.at = Position { segment, offset: 0 };
        Ok(())
    }

    /// Delivers the series of a newer checkpoint than the last one read, once the tail is past
    /// it.
    fn follow_checkpoints(&mut self, items: &mut Vec<TailItem>) -> io::Result<()> {
        let listing = list(&self.dir)?;
        let newest = listing
            .checkpoints
            .iter()
            .copied()
            .rfind(|&c| c < self.at.segment);
        if let Some(c) = newest.filter(|&c| Some(c) > self.checkpoint) {
            self.read_checkpoint(c, items)?;
            items.push(TailItem::SeriesReset { checkpoint: c });
        }
        Ok(())
    }

    /// The segment the tail needs is gone although the writer is past it: it was deleted (a
    /// hold given up) or never written (a write failure). Goes on at the next thing there is.
    fn skip_missing(&mut self, items: &mut Vec<TailItem>) -> io::Result<()> {
        let listing = list(&self.dir)?;
        let from = self.at;
        let covering = listing
            .checkpoints
            .iter()
            .copied()
            .rfind(|&c| c >= from.segment);
        let next = match covering {
            Some(c) => {
                self.read_checkpoint(c, items)?;
                items.push(TailItem::SeriesReset { checkpoint: c });
                c + 1
            }
            None => listing
                .segments
                .iter()
                .copied()
                .find(|&s| s > from.segment)
                .unwrap_or(self.active.load(Ordering::Acquire)),
        };
        self.at = Position {
            segment: next.max(from.segment + 1),
            offset: 0,
        };
        items.push(TailItem::Lost { from, to: self.at });
        Ok(())
    }

    fn read_checkpoint(&mut self, index: u64, items: &mut Vec<TailItem>) -> io::Result<()> {
        let dir = checkpoint_path(&self.dir, index);
        for file in list(&dir)?.segments {
            let f = File::open(segment_path(&dir, file))?;
            scan(f, |_, rec| {
                if is_series(rec) {
                    let _ = series_items(rec, index, items);
                }
            })?;
        }
        self.checkpoint = Some(index);
        Ok(())
    }
}

/// Turns one record into items: its series always, its samples if they are wanted.
fn deliver(
    rec: &[u8],
    here: Position,
    segment: u64,
    start: TailStart,
    items: &mut Vec<TailItem>,
) -> Result<(), ()> {
    if is_series(rec) {
        return series_items(rec, segment, items);
    }
    let wanted = match start {
        TailStart::At(p) => here >= p,
        TailStart::Since(_) => true,
    };
    if !wanted {
        return Ok(());
    }
    match decode(rec) {
        Ok(Record::Samples(mut samples)) => {
            if let TailStart::Since(t) = start {
                samples.retain(|s| s.t >= t);
            }
            if !samples.is_empty() {
                items.push(TailItem::Samples { at: here, samples });
            }
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(_) => Err(()),
    }
}

fn series_items(rec: &[u8], segment: u64, items: &mut Vec<TailItem>) -> Result<(), ()> {
    let Ok(Record::Series(list)) = decode(rec) else {
        return Err(());
    };
    for (series, pairs) in list.iter() {
        let labels = pairs.iter().map(|&(n, v)| Label::new(n, v)).collect();
        items.push(TailItem::Series {
            series,
            labels: Labels::from_sorted(labels),
            segment,
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "tail/tests.rs"]
mod tests;
