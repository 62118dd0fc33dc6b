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
/// The bytes of every file in the log's directory tree.
fn log_bytes(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => log_bytes(&e.path()),
            Ok(m) => m.len() as usize,
            Err(_) => 0,
        })
        .sum()
}

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

mod damaged {
    //! Whatever a crash or a disk does to the log's files, replay ends with a head and a
    //! report, never a panic: bytes flipped, files cut, zeroed or filled with noise, in
    //! segments and in the checkpoint alike.

    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Harm {
        Flip {
            file: usize,
            at: usize,
            bit: u8,
        },
        Cut {
            file: usize,
            at: usize,
        },
        Zero {
            file: usize,
            at: usize,
            len: usize,
        },
        Noise {
            file: usize,
            at: usize,
            bytes: Vec<u8>,
        },
    }

    fn harm() -> impl Strategy<Value = Harm> {
        let pos = (any::<usize>(), any::<usize>());
        prop_oneof![
            (pos, 0u8..8).prop_map(|((file, at), bit)| Harm::Flip { file, at, bit }),
            pos.prop_map(|(file, at)| Harm::Cut { file, at }),
            (pos, 1usize..64).prop_map(|((file, at), len)| Harm::Zero { file, at, len }),
            (pos, prop::collection::vec(any::<u8>(), 1..64))
                .prop_map(|((file, at), bytes)| Harm::Noise { file, at, bytes }),
        ]
    }

    fn files(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    }

    fn inflict(dir: &Path, harm: &Harm) {
        let all = files(dir);
        let pick = |file: usize| &all[file % all.len()];
        let (path, mut bytes) = {
            let file = match harm {
                Harm::Flip { file, .. }
                | Harm::Cut { file, .. }
                | Harm::Zero { file, .. }
                | Harm::Noise { file, .. } => *file,
            };
            let path = pick(file).clone();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        };
        if bytes.is_empty() {
            return;
        }
        let n = bytes.len();
        match harm {
            Harm::Flip { at, bit, .. } => bytes[at % n] ^= 1 << bit,
            Harm::Cut { at, .. } => bytes.truncate(at % n),
            Harm::Zero { at, len, .. } => {
                let from = at % n;
                bytes[from..(from + len).min(n)].fill(0);
            }
            Harm::Noise {
                at, bytes: noise, ..
            } => {
                let from = at % n;
                let to = (from + noise.len()).min(n);
                bytes[from..to].copy_from_slice(&noise[..to - from]);
            }
        }
        std::fs::write(path, bytes).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_damaged_log_replays_without_panicking(harms in prop::collection::vec(harm(), 1..6)) {
            let dir = tempfile::tempdir().unwrap();
            busy_log(dir.path());
            for h in &harms {
                inflict(dir.path(), h);
            }
            let head = Head::new();
            // An unreadable directory listing may fail the replay; damage inside files may
            // not panic it, nor make it allocate what a damaged length claims: the reading
            // thread's heap stays within a multiple of the log's bytes.
            let bytes = log_bytes(dir.path());
            let (_, peak) = wasmfed_alloc_meter::peak_during(|| replay_with(dir.path(), &head, 2));
            prop_assert!(
                peak <= 8 * bytes + (1 << 20),
                "{peak} bytes held replaying {bytes} bytes of log"
            );
        }
    }
}
