//! Differential fuzzing of target relabeling (issue #22): random rule lists over random
//! discovered label sets, loaded by wasmfed (`--query.compat=2`) and Debian's Prometheus 2.42
//! from the same configuration and file_sd file; `/api/v1/targets` must list the same active
//! targets (labels and scrape URL) and as many dropped ones, job by job. (Seen here: 2.42 lists
//! some dropped targets' "discovered" labels as the rules left them when they dropped the
//! target; wasmfed lists them as discovered. Dropped targets are compared by number.)
//!
//! `WASMFED_RELABEL_ROUNDS` (default 3) sets how many configurations, `WASMFED_RELABEL_SEED`
//! (default 7) which ones; a failure prints the configuration, so it can be replayed.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::differential::env_or;
use crate::differential::gen::Rng;
use crate::harness::*;
use crate::prometheus::Prometheus;

const NAMES: &[&str] = &[
    "env",
    "team",
    "zone",
    "app",
    "role",
    "__meta_kind",
    "__meta_tier",
];
const VALUES: &[&str] = &["prod", "dev", "eu-west", "a_b", "X1", "", "web", "Web"];
const REGEXES: &[&str] = &[
    "(.*)",
    "prod|dev",
    "(.+)-(.+)",
    "w.*",
    "(?i)web",
    ".*_(.*)",
    "[a-z]+",
    "__meta_(.+)",
    "",
];
const REPLACEMENTS: &[&str] = &["$1", "${1}_$2", "x", "", "$2-$1", "static"];
const TARGET_LABELS: &[&str] = &[
    "env",
    "out",
    "team",
    "__param_q",
    "__metrics_path__",
    "${1}",
    "lbl_$1",
];

/// A YAML flow sequence of quoted strings.
fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// One random, valid relabel rule (YAML, indented for `relabel_configs:`).
fn rule(rng: &mut Rng) -> String {
    let sources: Vec<&str> = (0..1 + rng.below(2)).map(|_| *rng.pick(NAMES)).collect();
    let regex = rng.pick(REGEXES);
    let action = *rng.pick(&[
        "replace",
        "replace",
        "replace",
        "keep",
        "drop",
        "labelmap",
        "labeldrop",
        "labelkeep",
        "hashmod",
        "lowercase",
        "uppercase",
        "keepequal",
        "dropequal",
    ]);
    let mut out = format!("      - action: {action}\n");
    let target = rng.pick(TARGET_LABELS);
    let plain_target = *rng.pick(&["env", "out", "team", "zone"]);
    match action {
        "replace" => {
            out += &format!(
                "        source_labels: {}\n        separator: '{}'\n        regex: '{regex}'\n        target_label: '{target}'\n        replacement: '{}'\n",
                list(&sources),
                rng.pick(&[";", "-", ""]),
                rng.pick(REPLACEMENTS)
            );
        }
        "keep" | "drop" => {
            out += &format!(
                "        source_labels: {}\n        regex: '{regex}'\n",
                list(&sources)
            );
        }
        "labelmap" => {
            out += &format!(
                "        regex: '{}'\n        replacement: '{}'\n",
                rng.pick(&["__meta_(.+)", "(e.*)", "__meta_(kind)"]),
                rng.pick(&["$1", "m_$1"])
            );
        }
        "labeldrop" | "labelkeep" => {
            // labelkeep must keep what a target needs to exist.
            let regex = if action == "labelkeep" {
                "__.*|env|team|job|instance"
            } else {
                *rng.pick(&["zone", "te.*", "__meta_tier", "app|role"])
            };
            out += &format!("        regex: '{regex}'\n");
        }
        "hashmod" => {
            out += &format!(
                "        source_labels: {}\n        modulus: {}\n        target_label: '{plain_target}'\n",
                list(&sources),
                1 + rng.below(5)
            );
        }
        "lowercase" | "uppercase" => {
            out += &format!(
                "        source_labels: {}\n        target_label: '{plain_target}'\n",
                list(&sources)
            );
        }
        _ => {
            out += &format!(
                "        source_labels: {}\n        target_label: '{plain_target}'\n",
                list(&sources)
            );
        }
    }
    out
}

/// Random target groups for file_sd (JSON), all on closed loopback ports.
fn groups(rng: &mut Rng) -> String {
    let mut out = Vec::new();
    for g in 0..3 + rng.below(3) {
        let targets: Vec<String> = (0..1 + rng.below(3))
            .map(|t| format!("\"127.0.0.1:{}\"", 1 + g * 10 + t))
            .collect();
        let labels: Vec<String> = (0..rng.below(5))
            .map(|_| format!("\"{}\": \"{}\"", rng.pick(NAMES), rng.pick(VALUES)))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // A label named twice in one group: keep the JSON valid by deduplicating names.
        let mut seen = BTreeSet::new();
        let labels: Vec<String> = labels
            .into_iter()
            .filter(|l| seen.insert(l.split(':').next().unwrap().to_owned()))
            .collect();
        out.push(format!(
            "{{\"targets\": [{}], \"labels\": {{{}}}}}",
            targets.join(", "),
            labels.join(", ")
        ));
    }
    format!("[{}]", out.join(",\n "))
}

/// Each job's active targets (labels and scrape URL) and its number of dropped targets.
fn listing(targets: &serde_json::Value) -> BTreeSet<String> {
    let active = targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "active {} {} {}",
                t["scrapePool"], t["labels"], t["scrapeUrl"]
            )
        });
    let dropped = (0..4).map(|job| {
        format!(
            "dropped j{job}: {}",
            dropped_by(targets, &format!("j{job}"))
        )
    });
    active.chain(dropped).collect()
}

#[test]
fn target_relabeling_matches_prometheus_on_random_rules() {
    let rounds = env_or("WASMFED_RELABEL_ROUNDS", 3);
    let seed = env_or("WASMFED_RELABEL_SEED", 7);
    let mut rng = Rng::new(seed);
    for round in 0..rounds {
        let dir = tempfile::tempdir().unwrap();
        let sd = dir.path().join("targets.json");
        std::fs::write(&sd, groups(&mut rng)).unwrap();
        let mut config =
            "global:\n  scrape_interval: 1m\n  scrape_timeout: 1s\nscrape_configs:\n".to_owned();
        for job in 0..4 {
            config += &format!(
                "  - job_name: j{job}\n    file_sd_configs: [{{files: ['{}']}}]\n    relabel_configs:\n",
                sd.display()
            );
            for _ in 0..1 + rng.below(4) {
                config += &rule(&mut rng);
            }
        }
        let node = Wasmfed::start(&config);
        let prometheus = Prometheus::start(&config);
        let context = format!(
            "seed {seed} round {round}\n{config}\ntargets: {}",
            std::fs::read_to_string(&sd).unwrap()
        );
        wait_for(
            &format!("the same targets ({context})"),
            Duration::from_secs(40),
            || {
                let ours = listing(&node.targets());
                let theirs = listing(&get(prometheus.addr, "/api/v1/targets").unwrap().json());
                if ours == theirs && !ours.is_empty() {
                    Ok(())
                } else {
                    let only_ours: Vec<_> = ours.difference(&theirs).collect();
                    let only_theirs: Vec<_> = theirs.difference(&ours).collect();
                    Err(format!(
                        "only wasmfed: {only_ours:#?}\nonly prometheus: {only_theirs:#?}"
                    ))
                }
            },
        );
    }
}
