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

/// The global's samples of the window once it holds as many as the leaf (`n`).
fn holding(
    global: &Wasmfed,
    n: usize,
    window_s: i64,
    window_end: i64,
) -> BTreeMap<LabelMap, Vec<(i64, u64)>> {
    wait_for(
        "the global to hold the window",
        Duration::from_secs(60),
        || {
            let ours = samples(global.addr, window_s, window_end);
            match count(&ours) >= n {
                true => Ok(ours),
                false => Err(format!("{} of {n} samples", count(&ours))),
            }
        },
    )
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
    let ours = holding(&global, n, window_s, window_end);
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

/// One series' raw samples at `node` in the `seconds` before `at_ms`, with its labels.
fn one_series(
    node: std::net::SocketAddr,
    expr: &str,
    seconds: i64,
    at_ms: i64,
) -> (LabelMap, Vec<(i64, f64)>) {
    let series = matrix(node, &format!("{expr}[{seconds}s]"), Some(at_ms)).unwrap();
    assert_eq!(
        series.len(),
        1,
        "one series, not one per replica: {series:?}"
    );
    series.into_iter().next().unwrap()
}

#[test]
fn ha_replica_pairs_store_one_copy_and_fail_over() {
    // Values from the clock, so both replicas scrape the same exporter without disturbing it.
    let exporter =
        Exporter::start(|_| Reply::Text(format!("e_gauge {}\n", (now_ms() / 1000) % 1000)));
    let leaf = |replica: &str| {
        format!(
            "{}scrape_configs:\n{}",
            global_section(&format!(
                "  external_labels:\n    cluster: eu\n    replica: {replica}\n"
            )),
            static_job("exp", &[exporter.addr], "")
        )
    };
    let leaf_a = Wasmfed::start(&leaf("a"));
    let global = |every_sample: bool, targets: &str| {
        Wasmfed::start(&format!(
            "global:\n  scrape_interval: 5s\n  scrape_timeout: 5s\nscrape_configs:\n  - job_name: leaves\n    \
             metrics_path: /federate\n    honor_labels: true\n    params: {{'match[]': ['{{job=\"exp\"}}']}}\n    \
             federation: {{every_sample: {every_sample}, replica_label: replica, failover_timeout: 10s}}\n    \
             static_configs: [{{targets: [{targets}]}}]\n"
        ))
    };
    // Replica b starts later, so a is elected first; both globals know both replicas.
    let leaf_b_port = free_port();
    let targets = format!("'{}', '127.0.0.1:{leaf_b_port}'", leaf_a.addr);
    let (every, plain) = (global(true, &targets), global(false, &targets));
    let start = now_ms();
    for node in [&every, &plain] {
        wait_for(
            "the globals to store a's samples",
            Duration::from_secs(30),
            || {
                let n = matrix(node.addr, "e_gauge[1m]", None)
                    .unwrap_or_default()
                    .len();
                if n == 1 {
                    Ok(())
                } else {
                    Err(format!("{n} series"))
                }
            },
        );
    }
    let leaf_b = Wasmfed::start_on(leaf_b_port, &leaf("b"));
    std::thread::sleep(Duration::from_secs(15));
    let killed_at = now_ms();
    drop(leaf_a.kill_keeping_dir());
    // The fail-over timeout, then an interval to take over and one to fetch.
    std::thread::sleep(Duration::from_secs(30));
    let end = now_ms() - 3_000;
    let seconds = (end - start) / 1000;
    let b_samples = one_series(leaf_b.addr, "e_gauge", seconds, end).1;
    for (node, mode) in [(&every, "every-sample"), (&plain, "plain")] {
        let (labels, samples) = one_series(node.addr, "e_gauge", seconds, end);
        assert_eq!(labels.get("replica"), None, "{mode}: {labels:?}");
        assert_eq!(labels.get("cluster").map(String::as_str), Some("eu"));
        if mode == "every-sample" {
            // No hole: after a's last sample, every one of b's (up to the newest fetched).
            let a_last = samples
                .iter()
                .rev()
                .find(|s| !b_samples.contains(s))
                .unwrap()
                .0;
            let newest = samples.last().unwrap().0;
            let missing: Vec<_> = b_samples
                .iter()
                .filter(|s| s.0 > a_last && s.0 <= newest && !samples.contains(s))
                .collect();
            assert!(
                missing.is_empty(),
                "{mode}: b's {missing:?} missing after a's last at {a_last}"
            );
        } else {
            // A hole of at most the fail-over timeout and the intervals around it.
            let widest = samples
                .windows(2)
                .map(|w| w[1].0 - w[0].0)
                .max()
                .unwrap_or(0);
            assert!(
                widest <= 25_000,
                "{mode}: a gap of {widest} ms around the kill at {killed_at}: {samples:?}"
            );
        }
        let after: Vec<_> = samples.iter().filter(|s| s.0 > killed_at).collect();
        assert!(!after.is_empty(), "{mode}: nothing stored after the kill");
        for s in after {
            assert!(
                b_samples.contains(s),
                "{mode}: {s:?} is not one of b's samples"
            );
        }
        assert_eq!(
            node.metric("wasmfed_ha_failovers_total{tenant=\"default\",job=\"leaves\"}"),
            Some(1.0),
            "{mode}"
        );
        assert!(node.log_text().contains("this one takes over"), "{mode}");
        let elected = |replica: &str| {
            node.metric(&format!(
                "wasmfed_ha_elected_replica{{tenant=\"default\",job=\"leaves\",cluster=\"eu\",replica=\"{replica}\"}}"
            ))
        };
        assert_eq!((elected("a"), elected("b")), (None, Some(1.0)), "{mode}");
    }
}

#[test]
fn remote_read_pulls_every_sample_from_a_prometheus_leaf() {
    let exporter = changing_exporter();
    let leaf = Prometheus::start(&format!(
        "{}scrape_configs:\n{}",
        global_section("  external_labels:\n    dc: eu\n"),
        static_job("exp", &[exporter.addr], "")
    ));
    let global = Wasmfed::start(&format!(
        "global:\n  scrape_interval: 15s\n  scrape_timeout: 10s\nscrape_configs:\n  - job_name: leaf\n    \
         metrics_path: /api/v1/read\n    honor_labels: true\n    params: {{'match[]': ['{{job=\"exp\"}}']}}\n    \
         federation: {{remote_read: true}}\n    static_configs: [{{targets: ['{}']}}]\n",
        leaf.addr
    ));
    let window_s = 120;
    let window_end = now_ms() + 5_000 + window_s * 1000;
    std::thread::sleep(Duration::from_millis((window_end - now_ms()) as u64));
    let theirs = samples(leaf.addr, window_s, window_end);
    let n = count(&theirs);
    assert!(
        n > 6 * 100,
        "the leaf holds {n} samples in {window_s} s: {theirs:?}"
    );
    let ours = holding(&global, n, window_s, window_end);
    assert_eq!(ours, theirs, "every sample of the Prometheus leaf, once");
    let pages = global.metric("wasmfed_every_sample_pages_total{tenant=\"default\",job=\"leaf\"}");
    assert!(
        pages.unwrap_or(0.0) >= 8.0,
        "one pull per interval: {pages:?}"
    );
}
