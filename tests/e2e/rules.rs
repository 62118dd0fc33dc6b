//! The rule stage end to end: the seed deployment (datacenter nodes recording `job:` series, a
//! global node federating and aggregating them) and hostile rule plugins contained here;
//! recorded series against the real Prometheus' in `versus_prometheus`, and `/api/v1/query`'s
//! answers and errors against Prometheus' in `query_errors`.

mod query_errors;
mod versus_prometheus;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::federate::now_ms;
use crate::harness::*;
use crate::query_api::*;

const LEAF_RULES: &str = include_str!("../../examples/seed/leaf.rules");
const GLOBAL_RULES: &str = include_str!("../../examples/seed/global.rules");

/// Counters that grow with time, without timestamps: real traffic, as far as `rate` can tell.
fn traffic_exporter() -> Exporter {
    let started = Instant::now();
    Exporter::start(move |_| {
        let ms = started.elapsed().as_millis();
        Reply::Text(format!(
            "http_requests_total{{code=\"200\"}} {}\nhttp_requests_total{{code=\"500\"}} {}\n",
            ms / 100,
            ms / 1000
        ))
    })
}

/// One value per label set; fails on anything but exactly `want` label sets.
fn values_by_labels(
    got: Vec<(LabelMap, f64)>,
    want: &BTreeSet<LabelMap>,
) -> Result<BTreeMap<LabelMap, f64>, String> {
    let got: BTreeMap<LabelMap, f64> = got.into_iter().collect();
    if got.keys().cloned().collect::<BTreeSet<_>>() == *want {
        Ok(got)
    } else {
        Err(format!("{got:?}"))
    }
}

#[test]
fn seed_deployment_global_view() {
    let node_exporter = NodeExporter::start();
    let traffic = traffic_exporter();
    let dir = tempfile::tempdir().unwrap();
    let leaf_rules = dir.path().join("leaf.rules.yml");
    let global_rules = dir.path().join("global.rules.yml");
    std::fs::write(&leaf_rules, LEAF_RULES).unwrap();
    std::fs::write(&global_rules, GLOBAL_RULES).unwrap();
    let datacenters = ["dc1", "dc2"];
    let leaves: Vec<Wasmfed> = datacenters
        .iter()
        .map(|dc| {
            Wasmfed::start(&format!(
                "{}rule_files: ['{}']\nscrape_configs:\n{}{}",
                global_section(&format!("  external_labels:\n    datacenter: {dc}\n")),
                leaf_rules.display(),
                static_job("node", &[node_exporter.addr], ""),
                static_job("app", &[traffic.addr], ""),
            ))
        })
        .collect();
    let global = Wasmfed::start(&format!(
        "{}rule_files: ['{}']\nscrape_configs:\n{}",
        global_section(""),
        global_rules.display(),
        static_job(
            "federate",
            &leaves.iter().map(|l| l.addr).collect::<Vec<_>>(),
            "    honor_labels: true\n    metrics_path: /federate\n    params:\n      'match[]': ['{__name__=~\"^job:.*\"}']\n",
        ),
    ));

    // Each datacenter records the node's real memory size under its job.
    let mem_total = node_exporter
        .metric("node_memory_MemTotal_bytes")
        .expect("node_exporter serves MemTotal");
    assert!(mem_total > 0.0, "{mem_total}");
    let recorded = BTreeSet::from([label_map(&[
        ("__name__", "job:node_memory_MemTotal:sum"),
        ("job", "node"),
    ])]);
    let per_leaf: Vec<f64> = leaves
        .iter()
        .map(|leaf| {
            let got = wait_for(
                "a leaf's recorded MemTotal",
                Duration::from_secs(60),
                || {
                    values_by_labels(
                        vector(leaf.addr, "job:node_memory_MemTotal:sum", None)?,
                        &recorded,
                    )
                },
            );
            got.into_values().next().unwrap()
        })
        .collect();
    assert_eq!(per_leaf, [mem_total, mem_total]);

    // The global sums the datacenters: federated without `instance` (the leaves' /federate
    // writes `instance=""`, which honor_labels keeps and storage drops), the aggregation has
    // one series per job, as in Prometheus.
    let expr = "sum without(datacenter)(job:node_memory_MemTotal:sum)";
    let one_job = BTreeSet::from([label_map(&[("job", "node")])]);
    let sum = wait_for("the global sum", Duration::from_secs(60), || {
        let got = values_by_labels(vector(global.addr, expr, None)?, &one_job)?;
        let v = got.into_values().next().unwrap();
        if v == per_leaf.iter().sum::<f64>() {
            Ok(v)
        } else {
            Err(format!("{v}, leaves {per_leaf:?}"))
        }
    });

    // The federated series keep the leaves' `datacenter` and `job` labels.
    let per_dc = |name: &str, job: &str| -> BTreeSet<LabelMap> {
        datacenters
            .iter()
            .map(|dc| label_map(&[("__name__", name), ("datacenter", dc), ("job", job)]))
            .collect()
    };
    let memory = values_by_labels(
        vector(global.addr, "job:node_memory_MemTotal:sum", None).unwrap(),
        &per_dc("job:node_memory_MemTotal:sum", "node"),
    )
    .unwrap();
    assert!(memory.values().all(|v| *v == mem_total), "{memory:?}");
    let rates = wait_for(
        "both datacenters' request rates at the global",
        Duration::from_secs(60),
        || {
            let got = values_by_labels(
                vector(global.addr, "job:http_requests:rate1m", None)?,
                &per_dc("job:http_requests:rate1m", "app"),
            )?;
            if got.values().all(|v| *v > 0.0) {
                Ok(got)
            } else {
                Err(format!("{got:?}"))
            }
        },
    );
    assert_eq!(rates.len(), 2);

    // The global's own rule is recorded and federated onwards, with Prometheus' `instance=""`.
    let own = wait_for(
        "the global's rule in its /federate",
        Duration::from_secs(30),
        || {
            let samples = samples_of(&global.federate(&["global:node_memory_MemTotal:sum"]).text());
            // Its first evaluations may have seen one datacenter only.
            match samples.iter().next() {
                Some(s) if samples.len() == 1 && f64::from_bits(s.1) == sum => Ok(s.clone()),
                _ => Err(format!("{samples:?}, want {sum}")),
            }
        },
    );
    let want_labels: Vec<(String, String)> = [
        ("__name__", "global:node_memory_MemTotal:sum"),
        ("instance", ""),
        ("job", "node"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(own.0, want_labels);
    let federated = samples_of(&global.federate(&[r#"{__name__=~"job:.*"}"#]).text());
    let dcs: BTreeSet<&str> = federated
        .iter()
        .flat_map(|(labels, _, _)| labels.iter())
        .filter(|(k, _)| k == "datacenter")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(federated.len(), 4, "{federated:?}");
    assert_eq!(dcs, BTreeSet::from(datacenters));
}

/// The rule-stage test plugin (host/artifacts/guests/rule-hostile), built by host/artifacts/build.rs: its
/// `mode` config picks how `evaluate` misbehaves.
const RULE_HOSTILE: &[u8] = wasmfed_artifacts::RULE_HOSTILE;

#[test]
fn hostile_rule_plugin_is_contained() {
    let exporter = Exporter::start(|_| Reply::Text("healthy 1\n".into()));
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("rule-hostile.wasm");
    std::fs::write(&plugin, RULE_HOSTILE).unwrap();
    let rules = dir.path().join("up.rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: up\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n",
    )
    .unwrap();
    let hostile = |mode: &str| {
        format!(
            "  - file: {}\n    name: hostile-{mode}\n    config: {{mode: {mode}}}\n",
            plugin.display()
        )
    };
    let config_path = dir.path().join("wasmfed.yml");
    std::fs::write(
        &config_path,
        format!(
            "{}rule_files: ['{}']\nrule_plugins:\n{}{}scrape_configs:\n{}",
            global_section(""),
            rules.display(),
            hostile("loop"),
            hostile("grow"),
            static_job("app", &[exporter.addr], ""),
        ),
    )
    .unwrap();
    let node = Wasmfed::start_with(tempfile::tempdir().unwrap(), &config_path, &[]);
    let healthy_group = format!("{};up", rules.display());
    let hostile_group = |mode: &str| format!("{};hostile-{mode}", plugin.display());
    // Each hostile plugin's rule group, plugin name and the failure kind that stops it.
    let hostile_cases = [
        (hostile_group("loop"), "hostile-loop", "budget"),
        (hostile_group("grow"), "hostile-grow", "memory"),
    ];
    // The healthy group's evaluations, then for each hostile plugin its group's failed
    // evaluations and its plugin's failures of its kind.
    let counts = || -> Result<Vec<f64>, String> {
        let text = get(node.addr, "/metrics")?.text();
        let read = |name: &str, labels: &[(&str, &str)]| {
            metric_with(&text, name, labels).ok_or_else(|| format!("no {name} {labels:?}"))
        };
        let mut out = vec![read(
            "wasmfed_rule_group_evaluations_total",
            &[("rule_group", &healthy_group)],
        )?];
        for (group, name, kind) in &hostile_cases {
            out.push(read(
                "wasmfed_rule_group_evaluation_failures_total",
                &[("rule_group", group)],
            )?);
            out.push(read(
                "wasmfed_plugin_failures_total",
                &[
                    ("rule_group", group),
                    ("stage", "rule"),
                    ("plugin", name),
                    ("kind", kind),
                ],
            )?);
        }
        Ok(out)
    };
    // Waits for every hostile count to pass `floor`, and for `since_ms` to be 10 s ago.
    let at_least = |floor: &[f64], since_ms: i64| {
        let floor = floor.to_vec();
        move || {
            if now_ms() < since_ms + 10_000 {
                return Err("the window is not 10 s long yet".to_string());
            }
            let now = counts()?;
            if now.iter().zip(&floor).skip(1).all(|(n, f)| n > f) {
                Ok(now)
            } else {
                Err(format!(
                    "counts {now:?}, want each hostile one above {floor:?}"
                ))
            }
        }
    };
    // Both hostile plugins fail, each as its own kind.
    let before = wait_for(
        "the fuel budget and the memory cap to stop the hostile plugins",
        Duration::from_secs(120),
        at_least(&[0.0; 5], 0),
    );
    // Over a window of at least 10 s in which both failed five times more, the healthy parts
    // kept time.
    let window_start = now_ms();
    let mut floor = before.clone();
    for f in floor.iter_mut().skip(1) {
        *f += 4.0;
    }
    let after = wait_for(
        "more hostile failures",
        Duration::from_secs(180),
        at_least(&floor, window_start),
    );
    let window_end = now_ms();
    let seconds = (window_end - window_start) / 1000;
    // Half the 1 s schedule is a loose floor: a plugin call holding the node's async threads
    // would stop scrapes and evaluations for the length of each hostile call.
    let scrapes = vector(
        node.addr,
        &format!("count_over_time(up{{job=\"app\"}}[{seconds}s])"),
        Some(window_end),
    )
    .unwrap();
    assert_eq!(scrapes.len(), 1, "{scrapes:?}");
    assert!(
        scrapes[0].1 >= (seconds / 2) as f64,
        "{} scrapes in {seconds} s",
        scrapes[0].1
    );
    let evaluations = after[0] - before[0];
    assert!(
        evaluations >= (seconds / 2) as f64,
        "{evaluations} healthy evaluations in {seconds} s"
    );
    let text = get(node.addr, "/metrics").unwrap().text();
    assert_eq!(
        metric_with(
            &text,
            "wasmfed_rule_group_evaluation_failures_total",
            &[("rule_group", &healthy_group)]
        ),
        Some(0.0)
    );
    // The healthy rule's series is current, the hostile groups wrote nothing, and the node
    // still answers.
    let recorded = vector(node.addr, "job:up:sum", None).unwrap();
    assert_eq!(
        recorded,
        [(
            label_map(&[("__name__", "job:up:sum"), ("job", "app")]),
            1.0
        )]
    );
    assert!(node
        .federate(&[r#"{__name__=~"hostile:.*"}"#])
        .body
        .is_empty());
    assert_eq!(get(node.addr, "/-/ready").unwrap().status, 200);
}
