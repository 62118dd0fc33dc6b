//! Checkpoints: the head's whole state written as one compact log, so the segments before it
//! can be deleted.
//!
//! A checkpoint numbered N stands for every segment up to N. It is taken after the writer has
//! closed segment N, so every record in those segments was applied to the head before the
//! snapshot starts: the snapshot holds all of it that retention has not removed since.
//! Appends go on meanwhile into segment N+1 and later; the few samples that land both there and
//! in the snapshot are recognised at replay (see `replay`). The snapshot may also hold samples
//! whose records are not in the log yet (stored, not yet handed over, or queued): the caller
//! waits for those to be logged before [`publish`], so the checkpoint never holds what the log
//! could still lose, such as part of a scrape without its `up`. It is written to
//! `checkpoint.N.tmp`, synced, then renamed, so a crash leaves either the old state or the new.

use std::fs;
use std::io;
use std::path::Path;

use super::hold::removable_through;
use super::record::{begin_chunks, begin_series, push_chunks, push_series};
use super::segment::{
    checkpoint_path, checkpoint_tmp_path, dir_size, list, segment_path, sync_dir, SegmentLog,
};
use crate::chunk::{OpenChunk, SAMPLES_PER_CHUNK};
use crate::Head;

/// Series per batch: series records, then chunk records for the same series.
const SERIES_PER_BATCH: usize = 1024;

/// What a checkpoint holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpointReport {
    pub index: u64,
    pub series: u64,
    pub samples: u64,
    pub bytes: u64,
    /// Oldest and newest sample timestamp in it.
    pub min_t: Option<i64>,
    pub max_t: Option<i64>,
}

/// Writes checkpoint `index` of `head` into `dir`, unpublished (see [`publish`]).
pub(super) fn write(
    dir: &Path,
    index: u64,
    head: &Head,
    segment_size: u64,
) -> io::Result<CheckpointReport> {
    let tmp = checkpoint_tmp_path(dir, index);
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    fs::create_dir(&tmp)?;
    let mut log = SegmentLog::create(&tmp, 0, segment_size)?;
    let mut report = CheckpointReport {
        index,
        ..CheckpointReport::default()
    };
    let limit = log.record_limit();
    let mut buf = Vec::new();
    for batch in head.series_refs().chunks(SERIES_PER_BATCH) {
        let series: Vec<_> = batch
            .iter()
            .filter_map(|&r| Some((r, head.labels(r)?)))
            .collect();
        for (r, labels) in &series {
            if buf.is_empty() {
                begin_series(&mut buf);
            }
            push_series(*r, labels, &mut buf);
            if buf.len() >= limit {
                log.log(&buf)?;
                buf.clear();
            }
        }
        if !buf.is_empty() {
            log.log(&buf)?;
            buf.clear();
        }
        report.series += series.len() as u64;
        for (r, _) in &series {
            let samples = head.samples(*r, i64::MIN, i64::MAX);
            let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
                continue;
            };
            report.min_t = Some(
                report
                    .min_t
                    .map_or(first.timestamp_ms, |t| t.min(first.timestamp_ms)),
            );
            report.max_t = Some(
                report
                    .max_t
                    .map_or(last.timestamp_ms, |t| t.max(last.timestamp_ms)),
            );
            report.samples += samples.len() as u64;
            // A series' chunks may spread over several records; replay appends them in order.
            for part in samples.chunks(usize::from(SAMPLES_PER_CHUNK)) {
                let mut chunk = OpenChunk::default();
                for s in part {
                    chunk.append(s.timestamp_ms, s.value);
                }
                if buf.is_empty() {
                    begin_chunks(&mut buf);
                }
                push_chunks(*r, std::iter::once(chunk.encoded()), &mut buf);
                if buf.len() >= limit {
                    log.log(&buf)?;
                    buf.clear();
                }
            }
        }
        if !buf.is_empty() {
            log.log(&buf)?;
            buf.clear();
        }
        // Reading the batch's chunks brought their pages into memory; hand them back as it
        // goes, or the checkpoint would briefly hold every sealed chunk resident.
        head.evict_sealed_chunks();
    }
    log.close()?;
    Ok(report)
}

/// Makes the checkpoint [`write`] left in `dir` the one replay starts from. Returns its size.
pub(super) fn publish(dir: &Path, index: u64) -> io::Result<u64> {
    let done = checkpoint_path(dir, index);
    fs::rename(checkpoint_tmp_path(dir, index), &done)?;
    sync_dir(dir)?;
    dir_size(&done)
}

/// Deletes the segments checkpoint `index` covers and the checkpoints before it, oldest
/// first, so a crash half-way leaves a directory that still replays correctly; from the
/// oldest `held` segment on, only as far as a reader starting there can spare (see `hold`).
pub(super) fn remove_covered(dir: &Path, index: u64, held: Option<u64>) -> io::Result<()> {
    let listing = list(dir)?;
    let through = removable_through(index, held, &listing.checkpoints);
    let through = through.map_or(-1, |t| t as i128);
    for s in listing.segments.iter().filter(|&&s| (s as i128) <= through) {
        fs::remove_file(segment_path(dir, *s))?;
    }
    for c in listing
        .checkpoints
        .iter()
        .filter(|&&c| (c as i128) < through)
    {
        fs::remove_dir_all(checkpoint_path(dir, *c))?;
    }
    for partial in &listing.partial {
        fs::remove_dir_all(partial)?;
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use wasmfed_block::testing::copy_dir;

    use super::super::tests::{labels, open, state};
    use super::super::SampleBatch;
    use super::super::DEFAULT_SEGMENT_SIZE;

    /// A scrape stores its samples, then its `up`, and hands them over together. A checkpoint
    /// taken in between sees the samples in the head but not `up`; were it published before
    /// the hand-over reached the log, a crash then would replay part of the scrape.
    #[test]
    fn a_checkpoint_never_holds_part_of_a_scrape_the_log_could_lose() {
        let dir = tempfile::tempdir().unwrap();
        let (head, wal, _) = open(dir.path(), DEFAULT_SEGMENT_SIZE);
        let handle = |name, i| head.handle(head.get_or_create(&labels(name, i)).0).unwrap();
        let (up, loads) = (handle("up", 0), [handle("load", 0), handle("load", 1)]);
        let mut appender = head.appender(SampleBatch::default());
        for h in &loads {
            appender.append_to(h, 1_000, 1.0).unwrap();
        }
        let held = appender.hold();
        let crash_image = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            let checkpoint = s.spawn(|| {
                wal.checkpoint(&head).unwrap();
                // What a kill -9 right after the checkpoint leaves.
                copy_dir(dir.path(), crash_image.path());
            });
            std::thread::sleep(Duration::from_millis(50));
            let mut appender = head.appender(held);
            appender.append_to(&up, 1_000, 1.0).unwrap();
            appender.finish();
            checkpoint.join().unwrap();
        });
        let (replayed, _wal, _) = open(crash_image.path(), DEFAULT_SEGMENT_SIZE);
        assert_eq!(state(&replayed), state(&head), "the scrape is kept whole");
    }
}
