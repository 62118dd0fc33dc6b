//! Prometheus 3's UTF-8 names through wasmfed with `--query.compat=3`: a target exposing
//! quoted names in the text format 1.0.0 is scraped and stored as written; a job whose
//! `metric_name_validation_scheme` is `legacy` fails that scrape as Prometheus 3 does; a
//! metric relabel rule writes a UTF-8 label name;
//! `/federate` quotes the names for a reader asking `escaping=allow-utf-8` (a wasmfed or
//! Prometheus 3 global, which keeps them) and escapes them to underscores for any other reader
//! — the real Prometheus 2.42 federating the leaf stores `http_requests{url_path=...}`.
//! Debian has no Prometheus 3 to compare with; the expected bytes follow Prometheus 3's parser
//! and `expfmt` tests (see the unit tests beside each piece).

use std::time::Duration;

use crate::federate::now_ms;
use crate::harness::*;
use crate::prometheus::Prometheus;

fn exposition(ts: i64) -> String {
    format!(
        "# HELP \"http.requests\" Requests served.\n\
         # TYPE \"http.requests\" counter\n\
         {{\"http.requests\",\"url.path\"=\"/\",code=\"200\"}} 7 {ts}\n\
         legacy_gauge{{\"k8s.pod\"=\"a\"}} 1 {ts}\n"
    )
}

const UTF8_ACCEPT: &str = "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,*/*;q=0.2";

#[test]
fn utf8_names_are_scraped_stored_and_federated_as_prometheus_3_does() {
    let ts = now_ms() - 1000;
    let exporter = Exporter::start(move |_| {
        let content_type = "text/plain; version=1.0.0; charset=utf-8; escaping=allow-utf-8";
        Reply::Typed(Some(content_type), exposition(ts))
    });
    let leaf_config = format!(
        "{}scrape_configs:\n{}{}",
        global_section(""),
        static_job(
            "utf8",
            &[exporter.addr],
            "    metric_relabel_configs: [{source_labels: [code], target_label: http.code}]\n"
        ),
        static_job(
            "legacy",
            &[exporter.addr],
            "    metric_name_validation_scheme: legacy\n"
        ),
    );
    let leaf = Wasmfed::start_args(&leaf_config, &["--query.compat=3"]);
    wait_for_health(
        &leaf,
        &[
            ("utf8", ""),
            ("legacy", "invalid metric name or label names"),
        ],
    );

    // A UTF-8 reader gets the names quoted, the family name too.
    let selector = r#"{job="utf8",__name__!~"up|scrape_.*"}"#;
    let path = format!("/federate?match[]={}", enc(selector));
    let utf8 = wait_for("the leaf to federate", Duration::from_secs(30), || {
        let r = http(leaf.addr, "GET", &path, &[("Accept", UTF8_ACCEPT)], b"")?;
        match r.text().contains("http.requests") {
            true => Ok(r),
            false => Err(r.text()),
        }
    });
    assert_eq!(
        utf8.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8; escaping=allow-utf-8")
    );
    let text = utf8.text();
    assert!(
        text.contains("# TYPE \"http.requests\" untyped\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{{\"http.requests\",code=\"200\",\"http.code\"=\"200\",instance=\"{}\",job=\"utf8\",\"url.path\"=\"/\"}} 7 {ts}\n",
            exporter.addr
        )),
        "{text}"
    );
    assert!(text.contains("legacy_gauge{instance="), "{text}");
    assert!(text.contains(",\"k8s.pod\"=\"a\"} 1 "), "{text}");

    // Any other reader gets underscores, and says so in the Content-Type.
    let plain = federate(leaf.addr, &[selector]);
    assert_eq!(
        plain.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8; escaping=underscores")
    );
    assert!(
        plain.text().contains("http_requests{code=\"200\""),
        "{}",
        plain.text()
    );

    // A wasmfed global (Prometheus 3 semantics) keeps the names; Prometheus 2.42 reads them
    // escaped.
    let federation = |extra: &str| {
        format!(
            "{}scrape_configs:\n{}",
            global_section(""),
            static_job(
                "leaf",
                &[leaf.addr],
                &format!(
                    "    honor_labels: true\n    metrics_path: /federate\n    params:\n      \
                     'match[]': ['{selector}']\n{extra}"
                ),
            )
        )
    };
    let global = Wasmfed::start_args(&federation(""), &["--query.compat=3"]);
    let prometheus = Prometheus::start(&federation(""));
    let from_global = wait_for("the global to federate", Duration::from_secs(60), || {
        let r = http(global.addr, "GET", &path, &[("Accept", UTF8_ACCEPT)], b"")?;
        match r.text().contains("\"url.path\"=\"/\"") {
            true => Ok(r.text()),
            false => Err(r.text()),
        }
    });
    assert!(from_global.contains("{\"http.requests\","), "{from_global}");
    let escaped = r#"http_requests{job="utf8",__name__!~"up|scrape_.*"}"#;
    let from_prometheus = wait_for("Prometheus to federate", Duration::from_secs(60), || {
        let text = federate(prometheus.addr, &[escaped]).text();
        match text.contains("url_path=\"/\"") {
            true => Ok(text),
            false => Err(text),
        }
    });
    assert!(
        from_prometheus.contains(&format!(
            "http_requests{{code=\"200\",http_code=\"200\",instance=\"{}\"",
            exporter.addr
        )),
        "{from_prometheus}"
    );
}
