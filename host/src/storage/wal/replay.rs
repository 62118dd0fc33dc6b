//! Start-up: rebuild the head from the newest checkpoint and the segments after it.
//!
//! Replay is forgiving by design: damage in any file is logged with its file and byte range and
//! skipped (see `reader`), a torn tail is cut off so the file ends on its last intact record,
//! and samples the head refuses are counted by reason as they would be at ingest — out of
//! order, duplicate, or for a series whose record was lost. Samples a checkpoint already holds
//! (a segment written while the checkpoint was being taken repeats some of them) are skipped
//! silently, as Prometheus skips samples its m-mapped chunks cover.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::reader::{read_segment, Damage, SegmentScan};
use super::record::{decode, Record};
use super::segment::{checkpoint_path, list, segment_path, Listing};
use crate::storage::chunk::ChunkIter;
use crate::storage::index::IdHash;
use crate::storage::{AppendError, Head, SeriesHandle};

/// What a replay found and did.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// The checkpoint replayed first, if any.
    pub checkpoint: Option<u64>,
    /// Files read: the checkpoint's segments and the WAL segments after it.
    pub files: usize,
    /// The newest WAL segment read.
    pub last_segment: Option<u64>,
    pub records: u64,
    pub series: u64,
    pub samples: u64,
    pub out_of_order: u64,
    pub duplicates: u64,
    pub unknown_series: u64,
    /// Series records whose ref was taken by another label set.
    pub conflicting_series: u64,
    pub damage: Vec<(PathBuf, Damage)>,
    /// Files cut back to their last intact record, and where.
    pub truncated: Vec<(PathBuf, u64)>,
    pub duration: Duration,
}

/// Replays the WAL in `dir` into `head` (which must not log while this runs).
pub(super) fn replay(dir: &Path, head: &Head) -> io::Result<(ReplayReport, Listing)> {
    let started = Instant::now();
    let listing = list(dir)?;
    let mut replay = Replay {
        head,
        series: HashMap::default(),
        covered: HashMap::default(),
        max_ref: 0,
        report: ReplayReport::default(),
    };
    if let Some(&index) = listing.checkpoints.last() {
        let cp = checkpoint_path(dir, index);
        let files = list(&cp)?.segments;
        tracing::info!(checkpoint = %cp.display(), files = files.len(), "replaying WAL checkpoint");
        for file in files {
            replay.file(&segment_path(&cp, file), true, false)?;
        }
        replay.report.checkpoint = Some(index);
    }
    let first = replay.report.checkpoint.map_or(0, |c| c + 1);
    let segments: Vec<u64> = listing
        .segments
        .iter()
        .copied()
        .filter(|&s| s >= first)
        .collect();
    for (i, &segment) in segments.iter().enumerate() {
        if i > 0 && segment != segments[i - 1] + 1 {
            tracing::warn!(
                after = segments[i - 1],
                next = segment,
                "WAL segments are missing; their records are lost"
            );
        }
        let before = (replay.report.records, replay.report.samples);
        replay.file(&segment_path(dir, segment), false, true)?;
        replay.report.last_segment = Some(segment);
        tracing::info!(
            segment,
            of = segments.len(),
            records = replay.report.records - before.0,
            samples = replay.report.samples - before.1,
            "WAL segment replayed"
        );
    }
    head.reserve_refs_below(replay.max_ref + 1);
    let mut report = replay.report;
    report.duration = started.elapsed();
    Ok((report, listing))
}

struct Replay<'h> {
    head: &'h Head,
    /// Logged ref → the series it now is (the same ref unless the label set was logged twice).
    /// Refs are the head's own counters, so the identity hash suffices: SipHash over every
    /// replayed sample's ref was a visible part of start-up.
    series: HashMap<u64, SeriesHandle, IdHash>,
    /// Series ref → the newest timestamp the checkpoint restored for it.
    covered: HashMap<u64, i64, IdHash>,
    max_ref: u64,
    report: ReplayReport,
}

impl Replay<'_> {
    fn file(&mut self, path: &Path, in_checkpoint: bool, may_truncate: bool) -> io::Result<()> {
        self.report.files += 1;
        let mut undecodable = Vec::new();
        let scan = read_segment(path, |offset, rec| {
            self.report.records += 1;
            if self.record(rec, in_checkpoint).is_err() {
                undecodable.push(Damage {
                    offset,
                    end: offset,
                    reason: "record does not decode",
                });
            }
        })?;
        for d in scan.damage.iter().chain(&undecodable) {
            tracing::warn!(
                file = %path.display(),
                offset = d.offset,
                end = d.end,
                reason = d.reason,
                "WAL damage skipped"
            );
            self.report.damage.push((path.to_owned(), d.clone()));
        }
        if may_truncate {
            self.cut_torn_tail(path, &scan)?;
        }
        Ok(())
    }

    fn cut_torn_tail(&mut self, path: &Path, scan: &SegmentScan) -> io::Result<()> {
        let Some(at) = scan.torn_tail() else {
            return Ok(());
        };
        OpenOptions::new().write(true).open(path)?.set_len(at)?;
        tracing::warn!(
            file = %path.display(),
            offset = at,
            bytes = scan.len - at,
            "WAL segment ended in a torn or damaged record; truncated after its last intact record"
        );
        self.report.truncated.push((path.to_owned(), at));
        Ok(())
    }

    fn record(&mut self, rec: &[u8], in_checkpoint: bool) -> Result<(), ()> {
        match decode(rec).map_err(drop)? {
            Record::Series(series) => {
                for (r, labels) in series.iter() {
                    self.max_ref = self.max_ref.max(r.0);
                    match self.head.restore_series(r, labels) {
                        Some(handle) => {
                            self.report.series += 1;
                            self.series.insert(r.0, handle);
                        }
                        None => {
                            self.report.conflicting_series += 1;
                            tracing::warn!(series_ref = r.0, labels = ?labels, "WAL series record conflicts with another series under the same ref; skipped");
                        }
                    }
                }
            }
            Record::Samples(samples) => {
                for s in samples {
                    self.max_ref = self.max_ref.max(s.series.0);
                    let Some(handle) = self.series.get(&s.series.0) else {
                        self.report.unknown_series += 1;
                        continue;
                    };
                    let key = handle.series_ref().0;
                    if self.covered.get(&key).is_some_and(|&until| s.t <= until) {
                        continue;
                    }
                    let stored = append(self.head, handle, s.t, s.v, &mut self.report);
                    self.report.samples += u64::from(stored);
                }
            }
            Record::Chunks(chunks) => {
                for (r, chunks) in chunks {
                    self.max_ref = self.max_ref.max(r.0);
                    let Some(handle) = self.series.get(&r.0) else {
                        self.report.unknown_series += chunks
                            .iter()
                            .map(|c| ChunkIter::new(c).count() as u64)
                            .sum::<u64>();
                        continue;
                    };
                    let mut newest = None;
                    for chunk in chunks {
                        for (t, v) in ChunkIter::new(chunk) {
                            if append(self.head, handle, t, v, &mut self.report) {
                                self.report.samples += 1;
                                newest = Some(t);
                            }
                        }
                    }
                    if let (true, Some(t)) = (in_checkpoint, newest) {
                        self.covered.insert(handle.series_ref().0, t);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Appends one replayed sample, counting a refusal by its reason. True if it was stored.
fn append(head: &Head, handle: &SeriesHandle, t: i64, v: f64, report: &mut ReplayReport) -> bool {
    match head.append_to(handle, t, v) {
        Ok(()) => true,
        Err(AppendError::OutOfOrder { .. }) => {
            report.out_of_order += 1;
            false
        }
        Err(AppendError::DuplicateTimestamp { .. }) => {
            report.duplicates += 1;
            false
        }
        Err(AppendError::UnknownSeries) => {
            report.unknown_series += 1;
            false
        }
    }
}
