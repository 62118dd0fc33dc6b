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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::metrics::WalMetrics;
use super::record::RefSample;
use super::record::{begin_series, encode_samples, push_series, MAX_SAMPLE_LEN};
use super::segment::SegmentLog;
use super::sink::{Drained, WalSink};
use super::FsyncPolicy;

/// Samples per record, as a rule: ~12 B each, so records stay around 100 KiB (a few pages).
/// A hand-over (a scrape) larger than this still gets one record, up to the log's record limit.
const SAMPLES_PER_RECORD: usize = 8192;

/// The sample ranges of the records for hand-overs ending at `ends`: whole hand-overs packed
/// up to `soft` samples a record; a hand-over longer than `soft` alone in its record, split
/// only where it passes `hard` (the most one record can hold).
fn records(ends: &[usize], soft: usize, hard: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut record_start) = (0, 0);
    for &end in ends {
        if start > record_start && end - record_start > soft {
            out.push(record_start..start);
            record_start = start;
        }
        while end - record_start > hard {
            out.push(record_start..record_start + hard);
            record_start += hard;
        }
        start = end;
    }
    if start > record_start {
        out.push(record_start..start);
    }
    out
}
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
    /// The segment being written, or the next to be: every lower one is complete.
    pub active: Arc<AtomicU64>,
    /// Samples written to this log (for readers measuring the rate samples come in at).
    pub logged: Arc<AtomicU64>,
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
            let index = log.current.index;
            if let Err(e) = log.close() {
                self.failed("closing the WAL segment", &e);
            }
            self.active.store(index + 1, Ordering::Release);
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
        let most = (limit / MAX_SAMPLE_LEN).max(1);
        for range in records(&taken.batch_ends, SAMPLES_PER_RECORD.min(most), most) {
            let batch = &taken.samples[range];
            encode_samples(batch, buf);
            metrics.samples_written.inc_by(batch.len() as u64);
            self.logged.fetch_add(batch.len() as u64, Ordering::Relaxed);
            emit(buf, log)?;
        }
        log.current.flush()?;
        metrics.segment.set(log.current.index as i64);
        // Any segment rotated away from above is closed by now.
        self.active.store(log.current.index, Ordering::Release);
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
                    self.active.store(log.current.index, Ordering::Release);
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
            self.active.store(index, Ordering::Release);
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
        // The abandoned segment is never written again.
        self.active.store(self.next_segment, Ordering::Release);
        self.unsynced = false;
    }
}

#[cfg(test)]
mod tests {
    use super::records;

    #[test]
    fn records_never_split_a_hand_over_below_the_record_limit() {
        // Five scrapes of 2005 samples: whole scrapes packed up to 8192 a record.
        let ends = [2005, 4010, 6015, 8020, 10025];
        assert_eq!(records(&ends, 8192, 37_449), [0..8020, 8020..10025]);
        // A scrape larger than a record is alone in its own, split only past the limit.
        assert_eq!(records(&[10, 20_000], 8192, 37_449), [0..10, 10..20_000]);
        assert_eq!(
            records(&[100_000], 8192, 37_449),
            [0..37_449, 37_449..74_898, 74_898..100_000]
        );
        // Lone samples (rules, stale markers) pack like any hand-over.
        assert_eq!(records(&[1, 2, 3], 2, 10), [0..2, 2..3]);
        assert!(records(&[], 8192, 37_449).is_empty());
    }
}
