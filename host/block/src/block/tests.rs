use super::*;
use crate::chunks::{ChunkRef, ENCODING_XOR};

/// Chunk bytes that start, as every Prometheus chunk does, with their sample count.
fn fake_chunk(samples: u16, fill: u8, len: usize) -> Vec<u8> {
    let mut b = samples.to_be_bytes().to_vec();
    b.resize(len.max(2), fill);
    b
}

fn data(min_time: i64, max_time: i64, bytes: &[u8]) -> ChunkData<'_> {
    ChunkData {
        min_time,
        max_time,
        encoding: ENCODING_XOR,
        bytes,
    }
}

#[test]
fn written_block_opens_with_its_series_chunks_and_meta() {
    let dir = tempfile::tempdir().unwrap();
    let (c1, c2, c3) = (
        fake_chunk(120, 1, 60),
        fake_chunk(5, 2, 9),
        fake_chunk(1, 3, 3),
    );
    let mut w = BlockWriter::create(dir.path(), 1000, 8200).unwrap();
    let a = Labels::from_pairs([("__name__", "a"), ("job", "j")]);
    let b = Labels::from_pairs([("__name__", "b"), ("job", "j")]);
    w.add_series(a.clone(), &[data(1000, 5000, &c1), data(5001, 6000, &c2)])
        .unwrap();
    w.add_series(Labels::from_pairs([("__name__", "empty")]), &[])
        .unwrap();
    w.add_series(b.clone(), &[data(8000, 8199, &c3)]).unwrap();
    let meta = w.finish().unwrap();
    assert_eq!(
        (
            meta.stats.num_series,
            meta.stats.num_chunks,
            meta.stats.num_samples
        ),
        (2, 3, 126)
    );

    let dirs = block_dirs(dir.path()).unwrap();
    assert_eq!(dirs, [dir.path().join(meta.ulid.to_string())]);
    let block = Block::open(&dirs[0]).unwrap();
    assert_eq!(block.meta(), &meta);
    assert_eq!((meta.min_time, meta.max_time), (1000, 8200));
    assert!(block.tombstones().is_empty());
    let idx = block.index();
    assert_eq!(idx.label_values("__name__").unwrap(), ["a", "b"]);
    let mut metas = Vec::new();
    let ids: Vec<u32> = idx.all_postings().unwrap().collect();
    assert_eq!(idx.series(ids[0], &mut metas).unwrap(), a);
    let got: Vec<_> = metas
        .iter()
        .map(|m| {
            (
                m.min_time,
                m.max_time,
                block.chunks().chunk(m.chunk_ref).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1000, 5000, (ENCODING_XOR, c1.as_slice())),
            (5001, 6000, (ENCODING_XOR, c2.as_slice()))
        ]
    );
    assert_eq!(idx.series(ids[1], &mut metas).unwrap(), b);
    assert_eq!(block.chunks().chunk(metas[0].chunk_ref).unwrap().1, c3);
}

#[test]
fn an_abandoned_or_failed_block_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let c = fake_chunk(1, 0, 4);
    let mut w = BlockWriter::create(dir.path(), 0, 10).unwrap();
    w.add_series(Labels::from_pairs([("a", "2")]), &[data(0, 1, &c)])
        .unwrap();
    let err = w
        .add_series(Labels::from_pairs([("a", "1")]), &[data(0, 1, &c)])
        .unwrap_err();
    assert!(err.to_string().contains("out-of-order"), "{err}");
    drop(w);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn unfinished_directories_are_removed_and_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    let ulid = Ulid::new();
    for name in [
        format!("{ulid}{TMP_FOR_CREATION}"),
        format!("{ulid}{TMP_FOR_DELETION}"),
        "wal".to_string(),
    ] {
        fs::create_dir(dir.path().join(name)).unwrap();
    }
    assert!(block_dirs(dir.path()).unwrap().is_empty());
    assert_eq!(remove_unfinished(dir.path()).unwrap().len(), 2);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn segments_are_cut_between_series_and_refs_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let big = fake_chunk(10, 7, 100);
    let mut w = BlockWriter::with_segment_size(dir.path(), 0, 100, 250).unwrap();
    for i in 0..5 {
        let labels = Labels::from_pairs([("i", i.to_string())]);
        w.add_series(labels, &[data(0, 1, &big), data(2, 3, &big)])
            .unwrap();
    }
    let meta = w.finish().unwrap();
    let block = Block::open(&dir.path().join(meta.ulid.to_string())).unwrap();
    let chunk_dir = block.dir().join("chunks");
    let mut files: Vec<_> = fs::read_dir(&chunk_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["000001", "000002", "000003", "000004", "000005"]);
    let mut metas = Vec::new();
    for (n, id) in block.index().all_postings().unwrap().enumerate() {
        block.index().series(id, &mut metas).unwrap();
        assert!(metas.iter().all(|m| m.chunk_ref.segment() == n));
        for m in &metas {
            assert_eq!(block.chunks().chunk(m.chunk_ref).unwrap().1, big);
        }
    }
}

#[test]
fn a_corrupt_chunk_is_reported_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let c = fake_chunk(3, 9, 20);
    let mut w = BlockWriter::create(dir.path(), 0, 10).unwrap();
    w.add_series(Labels::from_pairs([("a", "1")]), &[data(0, 1, &c)])
        .unwrap();
    let meta = w.finish().unwrap();
    let block_dir = dir.path().join(meta.ulid.to_string());
    let segment = block_dir.join("chunks/000001");
    let mut bytes = fs::read(&segment).unwrap();
    bytes[12] ^= 1;
    fs::write(&segment, bytes).unwrap();
    let block = Block::open(&block_dir).unwrap();
    let mut metas = Vec::new();
    let id = block.index().all_postings().unwrap().next().unwrap();
    block.index().series(id, &mut metas).unwrap();
    let err = block
        .chunks()
        .chunk(metas[0].chunk_ref)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("000001") && err.contains("checksum mismatch"),
        "{err}"
    );
    let err = block
        .chunks()
        .chunk(ChunkRef::new(3, 8))
        .unwrap_err()
        .to_string();
    assert!(err.contains("segment index 3 out of range"), "{err}");
}
