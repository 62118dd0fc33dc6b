//! Configuration reload as Prometheus does it: `POST /-/reload` with `--web.enable-lifecycle`
//! (and SIGHUP). A bad file is refused with its reason and the running configuration stays.

use std::time::Duration;

use crate::harness::*;

fn config(exporter: std::net::SocketAddr, jobs: &[&str], dc: &str) -> String {
    let mut text = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  external_labels:\n    dc: {dc}\nscrape_configs:\n"
    );
    for job in jobs {
        text.push_str(&format!(
            "  - job_name: {job}\n    static_configs:\n      - targets: ['{exporter}']\n"
        ));
    }
    text
}

fn jobs_up(node: &Wasmfed) -> Vec<String> {
    let mut jobs: Vec<String> = node.targets()["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["health"] == "up")
        .map(|t| t["scrapePool"].as_str().unwrap().to_owned())
        .collect();
    jobs.sort();
    jobs
}

#[test]
fn reload_applies_good_configs_and_refuses_bad_ones() {
    let exporter = Exporter::start(|_| Reply::Text("m 1\n".into()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wasmfed.yml");
    std::fs::write(&path, config(exporter.addr, &["a"], "one")).unwrap();
    let node = Wasmfed::start_with(dir, &path, &["--web.enable-lifecycle"]);
    wait_for("job a", Duration::from_secs(20), || {
        let up = jobs_up(&node);
        if up == ["a"] {
            Ok(())
        } else {
            Err(format!("{up:?}"))
        }
    });

    std::fs::write(
        &path,
        "scrape_configs:\n  - job_name: a\n    bogus_key: 1\n",
    )
    .unwrap();
    let refused = http(node.addr, "POST", "/-/reload", &[], b"").unwrap();
    assert_eq!(refused.status, 500);
    assert!(refused.text().contains("bogus_key"), "{}", refused.text());
    assert_eq!(jobs_up(&node), ["a"], "the old configuration keeps running");

    std::fs::write(&path, config(exporter.addr, &["a", "b"], "two")).unwrap();
    let ok = http(node.addr, "POST", "/-/reload", &[], b"").unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());
    wait_for("job b next to a", Duration::from_secs(20), || {
        let up = jobs_up(&node);
        if up == ["a", "b"] {
            Ok(())
        } else {
            Err(format!("{up:?}"))
        }
    });
    // Job a's configuration did not change: its loop went on through both reloads. A loop
    // stopped and started again would have written stale markers for its series.
    std::thread::sleep(Duration::from_secs(2));
    let r = get(
        node.addr,
        &format!("/api/v1/query?query={}", enc(r#"up{job="a"}[1m]"#)),
    )
    .unwrap();
    let times: Vec<f64> = r.json()["data"]["result"][0]["values"]
        .as_array()
        .expect("job a's samples")
        .iter()
        .map(|p| p[0].as_f64().unwrap())
        .collect();
    assert!(times.len() >= 3, "{}", r.text());
    assert_eq!(
        node.metric("wasmfed_stale_markers_total"),
        Some(0.0),
        "no loop was stopped by the reloads"
    );
    let text = node.federate(&[r#"m{job="b"}"#]).text();
    assert!(
        text.contains("dc=\"two\""),
        "new external labels apply: {text}"
    );
    let metrics = get(node.addr, "/metrics").unwrap().text();
    assert!(
        metrics.contains("wasmfed_config_last_reload_successful 1"),
        "{metrics}"
    );

    // A job removed by a reload stops, and its series end with stale markers at once.
    std::fs::write(&path, config(exporter.addr, &["b"], "two")).unwrap();
    assert_eq!(
        http(node.addr, "POST", "/-/reload", &[], b"")
            .unwrap()
            .status,
        200
    );
    assert_eq!(jobs_up(&node), ["b"]);
    assert!(
        node.federate(&[r#"{job="a"}"#]).body.is_empty(),
        "job a's series are stale"
    );
    assert!(!node.federate(&[r#"{job="b"}"#]).body.is_empty());
}

#[test]
fn reload_needs_the_lifecycle_flag() {
    let exporter = Exporter::start(|_| Reply::Text("m 1\n".into()));
    let node = Wasmfed::start(&config(exporter.addr, &["a"], "one"));
    assert_eq!(
        http(node.addr, "POST", "/-/reload", &[], b"")
            .unwrap()
            .status,
        403
    );
    assert_eq!(
        http(node.addr, "POST", "/-/quit", &[], b"").unwrap().status,
        403
    );
}

/// A reload that changes a job but not its targets ends nothing, as Prometheus'
/// `scrapePool.reload` ends nothing: the series go on, without a stale marker in between, and
/// are not added again.
#[test]
fn a_changed_job_goes_on_without_stale_markers() {
    let exporter = Exporter::start(|_| Reply::Text("m{k=\"a\"} 1\nm{k=\"b\"} 2\n".into()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wasmfed.yml");
    let job = |extra: &str| {
        format!(
            "global:\n  scrape_interval: 30s\n  scrape_timeout: 5s\nscrape_configs:\n{}",
            static_job("exp", &[exporter.addr], extra)
        )
    };
    std::fs::write(&path, job("")).unwrap();
    let node = Wasmfed::start_with(dir, &path, &["--web.enable-lifecycle"]);
    let series = |node: &Wasmfed| samples_of(&node.federate(&["m"]).text()).len();
    wait_for(
        "the first scrape",
        Duration::from_secs(40),
        || match series(&node) {
            2 => Ok(()),
            n => Err(format!("{n} series")),
        },
    );
    // A changed limit keeps every series as it was: nothing ends, nothing is added again.
    let reload = |config: String| {
        std::fs::write(&path, config).unwrap();
        let reloaded = http(node.addr, "POST", "/-/reload", &[], b"").unwrap();
        assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    };
    reload(job("    sample_limit: 1000\n"));
    // Until the next scrape (up to 30 s away) both series are still there: no stale marker.
    assert_eq!(series(&node), 2, "{}", node.federate(&["m"]).text());
    let added = |node: &Wasmfed| {
        let text = node.federate(&["scrape_series_added"]).text();
        samples_of(&text).iter().next().map(|s| f64::from_bits(s.1))
    };
    let scrapes =
        |node: &Wasmfed| node.metric("wasmfed_scrapes_total{tenant=\"default\",job=\"exp\"}");
    let before = scrapes(&node);
    wait_for(
        "the next scrape",
        Duration::from_secs(40),
        || match scrapes(&node) {
            n if n > before => Ok(()),
            n => Err(format!("{n:?} scrapes")),
        },
    );
    assert_eq!(added(&node), Some(0.0), "as Prometheus reuses its cache");
    // A new series rule decides again: `b` ends at the next scrape, `a` goes on (counted as
    // added, as Prometheus' new cache counts it), still without a stale marker in between.
    reload(job(
        "    metric_relabel_configs:\n      - {source_labels: [k], regex: b, action: drop}\n",
    ));
    assert_eq!(series(&node), 2);
    wait_for(
        "the scrape after",
        Duration::from_secs(40),
        || match series(&node) {
            1 => Ok(()),
            n => Err(format!("{n} series")),
        },
    );
    assert_eq!(added(&node), Some(1.0));
}
