//! `/api/v1/query`'s answers and errors, request for request beside the real Prometheus': the
//! same status, `errorType` or `resultType`, and at a given time the same data.

use std::net::SocketAddr;
use std::time::Duration;

use crate::federate::now_ms;
use crate::harness::*;
use crate::prometheus::Prometheus;
use crate::query_api::{time_param, vector};

/// One `/api/v1/query` request: status, JSON body, and whether it was labeled JSON.
fn ask(
    addr: SocketAddr,
    method: &str,
    target: &str,
    form: Option<&str>,
) -> (u16, serde_json::Value, bool) {
    let headers: &[(&str, &str)] = match form {
        Some(_) => &[("Content-Type", "application/x-www-form-urlencoded")],
        None => &[],
    };
    let r = http(addr, method, target, headers, form.unwrap_or("").as_bytes()).unwrap();
    let is_json = r.header("content-type") == Some("application/json");
    (r.status, r.json(), is_json)
}

/// The requests of `query_api_errors`: what is asked, the status, and the `errorType` of an
/// error or the `resultType` of a success, as Prometheus answers (checked against it too).
fn query_cases(at: &str) -> Vec<(&'static str, String, Option<String>, u16, &'static str)> {
    let q = |expr: &str| format!("/api/v1/query?query={}&time={at}", enc(expr));
    vec![
        ("GET", q("sum("), None, 400, "bad_data"),
        ("GET", q("no_such_function(up)"), None, 400, "bad_data"),
        ("GET", "/api/v1/query".into(), None, 400, "bad_data"),
        (
            "GET",
            "/api/v1/query?query=up&time=yesterday".into(),
            None,
            400,
            "bad_data",
        ),
        // Both series lose their name: a result with one label set twice.
        (
            "GET",
            q(r#"abs({__name__=~"up|scrape_duration_seconds"})"#),
            None,
            422,
            "execution",
        ),
        ("GET", q("up"), None, 200, "vector"),
        (
            "POST",
            "/api/v1/query".into(),
            Some(format!("query={}&time={at}", enc("up"))),
            200,
            "vector",
        ),
        // A POST body that is not a form is not read.
        ("POST", "/api/v1/query".into(), None, 400, "bad_data"),
        ("GET", q("1 + 1"), None, 200, "scalar"),
        ("GET", q("\"text\""), None, 200, "string"),
        ("GET", q("up[5m]"), None, 200, "matrix"),
    ]
}

#[test]
fn query_api_errors() {
    let exporter = Exporter::start(|_| Reply::Text("healthy 1\n".into()));
    let config = format!(
        "{}scrape_configs:\n{}",
        global_section(""),
        static_job("app", &[exporter.addr], "")
    );
    let prometheus = Prometheus::start(&config);
    let node = Wasmfed::start(&config);
    for addr in [prometheus.addr, node.addr] {
        wait_for("a scrape", Duration::from_secs(30), || {
            match vector(addr, "up", None)?.len() {
                1 => Ok(()),
                n => Err(format!("{n} up series")),
            }
        });
    }
    let at = time_param(now_ms());
    let mut answers = Vec::new();
    for (method, target, form, status, kind) in query_cases(&at) {
        let case = format!("{method} {target} {form:?}");
        let mut both = Vec::new();
        for (server, addr) in [("Prometheus", prometheus.addr), ("wasmfed", node.addr)] {
            let (got_status, body, is_json) = ask(addr, method, &target, form.as_deref());
            assert_eq!(got_status, status, "{server}: {case}: {body}");
            assert!(is_json, "{server}: {case}: not labeled JSON");
            if status == 200 {
                assert_eq!(body["status"], "success", "{server}: {case}: {body}");
                assert_eq!(body["data"]["resultType"], kind, "{server}: {case}: {body}");
            } else {
                assert_eq!(body["status"], "error", "{server}: {case}: {body}");
                assert_eq!(body["errorType"], kind, "{server}: {case}: {body}");
                assert!(
                    body["error"].as_str().is_some_and(|e| !e.is_empty()),
                    "{server}: {case}: {body}"
                );
            }
            both.push(body);
        }
        answers.push((case, both));
    }
    // At a given time, the successful answers are the same, timestamps and all, but for the
    // raw samples of a range, which each server scraped at its own times.
    for (case, both) in answers {
        if both[0]["status"] != "success" {
            continue;
        }
        if both[0]["data"]["resultType"] == "matrix" {
            let metrics = |data: &serde_json::Value| -> Vec<serde_json::Value> {
                data["result"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["metric"].clone())
                    .collect()
            };
            assert_eq!(
                metrics(&both[0]["data"]),
                metrics(&both[1]["data"]),
                "{case}"
            );
        } else {
            assert_eq!(both[0]["data"], both[1]["data"], "{case}");
        }
    }
}

/// Go's `ParseForm`, which Prometheus' API reads its parameters with, puts a POST form's
/// values before the query string's, so the body wins.
#[test]
fn post_form_takes_precedence_over_query_string() {
    let config = format!("{}scrape_configs: []\n", global_section(""));
    let prometheus = Prometheus::start(&config);
    let node = Wasmfed::start(&config);
    for (server, addr) in [("Prometheus", prometheus.addr), ("wasmfed", node.addr)] {
        let (status, body, _) = ask(addr, "POST", "/api/v1/query?query=1", Some("query=2"));
        assert_eq!(status, 200, "{server}: {body}");
        assert_eq!(body["data"]["result"][1], "2", "{server}: {body}");
    }
}
