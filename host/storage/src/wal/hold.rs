//! Holds: what keeps segments a reader has not finished with from being deleted.
//!
//! A checkpoint replaces every segment up to it, and deleting them is what keeps the log
//! small. A remote-write queue behind its receiver still needs them: the samples it has not
//! sent, and the series records that name them. While a hold is on segment `h`, a checkpoint
//! deletes only up to the newest older checkpoint `K < h` (every segment after `K` stays,
//! so a reader starting at `h` finds the series of `K` and of the segments in between), or
//! nothing if there is no such checkpoint. Replay is unaffected: it starts at the newest
//! checkpoint and skips the segments it covers.
//!
//! Retention wins over holds: past the size limit holds are ignored, and a hold on a segment
//! last written before the retention time is ignored (its data is expired anyway). The reader
//! then finds its segment gone and says what was lost.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::SystemTime;

use parking_lot::Mutex;

use super::segment::segment_path;

const NONE: u64 = u64::MAX;

/// A reader's claim on the log from one segment on; released when dropped.
pub struct WalHold {
    slot: Arc<AtomicU64>,
}

impl WalHold {
    /// Holds from `segment` on (the reader has finished with every segment before it).
    pub fn set(&self, segment: u64) {
        self.slot.store(segment, Ordering::Release);
    }

    pub fn segment(&self) -> Option<u64> {
        Some(self.slot.load(Ordering::Acquire)).filter(|&s| s != NONE)
    }
}

impl Drop for WalHold {
    fn drop(&mut self) {
        self.slot.store(NONE, Ordering::Release);
    }
}

/// How a checkpoint treats holds.
#[derive(Clone, Copy, Debug)]
pub(super) enum HoldPolicy {
    /// Keeps what holds ask for, unless their segment was last written before this time.
    Honor { not_before: Option<SystemTime> },
    /// Deletes what the checkpoint covers regardless (the log is past its size limit).
    Ignore,
}

#[derive(Default)]
pub(super) struct Holds {
    slots: Mutex<Vec<Weak<AtomicU64>>>,
}

impl Holds {
    pub fn add(&self, segment: u64) -> WalHold {
        let slot = Arc::new(AtomicU64::new(segment));
        let mut slots = self.slots.lock();
        slots.retain(|w| w.strong_count() > 0);
        slots.push(Arc::downgrade(&slot));
        WalHold { slot }
    }

    /// The oldest segment held, as `policy` counts holds.
    pub fn oldest(&self, dir: &Path, policy: HoldPolicy) -> Option<u64> {
        let HoldPolicy::Honor { not_before } = policy else {
            return None;
        };
        let held: Vec<u64> = self
            .slots
            .lock()
            .iter()
            .filter_map(|w| w.upgrade())
            .map(|s| s.load(Ordering::Acquire))
            .filter(|&s| s != NONE)
            .collect();
        let expired = |segment: u64| {
            let Some(limit) = not_before else {
                return false;
            };
            std::fs::metadata(segment_path(dir, segment))
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified < limit)
        };
        held.into_iter().filter(|&s| !expired(s)).min()
    }
}

/// The newest segment a checkpoint numbered `covered` may delete through, given the oldest
/// held segment and the checkpoints there are: `None` to delete none.
pub(super) fn removable_through(
    covered: u64,
    held: Option<u64>,
    checkpoints: &[u64],
) -> Option<u64> {
    match held {
        Some(h) if h <= covered => checkpoints.iter().copied().filter(|&c| c < h).max(),
        _ => Some(covered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Case = (u64, Option<u64>, &'static [u64], Option<u64>);

    #[test]
    fn a_hold_keeps_the_checkpoint_before_it_and_everything_after() {
        // (covered, held, checkpoints) -> delete through
        let cases: [Case; 6] = [
            (9, None, &[4, 9], Some(9)),
            (9, Some(10), &[4, 9], Some(9)),
            (9, Some(9), &[4, 9], Some(4)),
            (9, Some(5), &[4, 9], Some(4)),
            (9, Some(4), &[4, 9], None),
            (9, Some(2), &[9], None),
        ];
        for (covered, held, checkpoints, want) in cases {
            assert_eq!(
                removable_through(covered, held, checkpoints),
                want,
                "{covered} {held:?} {checkpoints:?}"
            );
        }
    }

    #[test]
    fn dropped_holds_hold_nothing() {
        let holds = Holds::default();
        let dir = tempfile::tempdir().unwrap();
        let policy = HoldPolicy::Honor { not_before: None };
        let a = holds.add(7);
        let b = holds.add(3);
        assert_eq!(holds.oldest(dir.path(), policy), Some(3));
        drop(b);
        assert_eq!(holds.oldest(dir.path(), policy), Some(7));
        a.set(8);
        assert_eq!(holds.oldest(dir.path(), policy), Some(8));
        assert_eq!(holds.oldest(dir.path(), HoldPolicy::Ignore), None);
        drop(a);
        assert_eq!(holds.oldest(dir.path(), policy), None);
    }
}
