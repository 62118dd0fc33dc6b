//! Service discovery against real peers: HTTP SD from a local server, side by side with
//! Debian's Prometheus 2.42 reading the same source; both must list the same targets with the
//! same discovered labels as the source changes, and keep them while it fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::*;
use crate::prometheus::{global, Prometheus};

/// Each active target of `job` as (discovered labels, labels), sorted.
fn listing(targets: &serde_json::Value, job: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["scrapePool"] == job)
        .map(|t| (t["discoveredLabels"].to_string(), t["labels"].to_string()))
        .collect();
    out.sort();
    out
}

#[test]
fn http_sd_targets_follow_the_source_as_in_prometheus() {
    let a = Exporter::start(|_| Reply::Text("app_up 1\n".into()));
    let b = Exporter::start(|_| Reply::Text("app_up 1\n".into()));
    // What the discovery endpoint answers: a body, or a failure status.
    let answer: Arc<Mutex<Result<String, u16>>> = Arc::new(Mutex::new(Ok(format!(
        r#"[{{"targets": ["{}"], "labels": {{"team": "a"}}}}]"#,
        a.addr
    ))));
    let served = answer.clone();
    let sd = Exporter::start(move |_| match served.lock().unwrap().clone() {
        Ok(body) => Reply::Typed(Some("application/json; charset=utf-8"), body),
        Err(status) => Reply::Status(status),
    });
    let config = format!(
        "{}scrape_configs:\n  - job_name: sd\n    http_sd_configs:\n      - url: http://{}/targets\n        refresh_interval: 1s\n    \
         relabel_configs:\n      - source_labels: [__meta_url]\n        target_label: from_sd\n",
        global("sd"),
        sd.addr
    );
    let node = Wasmfed::start(&config);
    let prometheus = Prometheus::start(&config);
    let same_listing = |what: &str, want_targets: usize| {
        wait_for(what, Duration::from_secs(30), || {
            let ours = listing(&node.targets(), "sd");
            let theirs = listing(
                &get(prometheus.addr, "/api/v1/targets").unwrap().json(),
                "sd",
            );
            if ours.len() == want_targets && ours == theirs {
                Ok(ours)
            } else {
                Err(format!("wasmfed {ours:?}\nprometheus {theirs:?}"))
            }
        })
    };
    let first = same_listing("the first target", 1);
    assert!(first[0].0.contains("__meta_url"), "{first:?}");
    assert!(first[0].1.contains("from_sd"), "{first:?}");

    *answer.lock().unwrap() = Ok(format!(
        r#"[{{"targets": ["{}", "{}"], "labels": {{"team": "a"}}}}]"#,
        a.addr, b.addr
    ));
    same_listing("a target added", 2);

    // A failing source keeps its targets.
    *answer.lock().unwrap() = Err(500);
    std::thread::sleep(Duration::from_secs(3));
    same_listing("the targets kept while the source fails", 2);

    *answer.lock().unwrap() = Ok(format!(r#"[{{"targets": ["{}"]}}]"#, b.addr));
    let last = same_listing("a target removed and a label gone", 1);
    assert!(
        last[0].0.contains(&b.addr.to_string()) && !last[0].0.contains("team"),
        "{last:?}"
    );
    wait_for(
        "the remaining target scraped",
        Duration::from_secs(10),
        || {
            let text = node.federate(&["app_up"]).text();
            metric_with(&text, "app_up", &[("instance", &b.addr.to_string())]).ok_or(text)
        },
    );
}
