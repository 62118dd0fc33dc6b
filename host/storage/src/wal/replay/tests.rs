//! Replay on any number of sample workers gives the same head and the same report as on one:
//! the partitioning must keep each series' samples in log order, route a ref logged twice to
//! the worker owning its series, and count every refusal and every damaged record once.

use std::path::Path;

use super::super::record::{self, RefSample};
use super::super::segment::{list, SegmentLog, DEFAULT_SEGMENT_SIZE, HEADER_LEN, PAGE_SIZE};
use super::super::tests::{fill, labels, open, state, SeriesState};
use super::*;
use crate::SeriesRef;

/// A log with a checkpoint, segments after it repeating some of its samples, a label set
/// logged under two refs, refusals of every kind and one record that does not decode; the
/// offset of that record.
fn busy_log(dir: &Path) -> u64 {
    let (head, wal, _) = open(dir, 4 * PAGE_SIZE as u64);
    fill(&head, "a", 40, 20, 0);
    let (gone, _) = head.get_or_create(&labels("x", 0));
    head.append(gone, 10, 1.0).unwrap();
    wal.checkpoint(&head).unwrap();
    fill(&head, "a", 40, 5, 20_000);
    fill(&head, "b", 13, 7, 0);
    assert_eq!(head.truncate_before(15), 1, "x is removed ...");
    let (again, _) = head.get_or_create(&labels("x", 0));
    assert_ne!(gone, again, "... and comes back under a new ref");
    head.append(again, 30_000, 2.0).unwrap();
    wal.close().unwrap();

    let next = list(dir).unwrap().segments.last().unwrap() + 1;
    let mut log = SegmentLog::create(dir, next, DEFAULT_SEGMENT_SIZE).unwrap();
    let s = |r: SeriesRef, t, v| RefSample { series: r, t, v };
    let mut buf = Vec::new();
    record::encode_samples(
        &[
            s(SeriesRef(1), 24_000, 0.5), // a repeat of a stored timestamp: duplicate
            s(SeriesRef(2), 21_500, 0.5), // out of order (newer than the checkpoint)
            s(SeriesRef(9_999), 1_000, 0.5), // no such series
            s(gone, 40_000, 3.0),         // the old ref of x, now x's newest sample
            s(SeriesRef(3), 99_000, 4.0),
        ],
        &mut buf,
    );
    log.log(&buf).unwrap();
    log.log(b"\x02\x00\x01").unwrap(); // a samples record cut short: checksum fine, no decode
    log.close().unwrap();
    // Both records fit the segment's first page, one after the other.
    (HEADER_LEN + buf.len()) as u64
}

fn replay_on(dir: &Path, workers: usize) -> (Vec<SeriesState>, ReplayReport) {
    let head = Head::new();
    let (report, _) = replay_with(dir, &head, workers).unwrap();
    (state(&head), report)
}

fn counts(r: &ReplayReport) -> [u64; 8] {
    [
        r.records,
        r.series,
        r.samples,
        r.out_of_order,
        r.duplicates,
        r.unknown_series,
        r.conflicting_series,
        r.damage.len() as u64,
    ]
}

#[test]
fn any_number_of_workers_replays_the_same_head() {
    let dir = tempfile::tempdir().unwrap();
    let bad_record = busy_log(dir.path());
    let (want, report) = replay_on(dir.path(), 1);
    assert_eq!(
        (
            report.out_of_order,
            report.duplicates,
            report.unknown_series
        ),
        (1, 1, 1)
    );
    assert_eq!(report.damage.len(), 1, "{:?}", report.damage);
    assert_eq!(report.damage[0].1.offset, bad_record);
    let x: Vec<_> = want
        .iter()
        .find(|(_, l, _)| l.contains("\"x\""))
        .map(|(_, _, samples)| samples.iter().map(|&(t, _)| t).collect())
        .unwrap();
    assert_eq!(x, [10, 30_000, 40_000], "both refs' samples, in one series");
    for workers in 2..=5 {
        let (got, r) = replay_on(dir.path(), workers);
        let differ: Vec<_> = got.iter().zip(&want).filter(|(g, w)| g != w).collect();
        assert!(
            got.len() == want.len() && differ.is_empty(),
            "{workers} workers: {} series, want {}; first differing (got, want): {:?}",
            got.len(),
            want.len(),
            differ.first()
        );
        assert_eq!(counts(&r), counts(&report), "{workers} workers");
        assert_eq!(r.damage[0].1.offset, bad_record, "{workers} workers");
    }
}
