//! A tail against a live log: everything stored reaches it once, in order, across segment
//! rotations and checkpoints, from any position it was stopped at.

use std::collections::HashMap;

use super::super::segment::PAGE_SIZE;
use super::super::tests::{fill, open};
use super::super::{TailItem, TailStart, Wal};
use super::Position;
use crate::{Head, SeriesRef};

/// What a consumer keeps: series by ref, and every sample as (labels, t, value bits).
#[derive(Default)]
struct Consumer {
    series: HashMap<SeriesRef, String>,
    samples: Vec<(String, i64, u64)>,
    positions: Vec<Position>,
    /// Samples per record read, as `positions`.
    counts: Vec<usize>,
    lost: usize,
    resets: usize,
}

impl Consumer {
    fn take(&mut self, items: Vec<TailItem>) {
        for item in items {
            match item {
                TailItem::Series { series, labels, .. } => {
                    self.series.insert(series, labels.to_string());
                }
                TailItem::Samples { at, samples } => {
                    self.positions.push(at);
                    self.counts.push(samples.len());
                    for s in samples {
                        let name = self.series.get(&s.series).cloned().expect("series known");
                        self.samples.push((name, s.t, s.v.to_bits()));
                    }
                }
                TailItem::SeriesReset { .. } => self.resets += 1,
                TailItem::Lost { .. } => self.lost += 1,
            }
        }
    }

    /// Reads until caught up.
    fn drain(&mut self, tail: &mut super::WalTail) {
        for _ in 0..10_000 {
            let read = tail.read(64 * 1024).unwrap();
            let caught_up = read.caught_up;
            self.take(read.items);
            if caught_up {
                return;
            }
        }
        panic!("the tail never caught up");
    }
}

/// Every sample the head holds, as the consumer records them, in (labels, t) order.
fn stored(head: &Head) -> Vec<(String, i64, u64)> {
    let mut out: Vec<_> = head
        .series_refs()
        .into_iter()
        .flat_map(|r| {
            let name = head.labels(r).unwrap().to_string();
            head.samples(r, i64::MIN, i64::MAX)
                .iter()
                .map(|s| (name.clone(), s.timestamp_ms, s.value.to_bits()))
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}

/// Equal sample lists, said briefly when not.
fn same(got: Vec<(String, i64, u64)>, want: Vec<(String, i64, u64)>) {
    if got != want {
        let missing = want.iter().filter(|s| !got.contains(s)).count();
        let extra = got.iter().filter(|s| !want.contains(s)).count();
        panic!(
            "{} samples read, {} stored: {missing} missing, {extra} extra",
            got.len(),
            want.len()
        );
    }
}

fn sorted(mut v: Vec<(String, i64, u64)>) -> Vec<(String, i64, u64)> {
    v.sort();
    v
}

#[test]
fn a_tail_reads_every_sample_once_as_the_log_grows() {
    let dir = tempfile::tempdir().unwrap();
    let (head, wal, _) = open(dir.path(), 4 * PAGE_SIZE as u64);
    let mut tail = wal.tail(TailStart::Since(i64::MIN));
    let mut got = Consumer::default();
    // Rounds small enough to end mid-page, and enough of them to roll segments over.
    for round in 0..30 {
        fill(&head, &format!("m{}", round % 3), 60, 20, round * 100_000);
        wal.sync().unwrap();
        got.drain(&mut tail);
    }
    assert!(tail.position().segment > 2, "segments rolled over");
    same(sorted(got.samples), stored(&head));
    assert_eq!((got.lost, got.resets), (0, 0));
    let mut positions = got.positions.clone();
    positions.dedup();
    assert_eq!(positions.len(), got.positions.len(), "no record read twice");
    assert!(
        got.positions.windows(2).all(|w| w[0] < w[1]),
        "in log order"
    );
}

#[test]
fn a_hold_keeps_what_a_tail_has_not_read_through_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let (head, wal, _) = open(dir.path(), 4 * PAGE_SIZE as u64);
    let mut tail = wal.tail(TailStart::Since(i64::MIN));
    let hold = wal.hold(0);
    let mut got = Consumer::default();
    got.drain(&mut tail);
    for round in 0..20 {
        fill(&head, "m", 30, 5, round * 10_000);
        if round % 5 == 4 {
            wal.checkpoint(&head).unwrap();
        }
    }
    wal.sync().unwrap();
    got.drain(&mut tail);
    assert_eq!(got.lost, 0);
    same(sorted(got.samples), stored(&head));
    hold.set(tail.position().segment);
    wal.checkpoint(&head).unwrap();
    let (segments, checkpoints) = {
        let l = super::super::segment::list(dir.path()).unwrap();
        (l.segments, l.checkpoints)
    };
    assert!(
        segments.first() > Some(&0) && checkpoints.len() <= 2,
        "a moved hold lets retention go on: {segments:?} {checkpoints:?}"
    );
}

#[test]
fn a_tail_resumes_at_a_kept_position_with_every_series_named() {
    let dir = tempfile::tempdir().unwrap();
    let (head, wal, _) = open(dir.path(), 4 * PAGE_SIZE as u64);
    let mut first = Consumer::default();
    let mut tail = wal.tail(TailStart::Since(i64::MIN));
    for round in 0..8 {
        fill(&head, "m", 25, 4, round * 10_000);
    }
    wal.sync().unwrap();
    first.drain(&mut tail);
    // Stop in the middle; a hold on where the consumer stands, as a queue keeps one.
    let resume = first.positions[first.positions.len() / 2];
    let hold = wal.hold(resume.segment);
    for round in 8..16 {
        fill(&head, "m", 25, 4, round * 10_000);
        wal.checkpoint(&head).unwrap();
    }
    wal.sync().unwrap();
    drop(tail);
    drop(wal);
    // A restart: the log is replayed into a new head, and a new tail starts at the position.
    let (head2, wal2, _) = open(dir.path(), 4 * PAGE_SIZE as u64);
    drop(hold);
    let _hold = wal2.hold(resume.segment);
    wal2.checkpoint(&head2).unwrap();
    let mut again = Consumer::default();
    let mut tail = wal2.tail(TailStart::At(resume));
    again.drain(&mut tail);
    assert_eq!(again.lost, 0);
    assert_eq!(again.positions.first(), Some(&resume));
    // What the first tail read before the position, and everything the second read, is all
    // that was stored, and the second read nothing twice.
    let before = first.positions.iter().take_while(|&&p| p < resume).count();
    let mut all = first.samples.clone();
    all.truncate(first.counts[..before].iter().sum());
    all.extend(again.samples.iter().cloned());
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "no sample read twice");
    same(all, stored(&head2));
}

#[test]
fn a_position_whose_segments_were_deleted_is_reported_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (head, wal, _) = open(dir.path(), 4 * PAGE_SIZE as u64);
    for round in 0..6 {
        fill(&head, "m", 25, 4, round * 10_000);
    }
    wal.sync().unwrap();
    wal.checkpoint(&head).unwrap();
    fill(&head, "m", 25, 1, 100_000);
    wal.sync().unwrap();
    let mut got = Consumer::default();
    let mut tail = wal.tail(TailStart::At(Position {
        segment: 0,
        offset: 0,
    }));
    got.drain(&mut tail);
    assert_eq!(got.lost, 1);
    assert_eq!(got.samples.len(), 25, "what is after the loss is read");
}

#[test]
fn a_new_tail_sends_only_what_is_recent() {
    let dir = tempfile::tempdir().unwrap();
    let (head, wal, _) = open(dir.path(), 4 * PAGE_SIZE as u64);
    fill(&head, "m", 10, 10, 0);
    wal.sync().unwrap();
    let mut got = Consumer::default();
    let mut tail = wal.tail(TailStart::Since(5_000));
    got.drain(&mut tail);
    assert_eq!(got.samples.len(), 50);
    assert!(got.samples.iter().all(|s| s.1 >= 5_000));
}

/// A closed log is complete: a tail of a log whose writer stopped reads it to the end.
#[test]
fn a_tail_of_a_closed_log_reads_it_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let (head, wal, _) = open(dir.path(), 4 * PAGE_SIZE as u64);
    fill(&head, "m", 10, 3, 0);
    let mut tail = wal.tail(TailStart::Since(i64::MIN));
    wal.close().unwrap();
    let _: &Wal = &wal;
    let mut got = Consumer::default();
    got.drain(&mut tail);
    assert_eq!(got.samples.len(), 30);
}

/// The tail reads while the writer writes (pages half written, segments rolling over under
/// it): still every sample once.
#[test]
fn a_tail_racing_the_writer_reads_every_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let (head, wal, _) = open(dir.path(), 2 * PAGE_SIZE as u64);
    let mut tail = wal.tail(TailStart::Since(i64::MIN));
    let mut got = Consumer::default();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for round in 0..300 {
                fill(&head, "m", 30, 5, round * 10_000);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            wal.sync().unwrap();
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let read = tail.read(16 * 1024).unwrap();
            got.take(read.items);
        }
    });
    got.drain(&mut tail);
    assert!(tail.position().segment > 1, "segments rolled over");
    same(sorted(got.samples), stored(&head));
}
