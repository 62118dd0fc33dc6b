//! The queue's reading side: the log's records turned into samples for shards. Runs on a
//! blocking thread (file I/O, plugin calls for new series), one chunk of the log at a time.
//!
//! Each sample goes to shard `mix(ref) % shards`, a function of its series ref alone, so a
//! restart with the same shard count puts every sample in the shard it was in before; its
//! number among that shard's samples of the record is what the shard's position counts (see
//! `state`). Samples of series that relabeling dropped, or that the log never named (a
//! damaged record), are counted and skipped, as Prometheus does.

use std::collections::VecDeque;
use std::sync::Arc;

use wasmfed_model::Labels;
use wasmfed_storage::wal::{Position, TailItem, WalTail};
use wasmfed_storage::SeriesRef;

use crate::series::{Lookup, SeriesTable, Transform};
use crate::shard::Pending;
use crate::state::Slot;

/// How much of the log one step reads at most.
const STEP_BYTES: u64 = 4 << 20;

/// The shard a series' samples go to.
pub(crate) fn shard_of(series: SeriesRef, shards: usize) -> usize {
    let mixed = series.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 17;
    (mixed % shards.max(1) as u64) as usize
}

/// One record's samples, routed.
pub(crate) struct Routed {
    pub at: Position,
    /// (shard, sample).
    pub samples: Vec<(usize, Pending)>,
}

/// What one step produced.
#[derive(Default)]
pub(crate) struct Step {
    pub records: Vec<Routed>,
    pub caught_up: bool,
    /// Samples read (sent or not), and bytes of the log read.
    pub read: u64,
    pub bytes: u64,
    /// Samples skipped: dropped by relabeling, or of series the log never named.
    pub dropped: u64,
    pub unknown: u64,
    pub lost: Vec<(Position, Position)>,
    pub newest_ms: Option<i64>,
}

pub(crate) struct LogReader {
    pub tail: WalTail,
    table: SeriesTable,
    transform: Arc<Transform>,
    pub shards: usize,
    /// Where each shard resumes after a restart, until the tail is past all of them.
    resume: Option<Vec<Slot>>,
    /// Samples older than this are not sent (a new queue's start).
    since_ms: i64,
    /// Items read but not yet turned into samples (a plugin failure leaves them here).
    backlog: VecDeque<TailItem>,
}

impl LogReader {
    pub fn new(
        tail: WalTail,
        transform: Arc<Transform>,
        shards: usize,
        resume: Option<Vec<Slot>>,
        since_ms: i64,
    ) -> LogReader {
        LogReader {
            tail,
            table: SeriesTable::default(),
            transform,
            shards: shards.max(1),
            resume,
            since_ms,
            backlog: VecDeque::new(),
        }
    }

    /// Items read before the first step (the checkpoint's series at the tail's start).
    pub fn prime(&mut self, items: Vec<TailItem>) {
        self.backlog.extend(items);
    }

    /// Reads on and routes what was read. An error (a plugin failing on new series) keeps
    /// the items for the next step.
    pub fn step(&mut self) -> Result<Step, String> {
        let mut step = Step::default();
        if self.backlog.is_empty() {
            let read = self
                .tail
                .read(STEP_BYTES)
                .map_err(|e| format!("reading the WAL: {e}"))?;
            step.caught_up = read.caught_up;
            step.bytes = read.bytes;
            self.backlog.extend(read.items);
        }
        while let Some(item) = self.backlog.front() {
            match item {
                TailItem::Series { .. } => self.new_series()?,
                TailItem::Samples { .. } => {
                    let Some(TailItem::Samples { at, samples }) = self.backlog.pop_front() else {
                        unreachable!("front is samples");
                    };
                    self.route(at, samples, &mut step);
                }
                TailItem::SeriesReset { checkpoint } => {
                    self.table.reset(*checkpoint);
                    self.backlog.pop_front();
                }
                TailItem::Lost { from, to } => {
                    step.lost.push((*from, *to));
                    self.backlog.pop_front();
                }
            }
        }
        Ok(step)
    }

    /// Takes the run of series items at the front: known ones renewed, new ones through the
    /// transform (one plugin call for all of them).
    fn new_series(&mut self) -> Result<(), String> {
        let mut fresh: Vec<(SeriesRef, u64, Labels)> = Vec::new();
        let mut taken = 0;
        for item in self.backlog.iter() {
            let TailItem::Series {
                series,
                labels,
                segment,
            } = item
            else {
                break;
            };
            taken += 1;
            if !self.table.renew(*series, *segment) {
                fresh.push((*series, *segment, labels.clone()));
            }
        }
        if !fresh.is_empty() {
            let labels = fresh.iter().map(|f| f.2.clone()).collect();
            let out = self.transform.apply(labels)?;
            for ((series, segment, _), sent) in fresh.iter().zip(out) {
                self.table.insert(*series, *segment, sent.as_ref());
            }
        }
        self.backlog.drain(..taken);
        Ok(())
    }

    fn route(
        &mut self,
        at: Position,
        samples: Vec<wasmfed_storage::wal::RefSample>,
        step: &mut Step,
    ) {
        let mut counts = vec![0u32; self.shards];
        let mut out = Vec::with_capacity(samples.len());
        for s in samples {
            step.read += 1;
            step.newest_ms = step.newest_ms.max(Some(s.t));
            let shard = shard_of(s.series, self.shards);
            let idx = counts[shard];
            counts[shard] += 1;
            if s.t < self.since_ms {
                continue;
            }
            let mut resent = false;
            if let Some(resume) = &self.resume {
                let slot = &resume[shard];
                if slot.acked.covers(at, idx) {
                    continue;
                }
                resent = slot.sent.covers(at, idx);
            }
            match self.table.get(s.series) {
                Lookup::Send(series) => out.push((
                    shard,
                    Pending {
                        series: series.clone(),
                        t: s.t,
                        v: s.v,
                        at,
                        idx,
                        resent,
                    },
                )),
                Lookup::Dropped => step.dropped += 1,
                Lookup::Unknown => step.unknown += 1,
            }
        }
        if self
            .resume
            .as_ref()
            .is_some_and(|r| r.iter().all(|slot| slot.sent.at < at))
        {
            self.resume = None;
        }
        step.records.push(Routed { at, samples: out });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_always_goes_to_the_same_shard_and_shards_are_used_evenly() {
        let mut counts = [0usize; 8];
        for r in 0..8000u64 {
            let s = shard_of(SeriesRef(r), 8);
            assert_eq!(s, shard_of(SeriesRef(r), 8));
            counts[s] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }
}
