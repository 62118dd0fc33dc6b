//! When samples were stored, against the timestamps they carry: what lets a reader ask for
//! "every sample stored since I last asked" (`/federate`'s every-sample mode) without a record
//! per sample.
//!
//! A timestamp says when a sample was measured, not when it was stored. A scrape's samples
//! carry its start and are stored at its end; an exporter's own timestamps, a rule's
//! evaluation time or a remote writer's backlog can be older still. So "newer than the last
//! request" cannot be told by timestamp alone. The head keeps, per second of its own monotonic
//! clock, the oldest timestamp stored in that second ([`StoreClock::record`], once per
//! appender, i.e. per scrape). Every sample stored after a [`Mark`] then has a timestamp at or
//! after the oldest recorded from the mark's second on ([`StoreClock::floor_since`]): a
//! reader that sends every sample from that floor on misses none, and sends again only what
//! was stored in the same seconds (the receiver drops what it has).
//!
//! The clock is read under the lock that records, so the order of marks and records is the
//! order of their seconds: a record that a floor did not see is in the next floor. An append
//! records after storing, so a sample visible to a read is either in that read's floor or in
//! the next one. Seconds older than [`HORIZON`] are forgotten: a mark older than that (a reader
//! gone for a day) is [`Floor::Expired`], as is a mark from another incarnation of the head
//! (a restart).

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How far back the per-second record reaches: 86,400 entries at most, ~1.4 MB.
pub const HORIZON: Duration = Duration::from_secs(24 * 3600);

/// A moment of one head's life: what a reader remembers between requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// Which head (process) the moment belongs to: random, new at every start.
    pub incarnation: u64,
    /// Milliseconds since that head was created.
    pub at_ms: u64,
}

/// The oldest timestamp stored since a mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Floor {
    /// Nothing was stored since.
    Nothing,
    /// Every sample stored since has a timestamp at or after this one.
    From(i64),
    /// The mark is older than the record, or from another incarnation: unknown.
    Expired,
}

/// The per-second record of one head.
pub struct StoreClock {
    origin: Instant,
    incarnation: u64,
    inner: Mutex<Seconds>,
}

#[derive(Default)]
struct Seconds {
    /// (second since origin, oldest timestamp stored in it), ascending, seconds with stores only.
    oldest: VecDeque<(u64, i64)>,
    /// Seconds before this one have been forgotten.
    kept_from: u64,
}

impl Default for StoreClock {
    fn default() -> Self {
        StoreClock {
            origin: Instant::now(),
            incarnation: foldhash::quality::RandomState::default().hash_one(std::process::id()),
            inner: Mutex::default(),
        }
    }
}

impl StoreClock {
    /// Notes that samples as old as `oldest_ms` were stored just now.
    pub fn record(&self, oldest_ms: i64) {
        let mut inner = self.inner.lock();
        let second = self.origin.elapsed().as_secs();
        match inner.oldest.back_mut() {
            Some((s, oldest)) if *s == second => *oldest = (*oldest).min(oldest_ms),
            _ => inner.oldest.push_back((second, oldest_ms)),
        }
        let horizon = HORIZON.as_secs();
        while inner
            .oldest
            .front()
            .is_some_and(|&(s, _)| s + horizon < second)
        {
            let (s, _) = inner.oldest.pop_front().expect("front exists");
            inner.kept_from = s + 1;
        }
    }

    /// The current moment.
    pub fn mark(&self) -> Mark {
        let _ordered = self.inner.lock();
        Mark {
            incarnation: self.incarnation,
            at_ms: self.origin.elapsed().as_millis() as u64,
        }
    }

    /// The oldest timestamp stored since `since` (from its second on), and the current moment,
    /// read together.
    pub fn floor_since(&self, since: Mark) -> (Floor, Mark) {
        let inner = self.inner.lock();
        let now = Mark {
            incarnation: self.incarnation,
            at_ms: self.origin.elapsed().as_millis() as u64,
        };
        let second = since.at_ms / 1000;
        if since.incarnation != self.incarnation || second < inner.kept_from {
            return (Floor::Expired, now);
        }
        let floor = inner
            .oldest
            .iter()
            .rev()
            .take_while(|&&(s, _)| s >= second)
            .map(|&(_, oldest)| oldest)
            .min()
            .map_or(Floor::Nothing, Floor::From);
        (floor, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_cover_what_was_stored_since() {
        let clock = StoreClock::default();
        let start = clock.mark();
        assert_eq!(clock.floor_since(start).0, Floor::Nothing);
        clock.record(5_000);
        clock.record(7_000);
        clock.record(3_000); // a late sample, stored after newer ones
        assert_eq!(clock.floor_since(start).0, Floor::From(3_000));
        let other = Mark {
            incarnation: start.incarnation ^ 1,
            ..start
        };
        assert_eq!(clock.floor_since(other).0, Floor::Expired);
        let (_, now) = clock.floor_since(start);
        assert!(now.at_ms >= start.at_ms);
        assert_eq!(now.incarnation, start.incarnation);
    }

    #[test]
    fn a_later_mark_sees_only_later_seconds() {
        let clock = StoreClock::default();
        clock.record(1_000);
        // A mark one second on: the first record is in an earlier second.
        let later = Mark {
            at_ms: clock.mark().at_ms + 1_000,
            ..clock.mark()
        };
        assert_eq!(clock.floor_since(later).0, Floor::Nothing);
    }
}
