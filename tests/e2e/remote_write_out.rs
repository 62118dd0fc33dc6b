//! Remote write out of wasmfed (issue #18): `remote_write:` to the real receivers —
//! Debian's VictoriaMetrics and Prometheus 2.42 with its receiver on — and to an in-test
//! receiver that answers what a test scripts. Every sample wasmfed stores for a job reaches
//! both real receivers, through a 60-second receiver outage and a `kill -9` of wasmfed; a 5xx
//! is retried and a 4xx is not; each tenant's queue sends only its own data, named by
//! `X-Scope-OrgID`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmfed_remote::decode_write_request;

use crate::federate::now_ms;
use crate::harness::*;
use crate::prometheus::Prometheus;
use crate::query_api::{matrix, LabelMap};

/// Samples by series (labels without the external `dc`), as (timestamp, value bits).
type Stored = BTreeMap<String, BTreeSet<(i64, u64)>>;

fn key<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<String> = labels
        .into_iter()
        .filter(|(n, _)| *n != "dc")
        .map(|(n, v)| format!("{n}={v:?}"))
        .collect();
    pairs.sort();
    pairs.join(",")
}

fn bits(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

/// What a Prometheus-API server (wasmfed, Prometheus) holds of `{job="load"}` up to `to_ms`.
fn stored(addr: std::net::SocketAddr, to_ms: i64) -> Result<Stored, String> {
    let series = matrix(addr, r#"{job="load"}[10m]"#, Some(to_ms))?;
    Ok(series
        .into_iter()
        .map(|(labels, points): (LabelMap, Vec<(i64, f64)>)| {
            let k = key(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            (k, points.into_iter().map(|(t, v)| (t, bits(v))).collect())
        })
        .collect())
}

/// What VictoriaMetrics holds of `{job="load"}` up to `to_ms`, every series carrying `dc`.
fn exported(vm: &VictoriaMetrics, to_ms: i64) -> Stored {
    vm.export(r#"{job="load"}"#)
        .into_iter()
        .map(|(labels, points)| {
            assert!(
                labels.iter().any(|(n, v)| n == "dc" && v == "a"),
                "{labels:?} has the external label"
            );
            let k = key(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            let points = points
                .into_iter()
                .filter(|&(t, _)| t <= to_ms)
                .map(|(t, v)| (t, bits(v)))
                .collect();
            (k, points)
        })
        .collect()
}

/// How many of `want`'s samples `got` lacks, and how many it has that `want` does not.
fn compare(want: &Stored, got: &Stored) -> (usize, usize) {
    let missing = want
        .iter()
        .map(|(k, w)| w.difference(got.get(k).unwrap_or(&BTreeSet::new())).count())
        .sum();
    let extra = got
        .iter()
        .map(|(k, g)| {
            g.difference(want.get(k).unwrap_or(&BTreeSet::new()))
                .count()
        })
        .sum();
    (missing, extra)
}

fn total(s: &Stored) -> usize {
    s.values().map(BTreeSet::len).sum()
}

/// 50 series whose values change every scrape.
fn changing_exporter() -> Exporter {
    let n = AtomicU64::new(0);
    Exporter::start(move |_| {
        let k = n.fetch_add(1, Ordering::SeqCst);
        let body: String = (0..50)
            .map(|i| format!("load_value{{i=\"{i}\"}} {}\n", k * 100 + i))
            .collect();
        Reply::Text(body)
    })
}

#[test]
fn every_sample_reaches_victoria_metrics_and_prometheus_through_an_outage_and_a_kill() {
    let exporter = changing_exporter();
    let mut vm = VictoriaMetrics::start();
    let prometheus =
        Prometheus::start_args("global: {}\n", &["--web.enable-remote-write-receiver"]);
    let config = format!(
        "{}scrape_configs:\n{}remote_write:\n  - url: http://{}/api/v1/write\n    name: vm\n  - url: http://{}/api/v1/write\n    name: prometheus\n",
        global_section("  external_labels: {dc: a}\n"),
        static_job("load", &[exporter.addr], ""),
        vm.addr,
        prometheus.addr
    );
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("wasmfed.yml");
    std::fs::write(&config_path, &config).unwrap();
    let node = Wasmfed::start_with(dir, &config_path, &[]);
    std::thread::sleep(Duration::from_secs(15));

    // The receiver is away for a minute under load; the queue holds its samples in the log.
    vm.stop();
    let retried =
        r#"prometheus_remote_storage_samples_retried_total{tenant="default",remote_name="vm","#;
    wait_for(
        "sends to the stopped receiver to be retried",
        Duration::from_secs(30),
        || {
            let text = get(node.addr, "/metrics")?.text();
            let n = text
                .lines()
                .find(|l| l.starts_with(retried))
                .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
            n.filter(|&n| n > 0.0).ok_or(format!("{n:?}"))
        },
    );
    std::thread::sleep(Duration::from_secs(60));
    vm.restart();
    std::thread::sleep(Duration::from_secs(10));

    // A kill -9 while sending: a restart resumes where each receiver acknowledged.
    node.wait_durable();
    let dir = node.kill_keeping_dir();
    let node = Wasmfed::start_with(dir, &config_path, &[]);
    std::thread::sleep(Duration::from_secs(5));
    let to = now_ms() - 2_000;
    let ours = stored(node.addr, to).unwrap();
    assert!(
        total(&ours) > 50 * 80,
        "about 100 scrapes of 50 series stored: {}",
        total(&ours)
    );
    // A sample stored and sent just before the kill may be in a receiver but not in the log
    // (written, not yet synced): at most a scrape's worth (51 with `up`, plus scrape_*).
    let allowed_extra = 60;
    wait_for(
        "VictoriaMetrics to hold every sample",
        Duration::from_secs(60),
        || {
            let (missing, extra) = compare(&ours, &exported(&vm, to));
            (missing == 0 && extra <= allowed_extra)
                .then_some(())
                .ok_or(format!(
                    "{missing} of {} missing, {extra} extra",
                    total(&ours)
                ))
        },
    );
    wait_for(
        "Prometheus to hold every sample",
        Duration::from_secs(60),
        || {
            let (missing, extra) = compare(&ours, &stored(prometheus.addr, to)?);
            (missing == 0 && extra <= allowed_extra)
                .then_some(())
                .ok_or(format!(
                    "{missing} of {} missing, {extra} extra",
                    total(&ours)
                ))
        },
    );
    assert!(
        node.log_text()
            .contains("remote write resumes where the receiver last acknowledged"),
        "the restart resumed from kept positions"
    );
}

/// A sample as a receiver got it: series key, timestamp, value bits.
type Point = (String, i64, u64);

/// The samples of each request the receiver got, as (series key, timestamp, value bits).
fn requests(receiver: &Recorder) -> Vec<(u16, Vec<Point>)> {
    receiver
        .received()
        .iter()
        .map(|r| {
            let batch = decode_write_request(&r.raw, 64 << 20).expect("a valid WriteRequest");
            let samples = batch
                .series
                .iter()
                .flat_map(|s| {
                    let k = key(s.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())));
                    s.samples.iter().map(move |&(t, v)| (k.clone(), t, bits(v)))
                })
                .collect();
            (r.status, samples)
        })
        .collect()
}

#[test]
fn a_5xx_is_retried_until_taken_and_a_4xx_is_dropped_with_the_receivers_reason() {
    // Requests 0-2 fail with 503, request 4 is refused with 400, the others are taken.
    let receiver = Recorder::answering(|n| match n {
        0..=2 => 503,
        4 => 400,
        _ => 200,
    });
    let exporter = changing_exporter();
    let config = format!(
        "{}scrape_configs:\n{}remote_write:\n  - url: http://{}/api/v1/write\n    headers: {{X-Team: a}}\n    queue_config: {{batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 200ms}}\n    metadata_config: {{send: false}}\n",
        global_section("  external_labels: {dc: a}\n"),
        static_job("load", &[exporter.addr], ""),
        receiver.addr
    );
    let node = Wasmfed::start(&config);
    let got = wait_for("ten requests", Duration::from_secs(30), || {
        let got = requests(&receiver);
        let n = got.len();
        (n >= 10).then_some(got).ok_or(format!("{n} requests"))
    });
    let r = &receiver.received()[0];
    let header = |name: &str| {
        r.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("content-encoding"), Some("snappy"));
    assert_eq!(header("content-type"), Some("application/x-protobuf"));
    assert_eq!(header("x-prometheus-remote-write-version"), Some("0.1.0"));
    assert_eq!(header("x-team"), Some("a"));
    assert_eq!(
        header("x-scope-orgid"),
        None,
        "the node's own tenant names none"
    );
    assert!(r.path == "/api/v1/write");

    // The 503s were the same request sent again, until it was taken.
    let (first, refused) = (&got[3].1, &got[4].1);
    assert_eq!(got[3].0, 200);
    for (status, samples) in &got[..3] {
        assert_eq!(*status, 503);
        assert_eq!(samples, first, "a retry sends the same samples");
    }
    // The refused request is not sent again: none of its samples comes later.
    assert_eq!(got[4].0, 400);
    assert!(!refused.is_empty());
    let later: BTreeSet<&(String, i64, u64)> = got[5..].iter().flat_map(|(_, s)| s).collect();
    assert!(!later.is_empty(), "sending goes on after a refusal");
    assert!(
        refused.iter().all(|s| !later.contains(s)),
        "a 400 is not retried"
    );
    let labels = format!(
        "{{tenant=\"default\",remote_name=\"{}\",url=\"http://{}/api/v1/write\"}}",
        &remote_name(&format!("http://{}/api/v1/write", receiver.addr)),
        receiver.addr
    );
    wait_for("the counters", Duration::from_secs(10), || {
        let failed = node.metric(&format!(
            "prometheus_remote_storage_samples_failed_total{labels}"
        ));
        let retried = node.metric(&format!(
            "prometheus_remote_storage_samples_retried_total{labels}"
        ));
        (failed == Some(refused.len() as f64) && retried >= Some(3.0 * first.len() as f64))
            .then_some(())
            .ok_or(format!("failed {failed:?}, retried {retried:?}"))
    });
    assert!(
        node.log_text().contains("answered 400"),
        "the receiver's reason is logged"
    );
}

#[test]
fn metric_metadata_is_sent_every_send_interval() {
    let receiver = Recorder::start();
    let exporter = Exporter::start(|_| {
        Reply::Text("# HELP load_value The load.\n# TYPE load_value gauge\nload_value 1\n".into())
    });
    let config = format!(
        "{}scrape_configs:\n{}remote_write:\n  - url: http://{}/api/v1/write\n    metadata_config: {{send_interval: 1s}}\n",
        global_section(""),
        static_job("load", &[exporter.addr], ""),
        receiver.addr
    );
    let _node = Wasmfed::start(&config);
    wait_for("load_value's metadata", Duration::from_secs(30), || {
        let found = receiver.received().iter().any(|r| {
            let Ok(raw) = snap::raw::Decoder::new().decompress_vec(&r.raw) else {
                return false;
            };
            let text = String::from_utf8_lossy(&raw);
            text.contains("load_value") && text.contains("The load.")
        });
        found.then_some(()).ok_or("not yet".to_string())
    });
}

/// Prometheus names an unnamed queue by a hash; wasmfed by its URL's (six hex digits).
fn remote_name(url: &str) -> String {
    wasmfed_plugin::sha256_hex(url.as_bytes())[..6].to_owned()
}

#[test]
fn each_tenant_sends_only_its_own_series_named_by_x_scope_orgid() {
    // The receiver: a wasmfed with the receiver on and the same two tenants.
    let receiver = Wasmfed::start_args(
        "global: {scrape_interval: 1s}\ntenants:\n  - {name: team-a, bearer_token: t-a}\n  - {name: team-b, bearer_token: t-b}\n",
        &["--web.enable-remote-write-receiver"],
    );
    let vm = VictoriaMetrics::start();
    let (ea, eb) = (
        Exporter::start(|_| Reply::Text("team_a_value 1\n".into())),
        Exporter::start(|_| Reply::Text("team_b_value 2\n".into())),
    );
    let tenant = |name: &str, token: &str, exporter: &Exporter| {
        let jobs: String = static_job(name, &[exporter.addr], "")
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect();
        format!(
            "  - name: {name}\n    bearer_token: x-{token}\n    scrape_configs:\n{jobs}    remote_write:\n      - url: http://{}/api/v1/write\n        authorization: {{credentials: {token}}}\n      - url: http://{}/api/v1/write?extra_label=tenant={name}\n",
            receiver.addr, vm.addr
        )
    };
    let config = format!(
        "global: {{scrape_interval: 1s}}\ntenants:\n{}{}",
        tenant("team-a", "t-a", &ea),
        tenant("team-b", "t-b", &eb)
    );
    let _sender = Wasmfed::start(&config);
    let names = |org: &str, token: &str| -> Result<BTreeSet<String>, String> {
        let auth = format!("Bearer {token}");
        let path = "/api/v1/label/__name__/values";
        let r = http(
            receiver.addr,
            "GET",
            path,
            &[("X-Scope-OrgID", org), ("Authorization", &auth)],
            b"",
        )?;
        let names = r.json()["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect::<BTreeSet<String>>();
        (!names.is_empty()).then_some(names).ok_or(r.text())
    };
    let a = wait_for("team-a's series", Duration::from_secs(30), || {
        names("team-a", "t-a").and_then(|n| match n.contains("team_a_value") {
            true => Ok(n),
            false => Err(format!("{n:?}")),
        })
    });
    let b = wait_for("team-b's series", Duration::from_secs(30), || {
        names("team-b", "t-b").and_then(|n| match n.contains("team_b_value") {
            true => Ok(n),
            false => Err(format!("{n:?}")),
        })
    });
    assert!(
        !a.contains("team_b_value"),
        "team-a's receiver tenant got only team-a's: {a:?}"
    );
    assert!(
        !b.contains("team_a_value"),
        "team-b's receiver tenant got only team-b's: {b:?}"
    );
}

#[test]
fn a_reload_that_changes_a_destination_resumes_it_without_loss_or_repeat() {
    let receiver = Recorder::start();
    let exporter = changing_exporter();
    let config = |team: &str| {
        format!(
            "{}scrape_configs:\n{}remote_write:\n  - url: http://{}/api/v1/write\n    name: central\n    headers: {{X-Team: {team}}}\n    queue_config: {{batch_send_deadline: 200ms}}\n    metadata_config: {{send: false}}\n",
            global_section(""),
            static_job("load", &[exporter.addr], ""),
            receiver.addr
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wasmfed.yml");
    std::fs::write(&path, config("a")).unwrap();
    let node = Wasmfed::start_with(dir, &path, &["--web.enable-lifecycle"]);
    std::thread::sleep(Duration::from_secs(4));
    // A bad change is refused and the queue goes on as it was.
    std::fs::write(
        &path,
        config("a").replace("name: central", "name: central\n    bogus: 1"),
    )
    .unwrap();
    assert_eq!(
        http(node.addr, "POST", "/-/reload", &[], b"")
            .unwrap()
            .status,
        500
    );
    std::fs::write(&path, config("b")).unwrap();
    let ok = http(node.addr, "POST", "/-/reload", &[], b"").unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());
    wait_for(
        "requests with the new header",
        Duration::from_secs(20),
        || {
            let n = receiver
                .received()
                .iter()
                .filter(|r| r.headers.iter().any(|(k, v)| k == "x-team" && v == "b"))
                .count();
            (n >= 3).then_some(()).ok_or(format!("{n}"))
        },
    );
    // Everything stored up to now reached the receiver once, across the restart of the queue.
    let to = now_ms() - 2_000;
    let ours = stored(node.addr, to).unwrap();
    let mut got: Stored = BTreeMap::new();
    let mut repeated = 0;
    for (_, samples) in requests(&receiver) {
        for (k, t, v) in samples {
            if t <= to && !got.entry(k).or_default().insert((t, v)) {
                repeated += 1;
            }
        }
    }
    assert_eq!(compare(&ours, &got), (0, 0), "every sample, nothing else");
    assert_eq!(repeated, 0, "nothing sent twice");
}
