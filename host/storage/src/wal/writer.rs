//! The WAL's writer thread: drains the sink, encodes records, writes segments, fsyncs.
//!
//! One thread owns the files, so nothing on the append path waits for I/O or for another
//! appender's encoding. Every flush interval it takes what the head handed to the sink,
//! writes series records first and sample records after (see `sink` for why that order is
//! enough), and hands the data to the OS; it fsyncs per the [`FsyncPolicy`]. A write or fsync
//! that fails is logged and counted, and the next write starts a fresh segment, so a
//! half-written record can't be followed by good ones in the same file (the reader would
//! skip it anyway).

use std::io;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::metrics::WalMetrics;
use super::record::RefSample;
use super::record::{begin_series, encode_samples, push_series, MAX_SAMPLE_LEN};
use super::segment::SegmentLog;
use super::sink::{Drained, WalSink};
use super::FsyncPolicy;

/// Samples per record at most: ~12 B each, so records stay around 100 KiB (a few pages).
const SAMPLES_PER_RECORD: usize = 8192;
/// How often buffered records reach the OS in `batch` mode: a crash of the process alone (not
/// of the machine) loses at most this much.
const BATCH_FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// How often written data is made durable in `batch` mode.
pub(super) const BATCH_SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// How often records are written and fsynced in `always` mode.
const ALWAYS_FLUSH_INTERVAL: Duration = Duration::from_millis(10);

pub(super) enum Command {
    /// Write and fsync everything logged so far, then answer.
    Sync(SyncSender<io::Result<()>>),
    /// Write everything logged so far, close the segment and start the next; answers with the
    /// closed segment's number.
    Rotate(SyncSender<io::Result<u64>>),
}

pub(super) struct Writer {
    pub sink: Arc<WalSink>,
    pub dir: PathBuf,
    pub segment_size: u64,
    pub policy: FsyncPolicy,
    pub metrics: WalMetrics,
    /// The open segments, or `None` after a failure (or before the first write).
    pub log: Option<SegmentLog>,
    /// The number the next new segment gets.
    pub next_segment: u64,
    /// The sample buffer of the previous drain, handed back to the sink for reuse.
    pub spare: Vec<RefSample>,
    pub buf: Vec<u8>,
    /// Written data not yet fsynced.
    pub unsynced: bool,
    pub last_sync: Instant,
    /// In a run of failures (only the first is logged).
    pub failing: bool,
    /// Some write failed since the last sync answered: the next must say so.
    pub lost: bool,
}

impl Writer {
    /// Runs until every command sender is gone, then writes, syncs and closes. Woken by the
    /// flush interval, by a filling sink, or by a command (see [`WalSink::wake`]).
    pub fn run(mut self, commands: Receiver<Command>) {
        let interval = match self.policy {
            FsyncPolicy::Always => ALWAYS_FLUSH_INTERVAL,
            FsyncPolicy::Batch => BATCH_FLUSH_INTERVAL,
        };
        loop {
            std::thread::park_timeout(interval);
            self.write_pending();
            loop {
                match commands.try_recv() {
                    Ok(Command::Sync(answer)) => {
                        let _ = answer.send(self.sync());
                    }
                    Ok(Command::Rotate(answer)) => {
                        let _ = answer.send(self.rotate());
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return self.stop(),
                }
            }
            let due = match self.policy {
                FsyncPolicy::Always => true,
                FsyncPolicy::Batch => self.last_sync.elapsed() >= BATCH_SYNC_INTERVAL,
            };
            if self.unsynced && due {
                let _ = self.sync();
            }
        }
    }

    fn stop(mut self) {
        let _ = self.sync();
        if let Some(log) = self.log.take() {
            if let Err(e) = log.close() {
                self.failed("closing the WAL segment", &e);
            }
        }
    }

    fn write_pending(&mut self) {
        let taken = self.sink.drain(&mut self.spare);
        let result = (!taken.is_empty()).then(|| self.write(&taken));
        self.spare = taken.samples;
        match result {
            None => {}
            Some(Ok(())) => {
                self.unsynced = true;
                self.failing = false;
            }
            Some(Err(e)) => self.failed("writing the WAL", &e),
        }
    }

    fn write(&mut self, taken: &Drained) -> io::Result<()> {
        self.open_log()?;
        let log = self.log.as_mut().expect("opened above");
        let (buf, metrics) = (&mut self.buf, &self.metrics);
        let limit = log.record_limit();
        let emit = |buf: &mut Vec<u8>, log: &mut SegmentLog| {
            metrics.records_written.inc();
            metrics.bytes_written.inc_by(buf.len() as u64);
            let result = log.log(buf);
            buf.clear();
            result
        };
        buf.clear();
        for (r, labels) in &taken.series {
            if buf.is_empty() {
                begin_series(buf);
            }
            push_series(*r, labels, buf);
            if buf.len() >= limit {
                emit(buf, log)?;
            }
        }
        if !buf.is_empty() {
            emit(buf, log)?;
        }
        let per_record = (limit / MAX_SAMPLE_LEN).clamp(1, SAMPLES_PER_RECORD);
        for batch in taken.samples.chunks(per_record) {
            encode_samples(batch, buf);
            metrics.samples_written.inc_by(batch.len() as u64);
            emit(buf, log)?;
        }
        log.current.flush()?;
        metrics.segment.set(log.current.index as i64);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.write_pending();
        if std::mem::take(&mut self.lost) {
            return Err(io::Error::other(
                "WAL writes failed since the last sync; the samples they held are not durable",
            ));
        }
        let Some(log) = &self.log else {
            return Ok(());
        };
        if !self.unsynced {
            return Ok(());
        }
        match log.current.sync() {
            Ok(()) => {
                self.unsynced = false;
                self.last_sync = Instant::now();
                self.metrics.fsyncs.inc();
                Ok(())
            }
            Err(e) => {
                self.failed("syncing the WAL", &e);
                Err(e)
            }
        }
    }

    fn rotate(&mut self) -> io::Result<u64> {
        self.write_pending();
        let result = self.open_log().and_then(|log| log.rotate());
        match &result {
            Ok(_) => {
                self.unsynced = false;
                if let Some(log) = &self.log {
                    self.metrics.segment.set(log.current.index as i64);
                }
            }
            Err(e) => self.failed("starting a new WAL segment", e),
        }
        result
    }

    fn open_log(&mut self) -> io::Result<&mut SegmentLog> {
        if self.log.is_none() {
            // A number is used once even when creating its file fails.
            let index = self.next_segment;
            self.next_segment += 1;
            let log = SegmentLog::create(&self.dir, index, self.segment_size)?;
            self.metrics.segment.set(index as i64);
            self.log = Some(log);
        }
        Ok(self.log.as_mut().expect("just opened"))
    }

    /// Counts a failure, logs the first of a run of them, and drops the segment so the next
    /// write starts a clean one.
    fn failed(&mut self, what: &str, e: &io::Error) {
        self.metrics.write_failures.inc();
        if !self.failing {
            tracing::error!(error = %e, dir = %self.dir.display(), "{what} failed; samples stay in memory but are not durable until it recovers");
        }
        self.failing = true;
        self.lost = true;
        if let Some(log) = self.log.take() {
            self.next_segment = self.next_segment.max(log.current.index + 1);
        }
        self.unsynced = false;
    }
}
