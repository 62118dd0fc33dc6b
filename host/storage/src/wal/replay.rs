//! Start-up: rebuild the head from the newest checkpoint and the segments after it.
//!
//! Replay is forgiving by design: damage in any file is logged with its file and byte range and
//! skipped (see `reader`), a torn tail is cut off so the file ends on its last intact record,
//! and samples the head refuses are counted by reason as they would be at ingest — out of
//! order, duplicate, or for a series whose record was lost. Samples a checkpoint already holds
//! (a segment written while the checkpoint was being taken repeats some of them) are skipped
//! silently, as Prometheus skips samples its m-mapped chunks cover.
//!
//! This thread reads the files and creates the series; samples and chunks are applied by
//! workers, one per core but this one, each owning a partition of the series (see `apply`).

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::thread::available_parallelism;
use std::time::{Duration, Instant};

use super::reader::{read_segment, Damage, SegmentScan};
use super::record::{decode, is_series, Record};
use super::segment::{checkpoint_path, list, segment_path, Listing};
use crate::Head;

mod apply;
mod refs;
#[cfg(test)]
mod tests;

use apply::{Applied, RecordAt, Workers};

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

/// Replays the WAL in `dir` into `head` (which must not log while this runs), applying samples
/// on as many threads as the machine has cores but one (at least one).
pub(super) fn replay(dir: &Path, head: &Head) -> io::Result<(ReplayReport, Listing)> {
    let workers = available_parallelism().map_or(1, |n| n.get().saturating_sub(1));
    replay_with(dir, head, workers)
}

/// [`replay`] with `workers` sample threads.
pub(super) fn replay_with(
    dir: &Path,
    head: &Head,
    workers: usize,
) -> io::Result<(ReplayReport, Listing)> {
    let started = Instant::now();
    let listing = list(dir)?;
    let (read, applied) = std::thread::scope(|scope| {
        let mut replay = Reader {
            head,
            workers: Workers::start(scope, head, workers),
            files: Vec::new(),
            max_ref: 0,
            report: ReplayReport::default(),
        };
        let read = replay.all(dir, &listing);
        // Join the workers before leaving, whatever the reading did.
        let applied = replay.workers.finish();
        (
            read.map(|()| (replay.report, replay.files, replay.max_ref)),
            applied,
        )
    });
    let (mut report, files, max_ref) = read?;
    let Applied {
        samples,
        out_of_order,
        duplicates,
        unknown_series,
        max_ref: max_sample_ref,
        undecodable,
    } = applied;
    report.samples = samples;
    report.out_of_order = out_of_order;
    report.duplicates = duplicates;
    report.unknown_series = unknown_series;
    for at in undecodable {
        report_damage(&mut report, &files[at.file], undecodable_at(at.offset));
    }
    head.reserve_refs_below(max_ref.max(max_sample_ref) + 1);
    report.duration = started.elapsed();
    Ok((report, listing))
}

fn undecodable_at(offset: u64) -> Damage {
    Damage {
        offset,
        end: offset,
        reason: "record does not decode",
    }
}

fn report_damage(report: &mut ReplayReport, path: &Path, d: Damage) {
    tracing::warn!(
        file = %path.display(),
        offset = d.offset,
        end = d.end,
        reason = d.reason,
        "WAL damage skipped"
    );
    report.damage.push((path.to_owned(), d));
}

/// The reading thread: files in order, series records applied here, the rest to the workers.
struct Reader<'h, 'scope> {
    head: &'h Head,
    workers: Workers<'scope>,
    /// Every file read, in order (workers name files by index).
    files: Vec<PathBuf>,
    max_ref: u64,
    report: ReplayReport,
}

impl Reader<'_, '_> {
    fn all(&mut self, dir: &Path, listing: &Listing) -> io::Result<()> {
        if let Some(&index) = listing.checkpoints.last() {
            let cp = checkpoint_path(dir, index);
            let files = list(&cp)?.segments;
            tracing::info!(checkpoint = %cp.display(), files = files.len(), "replaying WAL checkpoint");
            for file in files {
                self.file(&segment_path(&cp, file), true, false)?;
            }
            self.report.checkpoint = Some(index);
        }
        let first = self.report.checkpoint.map_or(0, |c| c + 1);
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
            let before = (self.report.records, self.report.series);
            self.file(&segment_path(dir, segment), false, true)?;
            self.report.last_segment = Some(segment);
            tracing::info!(
                segment,
                of = segments.len(),
                records = self.report.records - before.0,
                series = self.report.series - before.1,
                "WAL segment read"
            );
        }
        Ok(())
    }

    fn file(&mut self, path: &Path, in_checkpoint: bool, may_truncate: bool) -> io::Result<()> {
        self.report.files += 1;
        let file = self.files.len();
        self.files.push(path.to_owned());
        let mut undecodable = Vec::new();
        let scan = read_segment(path, |offset, rec| {
            self.report.records += 1;
            if !is_series(rec) {
                let at = RecordAt {
                    file,
                    offset,
                    in_checkpoint,
                };
                self.workers.record(rec, at);
            } else if self.series(rec).is_err() {
                undecodable.push(undecodable_at(offset));
            }
        })?;
        for d in scan.damage.iter().cloned().chain(undecodable) {
            report_damage(&mut self.report, path, d);
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

    /// Creates the series of a series record and tells the workers who they are.
    fn series(&mut self, rec: &[u8]) -> Result<(), ()> {
        let Ok(Record::Series(series)) = decode(rec) else {
            return Err(());
        };
        for (r, labels) in series.iter() {
            self.max_ref = self.max_ref.max(r.0);
            match self.head.restore_series(r, labels) {
                Some(handle) => {
                    self.report.series += 1;
                    self.workers.series(r, handle);
                }
                None => {
                    self.report.conflicting_series += 1;
                    tracing::warn!(series_ref = r.0, labels = ?labels, "WAL series record conflicts with another series under the same ref; skipped");
                }
            }
        }
        Ok(())
    }
}
