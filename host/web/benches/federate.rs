//! `/federate` encoding: selecting the newest sample of every series and writing the exact text
//! format, without HTTP, for 100k and 1M series of 5 labels (1,000 metric names).
//!
//! Run: `cargo bench -p wasmfed-web --bench federate -- --warm-up-time 1 --measurement-time 5`
//!
//! Figures on the shared 2-core machine, 2026-11-22 (criterion medians; the 100k body is
//! 11,054,360 bytes, the same before and after):
//!
//! | bench | one `Labels` a series (before) | string ids (issue #6) |
//! |---|---:|---:|
//! | `select_latest_100k` | 397 ms | 17.6 ms |
//! | `write_text_100k` | 51.1 ms | 11.3 ms (934 MiB/s) |
//! | `federate_all_1m` (select + write in 64 KiB chunks) | — | 335 ms |
//!
//! 1M costs 11.5x 100k: the per-series hash probe and the sort's key reads miss the cache once
//! the head no longer fits in it.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use wasmfed_model::compat::Compat;
use wasmfed_model::escaping::NameEscaping;
use wasmfed_model::Labels;
use wasmfed_storage::{parse_selector, Head, Matcher};
use wasmfed_web::federate::FederateWriter;

const MAXT: i64 = 1_700_000_100_000;
const LOOKBACK: i64 = 300_000;

fn head(series: usize) -> Head {
    let head = Head::new();
    for i in 0..series {
        let labels = Labels::from_pairs([
            ("__name__", format!("node_metric_{}", i % 1000)),
            ("instance", format!("host-{}:9100", i / 1000)),
            ("job", "node".to_owned()),
            ("mode", ["idle", "user", "system"][i % 3].to_owned()),
            ("dc", "eu-west".to_owned()),
        ]);
        let (series, _) = head.get_or_create(&labels);
        for t in 0..4 {
            head.append(
                series,
                1_700_000_000_000 + t * 15_000,
                (i as f64) * 0.5 + t as f64,
            )
            .unwrap();
        }
    }
    head
}

/// The whole body, written as the handler does: in 64 KiB chunks handed on (here: dropped), so
/// memory stays small. Returns the body's length.
fn federate(head: &Head, sets: &[Vec<Matcher>], external: &Labels) -> usize {
    const CHUNK_BYTES: usize = 64 * 1024;
    let selected = head.select_latest(sets, MAXT - LOOKBACK, MAXT);
    let mut writer = FederateWriter::new(external, &selected, None);
    let mut out = Vec::with_capacity(CHUNK_BYTES + 4096);
    let mut len = 0;
    for series in selected.iter() {
        writer.write(&mut out, series);
        if out.len() >= CHUNK_BYTES {
            len += out.len();
            black_box(&out);
            out.clear();
        }
    }
    len + out.len()
}

fn main() {
    let all = vec![parse_selector(r#"{__name__=~".+"}"#, Compat::V3).unwrap()];
    let external = Labels::from_pairs([("region", "eu")]);
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("federate");
    group.sample_size(10);

    let small = head(100_000);
    let bytes = federate(&small, &all, &external);
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("select_latest_100k", |b| {
        b.iter(|| black_box(small.select_latest(&all, MAXT - LOOKBACK, MAXT).len()))
    });
    let selected = small.select_latest(&all, MAXT - LOOKBACK, MAXT);
    group.throughput(Throughput::Bytes(bytes as u64));
    // As --query.compat=2 writes names (as stored), and as 3 does for a reader that did not
    // ask for UTF-8 (each name checked against the legacy set, none escaped here).
    for (name, escaping) in [
        ("write_text_100k", None),
        ("write_text_100k_escaping", Some(NameEscaping::Underscores)),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(bytes);
                let mut writer = FederateWriter::new(&external, &selected, escaping);
                for series in selected.iter() {
                    writer.write(&mut out, series);
                }
                black_box(out.len())
            })
        });
    }
    println!("federate body for 100000 series: {bytes} bytes");
    drop(selected);
    drop(small);

    let large = head(1_000_000);
    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("federate_all_1m", |b| {
        b.iter(|| black_box(federate(&large, &all, &external)))
    });
    group.finish();
    c.final_summary();
}
