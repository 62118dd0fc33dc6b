//! Appending a scrape's worth of samples with one hand-over to the write-ahead log.
//!
//! Logging each sample on its own costs a lock and a queue push per sample, a tenth of a steady
//! scrape's CPU. An [`Appender`] stores samples in the head at once (readers see them
//! immediately, exactly as with [`Head::append_to`]) and keeps their log records in a
//! [`SampleBatch`] that reaches the log in one piece when the appender is finished or dropped.
//! A writer's own samples keep their order in the log; what that means for two writers racing
//! on one series is explained in the WAL's `sink` module.

use super::{Head, SeriesHandle};
use crate::storage::series::AppendError;
use crate::storage::wal::SampleBatch;

/// Appends of one writer, logged together. Get one from [`Head::appender`].
pub struct Appender<'h> {
    head: &'h Head,
    batch: SampleBatch,
}

impl Head {
    /// An appender whose log records collect in `batch` (pass the one a previous appender's
    /// [`Appender::finish`] returned, to reuse its memory).
    pub fn appender(&self, batch: SampleBatch) -> Appender<'_> {
        Appender { head: self, batch }
    }
}

impl Appender<'_> {
    /// Appends one sample through a handle; the same rules as [`Head::append_to`].
    pub fn append_to(
        &mut self,
        handle: &SeriesHandle,
        timestamp_ms: i64,
        value: f64,
    ) -> Result<(), AppendError> {
        let mut samples = handle.series.samples.lock();
        if self.head.store(&mut samples, timestamp_ms, value)? {
            self.batch.push(handle.series_ref, timestamp_ms, value);
        }
        Ok(())
    }

    /// Hands the collected records to the log; the emptied batch is returned for reuse.
    pub fn finish(mut self) -> SampleBatch {
        self.flush();
        std::mem::take(&mut self.batch)
    }

    fn flush(&mut self) {
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
