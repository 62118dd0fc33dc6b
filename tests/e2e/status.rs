//! The status API against Prometheus 2.42 (issue #20): both run the same configuration and
//! scrape the same target; `/api/v1/status/buildinfo`, `flags` and `runtimeinfo` have
//! Prometheus' fields, `config` hides the same secrets, `tsdb` counts the same head (series,
//! label pairs, chunks and every cardinality list), and `/api/v1/query_exemplars` answers as
//! Prometheus without exemplar storage does.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use crate::harness::*;
use crate::prometheus::Prometheus;

fn data(addr: SocketAddr, page: &str) -> serde_json::Value {
    let r = get(addr, &format!("/api/v1/status/{page}")).unwrap();
    assert_eq!(r.status, 200, "{page}: {}", r.text());
    r.json()["data"].clone()
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn status_pages_answer_as_prometheus_does() {
    let exporter =
        Exporter::start(|_| Reply::Text("temp{room=\"a\"} 30\ntemp{room=\"b\"} 10\n".into()));
    let job = static_job(
        "t",
        &[exporter.addr],
        "    basic_auth: {username: u, password: s3cr3t}\n",
    );
    let config = format!(
        "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\nscrape_configs:\n{job}"
    );
    let prometheus = Prometheus::start(&config);
    let node = Wasmfed::start(&config);
    // Waiting on the series API: Prometheus keeps its index statistics for 30 s once asked.
    for addr in [prometheus.addr, node.addr] {
        wait_for("a scrape", Duration::from_secs(30), || {
            let series = get(
                addr,
                &format!("/api/v1/series?match[]={}", enc(r#"{job="t"}"#)),
            )?;
            match series.json()["data"].as_array().map(Vec::len) {
                Some(7) => Ok(()),
                other => Err(format!("{other:?} series")),
            }
        });
    }
    let (theirs, ours) = (
        data(prometheus.addr, "buildinfo"),
        data(node.addr, "buildinfo"),
    );
    assert_eq!(keys(&ours), keys(&theirs));
    assert_eq!(
        ours["version"], "2.42.0",
        "the API generation it answers as"
    );

    let (theirs, ours) = (
        data(prometheus.addr, "runtimeinfo"),
        data(node.addr, "runtimeinfo"),
    );
    assert_eq!(keys(&ours), keys(&theirs));
    for same in ["storageRetention", "reloadConfigSuccess", "corruptionCount"] {
        assert_eq!(ours[same], theirs[same], "{same}");
    }

    let (theirs, ours) = (data(prometheus.addr, "flags"), data(node.addr, "flags"));
    for flag in [
        "config.file",
        "web.listen-address",
        "storage.tsdb.path",
        "storage.tsdb.retention.time",
        "query.lookback-delta",
        "query.timeout",
        "web.enable-lifecycle",
    ] {
        assert!(theirs.get(flag).is_some(), "Prometheus has no {flag}");
        assert!(
            ours.get(flag).is_some(),
            "wasmfed does not list {flag}: {ours}"
        );
    }
    assert_eq!(ours["query.lookback-delta"], theirs["query.lookback-delta"]);

    for addr in [prometheus.addr, node.addr] {
        let yaml = data(addr, "config")["yaml"].as_str().unwrap().to_owned();
        assert!(!yaml.contains("s3cr3t"), "{addr}: {yaml}");
        assert!(
            yaml.contains("password: <secret>") && yaml.contains("username: u"),
            "{yaml}"
        );
    }

    // No exemplars are stored (nor are they in Prometheus without its feature flag): the
    // same empty answers, 204 for an expression without selectors, and the same refusals
    // (a parse error's position prefix aside, see issue #22).
    for (params, exact) in [
        ("query=temp&start=10&end=20", true),
        ("query=sum(rate(temp[5m]))", true),
        ("query=1", true),
        ("query=up&start=20&end=10", true),
        ("query=up&start=x", true),
        ("query=sum(", false),
    ] {
        let ask = |addr| {
            let r = get(addr, &format!("/api/v1/query_exemplars?{params}")).unwrap();
            let body = r.text();
            let kind = (!body.is_empty()).then(|| r.json()["errorType"].clone());
            (r.status, kind, body)
        };
        let (theirs, ours) = (ask(prometheus.addr), ask(node.addr));
        if exact {
            assert_eq!(ours, theirs, "{params}");
        } else {
            assert_eq!((ours.0, ours.1), (theirs.0, theirs.1), "{params}");
        }
    }

    let (theirs, ours) = (data(prometheus.addr, "tsdb"), data(node.addr, "tsdb"));
    for stat in ["numSeries", "numLabelPairs", "chunkCount"] {
        assert_eq!(ours["headStats"][stat], theirs["headStats"][stat], "{stat}");
    }
    // Ten label pairs in all, so every list is whole; equal counts come in any order.
    for list in [
        "seriesCountByMetricName",
        "labelValueCountByLabelName",
        "memoryInBytesByLabelName",
        "seriesCountByLabelValuePair",
    ] {
        let set = |v: &serde_json::Value| -> BTreeSet<String> {
            v[list]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        assert_eq!(set(&ours), set(&theirs), "{list}");
    }
}
