//! Relabeling and shard selection through the WebAssembly plugins, end to end: rules from a
//! plain prometheus.yml run in the stock `relabel` component, `hashmod` sharding keeps exactly
//! the targets the real Prometheus keeps, and a plugin that can't load refuses the config.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::*;
use crate::prometheus::Prometheus;

#[test]
fn relabel_rules_run_at_both_stages() {
    let exporter = Exporter::start(|_| {
        Reply::Text(
            "keep_me{path=\"/a\"} 1\nkeep_me{path=\"/b\"} 2\ndrop_me 3\nrename_me{x=\"1\"} 4\n"
                .into(),
        )
    });
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: exp\n    static_configs:\n      - targets: ['{}']\n\
         \x20   relabel_configs:\n\
         \x20     - source_labels: [__address__]\n        regex: '127\\.0\\.0\\.1:(.*)'\n        target_label: port\n\
         \x20   metric_relabel_configs:\n\
         \x20     - source_labels: [__name__]\n        regex: drop_me\n        action: drop\n\
         \x20     - source_labels: [__name__]\n        regex: rename_(.*)\n        target_label: __name__\n        replacement: renamed_$1\n\
         \x20     - regex: path\n        action: labeldrop\n",
        exporter.addr
    );
    let node = Wasmfed::start(&config);
    let port = exporter.addr.port().to_string();
    let want: BTreeSet<Vec<(String, String)>> = [("keep_me", None), ("renamed_me", Some("1"))]
        .iter()
        .map(|(name, x)| {
            let mut labels = vec![
                ("__name__".to_owned(), name.to_string()),
                ("instance".to_owned(), exporter.addr.to_string()),
                ("job".to_owned(), "exp".to_owned()),
                ("port".to_owned(), port.clone()),
            ];
            if let Some(x) = x {
                labels.push(("x".to_owned(), x.to_string()));
            }
            labels
        })
        .collect();
    wait_for("relabeled series", Duration::from_secs(30), || {
        let got: BTreeSet<_> = samples_of(
            &node
                .federate(&[r#"{job="exp",__name__!~"up|scrape_.*"}"#])
                .text(),
        )
        .into_iter()
        .map(|(labels, _, _)| labels)
        .collect();
        if got == want {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    });
    // The two keep_me series became one after labeldrop: a duplicate, counted, not stored twice.
    let up = samples_of(
        &node
            .federate(&["scrape_samples_post_metric_relabeling"])
            .text(),
    );
    assert_eq!(
        up.iter()
            .map(|(_, v, _)| f64::from_bits(*v))
            .collect::<Vec<_>>(),
        [3.0]
    );
    let metrics = get(node.addr, "/metrics").unwrap().text();
    for line in [
        "wasmfed_plugin_calls_total{tenant=\"default\",job=\"exp\",stage=\"target\",plugin=\"relabel_configs\"}",
        "wasmfed_plugin_calls_total{tenant=\"default\",job=\"exp\",stage=\"series\",plugin=\"metric_relabel_configs\"}",
        "wasmfed_plugin_info{tenant=\"default\",job=\"exp\",stage=\"series\",plugin=\"metric_relabel_configs\",sha256=",
    ] {
        assert!(metrics.contains(line), "/metrics lacks {line}:\n{metrics}");
    }
}

const SHARDS: u64 = 3;

fn shard_jobs(addresses: &[String]) -> String {
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

#[test]
fn a_plugin_that_cannot_load_refuses_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wasmfed.yml");
    let good =
        "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['127.0.0.1:1']}]\n";
    std::fs::write(&path, good).unwrap();
    let node = Wasmfed::start_with(dir, &path, &["--web.enable-lifecycle"]);
    let active_targets = || {
        node.targets()["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .len()
    };
    wait_for(
        "job a's target",
        Duration::from_secs(20),
        || match active_targets() {
            1 => Ok(()),
            n => Err(format!("{n} active targets")),
        },
    );
    for (bad, reason) in [
        (
            "    target_plugins:\n      - stock: hashmod-shard\n        config: {modulus: 2, shard: 5}\n",
            "shard",
        ),
        ("    target_plugins:\n      - file: missing.wasm\n", "missing.wasm"),
        ("    series_plugins:\n      - stock: no-such-plugin\n", "no stock plugin"),
        (
            "    metric_relabel_configs:\n      - source_labels: [a]\n        action: hashmod\n        target_label: t\n",
            "modulus",
        ),
    ] {
        std::fs::write(&path, format!("{good}{bad}")).unwrap();
        let r = http(node.addr, "POST", "/-/reload", &[], b"").unwrap();
        assert_eq!(r.status, 500, "{bad}");
        assert!(r.text().contains(reason), "{bad}: {}", r.text());
        assert_eq!(active_targets(), 1, "the running config is untouched");
    }
}

#[test]
fn relabel_test_shows_each_step_and_who_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yml");
    let addresses: Vec<String> = (0..6).map(|i| format!("h{i}:9100")).collect();
    let config = format!(
        "global:\n  scrape_timeout: 1s\nscrape_configs:\n{}",
        shard_jobs(&addresses).replace("    relabel_configs:\n", "    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: go_.*\n        action: drop\n    relabel_configs:\n")
    );
    std::fs::write(&path, config).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasmfed"))
        .args([
            "relabel",
            "test",
            "--job",
            "shard1",
            "--series",
            "go_goroutines",
            "--series",
            "up_time{a=\"b\"}",
        ])
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("job \"shard1\": 6 targets discovered"),
        "{text}"
    );
    assert!(text.contains("=> dropped by relabel_configs"), "{text}");
    assert!(text.contains("=> scraped at http://"), "{text}");
    assert!(
        text.contains("__tmp_hash=\"1\""),
        "the intermediate labels are shown: {text}"
    );
    assert!(
        text.contains("series {__name__=\"go_goroutines\""),
        "{text}"
    );
    assert!(
        text.contains("=> dropped by metric_relabel_configs"),
        "{text}"
    );
    assert!(
        text.contains("=> stored as {__name__=\"up_time\", a=\"b\""),
        "{text}"
    );
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

/// A test plugin that passes series through, but loops forever on `loop_me` and allocates
/// without bound on `grow_me` (host/artifacts/guests/identity).
const IDENTITY: &[u8] = wasmfed_artifacts::IDENTITY;

#[test]
fn hostile_series_plugins_are_contained_and_healthy_jobs_keep_their_schedule() {
    let exporter = Exporter::start(|path| {
        Reply::Text(match path {
            "/loop" => "loop_me 1\nbystander 2\n".into(),
            "/grow" => "grow_me 1\nbystander 2\n".into(),
            _ => "healthy 1\n".into(),
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("identity.wasm");
    std::fs::write(&plugin, IDENTITY).unwrap();
    let job = |name: &str, path: &str, hostile: bool| {
        let plugins = if hostile {
            format!("    series_plugins:\n      - file: {}\n", plugin.display())
        } else {
            String::new()
        };
        format!(
            "  - job_name: {name}\n    metrics_path: {path}\n{plugins}    static_configs:\n      - targets: ['{}']\n",
            exporter.addr
        )
    };
    let config_path = dir.path().join("wasmfed.yml");
    std::fs::write(
        &config_path,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}{}{}",
            job("healthy", "/metrics", false),
            job("looping", "/loop", true),
            job("growing", "/grow", true),
        ),
    )
    .unwrap();
    let node = Wasmfed::start_with(tempfile::tempdir().unwrap(), &config_path, &[]);
    let failures = |kind: &str, job: &str| -> f64 {
        let metrics = get(node.addr, "/metrics").unwrap().text();
        let prefix = format!("wasmfed_plugin_failures_total{{tenant=\"default\",job=\"{job}\",stage=\"series\",plugin=\"identity\",kind=\"{kind}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .map_or(0.0, |v| v.parse().unwrap())
    };
    wait_for(
        "the budget and the memory cap to stop the plugin",
        Duration::from_secs(60),
        || {
            let (budget, memory) = (failures("budget", "looping"), failures("memory", "growing"));
            if budget >= 2.0 && memory >= 2.0 {
                Ok(())
            } else {
                Err(format!("budget {budget}, memory {memory}"))
            }
        },
    );
    // The healthy job keeps being scraped while the hostile plugins fail on every scrape, and
    // the hostile jobs' targets stay up (their scrapes succeed; only the new series the plugin
    // could not decide are dropped).
    let failing_since = crate::federate::now_ms();
    wait_for(
        "a healthy scrape after the failures began",
        Duration::from_secs(30),
        || {
            let up = samples_of(&node.federate(&[r#"up{job="healthy"}"#]).text());
            match up.iter().next() {
                Some((_, _, t)) if *t > failing_since => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    );
    for job in ["looping", "growing"] {
        let up = samples_of(&node.federate(&[&format!("up{{job=\"{job}\"}}")]).text());
        assert_eq!(
            up.iter()
                .map(|(_, v, _)| f64::from_bits(*v))
                .collect::<Vec<_>>(),
            [1.0],
            "{job}"
        );
    }
    assert!(node
        .federate(&[r#"{__name__=~"loop_me|grow_me|bystander"}"#])
        .body
        .is_empty());
    assert_eq!(samples_of(&node.federate(&["healthy"]).text()).len(), 1);
    let metrics = get(node.addr, "/metrics").unwrap().text();
    assert!(
        metrics
            .contains("wasmfed_series_stage_undecided_total{tenant=\"default\",job=\"looping\"}"),
        "{metrics}"
    );
}

/// `wasmfed plugin inspect`: a file's and a stock plugin's stages, and the exit statuses.
#[test]
fn plugin_inspect_names_the_stages_a_component_fits() {
    let dir = tempfile::tempdir().unwrap();
    let inspect = |what: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wasmfed"))
            .args(["plugin", "inspect", what])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let shard = dir.path().join("rendezvous.wasm");
    std::fs::write(&shard, RENDEZVOUS).unwrap();
    let (code, text, _) = inspect(shard.to_str().unwrap());
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("  target   accepted"), "{text}");
    assert!(text.contains("  rule     refused: "), "{text}");
    assert!(
        text.contains(&format!("  size     {} bytes", RENDEZVOUS.len())),
        "{text}"
    );

    let (code, text, _) = inspect("stock:promql-rules");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("  query    accepted"), "{text}");
    assert!(text.contains("wasmfed:plugin/store"), "{text}");

    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let (code, _, err) = inspect(core.to_str().unwrap());
    assert_eq!(code, Some(2));
    assert!(err.contains("not a component"), "{err}");
    let (code, _, err) = inspect("stock:nope");
    assert_eq!(code, Some(2));
    assert!(err.contains("no stock plugin"), "{err}");
}

/// `wasmfed plugin test`: a fixture's cases run offline, the differences named, exit statuses.
/// A `sha256:` pin: the node starts with the pinned content, refuses other content at start
/// with both hashes, and refuses a changed file, keeping the pinned version running.
#[test]
fn a_pinned_plugin_runs_only_its_pinned_content() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("rendezvous.wasm");
    std::fs::write(&plugin, RENDEZVOUS).unwrap();
    let pin = wasmfed_plugin::sha256_hex(RENDEZVOUS);
    let config = |pin: &str| {
        format!(
            "global:\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: pinned\n    scrape_interval: 1h\n    static_configs:\n      - targets: ['10.0.0.1:9100', '10.0.0.2:9100']\n    target_plugins:\n      - file: {}\n        sha256: {pin}\n        config: {{nodes: [a], self: a}}\n",
            plugin.display()
        )
    };
    let wrong = "0".repeat(64);
    let path = dir.path().join("wrong.yml");
    std::fs::write(&path, config(&wrong)).unwrap();
    let err = refused_start(&path, dir.path());
    assert!(err.contains(&wrong) && err.contains(&pin), "{err}");

    let path = dir.path().join("pinned.yml");
    std::fs::write(&path, config(&pin)).unwrap();
    let node = Wasmfed::start_with(tempfile::tempdir().unwrap(), &path, &[]);
    wait_for(
        "the pinned plugin's targets",
        Duration::from_secs(20),
        || {
            let n = node.targets()["data"]["activeTargets"]
                .as_array()
                .map_or(0, Vec::len);
            (n == 2).then_some(()).ok_or(format!("{n} targets"))
        },
    );
    // A changed file is refused by the pin; the running version stays.
    std::fs::write(&plugin, wasmfed_artifacts::IDENTITY).unwrap();
    wait_for("the refusal to be logged", Duration::from_secs(20), || {
        let log = node.log_text();
        log.contains("refused")
            .then_some(())
            .ok_or("not yet".to_string())
    });
    assert!(
        node.log_text().contains("sha256 mismatch"),
        "{}",
        node.log_text()
    );
}
