//! `/federate` through the real binary: exact text, staleness, errors, gzip, a two-level hierarchy.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::harness::*;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// An exposition exercising names, escapes, special values, empty and clashing labels, with
/// explicit timestamps so the federated text is fully determined.
pub fn fixed_exposition(ts: i64) -> String {
    format!(
        "# HELP t_gauge A gauge.\n\
         # TYPE t_gauge gauge\n\
         t_gauge{{a=\"2\",esc=\"q\\\"\\\\\\nx\"}} -1.5e-07 {ts}\n\
         t_gauge{{a=\"1\"}} 3 {ts}\n\
         t_special{{kind=\"nan\"}} NaN {ts}\n\
         t_special{{kind=\"inf\"}} +Inf {ts}\n\
         t_special{{kind=\"ninf\"}} -Inf {ts}\n\
         t_big 1234567 {ts}\n\
         t_empty{{a=\"\"}} 7 {ts}\n\
         t_clash{{instance=\"inner\",job=\"inner\"}} 1 {ts}\n\
         t:colon:name 42 {ts}\n"
    )
}

pub fn expected_federation(instance: &str, ts: i64, external: &str) -> String {
    let plain = format!("instance=\"{instance}\",job=\"exp\"");
    let own = format!("{plain}{external}");
    format!(
        "# TYPE t:colon:name untyped\n\
         t:colon:name{{{own}}} 42 {ts}\n\
         # TYPE t_big untyped\n\
         t_big{{{own}}} 1.234567e+06 {ts}\n\
         # TYPE t_clash untyped\n\
         t_clash{{exported_instance=\"inner\",exported_job=\"inner\",{own}}} 1 {ts}\n\
         # TYPE t_empty untyped\n\
         t_empty{{{own}}} 7 {ts}\n\
         # TYPE t_gauge untyped\n\
         t_gauge{{a=\"1\",{own}}} 3 {ts}\n\
         t_gauge{{a=\"2\",esc=\"q\\\"\\\\\\nx\",{own}}} -1.5e-07 {ts}\n\
         # TYPE t_special untyped\n\
         t_special{{{plain},kind=\"inf\"{external}}} +Inf {ts}\n\
         t_special{{{plain},kind=\"nan\"{external}}} NaN {ts}\n\
         t_special{{{plain},kind=\"ninf\"{external}}} -Inf {ts}\n"
    )
}

fn leaf_config(exporter: std::net::SocketAddr) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  external_labels:\n    dc: eu\n\
         scrape_configs:\n  - job_name: exp\n    static_configs:\n      - targets: ['{exporter}']\n"
    )
}

#[test]
fn federate_text_is_exact() {
    let ts = now_ms() - 1000;
    let exporter = Exporter::start(move |_| Reply::Text(fixed_exposition(ts)));
    let node = Wasmfed::start(&leaf_config(exporter.addr));
    let selector = r#"{job="exp",__name__=~"t.*"}"#;
    let want = expected_federation(&exporter.addr.to_string(), ts, ",dc=\"eu\"");
    wait_for("the federated text", Duration::from_secs(20), || {
        let r = node.federate(&[selector]);
        if r.status != 200 {
            return Err(format!("status {}", r.status));
        }
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        if r.text() == want {
            Ok(())
        } else {
            Err(r.text())
        }
    });
    // The union of two selectors equals one that covers both.
    let union = node.federate(&[
        r#"{__name__=~"t_[a-f].*"}"#,
        r#"{job="exp",__name__=~"t[:_][c-z].*"}"#,
    ]);
    assert_eq!(union.text(), want);
    // gzip when asked.
    let query = format!("/federate?match[]={}", enc(selector));
    let gz = http(
        node.addr,
        "GET",
        &query,
        &[("Accept-Encoding", "gzip")],
        b"",
    )
    .unwrap();
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, want);
    // Raw quotes and braces in the query, as `curl -g` sends them, work as with Prometheus.
    let raw = get(node.addr, &format!("/federate?match[]={selector}")).unwrap();
    assert_eq!((raw.status, raw.text()), (200, want.clone()));
    // POST form bodies are read like query strings.
    let form = format!("match[]={}", enc(selector));
    let post = http(
        node.addr,
        "POST",
        "/federate",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .unwrap();
    assert_eq!(post.text(), want);
}

#[test]
fn federate_errors_and_empty_requests() {
    let exporter = Exporter::start(|_| Reply::Text("m 1\n".into()));
    let node = Wasmfed::start(&leaf_config(exporter.addr));
    let none = get(node.addr, "/federate").unwrap();
    assert_eq!((none.status, none.body.len()), (200, 0));
    for bad in ["up{", "rate(x[5m])", r#"{a=~"("}"#, "x offset 5m"] {
        let r = node.federate(&[bad]);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(!r.text().trim().is_empty(), "{bad}: the reason is given");
    }
    wait_for("a scrape", Duration::from_secs(20), || {
        let ok = node.federate(&["m"]);
        if ok.status == 200 && !ok.body.is_empty() {
            Ok(())
        } else {
            Err(ok.text())
        }
    });
    // As Prometheus' ParseMetricSelector: `{}` selects nothing, `{a=""}` every series without `a`.
    let empty = node.federate(&["{}"]);
    assert_eq!((empty.status, empty.body.len()), (200, 0));
    let series = |selector: &str| -> Vec<_> {
        samples_of(&node.federate(&[selector]).text())
            .into_iter()
            .map(|(labels, _, _)| labels)
            .collect()
    };
    let all = series(r#"{__name__=~".+"}"#);
    assert!(all.len() >= 6, "m and the synthetic series: {all:?}");
    assert_eq!(series(r#"{a=""}"#), all);
}

#[test]
fn vanished_series_are_not_federated() {
    let with_b = Arc::new(AtomicBool::new(true));
    let flag = with_b.clone();
    let exporter = Exporter::start(move |_| {
        Reply::Text(
            if flag.load(Ordering::SeqCst) {
                "a 1\nb 2\n"
            } else {
                "a 1\n"
            }
            .into(),
        )
    });
    let node = Wasmfed::start(&leaf_config(exporter.addr));
    let names = |text: String| -> Vec<String> {
        samples_of(&text)
            .into_iter()
            .map(|(l, _, _)| l[0].1.clone())
            .collect()
    };
    wait_for("a and b", Duration::from_secs(20), || {
        let got = names(node.federate(&[r#"{__name__=~"a|b"}"#]).text());
        if got == ["a", "b"] {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    });
    with_b.store(false, Ordering::SeqCst);
    wait_for("b to go stale", Duration::from_secs(20), || {
        let got = names(node.federate(&[r#"{__name__=~"a|b"}"#]).text());
        if got == ["a"] {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    });
}

#[test]
fn two_level_hierarchy_keeps_leaf_labels() {
    let ts = now_ms() - 1000;
    let exporter = Exporter::start(move |_| Reply::Text(fixed_exposition(ts)));
    let leaf = Wasmfed::start(&leaf_config(exporter.addr));
    let global = Wasmfed::start(&format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
         scrape_configs:\n  - job_name: federate\n    honor_labels: true\n    metrics_path: /federate\n\
         \x20   params:\n      'match[]': ['{{job=\"exp\"}}']\n    static_configs:\n      - targets: ['{}']\n",
        leaf.addr
    ));
    let selector = r#"{job="exp",__name__=~"t.*"}"#;
    let want = samples_of(&expected_federation(
        &exporter.addr.to_string(),
        ts,
        ",dc=\"eu\"",
    ));
    wait_for(
        "the leaf's series at the global node",
        Duration::from_secs(30),
        || {
            let got = samples_of(&global.federate(&[selector]).text());
            if got == want {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        },
    );
    // Stored labels are sorted, so the global writes dc first; the content is the leaf's.
    let text = global.federate(&[r#"t_gauge{a="1"}"#]).text();
    assert_eq!(
        text,
        format!("# TYPE t_gauge untyped\nt_gauge{{a=\"1\",dc=\"eu\",instance=\"{}\",job=\"exp\"}} 3 {ts}\n", exporter.addr)
    );
}
