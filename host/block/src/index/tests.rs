use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use wasmfed_model::Labels;

use super::*;
use crate::chunks::{ChunkMeta, ChunkRef};

/// Writes `series` (any order) into an index and opens it.
fn write_and_open(series: &[(Labels, Vec<ChunkMeta>)]) -> (tempfile::TempDir, IndexReader) {
    let mut sorted: Vec<_> = series.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut symbols = BTreeSet::from([""]);
    for (labels, _) in &sorted {
        for l in labels.iter() {
            symbols.insert(l.name.as_str());
            symbols.insert(l.value.as_str());
        }
    }
    let symbols: Vec<&str> = symbols.into_iter().collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let mut w = IndexWriter::create(&path, &symbols).unwrap();
    for (labels, chunks) in &sorted {
        w.add_series(labels, chunks).unwrap();
    }
    w.finish().unwrap();
    let r = IndexReader::open(&path).unwrap();
    (dir, r)
}

fn chunk(min_time: i64, max_time: i64, r: u64) -> ChunkMeta {
    ChunkMeta {
        min_time,
        max_time,
        chunk_ref: ChunkRef(r),
    }
}

#[test]
fn series_postings_and_values_read_back() {
    let a = Labels::from_pairs([("__name__", "up"), ("job", "node"), ("instance", "a:1")]);
    let b = Labels::from_pairs([("__name__", "up"), ("job", "node"), ("instance", "b:1")]);
    let c = Labels::from_pairs([("__name__", "x_total"), ("env", "")]);
    let chunks_a = vec![chunk(-5, 10, 8), chunk(11, 11, 40), chunk(20, 1000, 20)];
    let (_dir, r) = write_and_open(&[
        (b.clone(), vec![chunk(0, 1, 8)]),
        (a.clone(), chunks_a.clone()),
        (c.clone(), vec![]),
    ]);
    assert_eq!(
        r.label_names().collect::<Vec<_>>(),
        ["__name__", "env", "instance", "job"]
    );
    assert_eq!(r.label_values("__name__").unwrap(), ["up", "x_total"]);
    assert_eq!(r.label_values("env").unwrap(), [""]);
    assert!(r.label_values("nope").unwrap().is_empty());

    let up: Vec<u32> = r.postings("__name__", "up").unwrap().collect();
    assert_eq!(up.len(), 2);
    let mut metas = Vec::new();
    assert_eq!(r.series(up[0], &mut metas).unwrap(), a);
    assert_eq!(metas, chunks_a);
    assert_eq!(r.series(up[1], &mut metas).unwrap(), b);
    assert_eq!(r.all_postings().unwrap().len(), 3);
    let x: Vec<u32> = r.postings("__name__", "x_total").unwrap().collect();
    assert_eq!(r.series(x[0], &mut metas).unwrap(), c);
    assert!(metas.is_empty());
    assert_eq!(r.postings("__name__", "upp").unwrap().len(), 0);
    assert_eq!(r.postings("__name__", "a").unwrap().len(), 0);
}

#[test]
fn out_of_order_series_and_unknown_symbols_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let mut w = IndexWriter::create(&path, &["", "a", "b"]).unwrap();
    w.add_series(&Labels::from_pairs([("a", "b")]), &[])
        .unwrap();
    let err = w
        .add_series(&Labels::from_pairs([("a", "a")]), &[])
        .unwrap_err();
    assert!(err.to_string().contains("out-of-order series"), "{err}");
    let err = w
        .add_series(&Labels::from_pairs([("b", "c")]), &[])
        .unwrap_err();
    assert!(err.to_string().contains("symbol entry for \"c\""), "{err}");
    let err = IndexWriter::create(&path, &["b", "a"]).err().unwrap();
    assert!(err.to_string().contains("out of order"), "{err}");
}

#[test]
fn corruption_is_named_not_panicked() {
    let series: Vec<_> = (0..50)
        .map(|i| {
            (
                Labels::from_pairs([("i", format!("{i:03}"))]),
                vec![chunk(i, i + 1, 8)],
            )
        })
        .collect();
    let (dir, r) = write_and_open(&series);
    let ids: Vec<u32> = r.all_postings().unwrap().collect();
    drop(r);
    let path = dir.path().join("index");
    let good = std::fs::read(&path).unwrap();
    // A flipped byte inside the first series entry fails that series' read only.
    let mut bad = good.clone();
    bad[ids[0] as usize * 16 + 3] ^= 0x55;
    std::fs::write(&path, &bad).unwrap();
    let r = IndexReader::open(&path).unwrap();
    let err = r.series(ids[0], &mut Vec::new()).unwrap_err().to_string();
    assert!(
        err.contains("series") && err.contains("checksum mismatch"),
        "{err}"
    );
    assert!(r.series(ids[1], &mut Vec::new()).is_ok());
    drop(r);
    // A truncated file is refused at open.
    std::fs::write(&path, &good[..good.len() - 10]).unwrap();
    let err = IndexReader::open(&path).err().unwrap().to_string();
    assert!(err.contains("table of contents"), "{err}");
    std::fs::write(
        &path,
        b"not an index at all, but long enough to hold a TOC and a header",
    )
    .unwrap();
    let err = IndexReader::open(&path).err().unwrap().to_string();
    assert!(err.contains("invalid magic number"), "{err}");
}

fn labels_strategy() -> impl Strategy<Value = Labels> {
    proptest::collection::btree_map("[a-c]{1,2}", "[a-z0-9]{0,3}", 1..4)
        .prop_map(|m: BTreeMap<String, String>| Labels::from_pairs(m))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any set of series reads back: every label pair's postings are exactly the series that
    /// have it, and every name's values are exactly the values seen (across the sampling
    /// boundaries of 32 values).
    #[test]
    fn random_series_read_back(
        set in proptest::collection::btree_set(labels_strategy(), 1..120),
    ) {
        let series: Vec<_> = set
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), vec![chunk(i as i64, i as i64 * 2, 8 + i as u64 * 13)]))
            .collect();
        let (_dir, r) = write_and_open(&series);
        let mut expected: BTreeMap<(String, String), Vec<Labels>> = BTreeMap::new();
        for (l, _) in &series {
            for p in l.iter() {
                expected.entry((p.name.clone(), p.value.clone())).or_default().push(l.clone());
            }
        }
        let mut metas = Vec::new();
        let all: Vec<u32> = r.all_postings().unwrap().collect();
        prop_assert_eq!(all.len(), series.len());
        for (i, id) in all.iter().enumerate() {
            prop_assert_eq!(&r.series(*id, &mut metas).unwrap(), &series[i].0);
            prop_assert_eq!(&metas, &series[i].1);
        }
        for ((name, value), with) in &expected {
            let got: Vec<Labels> = r
                .postings(name, value)
                .unwrap()
                .map(|id| r.series(id, &mut metas).unwrap())
                .collect();
            prop_assert_eq!(&got, with);
        }
        let names: BTreeSet<&str> = expected.keys().map(|(n, _)| n.as_str()).collect();
        prop_assert_eq!(r.label_names().collect::<BTreeSet<_>>(), names.clone());
        for name in names {
            let values: Vec<String> = expected
                .keys()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .collect();
            prop_assert_eq!(r.label_values(name).unwrap(), values);
        }
    }
}

#[test]
fn many_values_cross_the_sampling_boundaries() {
    for n in [1usize, 31, 32, 33, 64, 65, 100] {
        let series: Vec<_> = (0..n)
            .map(|i| {
                (
                    Labels::from_pairs([("v", format!("{i:04}")), ("z", "1".to_string())]),
                    vec![],
                )
            })
            .collect();
        let (_dir, r) = write_and_open(&series);
        assert_eq!(r.label_values("v").unwrap().len(), n);
        for i in 0..n {
            assert_eq!(
                r.postings("v", &format!("{i:04}")).unwrap().len(),
                1,
                "n={n} i={i}"
            );
        }
        assert_eq!(r.postings("v", "9999").unwrap().len(), 0);
        assert_eq!(r.postings("z", "1").unwrap().len(), n);
        assert_eq!(r.symbol_count(), n + 4);
    }
}
