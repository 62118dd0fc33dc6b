//! Range-query evaluation time over a dashboard's data, natively (the component adds the copy
//! of `select` answers across the boundary): the per-step cost `bench/dashboard.py` measures
//! through the node, without the node.
//!
//! Run: `cargo bench -p promql-rules --bench range -- --warm-up-time 1 --measurement-time 10`
//!
//! Data: 2000 instances × 3 counters `bench_requests_total{code,instance,job,shard}` and one
//! gauge `bench_value{instance,job,shard}` (16 shards), one sample every 30 s over one hour;
//! each query is evaluated at 241 steps of 15 s.

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use promql_rules::engine::Engine;

mod grid;
use grid::GridStore;

const INTERVAL_MS: i64 = 30_000;
const HOUR_MS: i64 = 3_600_000;

fn store(instances: usize) -> GridStore {
    let samples = (HOUR_MS / INTERVAL_MS + 1) as usize;
    let mut out = Vec::new();
    for i in 0..instances {
        let base = |name: &str| {
            vec![
                ("__name__".to_string(), name.to_string()),
                ("instance".to_string(), format!("host-{i:05}")),
                ("job".to_string(), "svc".to_string()),
                ("shard".to_string(), format!("s{}", i % 16)),
            ]
        };
        for (c, code) in ["200", "404", "500"].iter().enumerate() {
            let mut pairs = base("bench_requests_total");
            pairs.push(("code".into(), code.to_string()));
            let step = ((i * 7 + c) % 10 + 1) as f64;
            out.push((pairs, (0..samples).map(|n| step * n as f64).collect()));
        }
        out.push((
            base("bench_value"),
            (0..samples)
                .map(|n| ((i * 13 + n * 7) % 1000) as f64)
                .collect(),
        ));
    }
    GridStore::new(INTERVAL_MS, samples, out)
}

const QUERIES: [&str; 4] = [
    "sum by (shard) (rate(bench_requests_total[5m]))",
    "avg by (shard) (bench_value)",
    "sum by (shard) (avg_over_time(bench_value[5m]))",
    "count(count by (instance) (bench_value))",
];

fn main() {
    let measure = std::env::args().any(|a| a == "--bench");
    let mut store = store(if measure { 2000 } else { 20 });
    let engine = Engine::default();
    println!("{} series", store.series());
    for q in QUERIES {
        let expr = engine.parse(q).unwrap();
        let began = Instant::now();
        let out = engine.range(&expr, 0, HOUR_MS, 15_000, &mut store).unwrap();
        println!(
            "{q}: {:?} ({} steps)",
            began.elapsed(),
            HOUR_MS / 15_000 + 1
        );
        black_box(out);
    }
    if !measure {
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    for q in QUERIES {
        let expr = engine.parse(q).unwrap();
        c.bench_function(q, |b| {
            b.iter(|| black_box(engine.range(&expr, 0, HOUR_MS, 15_000, &mut store).unwrap()))
        });
    }
    c.final_summary();
}
