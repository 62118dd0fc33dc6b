//! Where the head drops what it must log: in-memory buffers, drained by the WAL's writer
//! thread.
//!
//! A sample append costs one uncontended lock and a 24-byte push: no I/O, no encoding and no
//! global lock on the hot path. Samples go to the stripe of their series' ref, so one stripe
//! sees a series' samples in the order the head stored them (the head pushes while it still
//! holds the series' own lock, which keeps that order even when two writers race on a series).
//! Series records go to one queue, pushed while the head's catalog is locked for the creation
//! anyway, so the queue holds them in ref order.
//!
//! The writer drains every flush interval, and sooner when a stripe fills up: buffers stay
//! around a megabyte, small enough not to push the head's own data out of the CPU caches.
//!
//! A drain takes the sample stripes first and the series queue last: every sample taken was
//! stored after its series was created, so its series record is taken by the same drain or an
//! earlier one, and the writer puts series records before samples. The log thus names every
//! series before its first sample, and lists series in ref order.

use std::sync::OnceLock;
use std::thread::Thread;

use parking_lot::Mutex;

use super::record::RefSample;
use crate::model::Labels;
use crate::storage::SeriesRef;

/// Enough stripes that concurrent appenders rarely meet on one.
const STRIPES: usize = 64;
/// Samples in one stripe that wake the writer: 64 stripes × 1024 × 24 B ≈ 1.5 MiB buffered.
const WAKE_AT: usize = 1024;

/// A stripe on its own cache lines, so appenders on different stripes don't share one.
#[repr(align(128))]
#[derive(Default)]
struct Stripe(Mutex<Vec<RefSample>>);

/// What a drain took: new series in ref order, then each non-empty stripe's samples.
#[derive(Default)]
pub(super) struct Drained {
    pub series: Vec<(SeriesRef, Labels)>,
    pub samples: Vec<Vec<RefSample>>,
}

impl Drained {
    pub fn is_empty(&self) -> bool {
        self.series.is_empty() && self.samples.is_empty()
    }
}

pub struct WalSink {
    stripes: Box<[Stripe]>,
    series: Mutex<Vec<(SeriesRef, Labels)>>,
    writer: OnceLock<Thread>,
}

impl Default for WalSink {
    fn default() -> Self {
        WalSink {
            stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
            series: Mutex::default(),
            writer: OnceLock::new(),
        }
    }
}

impl WalSink {
    /// Called with the head's catalog locked, so calls arrive in ref order.
    pub(crate) fn log_series(&self, series: SeriesRef, labels: &Labels) {
        self.series.lock().push((series, labels.clone()));
    }

    pub(crate) fn log_sample(&self, series: SeriesRef, t: i64, v: f64) {
        let mut stripe = self.stripes[(series.0 % STRIPES as u64) as usize].0.lock();
        stripe.push(RefSample { series, t, v });
        let full = stripe.len() == WAKE_AT;
        drop(stripe);
        if full {
            self.wake();
        }
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

    /// Takes everything logged so far. Sample buffers are swapped with cleared ones from
    /// `spare` so their capacity is reused; hand the taken ones back through `spare`.
    pub(super) fn drain(&self, spare: &mut Vec<Vec<RefSample>>) -> Drained {
        let mut taken = Drained::default();
        for stripe in self.stripes.iter() {
            let mut fresh = spare.pop().unwrap_or_default();
            fresh.clear();
            let mut guard = stripe.0.lock();
            if guard.is_empty() {
                drop(guard);
                spare.push(fresh);
                continue;
            }
            taken.samples.push(std::mem::replace(&mut *guard, fresh));
        }
        taken.series = std::mem::take(&mut *self.series.lock());
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_keep_series_and_sample_order_and_reuse_buffers() {
        let sink = WalSink::default();
        let labels = Labels::from_pairs([("__name__", "m")]);
        for r in 0..200u64 {
            sink.log_series(SeriesRef(r), &labels);
            for t in 0..3 {
                sink.log_sample(SeriesRef(r), t, r as f64);
            }
        }
        let mut spare = Vec::new();
        let taken = sink.drain(&mut spare);
        assert_eq!(taken.samples.len(), STRIPES);
        let refs: Vec<u64> = taken.series.iter().map(|s| s.0 .0).collect();
        assert_eq!(refs, (0..200).collect::<Vec<_>>(), "series in ref order");
        for r in refs {
            let stripe = &taken.samples[(r % STRIPES as u64) as usize];
            let ts: Vec<i64> = stripe
                .iter()
                .filter(|s| s.series.0 == r)
                .map(|s| s.t)
                .collect();
            assert_eq!(ts, [0, 1, 2], "series {r}: in one stripe, in order");
        }
        assert!(sink.drain(&mut spare).is_empty(), "nothing new");
        spare.extend(taken.samples);
        sink.log_sample(SeriesRef(5), 9, 1.0);
        let again = sink.drain(&mut spare);
        assert_eq!(again.samples.len(), 1);
        assert!(
            again.samples[0].capacity() >= 3,
            "a spare buffer was reused"
        );
        assert_eq!(again.samples[0].len(), 1);
    }
}
