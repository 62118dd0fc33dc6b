//! What scraping stores under `--query.compat`: with 2, as Debian's Prometheus 2.42 next to it
//! (`le`/`quantile` as written, a body without Content-Type read as text, `:80` added to a
//! bare address); with 3, as Prometheus 3 (normalized `le`/`quantile`, such a scrape failed
//! unless the job names a fallback, addresses as written).

use std::net::SocketAddr;
use std::time::Duration;

use crate::federate::now_ms;
use crate::harness::*;
use crate::prometheus::Prometheus;

/// A classic histogram and a summary whose `le` and `quantile` values Prometheus 3 rewrites.
fn histogram_and_summary(ts: i64) -> String {
    format!(
        "# TYPE h histogram\n\
         h_bucket{{le=\"0.5\"}} 1 {ts}\n\
         h_bucket{{le=\"1\"}} 2 {ts}\n\
         h_bucket{{le=\"1e3\"}} 3 {ts}\n\
         h_bucket{{le=\"+Inf\"}} 3 {ts}\n\
         h_sum 4 {ts}\n\
         h_count 3 {ts}\n\
         # TYPE s summary\n\
         s{{quantile=\"0.50\"}} 1 {ts}\n\
         s{{quantile=\"1\"}} 2 {ts}\n\
         s_count 2 {ts}\n"
    )
}

const SAMPLES: usize = 9;

/// The exposition's series of `job`, without the scrape's own (`up`, `scrape_*`).
fn exposed(job: &str) -> String {
    format!(r#"{{job="{job}",__name__=~"h_.*|s|s_count"}}"#)
}

/// `/blank` answers without a Content-Type, anything else as the text format.
fn exporter(ts: i64) -> Exporter {
    Exporter::start(move |path| {
        let content_type = (path != "/blank").then_some("text/plain; version=0.0.4");
        Reply::Typed(content_type, histogram_and_summary(ts))
    })
}

fn config(exporter: SocketAddr, jobs: &str) -> String {
    format!(
        "{}scrape_configs:\n{}{jobs}",
        global_section(""),
        static_job("hist", &[exporter], "    metrics_path: /blank\n"),
    )
}

/// The `/federate` text for `selector` once it holds `count` samples.
fn federated(addr: SocketAddr, who: &str, selector: &str, count: usize) -> String {
    wait_for(
        &format!("{who} to federate {selector}"),
        Duration::from_secs(60),
        || {
            let text = federate(addr, &[selector]).text();
            if samples_of(&text).len() == count {
                Ok(text)
            } else {
                Err(text)
            }
        },
    )
}

/// The label sets of `up` for `job`, values and timestamps left out.
fn up_labels(addr: SocketAddr, who: &str, job: &str) -> Vec<Vec<(String, String)>> {
    let text = federated(addr, who, &format!("up{{job=\"{job}\"}}"), 1);
    samples_of(&text)
        .into_iter()
        .map(|(labels, _, _)| labels)
        .collect()
}

#[test]
fn compat_2_stores_what_prometheus_2_42_stores() {
    let ts = now_ms() - 1000;
    let exporter = exporter(ts);
    // A bare address: 2.42 scrapes (and labels) it as 127.0.0.1:80.
    let config = config(
        exporter.addr,
        "  - job_name: bare\n    static_configs:\n      - targets: ['127.0.0.1']\n",
    );
    let prometheus = Prometheus::start(&config);
    let node = Wasmfed::start(&config);
    let theirs = federated(prometheus.addr, "prometheus", &exposed("hist"), SAMPLES);
    let ours = federated(node.addr, "wasmfed", &exposed("hist"), SAMPLES);
    assert_eq!(ours, theirs);
    assert!(
        ours.contains(r#"h_bucket{instance=""#) && ours.contains(r#"le="1"}"#),
        "{ours}"
    );
    let bare = up_labels(prometheus.addr, "prometheus", "bare");
    assert_eq!(up_labels(node.addr, "wasmfed", "bare"), bare);
    assert!(format!("{bare:?}").contains("127.0.0.1:80"), "{bare:?}");
}

#[test]
fn compat_3_normalizes_fails_without_content_type_and_keeps_bare_addresses() {
    let ts = now_ms() - 1000;
    let exporter = exporter(ts);
    let jobs = [
        static_job("typed", &[exporter.addr], ""),
        static_job(
            "fallback",
            &[exporter.addr],
            "    metrics_path: /blank\n    fallback_scrape_protocol: PrometheusText0.0.4\n",
        ),
        "  - job_name: bare\n    static_configs:\n      - targets: ['127.0.0.1']\n".to_owned(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wasmfed.yml");
    std::fs::write(&path, config(exporter.addr, &jobs.concat())).unwrap();
    let node = Wasmfed::start_with(dir, &path, &["--query.compat=3"]);
    let blank = "non-compliant scrape target sending blank Content-Type and no \
                 fallback_scrape_protocol specified for target";
    wait_for("every target to report", Duration::from_secs(30), || {
        let targets = node.targets();
        let active = targets["data"]["activeTargets"].as_array().unwrap().clone();
        let mut seen = Vec::new();
        for t in &active {
            let pool = t["scrapePool"].as_str().unwrap();
            let (health, error) = (
                t["health"].as_str().unwrap(),
                t["lastError"].as_str().unwrap(),
            );
            seen.push(format!("{pool}: {health} {error:?}"));
            let want = match pool {
                "hist" => ("down", blank),
                "typed" | "fallback" => ("up", ""),
                _ => continue,
            };
            if (health, error) != want {
                return Err(seen.join("; "));
            }
        }
        Ok(())
    });
    for job in ["typed", "fallback"] {
        let text = federated(node.addr, "wasmfed", &exposed(job), SAMPLES);
        let labels: Vec<String> = samples_of(&text)
            .into_iter()
            .flat_map(|(labels, _, _)| labels)
            .filter(|(name, _)| name == "le" || name == "quantile")
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        assert_eq!(
            labels,
            [
                "le=+Inf",
                "le=0.5",
                "le=1.0",
                "le=1000.0",
                "quantile=0.5",
                "quantile=1.0"
            ],
            "{job}: {text}"
        );
    }
    let bare = up_labels(node.addr, "wasmfed", "bare");
    let instance = bare[0].iter().find(|(name, _)| name == "instance").unwrap();
    assert_eq!(instance.1, "127.0.0.1");
    let targets = node.targets();
    let url = targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scrapePool"] == "bare")
        .map(|t| t["scrapeUrl"].clone());
    assert_eq!(url, Some("http://127.0.0.1/metrics".into()));
}
