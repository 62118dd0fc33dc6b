//! Recorded series point for point against the real Prometheus: one rule file, evaluated by
//! both over the same target, must give the same evaluation times, label sets and values.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::federate::now_ms;
use crate::harness::*;
use crate::prometheus::Prometheus;
use crate::query_api::*;

/// The comparison's evaluation interval, and the spacing of its counters' samples.
const STEP_MS: i64 = 4_000;

/// Rules over fixed gauges (exact whenever both have scraped) and over the stepped counters:
/// `rate` and `increase` with their extrapolation (the 20 s window fills during the test, the
/// minute does not) and a counter reset, an aggregation, and a rule that reads two earlier
/// rules of the group at the same evaluation.
const COMPARED_RULES: &str = r#"groups:
  - name: app
    rules:
      - record: job:temperature_celsius:sum
        expr: sum by (job) (temperature_celsius)
      - record: room:temperature_fahrenheit:max
        expr: max by (room) (temperature_celsius) * 1.8 + 32
      - record: job:http_requests_total:count
        expr: count by (job) (http_requests_total)
      - record: code:http_requests:rate1m
        expr: rate(http_requests_total[1m])
      - record: job:http_requests:rate1m
        expr: sum by (job) (rate(http_requests_total[1m]))
      - record: code:http_requests:increase20s
        expr: increase(http_requests_total[20s])
      - record: job:http_requests:error_ratio_rate1m
        expr: sum by (job) (code:http_requests:rate1m{code=~"5.."}) / on (job) job:http_requests:rate1m
"#;

const COMPARED_NAMES: [&str; 7] = [
    "job:temperature_celsius:sum",
    "room:temperature_fahrenheit:max",
    "job:http_requests_total:count",
    "code:http_requests:rate1m",
    "job:http_requests:rate1m",
    "code:http_requests:increase20s",
    "job:http_requests:error_ratio_rate1m",
];

/// The counters after `steps` steps: uneven increments, and one that resets every 6 steps.
fn stepped_counters(steps: i64) -> [(&'static str, f64); 3] {
    let uneven: i64 = (1..=steps).map(|i| 1 + i % 3).sum();
    [
        ("200", 1000.0 + 40.0 * uneven as f64),
        ("404", 50.0 + 5.0 * steps as f64),
        ("503", 10.0 + 3.0 * (steps % 6) as f64),
    ]
}

/// Fixed gauges, and, from `first_step` on (0: not yet), counters whose one sample per step
/// carries the step's start as its timestamp.
///
/// Counters stamped at scrape time would give each scraper its own samples, and `rate` would
/// differ by up to a few percent with where each scraper's newest sample falls (its
/// extrapolation to the window's end). Here two scrapers store exactly the same counter
/// samples, whenever each scrapes, as long as each scrapes once a step; and with steps
/// starting halfway between evaluations, each has the step's sample long before the next
/// evaluation. The rules then see identical inputs in both, so `rate` is held to the same
/// 1e-9 relative as the rest (room for a different order of summation); starting steps 0.5 s
/// before evaluations instead makes this test fail, as it should.
fn stepped_exporter(first_step: Arc<AtomicI64>) -> Exporter {
    Exporter::start(move |_| {
        let mut text = String::from(
            "temperature_celsius{room=\"a\"} 21.5\ntemperature_celsius{room=\"b\"} 19.25\ntemperature_celsius{room=\"c\"} -3.125\n",
        );
        let (first, now) = (first_step.load(Ordering::SeqCst), now_ms());
        if first > 0 && now >= first {
            let steps = (now - first) / STEP_MS;
            let ts = first + steps * STEP_MS;
            for (code, value) in stepped_counters(steps) {
                text.push_str(&format!(
                    "http_requests_total{{code=\"{code}\"}} {value} {ts}\n"
                ));
            }
        }
        Reply::Text(text)
    })
}

/// Every sample of the compared rules at or before `at_ms`, by evaluation time.
fn recorded(addr: SocketAddr, at_ms: i64) -> BTreeMap<i64, BTreeMap<LabelMap, f64>> {
    let mut out: BTreeMap<i64, BTreeMap<LabelMap, f64>> = BTreeMap::new();
    for name in COMPARED_NAMES {
        for (labels, samples) in matrix(addr, &format!("{name}[5m]"), Some(at_ms)).unwrap() {
            for (t, v) in samples {
                out.entry(t).or_default().insert(labels.clone(), v);
            }
        }
    }
    out
}

fn evaluation_times(addr: SocketAddr, name: &str) -> Result<BTreeSet<i64>, String> {
    Ok(matrix(addr, &format!("{name}[5m]"), None)?
        .into_iter()
        .flat_map(|(_, samples)| samples.into_iter().map(|(t, _)| t))
        .collect())
}

fn same_value(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// What differs between two evaluations' samples.
fn differences(theirs: &BTreeMap<LabelMap, f64>, ours: &BTreeMap<LabelMap, f64>) -> Vec<String> {
    let mut out = Vec::new();
    for (labels, v) in theirs {
        match ours.get(labels) {
            None => out.push(format!("  only Prometheus has {labels:?} = {v}")),
            Some(w) if !same_value(*v, *w) => {
                out.push(format!("  {labels:?}: Prometheus {v}, wasmfed {w}"))
            }
            Some(_) => {}
        }
    }
    for (labels, w) in ours {
        if !theirs.contains_key(labels) {
            out.push(format!("  only wasmfed has {labels:?} = {w}"));
        }
    }
    out
}

#[test]
fn recorded_series_match_prometheus() {
    let first_step = Arc::new(AtomicI64::new(0));
    let exporter = stepped_exporter(first_step.clone());
    // One rule file at one absolute path: the group is the same `file;name` in both, so the
    // same phase.
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, COMPARED_RULES).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: {}ms\nrule_files: ['{}']\nscrape_configs:\n{}",
        STEP_MS,
        rules.display(),
        static_job("app", &[exporter.addr], ""),
    );
    let prometheus = Prometheus::start(&config);
    let node = Wasmfed::start(&config);
    let first_evaluation = |addr: SocketAddr| {
        move || match evaluation_times(addr, COMPARED_NAMES[0])?.first() {
            Some(t) => Ok(*t),
            None => Err("no evaluation yet".to_string()),
        }
    };
    let theirs_first = wait_for(
        "Prometheus' first evaluation",
        Duration::from_secs(60),
        first_evaluation(prometheus.addr),
    );
    wait_for(
        "wasmfed's first evaluation",
        Duration::from_secs(60),
        first_evaluation(node.addr),
    );
    // Steps start halfway between Prometheus' evaluations, from at least a second from now.
    let mut first = theirs_first + STEP_MS / 2;
    while first < now_ms() + 1000 {
        first += STEP_MS;
    }
    first_step.store(first, Ordering::SeqCst);
    const EVALUATIONS: usize = 8;
    // The newest evaluation but one that both made: both are done writing it.
    let until = wait_for(
        "evaluations over the counters in both",
        Duration::from_secs(60 + EVALUATIONS as u64 * STEP_MS as u64 / 1000),
        || {
            let name = "job:http_requests_total:count";
            let theirs = evaluation_times(prometheus.addr, name)?;
            let ours = evaluation_times(node.addr, name)?;
            let both: Vec<i64> = theirs.intersection(&ours).copied().collect();
            if both.len() > EVALUATIONS {
                Ok(both[both.len() - 2])
            } else {
                Err(format!("Prometheus at {theirs:?}, wasmfed at {ours:?}"))
            }
        },
    );
    let theirs = recorded(prometheus.addr, until);
    let ours = recorded(node.addr, until);

    // Same group, same phase formula: the evaluations should fall on the same milliseconds.
    // If not, that is reported, and the values are compared at the nearest evaluations.
    let mut problems = Vec::new();
    let phases = |by_time: &BTreeMap<i64, _>| -> BTreeSet<i64> {
        by_time.keys().map(|t| t.rem_euclid(STEP_MS)).collect()
    };
    let (their_phase, our_phase) = (phases(&theirs), phases(&ours));
    if their_phase != our_phase || their_phase.len() != 1 {
        problems.push(format!(
            "evaluation times differ (the group's phase, host/rules/src/schedule.rs): Prometheus evaluates {their_phase:?} ms into each {STEP_MS} ms, wasmfed {our_phase:?} ms"
        ));
    }
    let nearest = |by_time: &BTreeMap<i64, BTreeMap<LabelMap, f64>>, t: i64| {
        by_time
            .range(t - STEP_MS / 2..=t + STEP_MS / 2)
            .min_by_key(|(u, _)| (*u - t).abs())
            .map(|(u, samples)| (*u, samples.clone()))
    };
    // Per rule, how many evaluations it had results in.
    let mut compared: BTreeMap<String, usize> = BTreeMap::new();
    for (t, their_samples) in theirs.range(first..) {
        match nearest(&ours, *t) {
            None => problems.push(format!("Prometheus evaluated at {t}, wasmfed not")),
            Some((u, our_samples)) => {
                let names: BTreeSet<&String> =
                    their_samples.keys().map(|l| &l["__name__"]).collect();
                for name in names {
                    *compared.entry(name.clone()).or_default() += 1;
                }
                let diff = differences(their_samples, &our_samples);
                if !diff.is_empty() {
                    problems.push(format!(
                        "Prometheus at {t} vs wasmfed at {u}:\n{}",
                        diff.join("\n")
                    ));
                }
            }
        }
    }
    for t in ours.range(first..).map(|(t, _)| *t) {
        if nearest(&theirs, t).is_none() {
            problems.push(format!("wasmfed evaluated at {t}, Prometheus not"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Every rule had results in most evaluations (the rates need two steps): the comparison
    // was not vacuous.
    for name in COMPARED_NAMES {
        let n = compared.get(name).copied().unwrap_or(0);
        assert!(n >= EVALUATIONS - 2, "{name} compared at {n} evaluations");
    }
}
