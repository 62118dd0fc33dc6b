//! Where the head drops what it must log: in-memory queues, drained by the WAL's writer
//! thread.
//!
//! Nothing on the append path does I/O or encoding. A scrape hands over all its samples at
//! once ([`SampleBatch`], one lock and one copy per scrape); a lone append (a rule's result, a
//! stale marker outside a scrape) pushes its one sample. Both go to one queue, so a writer's
//! samples reach the log in the order it stored them. The queue remembers where each hand-over
//! ends, so the writer never splits a scrape across two records: a crash keeps or loses a
//! scrape whole (its `up` with its samples), as Prometheus' one record per commit does. Two writers storing the *same* series
//! concurrently may reach the log in the other order than the head stored them; replay then
//! refuses the earlier sample as out of order and counts it. Prometheus' head has the same
//! window (its appenders log at commit, then apply), and a series written by two writers at
//! once is already a conflict both report (out-of-order and duplicate samples).
//!
//! Series records go to their own queue, pushed while the head's catalog is locked for the
//! creation anyway, so it holds them in ref order. A drain takes the samples first and the
//! series last: every sample taken was stored after its series was created, so its series
//! record is taken by the same drain or an earlier one, and the writer puts series records
//! before samples. The log thus names every series before its first sample.
//!
//! A hand-over's samples are in the head before its records are in the queue (an appender
//! stores as it goes and hands over at the end). A checkpoint, which snapshots the head, must
//! not publish samples whose records might never reach the log, or a crash would replay part
//! of a scrape (some of its samples, not its `up`). So a batch counts itself as *open* from
//! before its first sample is stored until it is handed over ([`InFlight`]), and a checkpoint
//! waits, after its snapshot, for the batches open during it, then syncs the log, before it
//! replaces any segment.
//!
//! The writer drains every flush interval, and sooner when the queue passes [`WAKE_AT`]:
//! buffers stay around a megabyte, small enough not to push the head's own data out of the CPU
//! caches.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use parking_lot::Mutex;

use super::record::RefSample;
use crate::SeriesRef;
use wasmfed_model::Labels;

/// Queued samples that wake the writer: 64 Ki × 24 B ≈ 1.5 MiB buffered.
const WAKE_AT: usize = 64 * 1024;

/// What a drain took: new series in ref order, then samples in the order they were handed over.
#[derive(Default)]
pub(super) struct Drained {
    pub series: Vec<(SeriesRef, Labels)>,
    pub samples: Vec<RefSample>,
    /// Where each hand-over ends in `samples` (ascending; the last is `samples.len()`).
    pub batch_ends: Vec<usize>,
}

impl Drained {
    pub fn is_empty(&self) -> bool {
        self.series.is_empty() && self.samples.is_empty()
    }
}

/// Samples stored by one writer, waiting to be handed to the log together. Reusable: handing
/// it over empties it and keeps its capacity.
#[derive(Default)]
pub struct SampleBatch {
    samples: Vec<RefSample>,
    /// Held from before the first sample was stored until the hand-over.
    open: Option<Open>,
}

impl SampleBatch {
    /// Counts this batch as open in `sink`, if it is not yet: call before storing a sample
    /// the batch will carry.
    pub(crate) fn open_in(&mut self, sink: &WalSink) {
        if self.open.is_none() {
            self.open = Some(sink.in_flight.enter());
        }
    }

    pub(crate) fn push(&mut self, series: SeriesRef, t: i64, v: f64) {
        self.samples.push(RefSample { series, t, v });
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

/// Batches open, counted in two generations: a checkpoint starts a new generation and waits
/// for the old one to empty, while batches opened since count in the new one (an RCU-like
/// grace period: two atomic operations per batch, none per sample).
#[derive(Default)]
struct InFlight {
    generation: AtomicUsize,
    open: [AtomicUsize; 2],
}

/// One open batch, counted until dropped.
struct Open {
    in_flight: Arc<InFlight>,
    slot: usize,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.in_flight.open[self.slot].fetch_sub(1, SeqCst);
    }
}

impl InFlight {
    fn enter(self: &Arc<Self>) -> Open {
        loop {
            let slot = self.generation.load(SeqCst) & 1;
            self.open[slot].fetch_add(1, SeqCst);
            // A generation started in between would not wait for this slot: count again.
            if self.generation.load(SeqCst) & 1 == slot {
                return Open {
                    in_flight: self.clone(),
                    slot,
                };
            }
            self.open[slot].fetch_sub(1, SeqCst);
        }
    }

    /// Returns once every batch open at the call has been handed over or dropped.
    fn wait_for_open(&self) {
        let old = self.generation.fetch_add(1, SeqCst) & 1;
        while self.open[old].load(SeqCst) > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Samples waiting for the writer, and where each hand-over ends.
#[derive(Default)]
struct Queue {
    samples: Vec<RefSample>,
    ends: Vec<usize>,
}

pub struct WalSink {
    samples: Mutex<Queue>,
    series: Mutex<Vec<(SeriesRef, Labels)>>,
    writer: OnceLock<Thread>,
    in_flight: Arc<InFlight>,
}

impl Default for WalSink {
    fn default() -> Self {
        WalSink {
            samples: Mutex::new(Queue {
                samples: Vec::with_capacity(WAKE_AT),
                ends: Vec::new(),
            }),
            series: Mutex::default(),
            writer: OnceLock::new(),
            in_flight: Arc::default(),
        }
    }
}

impl WalSink {
    /// Called with the head's catalog locked, so calls arrive in ref order.
    pub(crate) fn log_series(&self, series: SeriesRef, labels: &Labels) {
        self.series.lock().push((series, labels.clone()));
    }

    pub(crate) fn log_sample(&self, series: SeriesRef, t: i64, v: f64) {
        let mut queue = self.samples.lock();
        queue.samples.push(RefSample { series, t, v });
        let end = queue.samples.len();
        queue.ends.push(end);
        let full = end >= WAKE_AT;
        drop(queue);
        if full {
            self.wake();
        }
    }

    /// Hands over every sample of `batch`, in its order, and empties it (it is no longer open).
    pub(crate) fn log_batch(&self, batch: &mut SampleBatch) {
        if batch.samples.is_empty() {
            batch.open = None;
            return;
        }
        let mut queue = self.samples.lock();
        queue.samples.extend_from_slice(&batch.samples);
        let end = queue.samples.len();
        queue.ends.push(end);
        let full = end >= WAKE_AT;
        drop(queue);
        batch.samples.clear();
        batch.open = None;
        if full {
            self.wake();
        }
    }

    /// Returns once every batch open at the call is handed over (or dropped); see the module
    /// documentation.
    pub(super) fn wait_for_open_batches(&self) {
        self.in_flight.wait_for_open();
    }

    /// Names the thread that drains this sink, to be woken when there is much to drain.
    pub(super) fn set_writer(&self, writer: Thread) {
        let _ = self.writer.set(writer);
    }

    pub(super) fn wake(&self) {
        if let Some(writer) = self.writer.get() {
            writer.unpark();
        }
    }

    /// Takes everything logged so far. The sample queue is swapped with `spare` (cleared), so
    /// its capacity is reused; hand the taken buffer back through `spare`.
    pub(super) fn drain(&self, spare: &mut Vec<RefSample>) -> Drained {
        spare.clear();
        let mut queue = self.samples.lock();
        let samples = std::mem::replace(&mut queue.samples, std::mem::take(spare));
        let batch_ends = std::mem::take(&mut queue.ends);
        drop(queue);
        Drained {
            samples,
            batch_ends,
            series: std::mem::take(&mut *self.series.lock()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_keep_series_and_sample_order_and_reuse_buffers() {
        let sink = WalSink::default();
        let labels = Labels::from_pairs([("__name__", "m")]);
        let mut batch = SampleBatch::default();
        for r in 0..200u64 {
            sink.log_series(SeriesRef(r), &labels);
            for t in 0..3 {
                batch.push(SeriesRef(r), t, r as f64);
            }
            sink.log_sample(SeriesRef(r), 3, 0.0);
        }
        sink.log_batch(&mut batch);
        assert!(batch.is_empty(), "handing over empties the batch");
        let mut spare = Vec::new();
        let taken = sink.drain(&mut spare);
        let refs: Vec<u64> = taken.series.iter().map(|s| s.0 .0).collect();
        assert_eq!(refs, (0..200).collect::<Vec<_>>(), "series in ref order");
        assert_eq!(taken.samples.len(), 800);
        let lone: Vec<(u64, i64)> = taken.samples[..200]
            .iter()
            .map(|s| (s.series.0, s.t))
            .collect();
        assert_eq!(lone, (0..200).map(|r| (r, 3)).collect::<Vec<_>>());
        let batched: Vec<(u64, i64)> = taken.samples[200..]
            .iter()
            .map(|s| (s.series.0, s.t))
            .collect();
        let want: Vec<(u64, i64)> = (0..200).flat_map(|r| (0..3).map(move |t| (r, t))).collect();
        assert_eq!(batched, want, "a batch arrives whole, in its order");
        // The taken buffer handed back is the queue's next one.
        let mut spare = taken.samples;
        let empty = sink.drain(&mut spare);
        assert!(empty.is_empty(), "nothing new");
        sink.log_sample(SeriesRef(5), 9, 1.0);
        let mut spare = empty.samples;
        let again = sink.drain(&mut spare);
        assert_eq!(again.samples.len(), 1);
        assert!(
            again.samples.capacity() >= 800,
            "a handed-back buffer was reused"
        );
    }
}
