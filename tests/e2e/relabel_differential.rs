//! Differential fuzzing of target relabeling (issue #22): random rule lists over random
//! discovered label sets, loaded by wasmfed (`--query.compat=2`) and Debian's Prometheus 2.42
//! from the same configuration and file_sd file; `/api/v1/targets` must list the same active
//! targets (labels and scrape URL) and as many dropped ones, job by job. (Seen here: 2.42 lists
//! some dropped targets' "discovered" labels as the rules left them when they dropped the
//! target; wasmfed lists them as discovered. Dropped targets are compared by number.)
//!
//! Metric relabeling the same way: random rule lists over a random exposition (explicit
//! timestamps, so both store the same points), compared through `/federate`, and whether the
//! scrape failed (`up`), as a rule that removes `__name__` or makes an invalid name fails it.
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

/// One random, valid relabel rule (YAML, indented for `relabel_configs:`) reading the label
/// names `names`.
fn rule(rng: &mut Rng, names: &[&str]) -> String {
    let sources: Vec<&str> = (0..1 + rng.below(2)).map(|_| *rng.pick(names)).collect();
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
                config += &rule(&mut rng, NAMES);
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

/// Label names of scraped series (and `__name__`) for metric relabeling rules.
const METRIC_LABELS: &[&str] = &[
    "__name__", "env", "team", "zone", "app", "role", "instance", "job",
];

/// A random exposition with explicit timestamps: a few families, random label sets.
fn exposition(rng: &mut Rng, ts: i64) -> String {
    let mut lines = BTreeSet::new();
    for _ in 0..6 + rng.below(6) {
        let name = rng.pick(&["m_a", "m_b", "x:y", "e_total"]);
        let labels: BTreeSet<String> = (0..rng.below(4))
            .map(|_| {
                let name = rng.pick(&["env", "team", "zone", "app", "role"]);
                let value = rng.pick(&["prod", "dev", "eu-west", "a_b", "X1", "web", "Web"]);
                (name, value)
            })
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .map(|(n, v)| format!("{n}=\"{v}\""))
            .collect();
        let labels: Vec<String> = labels.into_iter().collect();
        lines.insert(format!("{name}{{{}}}", labels.join(",")));
    }
    lines
        .into_iter()
        .enumerate()
        .map(|(i, series)| format!("{series} {i} {ts}\n"))
        .collect()
}

/// The exporter's series as a node stored them (its own `up` and `scrape_*` left out), and
/// whether its last scrape of the job failed.
fn stored(addr: std::net::SocketAddr) -> (BTreeSet<FederatedSample>, Option<u64>) {
    let text = federate(addr, &["{job=\"m\"}"]).text();
    let samples = samples_of(&text);
    let up = samples
        .iter()
        .find(|(labels, ..)| labels.iter().any(|(n, v)| n == "__name__" && v == "up"))
        .map(|s| s.1);
    let synthetic = [
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ];
    let exporter = samples
        .into_iter()
        .filter(|(labels, ..)| {
            !labels
                .iter()
                .any(|(n, v)| n == "__name__" && synthetic.contains(&v.as_str()))
        })
        .collect();
    (exporter, up)
}

#[test]
fn metric_relabeling_matches_prometheus_on_random_rules() {
    let rounds = env_or("WASMFED_RELABEL_ROUNDS", 3);
    let seed = env_or("WASMFED_RELABEL_SEED", 7);
    let mut rng = Rng::new(seed + 1000);
    // Two fixed rounds first: rules that fail the scrape (no name left, a name 2.42 refuses).
    let fixed = [
        "      - {action: labeldrop, regex: __name__}\n",
        "      - {source_labels: [__name__], regex: 'm_(.*)', target_label: __name__, replacement: 'x-$1'}\n",
    ];
    for round in 0..rounds as usize + fixed.len() {
        let ts = crate::federate::now_ms() - 1_000;
        let body = exposition(&mut rng, ts);
        let served = body.clone();
        let exporter = Exporter::start(move |_| Reply::Text(served.clone()));
        let mut config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: m\n    \
             static_configs: [{{targets: ['{}']}}]\n    metric_relabel_configs:\n",
            exporter.addr
        );
        match fixed.get(round) {
            Some(rules) => config += rules,
            None => {
                for _ in 0..1 + rng.below(4) {
                    config += &rule(&mut rng, METRIC_LABELS);
                }
            }
        }
        let node = Wasmfed::start(&config);
        let prometheus = Prometheus::start(&config);
        let context = format!("seed {seed} round {round}\n{config}\nexposition:\n{body}");
        wait_for(
            &format!("the same series ({context})"),
            Duration::from_secs(40),
            || {
                let (ours, our_up) = stored(node.addr);
                let (theirs, their_up) = stored(prometheus.addr);
                if ours == theirs && our_up.is_some() && our_up == their_up {
                    Ok(())
                } else {
                    let only_ours: Vec<_> = ours.difference(&theirs).collect();
                    let only_theirs: Vec<_> = theirs.difference(&ours).collect();
                    Err(format!(
                        "up {our_up:?} vs {their_up:?}\nonly wasmfed: {only_ours:#?}\nonly prometheus: {only_theirs:#?}"
                    ))
                }
            },
        );
    }
}
