use std::collections::BTreeSet;

use super::*;
use wasmfed_model::compat::Compat;
use wasmfed_model::{Labels, STALE_NAN};
use wasmfed_storage::parse_selector;

const LOOKBACK: i64 = 300_000;

fn all() -> Vec<Vec<Matcher>> {
    vec![parse_selector("{__name__=~\".+\"}", Compat::V3).unwrap()]
}

/// Every (series, timestamp, value bits) a set of runs holds.
type Seen = BTreeSet<(String, i64, u64)>;

fn note(seen: &mut Seen, every: &Option<EveryRuns>) {
    let Some(every) = every else {
        return;
    };
    for (series, samples) in every.selected.iter().zip(&every.runs) {
        let labels = every.selected.labels(&series);
        for s in samples {
            seen.insert((labels.to_string(), s.timestamp_ms, s.value.to_bits()));
        }
    }
}

fn stored(head: &Head) -> Seen {
    let mut seen = Seen::new();
    let runs = select_every(
        head,
        &Blocks::default(),
        &all(),
        (i64::MIN, i64::MAX),
        usize::MAX,
    );
    note(&mut seen, &runs.unwrap());
    seen
}

/// Asks until a round is complete; answers the cursor after it and how many pages it took.
fn pull(
    head: &Head,
    cursor: Option<Cursor>,
    max: usize,
    now: i64,
    seen: &mut Seen,
) -> (Cursor, usize) {
    let mut request = EveryRequest {
        cursor,
        max_samples: max,
    };
    for pages in 1.. {
        let page = read_page(head, &Blocks::default(), &all(), &request, (now, LOOKBACK)).unwrap();
        let runs = page.runs.as_ref().map_or(&[][..], |r| &r.runs[..]);
        let samples: usize = runs.iter().map(Vec::len).sum();
        let timestamps: BTreeSet<i64> = runs
            .iter()
            .flat_map(|s| s.iter().map(|s| s.timestamp_ms))
            .collect();
        assert!(
            samples <= max || timestamps.len() == 1,
            "{samples} samples over {max}, from {} timestamps",
            timestamps.len()
        );
        note(seen, &page.runs);
        let cursor = Cursor::decode(&page.trailer.cursor).unwrap();
        if page.trailer.complete {
            return (cursor, pages);
        }
        request.cursor = Some(cursor);
    }
    unreachable!()
}

/// A small deterministic generator.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn every_stored_sample_arrives_once_pulled_whatever_the_budget() {
    for (seed, max) in [(1, 1_000_000), (2, 7), (3, 40), (4, 1)] {
        let mut rng = Lcg(seed);
        let head = Head::new();
        let mut seen = Seen::new();
        let mut now = 1_000_000;
        let mut cursor = None;
        let mut newest = std::collections::HashMap::new();
        for round in 0..30 {
            // A scrape's worth: series at the present, some with their own (older)
            // timestamps, an occasional stale marker, a new series now and then.
            let mut appender = head.appender(Default::default());
            for s in 0..(5 + round / 3) {
                let labels = Labels::from_pairs([("__name__", "m"), ("s", &s.to_string())]);
                let (r, _) = head.get_or_create(&labels);
                let handle = head.handle(r).unwrap();
                let lag = match rng.below(4) {
                    0 => rng.below(20_000) as i64,
                    _ => 0,
                };
                let t = (now - lag).max(*newest.get(&s).unwrap_or(&0) + 1);
                let v = if rng.below(10) == 0 {
                    STALE_NAN
                } else {
                    rng.below(100) as f64
                };
                appender.append_to(&handle, t, v).unwrap();
                newest.insert(s, t);
            }
            appender.finish();
            now += 1_000;
            if rng.below(3) == 0 {
                let (next, _) = pull(&head, cursor, max, now, &mut seen);
                cursor = Some(next);
            }
        }
        pull(&head, cursor, max, now, &mut seen);
        assert_eq!(seen, stored(&head), "seed {seed}, budget {max}");
    }
}

#[test]
fn the_first_request_sends_the_lookback_window() {
    let head = Head::with_series(&[(
        &[("__name__", "m")],
        &[
            (1_000, 1.0),
            (700_000, 2.0),
            (700_001, 2.5),
            (1_000_000, 3.0),
        ],
    )]);
    let mut seen = Seen::new();
    let (cursor, pages) = pull(&head, None, 100, 1_000_000, &mut seen);
    let times: Vec<i64> = seen.iter().map(|s| s.1).collect();
    // The window is open on the left, as plain `/federate`'s lookback.
    assert_eq!((times, pages), (vec![700_001, 1_000_000], 1));
    // Nothing stored since: what was stored in the cursor's second may come again (the
    // store clock counts seconds), nothing else does.
    let mut again = Seen::new();
    pull(&head, Some(cursor), 100, 1_001_000, &mut again);
    assert!(again.is_subset(&stored(&head)), "{again:?}");
}

#[test]
fn a_cursor_from_another_incarnation_is_answered_with_a_reset() {
    let head = Head::with_series(&[(&[("__name__", "m")], &[(900_000, 1.0), (990_000, 2.0)])]);
    let other = Head::new();
    let old = plan(&other, None, 950_000, LOOKBACK).round;
    let request = EveryRequest {
        cursor: Some(old),
        max_samples: 100,
    };
    let page = read_page(
        &head,
        &Blocks::default(),
        &all(),
        &request,
        (1_000_000, LOOKBACK),
    )
    .unwrap();
    assert_eq!(
        page.reset,
        Some(Reset {
            from_ms: 950_000 - LOOKBACK + 1,
            reason: "leaf restarted".into()
        })
    );
    assert_eq!(page.runs.as_ref().unwrap().runs[0].len(), 2);
    assert!(page.trailer.complete);
    // The next cursor is this head's: no reset again.
    let next = Cursor::decode(&page.trailer.cursor).unwrap();
    let again = EveryRequest {
        cursor: Some(next),
        max_samples: 100,
    };
    let page = read_page(
        &head,
        &Blocks::default(),
        &all(),
        &again,
        (1_001_000, LOOKBACK),
    )
    .unwrap();
    assert_eq!(page.reset, None);
}

#[test]
fn a_reset_answer_paged_by_a_small_budget_still_sends_its_whole_window() {
    let samples: Vec<(i64, f64)> = (0..50).map(|i| (900_000 + i * 1_000, i as f64)).collect();
    let head = Head::with_series(&[
        (&[("__name__", "a")], &samples),
        (&[("__name__", "b")], &samples),
    ]);
    let stranger = plan(&Head::new(), None, 1_000_000, LOOKBACK).round;
    // The store clock counts seconds: the head's samples were stored a second before.
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let first = EveryRequest {
        cursor: Some(stranger),
        max_samples: 7,
    };
    let page = read_page(
        &head,
        &Blocks::default(),
        &all(),
        &first,
        (1_000_000, LOOKBACK),
    )
    .unwrap();
    assert!(page.reset.is_some() && !page.trailer.complete);
    let mut seen = Seen::new();
    note(&mut seen, &page.runs);
    // The leaf goes on storing while the asker pages through the reset window.
    let (a, _) = head.get_or_create(&Labels::from_pairs([("__name__", "a")]));
    head.append(a, 1_000_100, 99.0).unwrap();
    let next = Cursor::decode(&page.trailer.cursor).unwrap();
    let (_, pages) = pull(&head, Some(next), 7, 1_001_000, &mut seen);
    assert!(pages > 10, "{pages} pages");
    assert_eq!(
        seen,
        stored(&head),
        "every sample after the reset point, over all pages"
    );
}

#[test]
fn cursors_round_trip_and_strangers_are_refused() {
    let head = Head::new();
    let mut cursor = plan(&head, None, 5_000, LOOKBACK).round;
    assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
    cursor.resume_after_ms = Some(-17);
    assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
    for bad in [
        "x",
        "2.a.1.2.3.4.",
        "1.zz.1.2.3.4.",
        "1.a.1.2.3.4.5.6",
        "1.a.-1.2.3.4.",
    ] {
        assert!(Cursor::decode(bad).is_err(), "{bad}");
    }
    let form = |pairs: &[(&'static str, &'static str)]| EveryRequest::from_form(pairs.to_vec());
    assert_eq!(form(&[("match[]", "up")]), Ok(None));
    let first = form(&[("cursor", "")]).unwrap().unwrap();
    assert_eq!(
        (first.cursor, first.max_samples),
        (None, DEFAULT_MAX_SAMPLES)
    );
    assert_eq!(
        form(&[("cursor", ""), ("max_samples", "0")]),
        Err(format!(
            "invalid max_samples \"0\": a number from 1 to {MAX_MAX_SAMPLES}"
        ))
    );
    assert!(form(&[("cursor", "nope")])
        .unwrap_err()
        .contains("not one this node gave out"));
}

#[test]
fn samples_are_written_as_lines_and_stale_markers_as_comments() {
    let mut out = Vec::new();
    write_sample(
        &mut out,
        b"up{job=\"a\"}",
        &Sample {
            timestamp_ms: 5,
            value: 1.5,
        },
    );
    write_sample(
        &mut out,
        b"up{job=\"a\"}",
        &Sample {
            timestamp_ms: 6,
            value: STALE_NAN,
        },
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "up{job=\"a\"} 1.5 5\n# STALE up{job=\"a\"} NaN 6\n"
    );
}
