//! `/federate` encoding: selecting the newest sample of every series and writing the exact text
//! format, without HTTP, for 100k series of 5 labels.
//!
//! Run: `cargo bench -p wasmfed --bench federate -- --warm-up-time 1 --measurement-time 5`

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use wasmfed::model::Labels;
use wasmfed::storage::{parse_selector, Head};
use wasmfed::web::federate::{select_latest, FederateWriter};

const SERIES: usize = 100_000;

fn head() -> Head {
    let head = Head::new();
    for i in 0..SERIES {
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

fn main() {
    let head = head();
    let all = vec![parse_selector(r#"{__name__=~".+"}"#).unwrap()];
    let maxt = 1_700_000_100_000;
    let external = Labels::from_pairs([("region", "eu")]);
    let mut bytes = 0;
    {
        let mut out = Vec::new();
        let mut writer = FederateWriter::new(&external);
        for (labels, sample) in select_latest(&head, &all, maxt - 300_000, maxt) {
            writer.write(&mut out, &labels, sample);
        }
        bytes = bytes.max(out.len());
    }
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("federate");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("select_latest_100k", |b| {
        b.iter(|| black_box(select_latest(&head, &all, maxt - 300_000, maxt).len()))
    });
    let selected = select_latest(&head, &all, maxt - 300_000, maxt);
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("write_text_100k", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(bytes);
            let mut writer = FederateWriter::new(&external);
            for (labels, sample) in &selected {
                writer.write(&mut out, labels, *sample);
            }
            black_box(out.len())
        })
    });
    group.finish();
    c.final_summary();
    println!("federate body for {SERIES} series: {bytes} bytes");
}
