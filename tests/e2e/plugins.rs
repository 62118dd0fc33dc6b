//! Relabeling through the WebAssembly plugins, end to end: rules from a plain prometheus.yml
//! run in the stock `relabel` component, a plugin that can't load refuses the config, hostile
//! plugins are contained, and pinned or inspected components are what they claim (sharding
//! is in [`super::sharding`]).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::*;
use crate::sharding::shard_jobs;

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
    std::fs::write(&shard, wasmfed_artifacts::RENDEZVOUS_SHARD).unwrap();
    let (code, text, _) = inspect(shard.to_str().unwrap());
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("  target   accepted"), "{text}");
    assert!(text.contains("  rule     refused: "), "{text}");
    assert!(
        text.contains(&format!(
            "  size     {} bytes",
            wasmfed_artifacts::RENDEZVOUS_SHARD.len()
        )),
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
    std::fs::write(&plugin, wasmfed_artifacts::RENDEZVOUS_SHARD).unwrap();
    let pin = wasmfed_plugin::sha256_hex(wasmfed_artifacts::RENDEZVOUS_SHARD);
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
