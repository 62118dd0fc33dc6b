//! Hot-loading plugins into a running node: swaps through the admin API under a 100 ms
//! scrape, refusals that leave the running version in place, shadow candidates, and a changed
//! component file picked up from disk.
//!
//! The two versions are the stock `relabel` component (configured to add `v="relabel"` and
//! drop `x`) and the identity test guest (which ignores that configuration, keeps everything
//! but `drop_me`): which version decided a series shows in its labels.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::harness::*;

const RELABEL: &[u8] = wasmfed_plugin::stock::RELABEL;
const IDENTITY: &[u8] = wasmfed_artifacts::IDENTITY;
const RULE_HOSTILE: &[u8] = wasmfed_artifacts::RULE_HOSTILE;

const TOKEN: &str = "let-me-in";

fn config(dir: &Path, exporter: std::net::SocketAddr, interval: &str, rules: &str) -> String {
    std::fs::write(dir.join("swapper.wasm"), RELABEL).unwrap();
    format!(
        "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n\
         admin:\n  bearer_token: {TOKEN}\n\
         scrape_configs:\n  - job_name: swap\n    static_configs: [{{targets: ['{exporter}']}}]\n    \
         series_plugins:\n      - file: swapper.wasm\n        name: swapper\n        config: {rules}\n"
    )
}

const ADD_V: &str = r#"[{target_label: v, replacement: relabel}, {source_labels: [__name__], regex: x, action: drop}]"#;

fn start(interval: &str, body: &'static str) -> (Wasmfed, Exporter) {
    start_scraping(interval, Exporter::start(move |_| Reply::Text(body.into())))
}

fn start_scraping(interval: &str, exporter: Exporter) -> (Wasmfed, Exporter) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wasmfed.yml");
    std::fs::write(&path, config(dir.path(), exporter.addr, interval, ADD_V)).unwrap();
    let node = Wasmfed::start_with(dir, &path, &[]);
    (node, exporter)
}

fn put(node: &Wasmfed, path: &str, token: Option<&str>, body: &[u8]) -> HttpResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    http(node.addr, "PUT", path, &headers, body).unwrap()
}

fn query(node: &Wasmfed, expr: &str) -> serde_json::Value {
    query_at(node, expr, "")
}

/// [`query`] at `time` (Prometheus' `time` parameter; empty for now).
fn query_at(node: &Wasmfed, expr: &str, time: &str) -> serde_json::Value {
    let r = get(
        node.addr,
        &format!("/api/v1/query?query={}&time={time}", enc(expr)),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{expr}: {}", r.text());
    r.json()["data"]["result"].clone()
}

/// The swapper's sha256, as the plugin listing shows it.
fn running_sha(node: &Wasmfed) -> String {
    let auth = format!("Bearer {TOKEN}");
    let list = http(
        node.addr,
        "GET",
        "/api/v1/plugins",
        &[("Authorization", &auth)],
        b"",
    )
    .unwrap()
    .json();
    list["data"]["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "swapper")
        .map(|p| p["sha256"].as_str().unwrap().to_string())
        .expect("swapper is listed")
}

/// Timestamps (ms) of every sample of the range query `expr` at `time`, by the series' `i`
/// and `v`.
fn sample_times(node: &Wasmfed, expr: &str, time: &str) -> BTreeMap<(String, String), Vec<i64>> {
    let mut out = BTreeMap::new();
    for series in query_at(node, expr, time).as_array().unwrap() {
        let label = |n: &str| series["metric"][n].as_str().unwrap_or("").to_string();
        let times = series["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap() * 1000.0).round() as i64)
            .collect();
        out.insert((label("i"), label("v")), times);
    }
    out
}

#[test]
fn fifty_swaps_under_a_100ms_scrape_lose_and_duplicate_nothing() {
    let (node, _exporter) = start_scraping(
        "100ms",
        sequenced_exporter("m{i=\"0\"} 1\nm{i=\"1\"} 2\nm{i=\"2\"} 3\n"),
    );
    wait_for("relabel's series", Duration::from_secs(20), || {
        let r = query(&node, r#"m{v="relabel"}"#);
        (r.as_array().unwrap().len() == 3)
            .then_some(())
            .ok_or(r.to_string())
    });
    for round in 0..50 {
        let bytes = if round % 2 == 0 { IDENTITY } else { RELABEL };
        let r = put(&node, "/api/v1/plugins/swapper", Some(TOKEN), bytes);
        assert_eq!(r.status, 200, "swap {round}: {}", r.text());
        std::thread::sleep(Duration::from_millis(40 + (round % 7) * 20));
    }
    std::thread::sleep(Duration::from_millis(500));
    // All three read at one instant a second ago, when every scrape before it was stored:
    // read at "now" one by one, a scrape landing in between is in one answer and not the next.
    let at = format!("{:.3}", (crate::federate::now_ms() - 1000) as f64 / 1000.0);
    let samples = sample_times(&node, "m[30s]", &at);
    let scrapes: Vec<i64> = sample_times(&node, "up[30s]", &at)
        .into_values()
        .next()
        .expect("up");
    let first_swap_window = *scrapes.first().unwrap();
    // No scrape lost or stored twice across the swaps: the exporter numbered each one, and
    // either version of the plugin stored it (with or without `v`), exactly once.
    let numbers = query_at(&node, "scrape_seq[30s]", &at);
    let values = numbers.as_array().unwrap().iter().flat_map(|series| {
        series["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[1].as_str().unwrap().parse::<f64>().unwrap())
            .collect::<Vec<_>>()
    });
    let values: Vec<f64> = values.collect();
    assert_each_once("scrapes across 50 swaps", values.iter().copied());
    assert_eq!(values.len(), scrapes.len(), "one number per scrape");
    for i in ["0", "1", "2"] {
        let by_relabel = samples
            .get(&(i.into(), "relabel".into()))
            .cloned()
            .unwrap_or_default();
        let by_identity = samples
            .get(&(i.into(), String::new()))
            .cloned()
            .unwrap_or_default();
        assert!(
            !by_relabel.is_empty() && !by_identity.is_empty(),
            "both versions ran"
        );
        let relabel: BTreeSet<i64> = by_relabel.iter().copied().collect();
        let identity: BTreeSet<i64> = by_identity.iter().copied().collect();
        // Exactly one version processed each scrape's sample, and every scrape has one.
        assert!(
            relabel.is_disjoint(&identity),
            "series {i}: a scrape stored twice"
        );
        let stored: BTreeSet<i64> = relabel.union(&identity).copied().collect();
        let expected: BTreeSet<i64> = scrapes
            .iter()
            .copied()
            .filter(|t| *t >= first_swap_window)
            .collect();
        assert_eq!(stored, expected, "series {i}: every scrape stored once");
    }
    let swaps =
        node.metric(r#"wasmfed_plugin_swaps_total{tenant="default",job="swap",stage="series",plugin="swapper"}"#);
    assert_eq!(swaps, Some(50.0));
}

#[test]
fn bad_uploads_are_refused_and_the_running_version_stays() {
    let (node, _exporter) = start("1s", "m 1\n");
    wait_for("relabel's series", Duration::from_secs(20), || {
        let r = query(&node, r#"m{v="relabel"}"#);
        (!r.as_array().unwrap().is_empty())
            .then_some(())
            .ok_or(r.to_string())
    });
    let before = running_sha(&node);
    let cases: [(Option<&str>, &[u8], u16, &str); 5] = [
        (None, IDENTITY, 401, "unauthorized"),
        (Some("guess"), IDENTITY, 401, "unauthorized"),
        (Some(TOKEN), b"\0asm garbage", 422, "compile"),
        (Some(TOKEN), RULE_HOSTILE, 422, "wrong_world"),
        (Some(TOKEN), b"not wasm at all", 422, "compile"),
    ];
    for (token, bytes, status, kind) in cases {
        let r = put(&node, "/api/v1/plugins/swapper", token, bytes);
        assert_eq!(r.status, status, "{kind}: {}", r.text());
        assert_eq!(r.json()["errorType"], kind, "{}", r.text());
        assert_eq!(running_sha(&node), before);
    }
    let missing = put(&node, "/api/v1/plugins/nobody", Some(TOKEN), IDENTITY);
    assert_eq!(missing.status, 404);
    let refusals = node.metric(
        r#"wasmfed_plugin_swap_refusals_total{tenant="default",job="swap",stage="series",plugin="swapper"}"#,
    );
    assert_eq!(refusals, Some(3.0));
    assert!(!query(&node, r#"m{v="relabel"}"#)
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn an_init_failure_refuses_the_upload() {
    // The identity guest refuses any configuration that mentions "reject".
    let exporter = Exporter::start(|_| Reply::Text("m 1\n".into()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wasmfed.yml");
    let rules = "[{source_labels: [__name__], regex: reject, action: drop}]";
    std::fs::write(&path, config(dir.path(), exporter.addr, "1s", rules)).unwrap();
    let node = Wasmfed::start_with(dir, &path, &[]);
    let r = put(&node, "/api/v1/plugins/swapper", Some(TOKEN), IDENTITY);
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["errorType"], "init");
    assert!(r.text().contains("reject"), "{}", r.text());
}

#[test]
fn a_shadow_candidate_reports_the_series_it_decides_differently() {
    let (node, _exporter) = start("200ms", "x 1\ny 2\ndrop_me 3\n");
    wait_for("y", Duration::from_secs(20), || {
        let r = query(&node, "y");
        (!r.as_array().unwrap().is_empty())
            .then_some(())
            .ok_or(r.to_string())
    });
    let r = put(
        &node,
        "/api/v1/plugins/swapper/shadow",
        Some(TOKEN),
        IDENTITY,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let report = wait_for("a shadow batch", Duration::from_secs(20), || {
        let auth = format!("Bearer {TOKEN}");
        let r = http(
            node.addr,
            "GET",
            "/api/v1/plugins/swapper/shadow",
            &[("Authorization", &auth)],
            b"",
        )
        .unwrap();
        let shadow = r.json()["data"]["shadows"][0].clone();
        (shadow["batches"].as_u64() > Some(0))
            .then_some(shadow)
            .ok_or(r.text())
    });
    // Live: relabel adds v and drops x; the candidate keeps x, drops drop_me, adds nothing.
    // All three series differ; the live answer is what was stored.
    assert_eq!(report["differences"], 3, "{report}");
    assert_eq!(report["failures"], 0);
    let inputs: BTreeSet<String> = report["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["input"]["__name__"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        inputs,
        BTreeSet::from(["x".into(), "y".into(), "drop_me".into()])
    );
    assert!(
        query(&node, "x").as_array().unwrap().is_empty(),
        "live answers are used"
    );
    let promote = http(
        node.addr,
        "POST",
        "/api/v1/plugins/swapper/shadow/promote",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        b"",
    )
    .unwrap();
    assert_eq!(promote.status, 200, "{}", promote.text());
    wait_for("x after promotion", Duration::from_secs(20), || {
        let r = query(&node, "x");
        (!r.as_array().unwrap().is_empty())
            .then_some(())
            .ok_or(r.to_string())
    });
}

#[test]
fn a_changed_component_file_is_swapped_in() {
    let (node, _exporter) = start("200ms", "x 1\ny 2\n");
    let before = running_sha(&node);
    let file = node.log.parent().unwrap().join("swapper.wasm");
    std::fs::write(&file, IDENTITY).unwrap();
    wait_for("the new file to run", Duration::from_secs(20), || {
        let sha = running_sha(&node);
        (sha != before).then_some(()).ok_or(sha)
    });
    wait_for(
        "x, which only relabel dropped",
        Duration::from_secs(20),
        || {
            let r = query(&node, "x");
            (!r.as_array().unwrap().is_empty())
                .then_some(())
                .ok_or(r.to_string())
        },
    );
    // A broken file is refused; the identity guest keeps running.
    let running = running_sha(&node);
    std::fs::write(&file, b"half-written").unwrap();
    wait_for("the refusal in the log", Duration::from_secs(20), || {
        let log = node.log_text();
        log.contains("was refused")
            .then_some(())
            .ok_or_else(|| "not yet".to_string())
    });
    assert_eq!(running_sha(&node), running);
}
