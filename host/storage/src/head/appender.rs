//! Appending a scrape's worth of samples with one hand-over to the write-ahead log.
//!
//! Logging each sample on its own costs a lock and a queue push per sample, a tenth of a steady
//! scrape's CPU. An [`Appender`] stores samples in the head at once (readers see them
//! immediately, exactly as with [`Head::append_to`]) and keeps their log records in a
//! [`SampleBatch`] that reaches the log in one piece when the appender is finished or dropped.
//! A writer's own samples keep their order in the log; what that means for two writers racing
//! on one series is explained in the WAL's `sink` module.

use super::{Head, SeriesHandle};
use crate::series::AppendError;
use crate::wal::SampleBatch;

/// Where a series' next append will write, as its last append left it: for a caller that
/// appends to the series again later to prefetch ([`Appender::prefetch`]). Only ever a hint:
/// it may be out of date (the chunk grew or was cut since) and is never dereferenced.
#[derive(Clone, Copy, Debug, Default)]
pub struct ChunkTail(usize);

/// Appends of one writer, logged together. Get one from [`Head::appender`].
pub struct Appender<'h> {
    head: &'h Head,
    batch: SampleBatch,
    /// The oldest timestamp stored since the last note to the head's store clock.
    oldest_ms: i64,
}

impl Head {
    /// An appender whose log records collect in `batch` (pass the one a previous appender's
    /// [`Appender::finish`] returned, to reuse its memory).
    pub fn appender(&self, batch: SampleBatch) -> Appender<'_> {
        Appender {
            head: self,
            batch,
            oldest_ms: i64::MAX,
        }
    }
}

impl Appender<'_> {
    /// Asks the CPU to start loading what appending to `handle` will touch: the series and
    /// the tail of its open chunk, as `tail` (from this series' previous append) remembers it.
    /// A steady scrape's series were last touched a scrape ago and have left the cache; a
    /// caller that knows its next appends prefetches some appends ahead and overlaps the
    /// misses, instead of waiting for two of them in turn on every append.
    pub fn prefetch(&self, handle: &SeriesHandle, tail: ChunkTail) {
        // The series spans a few cache lines (lock, encoder state, flags): load each of them.
        let series: *const u8 = std::sync::Arc::as_ptr(&handle.series).cast();
        let size = std::mem::size_of_val(&*handle.series);
        for offset in (0..size).step_by(CACHE_LINE).chain([size - 1]) {
            prefetch(series.wrapping_add(offset));
        }
        prefetch(tail.0 as *const u8);
    }

    /// Appends one sample through a handle; the same rules as [`Head::append_to`]. Answers
    /// where the series' next append will write.
    pub fn append_to(
        &mut self,
        handle: &SeriesHandle,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<ChunkTail, AppendError> {
        if let Some(wal) = self.head.wal.get() {
            // Before the sample is stored: a checkpoint that sees it then waits for the batch.
            self.batch.open_in(wal);
        }
        let mut samples = handle.series.samples.lock();
        if self.head.store(&mut samples, timestamp_ms, value)? {
            self.batch.push(handle.series_ref, timestamp_ms, value);
        }
        self.oldest_ms = self.oldest_ms.min(timestamp_ms);
        Ok(ChunkTail(samples.tail_ptr() as usize))
    }

    /// Keeps the collected records for a later appender to hand over with its own (a scrape's
    /// samples, then its `up` and `scrape_*` series: one hand-over, so the log keeps or loses
    /// a scrape whole). The samples are in the head already.
    pub fn hold(mut self) -> SampleBatch {
        self.note_stored();
        std::mem::take(&mut self.batch)
    }

    /// Hands the collected records to the log; the emptied batch is returned for reuse.
    pub fn finish(mut self) -> SampleBatch {
        self.flush();
        std::mem::take(&mut self.batch)
    }

    /// Tells the head's store clock what was stored: after the samples, so a reader that sees
    /// them before the note finds the note in its next floor (see `stored`).
    fn note_stored(&mut self) {
        if self.oldest_ms != i64::MAX {
            self.head
                .stored
                .record(std::mem::replace(&mut self.oldest_ms, i64::MAX));
        }
    }

    fn flush(&mut self) {
        self.note_stored();
        if let Some(wal) = self.head.wal.get() {
            wal.log_batch(&mut self.batch);
        }
    }
}

impl Drop for Appender<'_> {
    /// An appender left without [`Appender::finish`] (an early return) still logs what it stored.
    fn drop(&mut self) {
        self.flush();
    }
}

const CACHE_LINE: usize = 64;

/// Starts loading the cache line at `at` for writing, without waiting for it (both lines an
/// append touches are written: the series' lock and encoder state, the chunk's last bytes).
#[inline]
fn prefetch(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing into the program, never faults (any
    // address, even dangling, is allowed) and has no effect the program can observe. It
    // compiles to PREFETCHW where the target has it, PREFETCHT0 otherwise.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_ET0};
        _mm_prefetch::<_MM_HINT_ET0>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}
