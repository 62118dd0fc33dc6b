//! Differential fuzzing of PromQL (issue #22): random queries, valid and invalid, asked of
//! wasmfed (`--query.compat=2`) and Debian's Prometheus 2.42 over identical stored samples,
//! as instant queries at evaluation times on and off the samples' timestamps and as range
//! queries (`range.rs`, issue #20); every answer must match (see `compare.rs`) unless
//! `known.rs` lists the difference.
//!
//! `WASMFED_DIFF_CASES` (default 300) sets how many instant queries,
//! `WASMFED_DIFF_RANGE_CASES` (default 150) how many range queries, `WASMFED_DIFF_SEED`
//! (default 22) which ones; a failure prints both answers, so it can be replayed.

pub(crate) mod compare;
mod data;
pub(crate) mod gen;
mod known;
mod max_samples;
mod range;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::federate::now_ms;
use crate::harness::*;
use crate::prometheus::Prometheus;
use crate::query_api::{raw_samples, vector};
use compare::{ask, compare, Verdict};
use data::{SPAN_MS, STEP_MS};
use gen::{Generator, Rng};

/// A number from the environment, or `default` when unset; a set value must be a number.
pub(crate) fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
        .unwrap_or(default)
}

/// Evaluation times, as offsets from the data set's start: on sample timestamps (where a
/// window's left edge falls exactly on a sample), just off them, between them, before the
/// data and after it (as series leave the 5-minute lookback).
const EVAL_OFFSETS_MS: &[i64] = &[
    -60_000,
    0,
    4 * 60_000,
    5 * 60_000,
    7 * 60_000 + 7_500,
    10 * 60_000,
    10 * 60_000 + 1,
    12 * 60_000 - 1,
    14 * 60_000 + 59_999,
    15 * 60_000,
    SPAN_MS,
    SPAN_MS + 37_000,
    SPAN_MS + 4 * 60_000 + 59_999,
    SPAN_MS + 6 * 60_000,
];

/// A selector of every series of the data set (and nothing the scrapers add).
fn whole_data_set() -> String {
    format!("{{__name__=~\"{}\"}}", data::NAMES.join("|"))
}

/// The raw samples of the data set at `at`, with every NaN spelled the same so `==`
/// compares them.
fn raw(addr: std::net::SocketAddr, at: i64) -> Result<BTreeMap<String, Vec<(i64, u64)>>, String> {
    raw_samples(addr, &format!("{}[1h]", whole_data_set()), at)
}

/// Waits until `addr` holds every sample of the data set, and returns them.
fn stored_samples(
    what: &str,
    addr: std::net::SocketAddr,
    at: i64,
) -> BTreeMap<String, Vec<(i64, u64)>> {
    let want = data::sample_count();
    wait_for(what, Duration::from_secs(60), || {
        let samples = raw(addr, at)?;
        let got: usize = samples.values().map(Vec::len).sum();
        if got == want {
            Ok(samples)
        } else {
            Err(format!("{got} of {want} samples"))
        }
    })
}

/// Waits until `addr` counts every sample of the data set (a query that holds little, for a
/// server that may refuse to return them all).
fn counted(what: &str, addr: std::net::SocketAddr, at: i64) {
    let want = data::sample_count() as f64;
    wait_for(what, Duration::from_secs(60), || {
        let mut got = 0.0;
        // Name by name: the counts of all, names dropped, would collide.
        for name in data::NAMES {
            let expr = format!("sum(count_over_time({name}[1h]))");
            got += vector(addr, &expr, Some(at))?
                .first()
                .map_or(0.0, |(_, n)| *n);
        }
        if got == want {
            Ok(())
        } else {
            Err(format!("{got} of {want} samples"))
        }
    });
}

/// Prometheus and wasmfed, both started with `extra_args`, holding the same data set from
/// `t0` on (compared sample for sample when `compare_raw`, counted otherwise).
struct Pair {
    prometheus: Prometheus,
    node: Wasmfed,
    t0: i64,
    _exporter: Exporter,
}

fn start_pair(extra_args: &[&str], compare_raw: bool) -> Pair {
    // Whole minutes, well in the past: the data ends ten minutes before now.
    let t0 = (now_ms() - 30 * 60_000) / 60_000 * 60_000;
    let exposition = data::exposition(t0);
    let exporter = Exporter::start(move |_| Reply::Text(exposition.clone()));
    let config = format!(
        "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\nscrape_configs:\n{}",
        static_job("diff", &[exporter.addr], "")
    );
    let prometheus = Prometheus::start_args(&config, extra_args);
    let node = Wasmfed::start_args(&config, extra_args);
    let end = t0 + SPAN_MS;
    if compare_raw {
        let theirs = stored_samples("prometheus to store the data set", prometheus.addr, end);
        let ours = stored_samples("wasmfed to store the data set", node.addr, end);
        assert!(theirs == ours, "the two stored different samples");
    } else {
        counted("prometheus to store the data set", prometheus.addr, end);
        counted("wasmfed to store the data set", node.addr, end);
    }
    assert_eq!(t0 % STEP_MS, 0);
    Pair {
        prometheus,
        node,
        t0,
        _exporter: exporter,
    }
}

#[test]
fn promql_differential() {
    let cases = env_or("WASMFED_DIFF_CASES", 300);
    let seed = env_or("WASMFED_DIFF_SEED", 22);
    let Pair {
        prometheus,
        node,
        t0,
        _exporter,
    } = start_pair(&[], true);

    let mut generator = Generator::new(seed, t0);
    let mut times = Rng::new(seed ^ 0x5eed);
    let (mut compared, mut messages, mut tolerated) = (0, 0, BTreeMap::<&str, usize>::new());
    let mut failures = Vec::new();
    for index in 0..cases {
        let case = generator.case();
        for _ in 0..3 {
            let at = t0 + times.pick(EVAL_OFFSETS_MS);
            let theirs = ask(prometheus.addr, &case.expr, at).unwrap();
            let ours = ask(node.addr, &case.expr, at).unwrap();
            compared += 1;
            match compare(&theirs, &ours, case.ordered) {
                Verdict::Same => {}
                Verdict::SameErrorOtherMessage => messages += 1,
                Verdict::Different(why) => {
                    match known::recognise(&case.expr, at, &theirs, &ours) {
                        Some(k) => *tolerated.entry(k.name).or_default() += 1,
                        None => failures.push(format!(
                            "case {index} (seed {seed}) at t0{:+}ms: {}\n  {why}\n  prometheus: {theirs:?}\n  wasmfed:    {ours:?}",
                            at - t0,
                            case.expr
                        )),
                    }
                }
            }
            if case.meant_invalid {
                break; // one evaluation time is enough for a query that is meant to fail
            }
        }
    }
    eprintln!(
        "promql_differential: seed {seed}, {cases} queries, {compared} comparisons: {} differ, {} known {tolerated:?}, {messages} errors worded otherwise",
        failures.len(),
        tolerated.values().sum::<usize>(),
    );
    let range_cases = env_or("WASMFED_DIFF_RANGE_CASES", 150);
    let (range_compared, range_messages, range_failures) =
        range::run(prometheus.addr, node.addr, t0, seed, range_cases);
    eprintln!(
        "promql_differential: {range_compared} range queries: {} differ, {range_messages} errors worded otherwise",
        range_failures.len(),
    );
    compared += range_compared;
    failures.extend(range_failures);
    assert!(
        failures.is_empty(),
        "{} of {compared} comparisons differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `--query.max-samples` (issue #20): for each query, the smallest range (or window) at which
/// Prometheus 2.42 refuses it for holding too many samples must be wasmfed's too.
#[test]
fn max_samples_differential() {
    let flag = format!("--query.max-samples={}", max_samples::LIMIT);
    let pair = start_pair(&[&flag], false);
    let failures = max_samples::run(pair.prometheus.addr, pair.node.addr, pair.t0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
