use super::*;
use crate::matcher::MatchOp;
use crate::Head;
use wasmfed_block::testing::copy_dir;
use wasmfed_block::BlockMeta;

fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).unwrap()
}

/// A head of 40 series (`up` for 20 instances, `mem` for 20 with an `env` on half), a sample
/// every 10 s from 0 to 2 h.
fn head() -> Head {
    let head = Head::new();
    for i in 0..20 {
        for name in ["up", "mem"] {
            let mut labels = Labels::from_pairs([
                ("__name__", name.to_string()),
                ("instance", format!("h{i:02}")),
            ]);
            if name == "mem" && i % 2 == 0 {
                labels.set("env", "prod");
            }
            let (r, _) = head.get_or_create(&labels);
            for t in (0..7_200_000).step_by(10_000) {
                head.append(r, t, (t / 1000 + i) as f64 * 0.5).unwrap();
            }
        }
    }
    head
}

fn head_view(head: &Head, matchers: &[Matcher], mint: i64, maxt: i64) -> SelectedSamples {
    head.select(matchers)
        .into_iter()
        .filter_map(|r| {
            let samples = head.samples(r, mint, maxt);
            (!samples.is_empty()).then(|| (head.labels(r).unwrap(), samples))
        })
        .collect()
}

#[test]
fn persisted_ranges_answer_like_the_head() {
    let head = head();
    let dir = tempfile::tempdir().unwrap();
    let first = head
        .persist_block(dir.path(), 0, 3_600_000)
        .unwrap()
        .unwrap();
    let second = head
        .persist_block(dir.path(), 3_600_000, 7_200_000)
        .unwrap()
        .unwrap();
    assert_eq!(first.stats.num_series, 40);
    assert_eq!(first.stats.num_samples, 40 * 360);
    assert_eq!(first.stats.num_chunks, 40 * 3);
    assert!(head
        .persist_block(dir.path(), 7_200_000, 9_000_000)
        .unwrap()
        .is_none());

    let blocks = Blocks::open(dir.path()).unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks.max_time(), Some(second.max_time));
    let cases: Vec<(Vec<Matcher>, i64, i64)> = vec![
        (vec![m(MatchOp::Equal, "__name__", "up")], 0, 7_200_000),
        (
            vec![m(MatchOp::Regex, "instance", "h0.|h15")],
            1_000_000,
            5_000_000,
        ),
        (vec![m(MatchOp::Equal, "env", "")], 3_599_990, 3_600_010),
        (
            vec![
                m(MatchOp::NotEqual, "env", "prod"),
                m(MatchOp::Equal, "__name__", "mem"),
            ],
            0,
            100_000,
        ),
        (
            vec![m(MatchOp::NotRegex, "instance", "h1.*")],
            7_000_000,
            7_300_000,
        ),
        (
            vec![
                m(MatchOp::Regex, "__name__", ".+"),
                m(MatchOp::Equal, "instance", "h03"),
            ],
            -5,
            5,
        ),
        (vec![m(MatchOp::Equal, "__name__", "nope")], 0, 7_200_000),
        (vec![m(MatchOp::Regex, "env", ".*")], 10_000, 10_000),
    ];
    for (matchers, mint, maxt) in cases {
        let got = blocks.select(&matchers, mint, maxt).unwrap();
        let want = head_view(&head, &matchers, mint, maxt);
        assert_eq!(got, want, "{matchers:?} over [{mint}, {maxt}]");
    }
}

#[test]
fn overlapping_blocks_merge_and_retention_deletes_whole_blocks() {
    let head = head();
    let dir = tempfile::tempdir().unwrap();
    let a = head
        .persist_block(dir.path(), 0, 2_000_000)
        .unwrap()
        .unwrap();
    // Overlaps the first: equal samples appear once.
    head.persist_block(dir.path(), 1_000_000, 3_000_000)
        .unwrap()
        .unwrap();
    let blocks = Blocks::open(dir.path()).unwrap();
    let sel = [m(MatchOp::Equal, "instance", "h07")];
    assert_eq!(
        blocks.select(&sel, 0, 2_999_999).unwrap(),
        head_view(&head, &sel, 0, 2_999_999)
    );

    let removed = blocks.delete(|meta| meta.max_time <= a.max_time);
    assert_eq!(removed.iter().map(|b| b.ulid).collect::<Vec<_>>(), [a.ulid]);
    assert!(!dir.path().join(a.ulid.to_string()).exists());
    assert_eq!(blocks.len(), 1);
    assert_eq!(Blocks::open(dir.path()).unwrap().len(), 1);
    assert_eq!(
        blocks.select(&sel, 0, 2_999_999).unwrap(),
        head_view(&head, &sel, 1_000_000, 2_999_999)
    );
}

#[test]
fn appends_before_the_persisted_range_are_out_of_bounds() {
    let head = head();
    let (r, _) = head.get_or_create(&Labels::from_pairs([("__name__", "late")]));
    head.set_min_valid_time(3_600_000);
    head.set_min_valid_time(1_000); // never moves back
    assert_eq!(head.min_valid_time(), 3_600_000);
    assert_eq!(
        head.append(r, 3_599_999, 1.0),
        Err(crate::AppendError::OutOfBounds {
            min_valid_ms: 3_600_000,
            got_ms: 3_599_999
        })
    );
    head.append(r, 3_600_000, 1.0).unwrap();
    assert_eq!(head.time_range(), Some((0, 7_190_000)));
}

#[test]
fn merge_keeps_the_first_of_equal_timestamps() {
    let s = |t, v| Sample {
        timestamp_ms: t,
        value: v,
    };
    let mut samples = vec![s(1, 1.0), s(3, 3.0), s(2, 2.0), s(3, 9.0), s(0, 0.0)];
    merge_in_place(&mut samples);
    assert_eq!(samples, [s(0, 0.0), s(1, 1.0), s(2, 2.0), s(3, 3.0)]);
}

#[test]
fn the_head_is_cut_into_aligned_blocks_once_it_spans_one_and_a_half_ranges() {
    let cut = head(); // samples from 0 to 7_190_000
    let dir = tempfile::tempdir().unwrap();
    let blocks = Blocks::open(dir.path()).unwrap();
    // 1 h ranges: the head spans ~2 h, so [0, 1 h) is cut and [1 h, 2 h) stays (it spans
    // less than 1.5 h after the cut).
    let report = blocks.cut_head(&cut, 3_600_000).unwrap();
    let ranges: Vec<_> = report.iter().map(|m| (m.min_time, m.max_time)).collect();
    assert_eq!(ranges, [(0, 3_600_000)]);
    assert_eq!(cut.min_valid_time(), 3_600_000);
    // Nothing more to cut until the head grows.
    assert!(blocks.cut_head(&cut, 3_600_000).unwrap().is_empty());
    // Head and blocks together still answer everything, exactly once.
    let sel = [m(MatchOp::Equal, "instance", "h05")];
    let mut merged = blocks.select(&sel, 0, 7_200_000).unwrap();
    for (labels, samples) in head_view(&cut, &sel, 0, 7_200_000) {
        let all = merged.entry(labels).or_default();
        all.extend(samples);
        merge_in_place(all);
    }
    let whole = head_view(&head(), &sel, 0, 7_200_000);
    assert_eq!(merged, whole);
    // Smaller ranges: several blocks in one cut, each ending on a multiple of the range.
    let head = head();
    let dir = tempfile::tempdir().unwrap();
    let blocks = Blocks::open(dir.path()).unwrap();
    let report = blocks.cut_head(&head, 1_000_000).unwrap();
    let ranges: Vec<_> = report.iter().map(|m| (m.min_time, m.max_time)).collect();
    assert_eq!(
        ranges,
        [
            (0, 1_000_000),
            (1_000_000, 2_000_000),
            (2_000_000, 3_000_000),
            (3_000_000, 4_000_000),
            (4_000_000, 5_000_000),
            (5_000_000, 6_000_000)
        ]
    );
    // A set without a directory (no storage path) cuts nothing.
    assert!(Blocks::default().cut_head(&head, 1_000).unwrap().is_empty());
}

#[test]
fn a_cut_block_starts_at_its_oldest_sample_and_ends_on_the_range() {
    // Scrapes 56 ms after each 10 s: Prometheus' head blocks start at the head's oldest
    // sample (its minimum time after truncation), not at the aligned range start.
    let head = Head::new();
    let (r, _) = head.get_or_create(&Labels::from_pairs([("__name__", "late")]));
    for t in (56..3_000_000).step_by(10_000) {
        head.append(r, t, 1.0).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let blocks = Blocks::open(dir.path()).unwrap();
    let ranges: Vec<_> = blocks
        .cut_head(&head, 1_000_000)
        .unwrap()
        .iter()
        .map(|m| (m.min_time, m.max_time))
        .collect();
    assert_eq!(ranges, [(56, 1_000_000), (1_000_056, 2_000_000)]);
}

#[test]
fn retention_by_time_is_relative_to_the_newest_block_and_by_size_drops_the_oldest() {
    let head = head();
    let dir = tempfile::tempdir().unwrap();
    let blocks = Blocks::open(dir.path()).unwrap();
    blocks.cut_head(&head, 1_000_000).unwrap(); // six blocks ending at 1M..6M
    assert_eq!(blocks.len(), 6);
    // Ends more than 3M before the newest end (6M) go: those ending at 1M and 2M, not the
    // one ending exactly 3M before (as Prometheus keeps it).
    let (by_time, by_size) = blocks.apply_retention(3_000_000, None, 0);
    let ends: Vec<i64> = by_time.iter().map(|m| m.max_time).collect();
    assert_eq!((ends, by_size.len()), (vec![1_000_000, 2_000_000], 0));
    assert_eq!(blocks.len(), 4);
    // Room for the log and two blocks: the two oldest go.
    let sizes: Vec<u64> = {
        let list = blocks.list.read();
        list.iter().map(|b| b.size()).collect()
    };
    let limit = 1_000 + sizes[2] + sizes[3];
    let (by_time, by_size) = blocks.apply_retention(i64::MAX, Some(limit), 1_000);
    let ends: Vec<i64> = by_size.iter().map(|m| m.max_time).collect();
    assert_eq!((by_time.len(), ends), (0, vec![3_000_000, 4_000_000]));
    assert_eq!(blocks.len(), 2);
}

#[test]
fn compaction_merges_blocks_level_by_level_and_answers_the_same() {
    let head = head();
    let dir = tempfile::tempdir().unwrap();
    let blocks = Blocks::open(dir.path()).unwrap();
    blocks.cut_head(&head, 1_000_000).unwrap();
    let before: Vec<BlockMeta> = blocks.metas();
    assert_eq!(before.len(), 6);
    let all = [m(MatchOp::Regex, "__name__", ".+")];
    let want = blocks.select(&all, 0, 7_200_000).unwrap();

    let ranges = block_ranges(1_000_000, 9_000_000);
    let mut steps = 0;
    while blocks.compact(&ranges).unwrap() {
        steps += 1;
    }
    // [0,1M) [1M,2M) [2M,3M) → one 3M block; [3M..6M) stays (the fresh block is left out).
    assert_eq!(steps, 1);
    let after = blocks.metas();
    let spans: Vec<_> = after
        .iter()
        .map(|m| (m.min_time, m.max_time, m.compaction.level))
        .collect();
    assert_eq!(
        spans,
        [
            (0, 3_000_000, 2),
            (3_000_000, 4_000_000, 1),
            (4_000_000, 5_000_000, 1),
            (5_000_000, 6_000_000, 1)
        ]
    );
    let merged = &after[0];
    assert_eq!(merged.compaction.parents.len(), 3);
    let mut sources = before[..3].iter().map(|m| m.ulid).collect::<Vec<_>>();
    sources.sort();
    assert_eq!(merged.compaction.sources, sources);
    assert_eq!(
        merged.stats.num_samples,
        before[..3].iter().map(|m| m.stats.num_samples).sum::<u64>()
    );
    assert_eq!(blocks.select(&all, 0, 7_200_000).unwrap(), want);
    for parent in &before[..3] {
        assert!(!dir.path().join(parent.ulid.to_string()).exists());
    }
    // Reopened, the same.
    assert_eq!(
        Blocks::open(dir.path())
            .unwrap()
            .select(&all, 0, 7_200_000)
            .unwrap(),
        want
    );
}

#[test]
fn overlapping_blocks_are_compacted_into_one_with_each_sample_once() {
    let head = head();
    let dir = tempfile::tempdir().unwrap();
    head.persist_block(dir.path(), 0, 2_000_000)
        .unwrap()
        .unwrap();
    head.persist_block(dir.path(), 1_000_000, 3_000_000)
        .unwrap()
        .unwrap();
    head.persist_block(dir.path(), 3_000_000, 4_000_000)
        .unwrap()
        .unwrap();
    let blocks = Blocks::open(dir.path()).unwrap();
    let all = [m(MatchOp::Regex, "__name__", ".+")];
    assert!(blocks.compact(&[1_000_000]).unwrap());
    let spans: Vec<_> = blocks
        .metas()
        .iter()
        .map(|m| (m.min_time, m.max_time))
        .collect();
    assert_eq!(spans, [(0, 3_000_000), (3_000_000, 4_000_000)]);
    let merged = &blocks.metas()[0];
    assert_eq!(merged.stats.num_samples, 40 * 300);
    assert_eq!(
        blocks.select(&all, 0, 3_999_999).unwrap(),
        head_view(&head, &all, 0, 3_999_999)
    );
}

#[test]
fn a_compaction_that_crashed_before_deleting_its_parents_is_finished_at_start() {
    let head = head();
    let dir = tempfile::tempdir().unwrap();
    let blocks = Blocks::open(dir.path()).unwrap();
    blocks.cut_head(&head, 1_000_000).unwrap();
    let parents: Vec<BlockMeta> = blocks.metas()[..3].to_vec();
    let saved = tempfile::tempdir().unwrap();
    for p in &parents {
        let name = p.ulid.to_string();
        copy_dir(&dir.path().join(&name), &saved.path().join(&name));
    }
    let all = [m(MatchOp::Regex, "__name__", ".+")];
    let want = blocks.select(&all, 0, 7_200_000).unwrap();
    assert!(blocks.compact(&block_ranges(1_000_000, 9_000_000)).unwrap());
    drop(blocks);
    // As if the process died between the rename of the merged block and the deletions.
    for p in &parents {
        let name = p.ulid.to_string();
        copy_dir(&saved.path().join(&name), &dir.path().join(&name));
    }
    let reopened = Blocks::open(dir.path()).unwrap();
    assert_eq!(reopened.len(), 4);
    for p in &parents {
        assert!(!dir.path().join(p.ulid.to_string()).exists());
    }
    assert_eq!(reopened.select(&all, 0, 7_200_000).unwrap(), want);
}
