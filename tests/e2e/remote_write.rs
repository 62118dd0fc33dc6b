//! Remote write into wasmfed (issue #18): `POST /api/v1/write` with
//! `--web.enable-remote-write-receiver`, fed by the real senders: Prometheus 2.42's
//! `remote_write` (every sample of the differential data set, explicit timestamps, must be
//! stored exactly as Prometheus stored it) and vmagent's `-remoteWrite.url` (into a tenant
//! named by `X-Scope-OrgID` and its token, and only there). Bad requests get 400 with the
//! reason and store nothing; a node without the flag answers 404 as Prometheus does.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use wasmfed_model::Labels;
use wasmfed_remote::{encode_write_request, SeriesBatch};

use crate::federate::now_ms;
use crate::harness::*;
use crate::prometheus::Prometheus;
use crate::query_api::{raw_samples, time_param};

const RECEIVER: &str = "--web.enable-remote-write-receiver";

fn post(node: &Wasmfed, body: &[u8], headers: &[(&str, &str)]) -> HttpResponse {
    let mut all = vec![
        ("Content-Encoding", "snappy"),
        ("Content-Type", "application/x-protobuf"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ];
    all.extend_from_slice(headers);
    http(node.addr, "POST", "/api/v1/write", &all, body).unwrap()
}

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> SeriesBatch {
    SeriesBatch {
        labels: Labels::from_pairs(labels.iter().copied()),
        samples: samples.to_vec(),
    }
}

/// How many samples of `selector` the node holds in the hour before `at`.
fn count(node: &Wasmfed, selector: &str, at: i64, headers: &[(&str, &str)]) -> usize {
    let path = format!(
        "/api/v1/query?query={}&time={}",
        enc(&format!("count_over_time({selector}[1h])")),
        time_param(at)
    );
    let r = http(node.addr, "GET", &path, headers, b"").unwrap().json();
    r["data"]["result"]
        .as_array()
        .map(|series| {
            series
                .iter()
                .map(|s| s["value"][1].as_str().unwrap().parse::<usize>().unwrap())
                .sum()
        })
        .unwrap_or(0)
}

/// Every sample of `{job="live"}` in the 30 s before `at`.
fn window(
    addr: std::net::SocketAddr,
    at: i64,
) -> Result<std::collections::BTreeMap<String, Vec<(i64, u64)>>, String> {
    raw_samples(addr, "{job=\"live\"}[30s]", at)
}

#[test]
fn prometheus_remote_writes_every_sample_into_wasmfed() {
    let node = Wasmfed::start_args("global: {scrape_interval: 1s}\n", &[RECEIVER]);
    let scrapes = std::sync::atomic::AtomicU64::new(0);
    let exporter = Exporter::start(move |_| {
        let n = scrapes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let body: String = (0..40)
            .map(|i| {
                format!(
                    "live_total{{i=\"{i}\"}} {}\nlive_gauge{{i=\"{i}\"}} {}\n",
                    n * i,
                    (n * 7 + i) % 13
                )
            })
            .collect();
        Reply::Text(body)
    });
    let config = format!(
        "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\nscrape_configs:\n{}remote_write:\n  - url: http://{}/api/v1/write\n    queue_config: {{batch_send_deadline: 1s, max_samples_per_send: 100}}\n",
        static_job("live", &[exporter.addr], ""),
        node.addr
    );
    let prometheus = Prometheus::start(&config);
    // Once Prometheus has scraped for a while, the samples of a past 30 s window (its
    // scrapes, `up` and `scrape_*` series included) must all have reached wasmfed, as they are.
    std::thread::sleep(Duration::from_secs(35));
    let at = now_ms() - 3_000;
    let theirs = window(prometheus.addr, at).unwrap();
    let points: usize = theirs.values().map(Vec::len).sum();
    assert!(
        theirs.len() >= 80 && points >= 80 * 25,
        "{} series, {points} samples",
        theirs.len()
    );
    let ours = wait_for(
        "wasmfed to hold the window",
        Duration::from_secs(30),
        || {
            let ours = window(node.addr, at)?;
            (ours == theirs).then_some(ours).ok_or_else(|| {
                let got: usize =
                    window(node.addr, at).map_or(0, |w| w.values().map(Vec::len).sum());
                format!("{got} of {points} samples")
            })
        },
    );
    assert_eq!(ours.len(), theirs.len());
    assert!(
        node.metric("wasmfed_remote_write_samples_received_total{tenant=\"default\"}")
            >= Some(points as f64)
    );
}

/// vmagent, started on loopback with its own scrape config and remote-write flags.
struct VmAgent {
    child: Child,
    _dir: tempfile::TempDir,
}

impl VmAgent {
    fn start(scrape_config: &str, args: &[String]) -> VmAgent {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("scrape.yml");
        std::fs::write(&config, scrape_config).unwrap();
        let binary = std::path::Path::new("/usr/bin/vmagent");
        assert!(
            binary.exists(),
            "/usr/bin/vmagent not found: Debian's victoria-metrics package; ./test.sh installs it"
        );
        let child = Command::new(binary)
            .arg(format!("-promscrape.config={}", config.display()))
            .arg(format!("-httpListenAddr=127.0.0.1:{}", free_port()))
            .arg(format!(
                "-remoteWrite.tmpDataPath={}",
                dir.path().join("queue").display()
            ))
            .arg("-remoteWrite.flushInterval=500ms")
            .arg("-loggerLevel=ERROR")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting vmagent");
        VmAgent { child, _dir: dir }
    }
}

impl Drop for VmAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn vmagent_remote_writes_into_the_tenant_it_names() {
    let body: String = (0..50)
        .map(|i| format!("fleet_value{{i=\"{i}\"}} {i}\n"))
        .collect();
    let exporter = Exporter::start(move |_| Reply::Text(body.clone()));
    let node = Wasmfed::start_args(
        "global: {scrape_interval: 1s}\ntenants:\n  - name: team-a\n    bearer_token: t-a\n",
        &[RECEIVER],
    );
    let scrape = format!(
        "global: {{scrape_interval: 1s}}\nscrape_configs:\n{}",
        static_job("fleet", &[exporter.addr], "")
    );
    let _agent = VmAgent::start(
        &scrape,
        &[
            format!("-remoteWrite.url=http://{}/api/v1/write", node.addr),
            "-remoteWrite.headers=X-Scope-OrgID: team-a".to_string(),
            "-remoteWrite.bearerToken=t-a".to_string(),
        ],
    );
    let team_a = [("X-Scope-OrgID", "team-a"), ("Authorization", "Bearer t-a")];
    let values = wait_for(
        "vmagent's samples in team-a",
        Duration::from_secs(30),
        || {
            let path = format!("/api/v1/query?query={}", enc("fleet_value"));
            let r = http(node.addr, "GET", &path, &team_a, b"").unwrap().json();
            let got: Vec<(String, String)> = r["data"]["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    (
                        s["metric"]["i"].as_str().unwrap_or_default().to_owned(),
                        s["value"][1].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            (got.len() == 50).then_some(got).ok_or(format!("{r}"))
        },
    );
    assert!(values.iter().all(|(i, v)| i == v), "{values:?}");
    // Samples keep coming, scrape after scrape, and only into team-a.
    let before = count(&node, "fleet_value{i=\"7\"}", now_ms(), &team_a);
    wait_for("more samples", Duration::from_secs(20), || {
        let now = count(&node, "fleet_value{i=\"7\"}", now_ms(), &team_a);
        (now > before)
            .then_some(())
            .ok_or(format!("{now} after {before}"))
    });
    assert_eq!(count(&node, "fleet_value", now_ms(), &[]), 0);
    assert!(
        node.metric("wasmfed_remote_write_samples_received_total{tenant=\"team-a\"}") > Some(0.0)
    );
    // Without the token, the tenant refuses the sender.
    let refused = post(
        &node,
        &encode_write_request(&[series(&[("__name__", "x")], &[(now_ms(), 1.0)])]),
        &[("X-Scope-OrgID", "team-a")],
    );
    assert_eq!(refused.status, 401, "{}", refused.text());
}

#[test]
fn bad_remote_writes_are_refused_whole_with_the_reason() {
    let node = Wasmfed::start_args("global: {scrape_interval: 1s}\n", &[RECEIVER]);
    let t = now_ms() - 60_000;
    let refused = |body: &[u8], want: &str| {
        let r = post(&node, body, &[]);
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(
            r.text().contains(want),
            "{} does not say {want:?}",
            r.text()
        );
    };
    refused(b"not snappy", "snappy");
    refused(
        &snap::raw::Encoder::new().compress_vec(&[0xff; 32]).unwrap(),
        "protobuf",
    );
    // A series out of order within the request: the good series beside it is not stored.
    refused(
        &encode_write_request(&[
            series(&[("__name__", "good")], &[(t, 1.0)]),
            series(&[("__name__", "bad")], &[(t, 1.0), (t - 1000, 2.0)]),
        ]),
        "out of order sample",
    );
    assert_eq!(count(&node, "{__name__=~\"good|bad\"}", t + 1, &[]), 0);

    // Stored, then a request with one sample older than what is stored: refused whole.
    let ok = post(
        &node,
        &encode_write_request(&[series(
            &[("__name__", "kept"), ("job", "rw")],
            &[(t, 1.0), (t + 1000, 2.0)],
        )]),
        &[],
    );
    assert_eq!(ok.status, 204, "{}", ok.text());
    refused(
        &encode_write_request(&[
            series(&[("__name__", "other")], &[(t, 5.0)]),
            series(&[("__name__", "kept"), ("job", "rw")], &[(t + 500, 3.0)]),
        ]),
        "out of order sample",
    );
    refused(
        &encode_write_request(&[series(
            &[("__name__", "kept"), ("job", "rw")],
            &[(t + 1000, 9.0)],
        )]),
        "duplicate sample for timestamp",
    );
    assert_eq!(count(&node, "kept", t + 2000, &[]), 2);
    assert_eq!(count(&node, "other", t + 2000, &[]), 0);
    // An exact repeat is accepted and stores nothing new.
    let again = post(
        &node,
        &encode_write_request(&[series(
            &[("__name__", "kept"), ("job", "rw")],
            &[(t + 1000, 2.0)],
        )]),
        &[],
    );
    assert_eq!(again.status, 204, "{}", again.text());
    assert_eq!(count(&node, "kept", t + 2000, &[]), 2);
    assert_eq!(
        node.metric(
            "wasmfed_remote_write_requests_refused_total{tenant=\"default\",reason=\"sample\"}"
        ),
        Some(2.0)
    );

    // Without the flag: Prometheus' 404.
    let plain = Wasmfed::start("global: {scrape_interval: 1s}\n");
    let r = post(&plain, &encode_write_request(&[]), &[]);
    assert_eq!(r.status, 404);
    assert!(
        r.text().contains("--web.enable-remote-write-receiver"),
        "{}",
        r.text()
    );
}
