//! Against the real Prometheus 2.42 tools (Debian's `prometheus` package, installed by
//! `./test.sh`): promtool backfills blocks from OpenMetrics text; wasmfed reads them, writes
//! the same series and chunks into blocks of its own, and
//! - the index, chunk segments and tombstones are byte-identical to promtool's, and meta.json
//!   differs only in the ULID;
//! - `promtool tsdb dump` prints the same samples from both directories, and `promtool tsdb
//!   list` / `analyze` read wasmfed's blocks.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use wasmfed_block::block::block_dirs;
use wasmfed_block::testing::{backfill, promtool, promtool_dump};
use wasmfed_block::{Block, BlockWriter, ChunkData};

/// About 5 hours of samples (so promtool cuts three blocks) for 150 series of three metric
/// families: gauges that change, a counter, and labels with many values (more than the
/// reader's sampling of 32), escapes and non-ASCII text.
fn openmetrics() -> String {
    let start = 1_700_000_000i64;
    let mut s = String::new();
    s.push_str("# HELP temperature a gauge\n# TYPE temperature gauge\n");
    for host in 0..100 {
        for step in 0..(5 * 3600 / 60) {
            let t = start + step * 60 + host % 7;
            let v = ((step as f64) * 0.1 + host as f64).sin() * 40.0;
            writeln!(
                s,
                "temperature{{host=\"h{host:03}\",room=\"r{}\"}} {v} {t}",
                host % 4
            )
            .unwrap();
        }
    }
    s.push_str("# TYPE requests counter\n");
    for code in ["200", "404", "500"] {
        for step in 0..(4 * 3600 / 15) {
            let t = start + 1800 + step * 15;
            writeln!(
                s,
                "requests_total{{code=\"{code}\",path=\"/a\\\"b\\\\c\",zone=\"Zürich\"}} {} {t}",
                step * 3
            )
            .unwrap();
        }
    }
    s.push_str("# TYPE flag gauge\n");
    for i in 0..47 {
        writeln!(s, "flag{{i=\"{i}\"}} 1 {}", start + 7000 + i).unwrap();
        writeln!(s, "flag{{i=\"{i}\"}} 0 {}", start + 7300 + i).unwrap();
    }
    s.push_str("# EOF\n");
    s
}

/// Re-writes every block of `from` with wasmfed's writer into `to`, chunk bytes as read.
fn rewrite(from: &Path, to: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut pairs = Vec::new();
    for dir in block_dirs(from).unwrap() {
        let block = Block::open(&dir).unwrap();
        let meta = block.meta();
        let mut w = BlockWriter::create(to, meta.min_time, meta.max_time).unwrap();
        let mut metas = Vec::new();
        for id in block.index().all_postings().unwrap() {
            let labels = block.index().series(id, &mut metas).unwrap();
            let chunks: Vec<ChunkData<'_>> = metas
                .iter()
                .map(|m| {
                    let (encoding, bytes) = block.chunks().chunk(m.chunk_ref).unwrap();
                    ChunkData {
                        min_time: m.min_time,
                        max_time: m.max_time,
                        encoding,
                        bytes,
                    }
                })
                .collect();
            w.add_series(labels, &chunks).unwrap();
        }
        let ours = w.finish().unwrap();
        assert_eq!(ours.stats, meta.stats, "stats of {}", dir.display());
        pairs.push((dir, to.join(ours.ulid.to_string())));
    }
    pairs
}

#[test]
fn blocks_are_byte_identical_to_promtool_and_read_by_it() {
    let tmp = tempfile::tempdir().unwrap();
    let theirs = tmp.path().join("promtool");
    let ours = tmp.path().join("wasmfed");
    fs::create_dir_all(&ours).unwrap();
    backfill(&openmetrics(), &theirs);

    let pairs = rewrite(&theirs, &ours);
    assert!(pairs.len() >= 3, "promtool cut {} blocks", pairs.len());
    for (their_block, our_block) in &pairs {
        for file in ["index", "chunks/000001", "tombstones"] {
            let (a, b) = (
                fs::read(their_block.join(file)).unwrap(),
                fs::read(our_block.join(file)).unwrap(),
            );
            assert!(
                a == b,
                "{file} of {} differs from promtool's ({} vs {} bytes)",
                our_block.display(),
                b.len(),
                a.len()
            );
        }
        let their_meta = fs::read_to_string(their_block.join("meta.json")).unwrap();
        let our_meta = fs::read_to_string(our_block.join("meta.json")).unwrap();
        let their_ulid = their_block.file_name().unwrap().to_str().unwrap();
        let our_ulid = our_block.file_name().unwrap().to_str().unwrap();
        assert_eq!(our_meta.replace(our_ulid, their_ulid), their_meta);
    }

    let (their_dump, our_dump) = (promtool_dump(&theirs), promtool_dump(&ours));
    assert!(
        their_dump.len() > 30_000,
        "{} samples dumped",
        their_dump.len()
    );
    assert!(
        their_dump == our_dump,
        "promtool dumps different samples from wasmfed's blocks"
    );

    let list = promtool(&["tsdb", "list", ours.to_str().unwrap()]);
    for (_, our_block) in &pairs {
        let ulid = our_block.file_name().unwrap().to_str().unwrap();
        assert!(
            list.contains(ulid),
            "promtool tsdb list misses {ulid}:\n{list}"
        );
    }
    let (_, first) = &pairs[0];
    let analyze = promtool(&[
        "tsdb",
        "analyze",
        ours.to_str().unwrap(),
        first.file_name().unwrap().to_str().unwrap(),
    ]);
    let series = Block::open(first).unwrap().meta().stats.num_series;
    assert!(
        analyze.contains(&format!("Series: {series}\n")),
        "{analyze}"
    );
    assert!(analyze.contains("Label names: 6\n"), "{analyze}");
}
