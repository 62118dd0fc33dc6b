//! The metadata API against Prometheus 2.42 (issue #20): both scrape the same target, then
//! `/api/v1/series`, `/api/v1/labels` and `/api/v1/label/<name>/values` (GET and POST, with
//! and without `match[]`, with time ranges, and bad parameters), `/api/v1/metadata` and
//! `/api/v1/targets/metadata` (from the target's `# HELP`/`# TYPE` lines) answer the same, and
//! `promtool query series|labels|range|instant`, a real client, prints the same for both.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::harness::*;
use crate::prometheus::Prometheus;

const EXPOSITION: &str = r#"# HELP temp Temperature in a room.
# TYPE temp gauge
temp{room="a"} 30
temp{room="b"} 10
# HELP humidity Relative humidity, with a \\ backslash and a \n newline.
# TYPE humidity untyped
humidity{room="a",sensor="s1"} 0.4
# TYPE events counter
events_total 5
# HELP only_help A family with help and no samples.
"#;

/// The status and JSON body of a metadata request.
fn ask(addr: SocketAddr, method: &str, path: &str, form: &str) -> (u16, serde_json::Value) {
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let r = http(addr, method, path, &headers, form.as_bytes()).unwrap();
    (r.status, r.json())
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .expect("running promtool (Debian's prometheus package)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn metadata_answers_are_prometheus_answers() {
    let exporter = Exporter::start(|_| Reply::Text(EXPOSITION.into()));
    let config = format!(
        "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\nscrape_configs:\n{}",
        static_job("t", &[exporter.addr], "")
    );
    let prometheus = Prometheus::start(&config);
    let node = Wasmfed::start(&config);
    for addr in [prometheus.addr, node.addr] {
        wait_for(
            &format!("a few scrapes by {addr}"),
            Duration::from_secs(30),
            || {
                let (_, body) = ask(addr, "GET", "/api/v1/series?match[]=temp", "");
                match body["data"].as_array().map(Vec::len) {
                    Some(2) => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        );
    }
    let now_s = crate::federate::now_ms() / 1000;
    let range = format!("start={}&end={}", now_s - 60, now_s + 1);
    let later = format!("start={}&end={}", now_s + 3600, now_s + 7200);
    let requests: Vec<(&str, String, String)> = vec![
        (
            "GET",
            format!("/api/v1/series?match[]={}", enc("temp")),
            String::new(),
        ),
        (
            "GET",
            format!(
                "/api/v1/series?match[]={}&match[]={}&{range}",
                enc(r#"{room="a"}"#),
                enc("up")
            ),
            String::new(),
        ),
        (
            "POST",
            "/api/v1/series".into(),
            format!("match[]={}", enc(r#"{__name__=~"temp|humidity"}"#)),
        ),
        (
            "GET",
            format!("/api/v1/series?match[]={}&{later}", enc("temp")),
            String::new(),
        ),
        ("GET", "/api/v1/labels".into(), String::new()),
        (
            "GET",
            format!("/api/v1/labels?match[]={}", enc("humidity")),
            String::new(),
        ),
        (
            "POST",
            "/api/v1/labels".into(),
            format!("match[]={}&{range}", enc("temp")),
        ),
        ("GET", format!("/api/v1/labels?{later}"), String::new()),
        ("GET", "/api/v1/label/__name__/values".into(), String::new()),
        ("GET", "/api/v1/label/room/values".into(), String::new()),
        (
            "GET",
            format!(
                "/api/v1/label/sensor/values?match[]={}&{range}",
                enc("temp")
            ),
            String::new(),
        ),
        ("GET", "/api/v1/label/nosuch/values".into(), String::new()),
        // Refused with Prometheus' words.
        ("GET", "/api/v1/series".into(), String::new()),
        (
            "GET",
            format!("/api/v1/series?match[]={}", enc(r#"{a=""}"#)),
            String::new(),
        ),
        (
            "GET",
            format!("/api/v1/labels?match[]={}", enc(r#"{a=~".*"}"#)),
            String::new(),
        ),
        (
            "GET",
            format!("/api/v1/series?match[]=up&start={}", enc("yesterday")),
            String::new(),
        ),
        ("GET", "/api/v1/labels?end=x".into(), String::new()),
        ("GET", "/api/v1/label/1bad/values".into(), String::new()),
    ];
    for (method, path, form) in &requests {
        let theirs = ask(prometheus.addr, method, path, form);
        let ours = ask(node.addr, method, path, form);
        assert_eq!(ours, theirs, "{method} {path} {form}");
    }
    // Metric metadata: Prometheus lists it in Go map order, so arrays are compared sorted.
    let metadata = [
        "/api/v1/metadata".to_string(),
        "/api/v1/metadata?metric=humidity".into(),
        "/api/v1/metadata?metric=nosuch".into(),
        "/api/v1/metadata?limit=0".into(),
        "/api/v1/metadata?limit=-1".into(),
        "/api/v1/metadata?limit=many".into(),
        format!(
            "/api/v1/targets/metadata?match_target={}",
            enc(r#"{job="t"}"#)
        ),
        format!(
            "/api/v1/targets/metadata?match_target={}&metric=only_help",
            enc(r#"{job=~"t|u"}"#)
        ),
        format!(
            "/api/v1/targets/metadata?match_target={}",
            enc(r#"{job="u"}"#)
        ),
        "/api/v1/targets/metadata?metric=temp&limit=5".into(),
        "/api/v1/targets/metadata?limit=0".into(),
    ];
    for path in &metadata {
        let sorted = |(status, mut body): (u16, serde_json::Value)| {
            if let Some(list) = body["data"].as_array_mut() {
                list.sort_by_key(|v| v.to_string());
            }
            (status, body)
        };
        let theirs = sorted(ask(prometheus.addr, "GET", path, ""));
        let ours = sorted(ask(node.addr, "GET", path, ""));
        assert_eq!(ours, theirs, "GET {path}");
    }
    // A real client: promtool prints the same for both. Range and instant queries from a
    // moment on: both hold a sample of every series by now (a second ago, `now_s` being
    // rounded down, one may not), and the values do not change.
    let (start, end) = (
        format!("--start={}", now_s + 1),
        format!("--end={}", now_s + 31),
    );
    let at = format!("--time={}", now_s + 10);
    for args in [
        vec!["query", "series", "--match=temp"],
        vec!["query", "labels", "room"],
        vec!["query", "labels", "__name__"],
        vec![
            "query",
            "range",
            &start,
            &end,
            "--step=10s",
            "sum by (room) (temp)",
        ],
        vec!["query", "range", &start, &end, "--step=7", "humidity * 2"],
        vec!["query", "instant", &at, "temp > 20"],
    ] {
        let with = |addr: SocketAddr| {
            let url = format!("http://{addr}");
            let mut full: Vec<&str> = args[..2].to_vec();
            full.push(&url);
            full.extend(&args[2..]);
            promtool(&full)
        };
        let (theirs, ours) = (with(prometheus.addr), with(node.addr));
        assert!(!theirs.is_empty());
        assert_eq!(ours, theirs, "promtool {args:?}");
    }
}
