//! The write-ahead log: what makes the in-memory head survive a crash.
//!
//! ## On disk (`<storage.path>/wal/`)
//! ```text
//! 00000007              segments: 8-digit sequence numbers, up to --storage.wal-segment-size
//! 00000008              (128 MiB) each, written in 32 KiB pages (see `segment`)
//! checkpoint.00000006/  the head as of segment 6, in segments of its own; replaces 0..=6
//! ```
//! Records (see `record`): *series* (ref + labels, logged when the head creates a series),
//! *samples* (ref, timestamp, value, logged when the head stores a sample, many per record) and,
//! in checkpoints only, *chunks* (a series' samples as compressed chunks). Every fragment of a
//! record carries its length and a CRC32 of its type, length and data.
//!
//! ## Write path and fsync
//! The head hands records to a [`WalSink`] (in-memory queues, a scrape's samples in one piece,
//! no I/O on the append path); a writer thread drains it, encodes and writes the records, and
//! fsyncs (see `writer`):
//! - `--storage.wal-fsync=batch` (default): written to the OS every 100 ms, fsynced at least
//!   once a second while there is unsynced data;
//! - `--storage.wal-fsync=always`: written and fsynced every 10 ms while there is data — every
//!   write batch is fsynced before the next one is taken.
//!
//! **Acknowledged** means durable: a sample is acknowledged once an fsync that began after it
//! was stored has returned. [`Wal::sync`] waits for exactly that for everything stored before
//! the call; the `wasmfed_wal_fsyncs` counter counts completed fsyncs, so anything stored before
//! the counter was read is durable once it has grown by two. Stored samples are visible to
//! readers (`/federate`) before they are acknowledged; a process crash (not a machine crash)
//! additionally keeps everything written to the OS, i.e. all but the last ~100 ms.
//!
//! ## Start-up and retention
//! [`Wal::open`] replays the newest checkpoint and the segments after it into the head (see
//! `replay`: damage is logged and skipped, torn tails are cut), then starts the writer on a new
//! segment. The node then takes a checkpoint ([`Wal::checkpoint`]), which deletes everything it
//! covers. [`Wal::enforce_retention`] cuts the head to the retention time and size and takes a
//! checkpoint when the log may hold expired data or has grown past the last checkpoint.

mod checkpoint;
mod foreign;
mod hold;
mod metrics;
mod reader;
mod record;
mod replay;
mod retention;
mod segment;
mod sink;
mod tail;
#[cfg(test)]
mod tests;
mod writer;

use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use parking_lot::Mutex;

pub use checkpoint::CheckpointReport;
pub use foreign::written_by_prometheus;
pub use hold::WalHold;
pub use metrics::WalMetrics;
pub use reader::Damage;
pub use record::RefSample;
pub use replay::ReplayReport;
pub use retention::{parse_size, Retention, RetentionReport, SizeError};
pub use segment::DEFAULT_SEGMENT_SIZE;
pub use sink::{SampleBatch, WalSink};
pub use tail::{Position, TailItem, TailRead, TailStart, WalTail};

use super::Head;
use hold::{HoldPolicy, Holds};
use writer::{Command, Writer};

/// When written WAL data is fsynced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Every write batch, as it is written.
    Always,
    /// At least once a second.
    #[default]
    Batch,
}

impl FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "always" => Ok(FsyncPolicy::Always),
            "batch" => Ok(FsyncPolicy::Batch),
            other => Err(format!("unknown fsync policy {other:?} (always or batch)")),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct WalOptions {
    pub fsync: FsyncPolicy,
    /// Bytes per segment; rounded down to whole 32 KiB pages (at least one).
    pub segment_size: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            fsync: FsyncPolicy::Batch,
            segment_size: DEFAULT_SEGMENT_SIZE,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("the head already has a write-ahead log")]
    HeadHasWal,
    #[error("the WAL writer has stopped")]
    WriterStopped,
}

/// An open write-ahead log attached to one head.
pub struct Wal {
    dir: PathBuf,
    options: WalOptions,
    sink: Arc<WalSink>,
    commands: Mutex<Option<mpsc::Sender<Command>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    metrics: WalMetrics,
    /// Held while a checkpoint is taken: one at a time.
    compaction: Mutex<Compaction>,
    /// The segment the writer works on: every lower one is complete (read by tails).
    active: Arc<AtomicU64>,
    /// Readers' claims on segments not to delete yet.
    holds: Holds,
    /// Samples written since the log was opened.
    logged: Arc<AtomicU64>,
}

/// What retention needs to know to decide on a checkpoint.
struct Compaction {
    /// When the oldest segment not covered by a checkpoint was started.
    uncovered_since: SystemTime,
    /// Size of the newest checkpoint.
    checkpoint_bytes: u64,
}

impl Wal {
    /// Replays the log in `dir` (created if missing) into `head`, then attaches to it: from
    /// here on the head logs every new series and stored sample.
    pub fn open(
        dir: &Path,
        head: &Head,
        options: WalOptions,
        metrics: WalMetrics,
    ) -> Result<(Wal, ReplayReport), WalError> {
        let io_err = |what, path: &Path| {
            let path = path.to_owned();
            move |source| WalError::Io { what, path, source }
        };
        std::fs::create_dir_all(dir).map_err(io_err("creating WAL directory", dir))?;
        let (report, listing) = replay::replay(dir, head).map_err(io_err("replaying WAL", dir))?;
        metrics
            .replay_duration_seconds
            .set(report.duration.as_secs_f64());
        metrics.replay_samples.inc_by(report.samples);
        metrics.corruptions.inc_by(report.damage.len() as u64);
        metrics.reject("out_of_order", report.out_of_order);
        metrics.reject("duplicate", report.duplicates);
        metrics.reject("unknown_series", report.unknown_series);
        let next_segment = listing
            .segments
            .last()
            .copied()
            .max(listing.checkpoints.last().copied())
            .map_or(0, |n| n + 1);
        let sink = Arc::new(WalSink::default());
        let active = Arc::new(AtomicU64::new(next_segment));
        let logged = Arc::new(AtomicU64::new(0));
        if !head.attach_wal(sink.clone()) {
            return Err(WalError::HeadHasWal);
        }
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            sink: sink.clone(),
            dir: dir.to_owned(),
            segment_size: options.segment_size,
            policy: options.fsync,
            metrics: metrics.clone(),
            log: None,
            next_segment,
            spare: Vec::new(),
            buf: Vec::new(),
            unsynced: false,
            last_sync: Instant::now(),
            failing: false,
            lost: false,
            active: active.clone(),
            logged: logged.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("wal-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(io_err("starting the WAL writer for", dir))?;
        sink.set_writer(thread.thread().clone());
        let checkpoint_bytes = listing.checkpoints.last().map_or(0, |&c| {
            segment::dir_size(&segment::checkpoint_path(dir, c)).unwrap_or(0)
        });
        let wal = Wal {
            dir: dir.to_owned(),
            options,
            sink,
            commands: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(thread)),
            metrics,
            compaction: Mutex::new(Compaction {
                uncovered_since: SystemTime::now(),
                checkpoint_bytes,
            }),
            active,
            holds: Holds::default(),
            logged,
        };
        wal.metrics.size_bytes.set(wal.size_bytes() as i64);
        Ok((wal, report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns once everything the head stored before the call is written and fsynced.
    pub fn sync(&self) -> Result<(), WalError> {
        let (answer, outcome) = mpsc::sync_channel(1);
        self.send(Command::Sync(answer))?;
        outcome
            .recv()
            .map_err(|_| WalError::WriterStopped)?
            .map_err(|source| WalError::Io {
                what: "syncing WAL",
                path: self.dir.clone(),
                source,
            })
    }

    /// Holds the log from `segment` on: no checkpoint deletes what a reader starting there
    /// needs until the hold moves or is dropped (retention limits aside: see `hold`).
    pub fn hold(&self, segment: u64) -> WalHold {
        self.holds.add(segment)
    }

    /// Samples written to the log since it was opened.
    pub fn samples_logged(&self) -> u64 {
        self.logged.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Bytes of the log from `from` on: what a reader there has yet to read.
    pub fn bytes_after(&self, from: Position) -> u64 {
        let Ok(listing) = segment::list(&self.dir) else {
            return 0;
        };
        listing
            .segments
            .iter()
            .filter(|&&s| s >= from.segment)
            .filter_map(|&s| std::fs::metadata(segment::segment_path(&self.dir, s)).ok())
            .map(|m| m.len())
            .sum::<u64>()
            .saturating_sub(from.offset)
    }

    /// A reader following this log from `start`.
    pub fn tail(&self, start: TailStart) -> WalTail {
        WalTail::new(&self.dir, self.active.clone(), start)
    }

    /// Writes a checkpoint of `head` and deletes the segments and checkpoints it replaces,
    /// except what holds keep. Blocks for as long as writing the head's contents takes;
    /// appends go on meanwhile.
    pub fn checkpoint(&self, head: &Head) -> Result<CheckpointReport, WalError> {
        self.checkpoint_with(head, HoldPolicy::Honor { not_before: None })
    }

    fn checkpoint_with(
        &self,
        head: &Head,
        holds: HoldPolicy,
    ) -> Result<CheckpointReport, WalError> {
        let mut compaction = self.compaction.lock();
        let result = self.checkpoint_locked(head, &mut compaction, holds);
        match &result {
            Ok(report) => {
                self.metrics.checkpoints.inc();
                tracing::info!(
                    checkpoint = report.index,
                    series = report.series,
                    samples = report.samples,
                    bytes = report.bytes,
                    "WAL checkpoint written"
                );
            }
            Err(e) => {
                self.metrics.checkpoint_failures.inc();
                tracing::error!(error = %e, "WAL checkpoint failed; the segments it would replace are kept");
            }
        }
        self.metrics.size_bytes.set(self.size_bytes() as i64);
        result
    }

    fn checkpoint_locked(
        &self,
        head: &Head,
        compaction: &mut Compaction,
        holds: HoldPolicy,
    ) -> Result<CheckpointReport, WalError> {
        let (answer, outcome) = mpsc::sync_channel(1);
        let rotated_at = SystemTime::now();
        self.send(Command::Rotate(answer))?;
        let covered = outcome
            .recv()
            .map_err(|_| WalError::WriterStopped)?
            .map_err(|source| self.io("starting a new WAL segment in", source))?;
        let mut report = checkpoint::write(&self.dir, covered, head, self.options.segment_size)
            .map_err(|source| self.io("writing a WAL checkpoint in", source))?;
        // The snapshot may hold samples not logged yet: log them before it replaces anything.
        self.sink.wait_for_open_batches();
        self.sync()?;
        report.bytes = checkpoint::publish(&self.dir, covered)
            .map_err(|source| self.io("publishing a WAL checkpoint in", source))?;
        let held = self.holds.oldest(&self.dir, holds);
        checkpoint::remove_covered(&self.dir, covered, held)
            .map_err(|source| self.io("removing WAL segments in", source))?;
        compaction.uncovered_since = rotated_at;
        compaction.checkpoint_bytes = report.bytes;
        Ok(report)
    }

    /// Bytes on disk under the WAL directory.
    pub fn size_bytes(&self) -> u64 {
        segment::dir_size(&self.dir).unwrap_or(0)
    }

    /// Writes and fsyncs what is pending, closes the segment and stops the writer.
    pub fn close(&self) -> Result<(), WalError> {
        let synced = self.sync();
        self.commands.lock().take();
        self.sink.wake();
        if let Some(thread) = self.writer.lock().take() {
            let _ = thread.join();
        }
        synced
    }

    fn send(&self, command: Command) -> Result<(), WalError> {
        self.commands
            .lock()
            .as_ref()
            .ok_or(WalError::WriterStopped)?
            .send(command)
            .map_err(|_| WalError::WriterStopped)?;
        self.sink.wake();
        Ok(())
    }

    fn io(&self, what: &'static str, source: io::Error) -> WalError {
        WalError::Io {
            what,
            path: self.dir.clone(),
            source,
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
