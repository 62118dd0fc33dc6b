use std::sync::Arc;

use super::*;
use crate::MatchOp::{self, *};
use wasmfed_model::STALE_NAN;

/// Matchers as (op, name, value).
type Spec<'a> = &'a [(MatchOp, &'a str, &'a str)];

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn matchers(spec: &[(MatchOp, &str, &str)]) -> Vec<Matcher> {
    spec.iter()
        .map(|&(op, n, v)| Matcher::new(op, n, v).expect("valid"))
        .collect()
}

fn names(head: &Head, refs: &[SeriesRef]) -> Vec<String> {
    refs.iter()
        .map(|&r| head.labels(r).expect("live").to_string())
        .collect()
}

#[test]
fn series_are_interned_by_label_set() {
    let head = Head::new();
    let a = labels(&[("__name__", "up"), ("job", "a")]);
    let b = labels(&[("__name__", "up"), ("job", "b")]);
    let (ra, created_a) = head.get_or_create(&a);
    let (rb, created_b) = head.get_or_create(&b);
    let (ra2, created_again) = head.get_or_create(&a);
    assert!(created_a && created_b && !created_again);
    assert_eq!(ra, ra2);
    assert_ne!(ra, rb);
    assert_eq!(head.labels(ra), Some(a));
    assert_eq!(head.labels(rb), Some(b));
    assert_eq!(head.num_series(), 2);
    let (empty, created) = head.get_or_create(&Labels::new());
    assert!(created);
    assert_eq!(head.labels(empty), Some(Labels::new()));
    assert_eq!(head.labels(SeriesRef(999)), None);
}

#[test]
fn label_sets_with_shifted_boundaries_are_distinct() {
    let head = Head::new();
    let (a, _) = head.get_or_create(&labels(&[("a", "bc")]));
    let (b, _) = head.get_or_create(&labels(&[("ab", "c")]));
    assert_ne!(a, b);
}

#[test]
fn hash_collisions_are_told_apart() {
    let head = Head::new();
    let (a, _) = head.get_or_create(&labels(&[("x", "1")]));
    let (b, _) = head.get_or_create(&labels(&[("x", "2")]));
    // Put both under one hash, as a real collision would.
    {
        let mut cat = head.catalog.write();
        cat.by_hash = HashLookup::default();
        cat.by_hash.insert(7, a);
        cat.by_hash.insert(7, b);
    }
    let cat = head.catalog.read();
    assert_eq!(head.find(&cat, 7, [("x", "2")].into_iter()), Some(b));
    assert_eq!(head.find(&cat, 7, [("x", "1")].into_iter()), Some(a));
    assert_eq!(head.find(&cat, 7, [("x", "3")].into_iter()), None);
}

#[test]
fn append_rules_and_reads() {
    let head = Head::new();
    let (r, _) = head.get_or_create(&labels(&[("__name__", "m")]));
    assert_eq!(head.append(r, 1000, 1.0), Ok(()));
    assert_eq!(head.append(r, 2000, 2.0), Ok(()));
    assert_eq!(
        head.append(r, 1500, 9.0),
        Err(AppendError::OutOfOrder {
            last_ms: 2000,
            got_ms: 1500
        })
    );
    assert_eq!(
        head.append(r, 2000, 3.0),
        Err(AppendError::DuplicateTimestamp { timestamp_ms: 2000 })
    );
    assert_eq!(head.append(r, 2000, 2.0), Ok(()));
    assert_eq!(head.append(r, 3000, STALE_NAN), Ok(()));
    assert_eq!(
        head.append(SeriesRef(12345), 1, 1.0),
        Err(AppendError::UnknownSeries)
    );
    assert_eq!(AppendError::UnknownSeries.to_string(), "unknown series");
    assert_eq!(
        head.append(r, 0, 1.0).unwrap_err().to_string(),
        "out of order sample"
    );

    let got: Vec<_> = head
        .samples(r, 0, 10_000)
        .iter()
        .map(|s| (s.timestamp_ms, s.value.to_bits()))
        .collect();
    assert_eq!(
        got,
        [
            (1000, 1f64.to_bits()),
            (2000, 2f64.to_bits()),
            (3000, STALE_NAN.to_bits())
        ]
    );
    assert_eq!(head.samples(r, 1001, 2999).len(), 1);
    assert!(head.samples(SeriesRef(12345), 0, 10).is_empty());
    let newest = head.latest(r, 0, 10_000).expect("present");
    assert_eq!(
        (newest.timestamp_ms, newest.value.to_bits()),
        (3000, STALE_NAN.to_bits())
    );
    assert_eq!(head.latest(r, 0, 2999).map(|s| s.timestamp_ms), Some(2000));
    assert_eq!(head.latest(SeriesRef(12345), 0, 10), None);
}

#[test]
fn lookback_is_open_on_the_left() {
    let head = Head::new();
    let (r, _) = head.get_or_create(&labels(&[("__name__", "m")]));
    head.append(r, 0, 1.0).expect("first");
    let lookback = 300_000;
    let at = |maxt: i64| {
        head.latest(r, maxt - lookback, maxt)
            .map(|s| s.timestamp_ms)
    };
    assert_eq!(at(299_999), Some(0));
    assert_eq!(at(300_000), None);
}

#[test]
fn select_by_each_op_and_combinations_sorted_by_labels() {
    let head = Head::new();
    // Created out of label order so that sorting by ref would be wrong.
    for pairs in [
        &[("__name__", "up"), ("job", "b"), ("instance", "h2")][..],
        &[("__name__", "up"), ("job", "a"), ("instance", "h1")],
        &[("__name__", "job:up:sum"), ("job", "a")],
        &[
            ("__name__", "up"),
            ("job", "a"),
            ("instance", "h2"),
            ("zone", "z"),
        ],
        &[("__name__", "down")],
    ] {
        head.get_or_create(&labels(pairs));
    }
    let cases: &[(Spec, &[&str])] = &[
        (
            &[(Equal, "__name__", "up")],
            &[
                r#"{__name__="up", instance="h1", job="a"}"#,
                r#"{__name__="up", instance="h2", job="a", zone="z"}"#,
                r#"{__name__="up", instance="h2", job="b"}"#,
            ],
        ),
        (
            &[(Regex, "__name__", "job:.*")],
            &[r#"{__name__="job:up:sum", job="a"}"#],
        ),
        (
            &[(Regex, "__name__", "up|down"), (NotEqual, "job", "a")],
            &[
                r#"{__name__="down"}"#,
                r#"{__name__="up", instance="h2", job="b"}"#,
            ],
        ),
        (
            &[(NotRegex, "__name__", "up|down")],
            &[r#"{__name__="job:up:sum", job="a"}"#],
        ),
        (
            &[(Equal, "job", "a"), (Equal, "instance", "")],
            &[r#"{__name__="job:up:sum", job="a"}"#],
        ),
        (
            &[(Equal, "instance", "h2"), (Equal, "zone", "")],
            &[r#"{__name__="up", instance="h2", job="b"}"#],
        ),
        (&[(Equal, "job", "c")], &[]),
        (
            &[(Equal, "zone", "")],
            &[
                r#"{__name__="down"}"#,
                r#"{__name__="job:up:sum", job="a"}"#,
                r#"{__name__="up", instance="h1", job="a"}"#,
                r#"{__name__="up", instance="h2", job="b"}"#,
            ],
        ),
        (&[], &[]),
    ];
    for (spec, want) in cases {
        let ms = matchers(spec);
        assert_eq!(names(&head, &head.select(&ms)), *want, "{spec:?}");
    }
}

#[test]
fn retention_drops_chunks_then_series() {
    let head = Head::new();
    let (old, _) = head.get_or_create(&labels(&[("__name__", "old"), ("shared", "x")]));
    let (live, _) = head.get_or_create(&labels(&[("__name__", "live"), ("shared", "x")]));
    let per = i64::from(crate::chunk::SAMPLES_PER_CHUNK);
    for t in 0..per * 2 {
        head.append(live, t, t as f64).expect("in order");
    }
    head.append(old, 5, 1.0).expect("first");
    let old_handle = head.handle(old).expect("exists");
    let live_handle = head.handle(live).expect("exists");
    assert_eq!(old_handle.series_ref(), old);

    assert_eq!(head.truncate_before(per + 1), 1);
    assert!(head.handle(old).is_none());
    assert_eq!(
        head.append_to(&old_handle, 10, 1.0),
        Err(AppendError::UnknownSeries),
        "a handle outliving its series is refused like its ref"
    );
    head.append_to(&live_handle, per * 2, 0.5)
        .expect("handle appends");
    assert_eq!(head.latest(live, 0, i64::MAX).map(|s| s.value), Some(0.5));
    assert_eq!(head.num_series(), 1);
    assert_eq!(head.labels(old), None);
    assert_eq!(head.append(old, 10, 1.0), Err(AppendError::UnknownSeries));
    assert_eq!(
        head.samples(live, 0, i64::MAX)
            .first()
            .map(|s| s.timestamp_ms),
        Some(per)
    );
    assert_eq!(head.select(&matchers(&[(Equal, "__name__", "old")])), []);
    assert_eq!(head.select(&matchers(&[(Equal, "shared", "x")])), [live]);
    assert_eq!(
        head.catalog.read().symbols.get("old"),
        None,
        "unused symbols are freed"
    );

    // The same labels come back as a new series with a new ref.
    let (again, created) = head.get_or_create(&labels(&[("__name__", "old"), ("shared", "x")]));
    assert!(created && again != old);
    assert_eq!(
        head.truncate_before(per + 1),
        0,
        "a fresh series gets one pass of grace"
    );
    assert_eq!(head.truncate_before(per + 1), 1);
    assert_eq!(head.truncate_before(i64::MAX), 1);
    assert_eq!(head.num_series(), 0);
    assert_eq!(head.catalog.read().symbols.len(), 0);
    assert!(head.catalog.read().by_hash.is_empty());
}

#[test]
fn concurrent_appends_and_reads() {
    let head = Arc::new(Head::new());
    let threads = 4;
    let series_per_thread = 200;
    let samples = 300;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let head = Arc::clone(&head);
            std::thread::spawn(move || {
                let refs: Vec<_> = (0..series_per_thread)
                    .map(|i| {
                        let shared = labels(&[("__name__", "shared"), ("i", &i.to_string())]);
                        let own = labels(&[
                            ("__name__", "own"),
                            ("t", &t.to_string()),
                            ("i", &i.to_string()),
                        ]);
                        (head.get_or_create(&shared).0, head.get_or_create(&own).0)
                    })
                    .collect();
                for ts in 0..samples {
                    for &(shared, own) in &refs {
                        head.append(own, ts, ts as f64)
                            .expect("own series in order");
                        // Every thread writes the same value at the same time to the shared
                        // series: equal duplicates pass, a thread running behind is refused.
                        match head.append(shared, ts, 1.0) {
                            Ok(()) | Err(AppendError::OutOfOrder { .. }) => {}
                            Err(e) => panic!("shared series: {e}"),
                        }
                    }
                    if ts % 50 == 0 {
                        assert!(!head
                            .select(&matchers(&[(Equal, "__name__", "shared")]))
                            .is_empty());
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    assert_eq!(head.num_series(), series_per_thread * (threads + 1));
    let own = head.select(&matchers(&[(Equal, "__name__", "own")]));
    assert_eq!(own.len(), series_per_thread * threads);
    for r in &own {
        let got: Vec<_> = head
            .samples(*r, 0, i64::MAX)
            .iter()
            .map(|s| s.timestamp_ms)
            .collect();
        assert_eq!(got, (0..samples).collect::<Vec<_>>());
    }
    for r in head.select(&matchers(&[(Equal, "__name__", "shared")])) {
        let got: Vec<_> = head
            .samples(r, 0, i64::MAX)
            .iter()
            .map(|s| s.timestamp_ms)
            .collect();
        assert!(got.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
        assert_eq!(
            got.last(),
            Some(&(samples - 1)),
            "the last timestamp always lands"
        );
    }
}

#[test]
fn a_series_limit_refuses_new_series_but_finds_existing_ones() {
    let head = Head::new();
    let set = |i: usize| Labels::from_pairs([("__name__", "m"), ("i", &*i.to_string())]);
    head.set_max_series(2);
    assert!(head.create_within_limit(&set(0)).unwrap().1);
    assert!(head.create_within_limit(&set(1)).unwrap().1);
    assert_eq!(head.create_within_limit(&set(2)), None);
    assert_eq!(
        head.create_within_limit(&set(0)).map(|(_, new)| new),
        Some(false)
    );
    assert_eq!(head.num_series(), 2);
    head.set_max_series(0);
    assert!(head.create_within_limit(&set(2)).unwrap().1);
}
