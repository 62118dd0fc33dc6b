//! Every-sample federation (`federation.every_sample`) through the real binaries: a leaf
//! scraping every second, a wasmfed global and Prometheus 2.42 federating it every 15 s. The
//! global keeps every one of the leaf's samples, across a kill -9 and restart of itself;
//! Prometheus keeps about one in fifteen.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::federate::now_ms;
use crate::harness::*;
use crate::prometheus::{federation_job, Prometheus};
use crate::query_api::{matrix, LabelMap};

/// An exporter whose values change at every scrape: a counter, a gauge, and a histogram
/// whose buckets must stay together.
fn changing_exporter() -> Exporter {
    let scrapes = Arc::new(AtomicU64::new(0));
    Exporter::start(move |_| {
        let n = scrapes.fetch_add(1, Ordering::SeqCst) as f64;
        Reply::Text(format!(
            "# TYPE e_total counter\ne_total {n}\n\
             # TYPE e_gauge gauge\ne_gauge{{kind=\"sine\"}} {}\n\
             # TYPE e_seconds histogram\n\
             e_seconds_bucket{{le=\"0.1\"}} {}\ne_seconds_bucket{{le=\"1\"}} {}\n\
             e_seconds_bucket{{le=\"+Inf\"}} {n}\ne_seconds_sum {}\ne_seconds_count {n}\n",
            (n / 3.0).sin(),
            (n / 4.0).floor(),
            (n / 2.0).floor(),
            n * 0.37,
        ))
    })
}

/// The raw samples of `{job="exp"}` in the `seconds` before `at_ms`, by label set less the
/// leaf's external `dc` label.
fn samples(
    node: std::net::SocketAddr,
    seconds: i64,
    at_ms: i64,
) -> BTreeMap<LabelMap, Vec<(i64, u64)>> {
    let expr = format!("{{job=\"exp\"}}[{seconds}s]");
    matrix(node, &expr, Some(at_ms))
        .unwrap_or_default()
        .into_iter()
        .map(|(mut labels, points)| {
            labels.remove("dc");
            let points = points.into_iter().map(|(t, v)| (t, v.to_bits())).collect();
            (labels, points)
        })
        .collect()
}

fn count(samples: &BTreeMap<LabelMap, Vec<(i64, u64)>>) -> usize {
    samples.values().map(Vec::len).sum()
}

#[test]
fn every_sample_federation_keeps_every_leaf_sample_across_a_kill() {
    let exporter = changing_exporter();
    let leaf = Wasmfed::start(&format!(
        "{}scrape_configs:\n{}",
        global_section("  external_labels:\n    dc: eu\n"),
        static_job("exp", &[exporter.addr], "")
    ));
    let every = format!(
        "{}    federation:\n      every_sample: true\n",
        federation_job("leaf", leaf.addr, "{job=\"exp\"}")
    );
    let global_config = |job: &str| {
        format!("global:\n  scrape_interval: 15s\n  scrape_timeout: 10s\nscrape_configs:\n{job}")
    };
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("wasmfed.yml");
    std::fs::write(&config_path, global_config(&every)).unwrap();
    let global = Wasmfed::start_with(dir, &config_path, &[]);
    let prometheus = Prometheus::start(&global_config(&federation_job(
        "leaf",
        leaf.addr,
        "{job=\"exp\"}",
    )));
    let start = now_ms();
    let window_s = 120;
    let (window_start, window_end) = (start + 5_000, start + 5_000 + window_s * 1000);

    // Half-way, the global dies without a word and comes back 20 s (more than an interval)
    // later on the same storage.
    std::thread::sleep(Duration::from_millis(
        (window_start + 55_000 - now_ms()) as u64,
    ));
    let dir = global.kill_keeping_dir();
    std::thread::sleep(Duration::from_secs(20));
    let global = Wasmfed::start_with(dir, &config_path, &[]);
    std::thread::sleep(Duration::from_millis((window_end - now_ms()).max(0) as u64));

    let leaf_samples = samples(leaf.addr, window_s, window_end);
    let n = count(&leaf_samples);
    // 6 series scraped every second, less the scrapes a loaded machine may skip.
    assert!(
        n > 6 * 100,
        "the leaf holds {n} samples in {window_s} s: {leaf_samples:?}"
    );
    let started = Instant::now();
    let ours = wait_for(
        "the wasmfed global to hold the window",
        Duration::from_secs(60),
        || {
            let ours = samples(global.addr, window_s, window_end);
            match count(&ours) >= n {
                true => Ok(ours),
                false => Err(format!("{} of {n} samples", count(&ours))),
            }
        },
    );
    assert_eq!(
        ours, leaf_samples,
        "every sample, value and timestamp, once"
    );
    let theirs = count(&samples(prometheus.addr, window_s, window_end));
    assert!(
        theirs > 0 && theirs * 8 < n,
        "Prometheus' /federate keeps about one sample in 15: {theirs} of {n}"
    );
    eprintln!(
        "every-sample: leaf {n}, wasmfed global {}, Prometheus global {theirs} samples; caught up {:?} after the window",
        count(&ours),
        started.elapsed()
    );
    // The restart resumed from the cursor kept on disk: the leaf was not asked to start over.
    let resets =
        global.metric("wasmfed_every_sample_cursor_resets_total{tenant=\"default\",job=\"leaf\"}");
    assert_eq!(resets.unwrap_or(0.0), 0.0);
    assert!(
        global.log_text().contains("every-sample cursors read"),
        "{}",
        global.log_text()
    );
}
