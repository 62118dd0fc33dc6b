//! The log as a whole: a head written through it, closed or crashed, and replayed into a fresh
//! head must hold exactly what the first one did.

use std::fs;
use std::path::Path;
use std::time::Duration;

use super::segment::{list, segment_path, SegmentLog, PAGE_SIZE};
use super::*;
use crate::{Head, MatchOp, Matcher, SeriesRef};
use wasmfed_model::{Labels, STALE_NAN};

pub(super) fn labels(name: &str, i: usize) -> Labels {
    Labels::from_pairs([("__name__", name.to_owned()), ("i", i.to_string())])
}

pub(super) fn options(segment_size: u64) -> WalOptions {
    WalOptions {
        fsync: FsyncPolicy::Batch,
        segment_size,
    }
}

pub(super) fn open(dir: &Path, segment_size: u64) -> (Head, Wal, ReplayReport) {
    let head = Head::new();
    let (wal, report) = Wal::open(dir, &head, options(segment_size), WalMetrics::default())
        .expect("opening the WAL");
    (head, wal, report)
}

/// A series as (ref, labels, samples as timestamp and value bits).
pub(super) type SeriesState = (u64, String, Vec<(i64, u64)>);

/// Every series with its labels and samples, by ref.
pub(super) fn state(head: &Head) -> Vec<SeriesState> {
    head.series_refs()
        .into_iter()
        .map(|r| {
            let samples = head
                .samples(r, i64::MIN, i64::MAX)
                .iter()
                .map(|s| (s.timestamp_ms, s.value.to_bits()))
                .collect();
            (r.0, head.labels(r).unwrap().to_string(), samples)
        })
        .collect()
}

/// Writes `series` × `samples` with a few special values; returns the refs.
pub(super) fn fill(
    head: &Head,
    name: &str,
    series: usize,
    samples: i64,
    t0: i64,
) -> Vec<SeriesRef> {
    let refs: Vec<_> = (0..series)
        .map(|i| head.get_or_create(&labels(name, i)).0)
        .collect();
    for n in 0..samples {
        for (i, &r) in refs.iter().enumerate() {
            let v = match (i + n as usize) % 7 {
                0 => STALE_NAN,
                1 => f64::NAN,
                2 => -0.0,
                _ => (n * 10 + i as i64) as f64 / 3.0,
            };
            head.append(r, t0 + n * 1000, v).expect("in order");
        }
    }
    refs
}

fn files(dir: &Path) -> (Vec<u64>, Vec<u64>) {
    let l = list(dir).unwrap();
    (l.segments, l.checkpoints)
}

#[test]
fn replay_restores_exactly_what_was_stored() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let (head, wal, report) = open(dir.path(), DEFAULT_SEGMENT_SIZE);
        assert_eq!(report.records, 0);
        fill(&head, "a", 50, 30, 1_000_000);
        // Refused samples are not logged; an exact repeat is not logged twice.
        let (r, _) = head.get_or_create(&labels("a", 0));
        assert!(head.append(r, 1_000_000, 1.0).is_err());
        head.append(r, 1_029_000, head.latest(r, 0, i64::MAX).unwrap().value)
            .unwrap();
        wal.close().unwrap();
        state(&head)
    };
    let (head, _wal, report) = open(dir.path(), DEFAULT_SEGMENT_SIZE);
    assert_eq!(state(&head), before);
    assert_eq!(report.samples, 50 * 30);
    assert_eq!(report.series, 50);
    assert_eq!(
        (
            report.out_of_order,
            report.duplicates,
            report.unknown_series
        ),
        (0, 0, 0)
    );
    assert!(report.damage.is_empty() && report.truncated.is_empty());
    let (fresh, created) = head.get_or_create(&labels("new", 0));
    assert!(created && fresh.0 > 50, "refs are not reused: {fresh:?}");
}

#[test]
fn appender_batches_replay_like_lone_appends() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let (head, wal, _) = open(dir.path(), PAGE_SIZE as u64 * 4);
        let handles: Vec<_> = (0..40)
            .map(|i| {
                let r = head.get_or_create(&labels("a", i)).0;
                head.handle(r).unwrap()
            })
            .collect();
        let mut batch = SampleBatch::default();
        for n in 0..200i64 {
            let mut appender = head.appender(batch);
            for (i, h) in handles.iter().enumerate() {
                let v = if (i as i64 + n) % 9 == 0 {
                    STALE_NAN
                } else {
                    n as f64
                };
                appender.append_to(h, n * 1000, v).unwrap();
                // Refused and repeated samples are not logged.
                assert!(appender.append_to(h, n * 1000 - 1, 0.0).is_err());
                appender.append_to(h, n * 1000, v).unwrap();
            }
            // A lone append between batches, to a series of its own.
            let (lone, _) = head.get_or_create(&labels("lone", 0));
            head.append(lone, n * 1000, -(n as f64)).unwrap();
            if n % 50 == 49 {
                drop(appender); // left unfinished: still logged
                batch = SampleBatch::default();
            } else {
                batch = appender.finish();
                assert!(batch.is_empty(), "finishing hands the records over");
            }
        }
        wal.close().unwrap();
        state(&head)
    };
    let (head, _wal, report) = open(dir.path(), PAGE_SIZE as u64 * 4);
    assert_eq!(state(&head), before);
    assert_eq!(report.samples, 41 * 200);
    assert_eq!((report.out_of_order, report.duplicates), (0, 0));
}

#[test]
fn synced_data_is_on_disk_before_close() {
    let dir = tempfile::tempdir().unwrap();
    let (head, wal, _) = open(dir.path(), DEFAULT_SEGMENT_SIZE);
    fill(&head, "a", 3, 4, 0);
    wal.sync().unwrap();
    // A copy of the directory now is what a crash right after the sync would leave.
    let copy = tempfile::tempdir().unwrap();
    for s in files(dir.path()).0 {
        fs::copy(segment_path(dir.path(), s), segment_path(copy.path(), s)).unwrap();
    }
    let (replayed, _wal2, report) = open(copy.path(), DEFAULT_SEGMENT_SIZE);
    assert_eq!(report.samples, 12);
    assert_eq!(state(&replayed), state(&head));
    drop(wal);
}

#[test]
fn segments_roll_over_and_replay_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let (head, wal, _) = open(dir.path(), PAGE_SIZE as u64);
        let refs = fill(&head, "a", 20, 1, 0);
        for n in 1..1000 {
            for &r in &refs {
                head.append(r, n * 1000, n as f64).unwrap();
            }
            if n % 50 == 0 {
                wal.sync().unwrap();
            }
        }
        wal.close().unwrap();
        state(&head)
    };
    let (segments, _) = files(dir.path());
    assert!(segments.len() > 3, "{segments:?}");
    for s in &segments {
        let len = fs::metadata(segment_path(dir.path(), *s)).unwrap().len();
        assert!(len <= PAGE_SIZE as u64, "segment {s}: {len}");
    }
    let (head, _wal, report) = open(dir.path(), PAGE_SIZE as u64);
    assert_eq!(report.files, segments.len());
    assert_eq!(state(&head), before);
}

#[test]
fn checkpoint_then_replay_equals_the_state_before() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let (head, wal, _) = open(dir.path(), 4 * PAGE_SIZE as u64);
        fill(&head, "a", 30, 300, 0);
        let cp = wal.checkpoint(&head).unwrap();
        assert_eq!((cp.series, cp.samples), (30, 30 * 300));
        assert_eq!((cp.min_t, cp.max_t), (Some(0), Some(299_000)));
        let (segments, checkpoints) = files(dir.path());
        assert_eq!(checkpoints, [cp.index]);
        assert!(segments.iter().all(|&s| s > cp.index), "{segments:?}");
        // More after the checkpoint: new samples, a new series, and one sample logged twice
        // (in the checkpoint and after it) as happens when appends race the snapshot.
        fill(&head, "b", 5, 10, 0);
        let (r, _) = head.get_or_create(&labels("a", 3));
        head.append(r, 300_000, 1.0).unwrap();
        wal.close().unwrap();
        let next = files(dir.path()).0.last().unwrap() + 1;
        let mut log = SegmentLog::create(dir.path(), next, DEFAULT_SEGMENT_SIZE).unwrap();
        let mut buf = Vec::new();
        let repeat = record::RefSample {
            series: r,
            t: 299_000,
            v: 0.0,
        };
        record::encode_samples(&[repeat], &mut buf);
        log.log(&buf).unwrap();
        log.close().unwrap();
        state(&head)
    };
    let (head, wal, report) = open(dir.path(), 4 * PAGE_SIZE as u64);
    assert_eq!(state(&head), before);
    assert!(report.checkpoint.is_some());
    assert_eq!(
        (report.out_of_order, report.duplicates),
        (0, 0),
        "samples the checkpoint covers are not refusals"
    );
    // A second checkpoint replaces the first and everything before it.
    let cp = wal.checkpoint(&head).unwrap();
    let (segments, checkpoints) = files(dir.path());
    assert_eq!(checkpoints, [cp.index]);
    assert!(segments.iter().all(|&s| s > cp.index));
    wal.close().unwrap();
    let (again, _wal, _) = open(dir.path(), 4 * PAGE_SIZE as u64);
    assert_eq!(state(&again), before);
}

#[test]
fn a_torn_tail_is_cut_and_the_rest_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let (head, wal, _) = open(dir.path(), DEFAULT_SEGMENT_SIZE);
    fill(&head, "a", 10, 5, 0);
    wal.sync().unwrap();
    let whole = state(&head);
    fill(&head, "b", 10, 5, 0);
    wal.close().unwrap();
    // Cut the last segment a little into its last write: the "b" records.
    let (segments, _) = files(dir.path());
    let last = segment_path(dir.path(), *segments.last().unwrap());
    let mut bytes = fs::read(&last).unwrap();
    let a_end = find(&bytes, b"\x01\0\0\0\0\0\0\0\x0b").expect("the series record of b");
    // Step back over the fragment header (7 bytes) to where the "b" write began.
    let torn_at = a_end - 7;
    bytes.truncate(torn_at + 40);
    fs::write(&last, &bytes).unwrap();

    let (head, _wal, report) = open(dir.path(), DEFAULT_SEGMENT_SIZE);
    assert_eq!(state(&head), whole);
    assert_eq!(report.truncated, [(last.clone(), torn_at as u64)]);
    assert_eq!(report.damage.len(), 1);
    assert_eq!(report.damage[0].1.offset, torn_at as u64);
    assert_eq!(fs::metadata(&last).unwrap().len(), torn_at as u64);
}

#[test]
fn a_corrupt_middle_is_skipped_and_everything_after_it_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (head, wal, _) = open(dir.path(), PAGE_SIZE as u64);
    let refs = fill(&head, "a", 10, 1, 0);
    for n in 1..1000 {
        for &r in &refs {
            head.append(r, n * 1000, n as f64).unwrap();
        }
        if n % 20 == 0 {
            wal.sync().unwrap();
        }
    }
    wal.close().unwrap();
    let before = state(&head);
    let (segments, _) = files(dir.path());
    assert!(segments.len() >= 4, "{segments:?}");
    // Flip a bit in the data of the second segment's first record.
    let victim = segment_path(dir.path(), segments[1]);
    let mut bytes = fs::read(&victim).unwrap();
    let first_len = usize::from(u16::from_be_bytes([bytes[1], bytes[2]]));
    let at = 7 + first_len / 2;
    bytes[at] ^= 0x04;
    fs::write(&victim, &bytes).unwrap();

    let (head, _wal, report) = open(dir.path(), PAGE_SIZE as u64);
    assert_eq!(report.damage.len(), 1, "{:?}", report.damage);
    assert_eq!(report.damage[0].0, victim);
    assert_eq!(report.damage[0].1.offset, 0);
    assert_eq!(
        report.damage[0].1.end,
        (7 + first_len) as u64,
        "just that record"
    );
    assert!(report.truncated.is_empty(), "intact records follow");
    let after = state(&head);
    assert_eq!(after.len(), before.len(), "series records are in segment 0");
    let mut lost = 0;
    for ((r, l, want), (r2, l2, got)) in before.iter().zip(&after) {
        assert_eq!((r, l), (r2, l2));
        assert_eq!(got.last(), want.last(), "the newest samples survive");
        assert!(got.iter().all(|s| want.contains(s)));
        lost += want.len() - got.len();
    }
    // One record: samples of one series from one write.
    assert!((1..=300).contains(&lost), "lost {lost}");
    assert_eq!(report.out_of_order, 0);
}

#[test]
fn replay_counts_out_of_order_duplicate_and_unknown_samples() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = SegmentLog::create(dir.path(), 0, DEFAULT_SEGMENT_SIZE).unwrap();
        let mut buf = Vec::new();
        let l = labels("m", 0);
        record::encode_series([(SeriesRef(7), &l)], &mut buf);
        log.log(&buf).unwrap();
        let s = |series, t, v| record::RefSample {
            series: SeriesRef(series),
            t,
            v,
        };
        buf.clear();
        record::encode_samples(
            &[
                s(7, 10, 1.0),
                s(7, 20, 2.0),
                s(7, 15, 9.0), // out of order
                s(7, 20, 3.0), // duplicate timestamp, other value
                s(7, 20, 2.0), // exact repeat: accepted
                s(9, 30, 1.0), // no such series
                s(7, 30, 3.0),
            ],
            &mut buf,
        );
        log.log(&buf).unwrap();
        log.close().unwrap();
    }
    let metrics = WalMetrics::default();
    let head = Head::new();
    let (_wal, report) = Wal::open(
        dir.path(),
        &head,
        options(DEFAULT_SEGMENT_SIZE),
        metrics.clone(),
    )
    .unwrap();
    assert_eq!(
        (
            report.samples,
            report.out_of_order,
            report.duplicates,
            report.unknown_series
        ),
        (4, 1, 1, 1)
    );
    let got: Vec<_> = head
        .samples(SeriesRef(7), i64::MIN, i64::MAX)
        .iter()
        .map(|s| (s.timestamp_ms, s.value))
        .collect();
    assert_eq!(got, [(10, 1.0), (20, 2.0), (30, 3.0)]);
    assert_eq!(
        head.labels(SeriesRef(7)),
        Some(labels("m", 0)),
        "refs are kept"
    );
    let (next, _) = head.get_or_create(&labels("m", 1));
    assert!(
        next.0 > 9,
        "refs seen in the log are not handed out again: {next:?}"
    );
    assert_eq!(metrics.replay_samples.get(), 4);
}

#[test]
fn a_series_logged_twice_under_two_refs_is_one_series() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = {
        let (head, wal, _) = open(dir.path(), DEFAULT_SEGMENT_SIZE);
        let (old, _) = head.get_or_create(&labels("x", 0));
        head.append(old, 10, 1.0).unwrap();
        assert_eq!(head.truncate_before(100), 1, "retention removes it");
        let (new, _) = head.get_or_create(&labels("x", 0));
        head.append(new, 200, 2.0).unwrap();
        wal.close().unwrap();
        (old, new)
    };
    assert_ne!(first, second);
    let (head, _wal, _) = open(dir.path(), DEFAULT_SEGMENT_SIZE);
    let refs = head.select(&[Matcher::new(MatchOp::Equal, "__name__", "x").unwrap()]);
    assert_eq!(refs.len(), 1);
    let got: Vec<_> = head
        .samples(refs[0], i64::MIN, i64::MAX)
        .iter()
        .map(|s| s.timestamp_ms)
        .collect();
    assert_eq!(got, [10, 200], "both histories, in one series");
}

#[test]
fn time_retention_removes_expired_series_from_head_and_disk() {
    let dir = tempfile::tempdir().unwrap();
    let (head, wal, _) = open(dir.path(), DEFAULT_SEGMENT_SIZE);
    let wall = wasmfed_model::clock::unix_millis(std::time::SystemTime::now());
    let retention = Retention {
        time: Duration::from_secs(50),
        size: None,
    };
    fill(&head, "expired_metric", 5, 3, wall - 100_000);
    fill(&head, "live_metric", 5, 3, wall + 60_000);
    wal.sync().unwrap();
    assert!(disk_contains(dir.path(), b"expired_metric"));

    // Before the log is older than the retention period, only the head is cut.
    let report = wal.enforce_retention(&head, &retention, wall).unwrap();
    assert_eq!(report.removed_series, 5);
    assert!(report.checkpoint.is_none());
    let by_name = |name| head.select(&[Matcher::new(MatchOp::Equal, "__name__", name).unwrap()]);
    assert!(by_name("expired_metric").is_empty());
    assert!(disk_contains(dir.path(), b"expired_metric"));

    // Once it may hold expired data, a checkpoint replaces it.
    let report = wal
        .enforce_retention(&head, &retention, wall + 55_000)
        .unwrap();
    assert!(report.checkpoint.is_some());
    assert_eq!(by_name("live_metric").len(), 5);
    assert!(!disk_contains(dir.path(), b"expired_metric"));
    assert!(disk_contains(dir.path(), b"live_metric"));
    wal.close().unwrap();
    let (replayed, _wal, _) = open(dir.path(), DEFAULT_SEGMENT_SIZE);
    assert_eq!(state(&replayed), state(&head));
}

fn disk_contains(dir: &Path, needle: &[u8]) -> bool {
    fs::read_dir(dir).unwrap().any(|e| {
        let path = e.unwrap().path();
        if path.is_dir() {
            disk_contains(&path, needle)
        } else {
            find(&fs::read(&path).unwrap(), needle).is_some()
        }
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn size_retention_drops_the_oldest_data_until_the_log_fits() {
    let dir = tempfile::tempdir().unwrap();
    let (head, wal, _) = open(dir.path(), PAGE_SIZE as u64);
    let refs = fill(&head, "a", 50, 1, 0);
    for n in 1..2400 {
        for (i, &r) in refs.iter().enumerate() {
            head.append(r, n * 1000, ((n * 7919 + i as i64) % 1000) as f64)
                .unwrap();
        }
    }
    // Compacted, the data still takes three times the limit.
    wal.checkpoint(&head).unwrap();
    let full = wal.size_bytes();
    let limit = full / 3;
    let retention = Retention {
        time: Duration::from_secs(365 * 86400),
        size: Some(limit),
    };
    let report = wal
        .enforce_retention(&head, &retention, 2400 * 1000)
        .unwrap();
    assert!(
        report.bytes <= limit,
        "{} > {limit} (was {full})",
        report.bytes
    );
    assert!(report.size_cutoff_ms.is_some());
    let kept = head.samples(refs[0], i64::MIN, i64::MAX);
    assert!(!kept.is_empty(), "the newest data stays");
    assert_eq!(kept.last().unwrap().timestamp_ms, 2399 * 1000);
    assert!(
        kept.first().unwrap().timestamp_ms > 0,
        "the oldest data went"
    );
}

#[test]
fn series_logged_out_of_ref_order_are_indexed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut log = SegmentLog::create(dir.path(), 0, DEFAULT_SEGMENT_SIZE).unwrap();
        for r in [9u64, 3, 5, 4] {
            let mut buf = Vec::new();
            record::encode_series([(SeriesRef(r), &labels("m", r as usize))], &mut buf);
            log.log(&buf).unwrap();
        }
        log.close().unwrap();
    }
    let (head, _wal, report) = open(dir.path(), DEFAULT_SEGMENT_SIZE);
    assert_eq!(report.series, 4);
    let select = |op, value| {
        let refs = head.select(&[Matcher::new(op, "i", value).unwrap()]);
        refs.into_iter().map(|r| r.0).collect::<Vec<_>>()
    };
    assert_eq!(select(MatchOp::Regex, ".+"), [3, 4, 5, 9]);
    assert_eq!(select(MatchOp::Equal, "5"), [5]);
    assert_eq!(select(MatchOp::NotEqual, "4"), [3, 5, 9]);
}

#[test]
fn a_failed_write_is_reported_by_the_next_sync_and_recovered_from() {
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    let head = Head::new();
    let metrics = WalMetrics::default();
    let (wal, _) = Wal::open(
        &wal_dir,
        &head,
        options(DEFAULT_SEGMENT_SIZE),
        metrics.clone(),
    )
    .unwrap();
    let refs = fill(&head, "a", 3, 1, 0);
    wal.sync().unwrap();
    // Make the directory unusable: a file where it was.
    fs::remove_dir_all(&wal_dir).unwrap();
    fs::write(&wal_dir, b"not a directory").unwrap();
    head.append(refs[0], 1000, 1.0).unwrap();
    wal.checkpoint(&head).expect_err("no directory to write to");
    assert!(wal.sync().is_err(), "the lost write is reported");
    assert!(metrics.write_failures.get() > 0);
    // Once the directory is back, a checkpoint persists the head again (what the failed writes
    // held included), and writing resumes in a fresh segment.
    fs::remove_file(&wal_dir).unwrap();
    fs::create_dir(&wal_dir).unwrap();
    wal.checkpoint(&head).unwrap();
    head.append(refs[0], 2000, 2.0).unwrap();
    wal.sync().unwrap();
    wal.close().unwrap();
    let (replayed, _wal, _) = open(&wal_dir, DEFAULT_SEGMENT_SIZE);
    assert_eq!(state(&replayed), state(&head));
    let got: Vec<i64> = replayed
        .samples(refs[0], i64::MIN, i64::MAX)
        .iter()
        .map(|s| s.timestamp_ms)
        .collect();
    assert_eq!(got, [0, 1000, 2000]);
}
