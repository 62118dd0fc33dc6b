//! Horizontal sharding end to end: `hashmod` relabel rules keep exactly the targets the real
//! Prometheus keeps on each shard, the stock `hashmod-shard` plugin agrees with them, and the
//! rendezvous example plugin moves few targets when a node joins.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::*;
use crate::prometheus::Prometheus;

const SHARDS: u64 = 3;

pub(crate) fn shard_jobs(addresses: &[String]) -> String {
    let targets = addresses
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(", ");
    (0..SHARDS)
        .map(|shard| {
            format!(
                "  - job_name: shard{shard}\n    scrape_interval: 1m\n    static_configs:\n      - targets: [{targets}]\n\
                 \x20   relabel_configs:\n\
                 \x20     - source_labels: [__address__]\n        modulus: {SHARDS}\n        target_label: __tmp_hash\n        action: hashmod\n\
                 \x20     - source_labels: [__tmp_hash]\n        regex: ^{shard}$\n        action: keep\n"
            )
        })
        .collect()
}

/// The discovered addresses of the active targets of `job`.
fn kept_by(targets: &serde_json::Value, job: &str) -> BTreeSet<String> {
    targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["scrapePool"] == job)
        .map(|t| {
            t["discoveredLabels"]["__address__"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// How many targets `job` has decided: active ones plus those its relabeling dropped.
fn decided_by(targets: &serde_json::Value, job: &str) -> usize {
    let data = &targets["data"];
    let active = data["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["scrapePool"] == job)
        .count();
    active + dropped_by(targets, job)
}

fn kept_by_job(targets: &serde_json::Value) -> Vec<(String, BTreeSet<String>)> {
    (0..SHARDS)
        .map(|shard| {
            let job = format!("shard{shard}");
            let kept = kept_by(targets, &job);
            (job, kept)
        })
        .collect()
}

#[test]
fn hashmod_shards_keep_what_prometheus_keeps() {
    // Addresses nothing listens on: both sides list them as targets (down), which is all we compare.
    let addresses: Vec<String> = (0..40)
        .map(|i| format!("127.0.0.{}:{}", 2 + i % 7, 9100 + i))
        .collect();
    let config = format!(
        "global:\n  scrape_timeout: 1s\nscrape_configs:\n{}",
        shard_jobs(&addresses)
    );
    let prometheus = Prometheus::start(&config);
    let node = Wasmfed::start(&config);
    // Ready is not "every job's target stage has run" (nor is it in Prometheus, whose discovery
    // is asynchronous too): wait until each job has decided every address, kept or dropped.
    wait_for(
        "every job to decide its targets",
        Duration::from_secs(30),
        || {
            let targets = node.targets();
            let undecided: Vec<(String, usize)> = (0..SHARDS)
                .map(|shard| format!("shard{shard}"))
                .map(|job| {
                    let decided = decided_by(&targets, &job);
                    (job, decided)
                })
                .filter(|(_, decided)| *decided != addresses.len())
                .collect();
            if undecided.is_empty() {
                Ok(())
            } else {
                Err(format!("decided so far: {undecided:?}"))
            }
        },
    );
    let ours = kept_by_job(&node.targets());
    let total: usize = ours.iter().map(|(_, kept)| kept.len()).sum();
    assert_eq!(
        total,
        addresses.len(),
        "every target lands in exactly one shard: {ours:?}"
    );
    assert!(ours.iter().all(|(_, kept)| !kept.is_empty()), "{ours:?}");
    wait_for(
        "prometheus to keep the same targets per shard",
        Duration::from_secs(60),
        || {
            let theirs = kept_by_job(&get(prometheus.addr, "/api/v1/targets")?.json());
            if theirs == ours {
                Ok(())
            } else {
                Err(format!("prometheus {theirs:?}\nwasmfed {ours:?}"))
            }
        },
    );
}

#[test]
fn hashmod_shard_plugin_agrees_with_relabel_hashmod() {
    let addresses: Vec<String> = (0..40)
        .map(|i| format!("10.1.{}.{}:9100", i / 10, i))
        .collect();
    let targets = addresses
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut config = format!(
        "global:\n  scrape_timeout: 1s\nscrape_configs:\n{}",
        shard_jobs(&addresses)
    );
    for shard in 0..SHARDS {
        config.push_str(&format!(
            "  - job_name: plugin{shard}\n    scrape_interval: 1m\n    static_configs:\n      - targets: [{targets}]\n\
             \x20   target_plugins:\n      - stock: hashmod-shard\n        config: {{modulus: {SHARDS}, shard: {shard}}}\n"
        ));
    }
    let node = Wasmfed::start(&config);
    let view = wait_for("every job's targets", Duration::from_secs(20), || {
        let view = node.targets();
        let jobs = view["data"]["activeTargets"]
            .as_array()
            .map_or(0, |a| a.len());
        // 40 targets kept once by the three relabel shards and once by the three plugin shards.
        if jobs == 2 * addresses.len() {
            Ok(view)
        } else {
            Err(format!("{jobs} active"))
        }
    });
    let by_relabel = kept_by_job(&view);
    for (shard, (_, kept)) in by_relabel.iter().enumerate() {
        let by_plugin = kept_by(&view, &format!("plugin{shard}"));
        assert_eq!(&by_plugin, kept, "shard {shard}");
        // The live relabel view names the step that dropped each other target.
        let trace = get(node.addr, &format!("/api/v1/relabel?job=plugin{shard}"))
            .unwrap()
            .json();
        let targets = trace["data"]["targets"].as_array().unwrap();
        assert_eq!(targets.len(), addresses.len());
        for t in targets {
            let address = t["discoveredLabels"]["__address__"].as_str().unwrap();
            let dropped_by = if kept.contains(address) {
                serde_json::Value::Null
            } else {
                "hashmod-shard".into()
            };
            assert_eq!(t["droppedBy"], dropped_by, "{t}");
            assert_eq!(t["steps"][0]["plugin"], "hashmod-shard");
        }
    }
    assert_eq!(
        get(node.addr, "/api/v1/relabel?job=nope").unwrap().status,
        404
    );
    assert_eq!(get(node.addr, "/api/v1/relabel").unwrap().status, 400);
}

/// The custom-plugin example of `examples/rendezvous-shard`, built by host/artifacts/build.rs exactly as
/// its README tells users to (`cargo build --release --target wasm32-wasip2`).
const RENDEZVOUS: &[u8] = wasmfed_artifacts::RENDEZVOUS_SHARD;

/// Owners (job name suffix = node index) of every target, read from `/api/v1/targets`.
fn owners(
    view: &serde_json::Value,
    prefix: &str,
) -> std::collections::BTreeMap<String, Vec<usize>> {
    let mut owners: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for t in view["data"]["activeTargets"].as_array().unwrap() {
        let job = t["scrapePool"].as_str().unwrap();
        if let Some(node) = job.strip_prefix(prefix) {
            let address = t["discoveredLabels"]["__address__"]
                .as_str()
                .unwrap()
                .to_owned();
            owners
                .entry(address)
                .or_default()
                .push(node.parse().unwrap());
        }
    }
    owners
}

#[test]
fn rendezvous_example_moves_few_targets_when_a_node_joins() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("rendezvous.wasm");
    std::fs::write(&plugin, RENDEZVOUS).unwrap();
    let addresses: Vec<String> = (0..200)
        .map(|i| format!("10.2.{}.{}:9100", i / 100, i % 100))
        .collect();
    let targets = addresses
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let ring = |n: usize, prefix: &str, replicas: usize| -> String {
        let nodes: Vec<String> = (0..n).map(|i| format!("\"node-{i}\"")).collect();
        (0..n)
            .map(|i| {
                format!(
                    "  - job_name: {prefix}{i}\n    scrape_interval: 1h\n    static_configs:\n      - targets: [{targets}]\n\
                     \x20   target_plugins:\n      - file: {}\n        config: {{nodes: [{}], self: node-{i}, replicas: {replicas}}}\n",
                    plugin.display(),
                    nodes.join(", ")
                )
            })
            .collect()
    };
    let config = format!(
        "global:\n  scrape_timeout: 1s\nscrape_configs:\n{}{}{}",
        ring(4, "four", 1),
        ring(5, "five", 1),
        ring(3, "pair", 2)
    );
    let config_path = dir.path().join("wasmfed.yml");
    std::fs::write(&config_path, config).unwrap();
    let node = Wasmfed::start_with(tempfile::tempdir().unwrap(), &config_path, &[]);
    let view = wait_for("every ring's targets", Duration::from_secs(30), || {
        let view = node.targets();
        let n = view["data"]["activeTargets"]
            .as_array()
            .map_or(0, |a| a.len());
        // 200 targets once per ring of one replica, twice in the ring of two.
        if n == 200 * 4 {
            Ok(view)
        } else {
            Err(format!("{n} active"))
        }
    });
    let four = owners(&view, "four");
    let five = owners(&view, "five");
    assert_eq!(four.len(), 200);
    assert!(
        four.values().chain(five.values()).all(|o| o.len() == 1),
        "one owner each"
    );
    let moved: Vec<&String> = four.keys().filter(|a| four[*a] != five[*a]).collect();
    // 1/(N+1) = 40 of 200 expected; hashmod would move about 160.
    assert!(moved.len() <= 40 + 15, "{} moved", moved.len());
    assert!(
        moved.iter().all(|a| five[*a] == [4]),
        "only to the new node"
    );
    let pair = owners(&view, "pair");
    assert!(
        pair.values().all(|o| o.len() == 2),
        "replicas: 2 keeps each target twice"
    );
}
