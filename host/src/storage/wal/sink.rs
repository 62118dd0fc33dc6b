//! Where the head drops what it must log: striped in-memory buffers, drained by the WAL's
//! writer thread.
//!
//! An append costs one uncontended lock and a 24-byte push: no I/O, no encoding and no global
//! lock on the hot path. Everything about a series — its series record and all its samples —
//! goes to the stripe of its ref, so one stripe sees them in the order the head applied them,
//! and since a drain takes each stripe's buffers whole, a series record always reaches the log
//! no later than the samples that refer to it. The head logs a sample while it still holds the
//! series' own lock, which makes the logged order of a series its stored order even when two
//! writers race on it.

use parking_lot::Mutex;

use super::record::RefSample;
use crate::model::Labels;
use crate::storage::SeriesRef;

/// Enough stripes that concurrent appenders rarely meet on one.
const STRIPES: usize = 64;

/// What one stripe collected since the last drain.
#[derive(Default)]
pub(super) struct Pending {
    pub series: Vec<(SeriesRef, Labels)>,
    pub samples: Vec<RefSample>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.series.is_empty() && self.samples.is_empty()
    }
}

/// A stripe on its own cache lines, so appenders on different stripes don't share one.
#[repr(align(128))]
#[derive(Default)]
struct Stripe(Mutex<Pending>);

pub struct WalSink {
    stripes: Box<[Stripe]>,
}

impl Default for WalSink {
    fn default() -> Self {
        WalSink {
            stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
        }
    }
}

impl WalSink {
    pub(crate) fn log_series(&self, series: SeriesRef, labels: &Labels) {
        self.stripe(series).series.push((series, labels.clone()));
    }

    pub(crate) fn log_sample(&self, series: SeriesRef, t: i64, v: f64) {
        self.stripe(series).samples.push(RefSample { series, t, v });
    }

    /// Takes everything logged so far, swapping in the (cleared) buffers of `spare` so their
    /// capacity is reused. Returns the taken buffers; hand them back through `spare` next time.
    pub(super) fn drain(&self, spare: &mut Vec<Pending>) -> Vec<Pending> {
        let mut taken = Vec::with_capacity(STRIPES);
        for stripe in self.stripes.iter() {
            let mut fresh = spare.pop().unwrap_or_default();
            fresh.series.clear();
            fresh.samples.clear();
            let mut guard = stripe.0.lock();
            if guard.is_empty() {
                drop(guard);
                spare.push(fresh);
                continue;
            }
            taken.push(std::mem::replace(&mut *guard, fresh));
        }
        taken
    }

    fn stripe(&self, series: SeriesRef) -> parking_lot::MutexGuard<'_, Pending> {
        self.stripes[(series.0 % STRIPES as u64) as usize].0.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_keep_per_series_order_and_reuse_buffers() {
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
        assert_eq!(taken.len(), STRIPES);
        let series: usize = taken.iter().map(|p| p.series.len()).sum();
        assert_eq!(series, 200);
        for p in &taken {
            for r in p.series.iter().map(|s| s.0) {
                let ts: Vec<i64> = p
                    .samples
                    .iter()
                    .filter(|s| s.series == r)
                    .map(|s| s.t)
                    .collect();
                assert_eq!(ts, [0, 1, 2], "series {r:?} in one stripe, in order");
            }
        }
        assert!(sink.drain(&mut spare).is_empty(), "nothing new");
        spare.extend(taken);
        sink.log_sample(SeriesRef(5), 9, 1.0);
        let again = sink.drain(&mut spare);
        assert_eq!(again.len(), 1);
        assert!(
            again[0].samples.capacity() >= 3,
            "a spare buffer was reused"
        );
        assert_eq!(again[0].samples.len(), 1);
    }
}
