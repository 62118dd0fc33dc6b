//! Alerting rules against Prometheus 2.42: the same rule file, loaded by a reload into both
//! while they scrape the same target, writes the same `ALERTS` and `ALERTS_FOR_STATE` series
//! (states, labels; the second each alert became active within one evaluation interval), and a
//! recording rule after the alerts in the group counts them in the same evaluation.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::*;
use crate::prometheus::Prometheus;

const RULES: &str = r#"groups:
  - name: alerts
    interval: 1s
    rules:
      - alert: Hot
        expr: temp > 20
        for: 3s
        labels: {severity: page}
        annotations: {summary: hot}
      - alert: Always
        expr: vector(1)
      - alert: Never
        expr: temp > 100
      - alert: Slow
        expr: temp > 0
        for: 1h
      - record: alerts:firing
        expr: count by (alertname) (ALERTS{alertstate="firing"})
"#;

/// (labels without `__name__`, value) of the alert series in a `/federate` body, by name.
type AlertSeries = BTreeMap<String, Vec<(Vec<(String, String)>, f64)>>;

fn alert_series(addr: std::net::SocketAddr) -> AlertSeries {
    let body = federate(
        addr,
        &["{__name__=~\"ALERTS|ALERTS_FOR_STATE|alerts:firing\"}"],
    )
    .text();
    let mut out = AlertSeries::new();
    for (labels, value, _) in samples_of(&body) {
        let name = labels.iter().find(|l| l.0 == "__name__").unwrap().1.clone();
        let rest = labels.into_iter().filter(|l| l.0 != "__name__").collect();
        out.entry(name)
            .or_default()
            .push((rest, f64::from_bits(value)));
    }
    out
}

fn firing(series: &AlertSeries, alert: &str) -> bool {
    series.get("ALERTS").is_some_and(|s| {
        s.iter().any(|(labels, _)| {
            labels.contains(&("alertname".into(), alert.into()))
                && labels.contains(&("alertstate".into(), "firing".into()))
        })
    })
}

#[test]
fn alerting_rules_write_the_alert_series_prometheus_writes() {
    let exporter =
        Exporter::start(|_| Reply::Text("temp{room=\"a\"} 30\ntemp{room=\"b\"} 10\n".into()));
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("alerts.yml");
    std::fs::write(&rules, "groups: []\n").unwrap();
    let config = format!(
        "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\nrule_files: ['{}']\nscrape_configs:\n{}",
        rules.display(),
        static_job("t", &[exporter.addr], "")
    );
    let data = dir.path().join("prometheus-data");
    let prometheus = Prometheus::start_on(&config, &data, free_port(), &["--web.enable-lifecycle"]);
    let node = Wasmfed::start_args(&config, &["--web.enable-lifecycle"]);
    // Loaded by a reload in both, so both evaluate from the group's first slot on: a group a
    // reload creates writes its alerts at once (restoring state is for a start). Both hold
    // the temperatures first, so neither's first evaluations see less than the other's.
    crate::query_api::wait_for_series(&[node.addr, prometheus.addr], "temp", 2);
    std::fs::write(&rules, RULES).unwrap();
    for addr in [node.addr, prometheus.addr] {
        let r = http(addr, "POST", "/-/reload", &[], b"").unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let both = wait_for("Hot firing in both", Duration::from_secs(30), || {
        let (theirs, ours) = (alert_series(prometheus.addr), alert_series(node.addr));
        if firing(&theirs, "Hot") && firing(&ours, "Hot") {
            Ok((theirs, ours))
        } else {
            Err(format!("Prometheus {theirs:?}\nwasmfed {ours:?}"))
        }
    });
    // Read again once the last evaluation that made it fire has been written in both.
    std::thread::sleep(Duration::from_millis(1500));
    let (theirs, ours) = (alert_series(prometheus.addr), alert_series(node.addr));
    drop(both);
    assert_eq!(theirs.get("ALERTS"), ours.get("ALERTS"), "ALERTS");
    assert_eq!(theirs.get("alerts:firing"), ours.get("alerts:firing"));
    let (a, b) = (&theirs["ALERTS_FOR_STATE"], &ours["ALERTS_FOR_STATE"]);
    let labels = |s: &Vec<(Vec<(String, String)>, f64)>| -> Vec<_> {
        s.iter().map(|(l, _)| l.clone()).collect()
    };
    assert_eq!(labels(a), labels(b), "ALERTS_FOR_STATE");
    for ((l, active_a), (_, active_b)) in a.iter().zip(b) {
        assert!(
            (active_a - active_b).abs() <= 1.0,
            "{l:?} active since {active_a} in Prometheus, {active_b} in wasmfed"
        );
    }
    // What the rules wrote: Hot for room a only, with the rule's label; Always with no label
    // but its name; Slow pending; Never nothing.
    let ours = &ours["ALERTS"];
    let states: Vec<String> = ours
        .iter()
        .map(|(l, _)| {
            l.iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(
        states,
        [
            // `/federate` writes an empty `instance` for a series without one.
            "alertname=Always,alertstate=firing,instance=",
            &format!(
                "alertname=Hot,alertstate=firing,instance={},job=t,room=a,severity=page",
                exporter.addr
            ),
            &format!(
                "alertname=Slow,alertstate=pending,instance={},job=t,room=a",
                exporter.addr
            ),
            &format!(
                "alertname=Slow,alertstate=pending,instance={},job=t,room=b",
                exporter.addr
            ),
        ]
    );
}

/// The newest `ALERTS_FOR_STATE` sample of the node: (value, timestamp in ms).
fn for_state(node: &Wasmfed) -> Option<(f64, i64)> {
    let body = node.federate(&["ALERTS_FOR_STATE"]).text();
    samples_of(&body)
        .into_iter()
        .next()
        .map(|(_, value, ts)| (f64::from_bits(value), ts))
}

#[test]
fn a_pending_alert_keeps_its_for_state_across_a_kill_and_restart() {
    let exporter = Exporter::start(|_| Reply::Text("temp 30\n".into()));
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("alerts.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Hot\n        expr: temp > 20\n        for: 1m\n",
    )
    .unwrap();
    let config_path = dir.path().join("wasmfed.yml");
    std::fs::write(
        &config_path,
        format!(
            "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\nrule_files: ['{}']\nscrape_configs:\n{}",
            rules.display(),
            static_job("t", &[exporter.addr], "")
        ),
    )
    .unwrap();
    let args = ["--rules.alert.for-grace-period=1s"];
    let node = Wasmfed::start_with(dir, &config_path, &args);
    let (active_s, _) = wait_for("the alert pending", Duration::from_secs(30), || {
        for_state(&node).ok_or_else(|| "no ALERTS_FOR_STATE yet".to_string())
    });
    // Pending a few seconds, made durable, then killed.
    std::thread::sleep(Duration::from_secs(5));
    let (_, written_ms) = for_state(&node).unwrap();
    node.wait_durable();
    let killed_ms = crate::federate::now_ms();
    let dir = node.kill_keeping_dir();
    std::thread::sleep(Duration::from_secs(3));
    let node = Wasmfed::start_with(dir, &config_path, &args);
    // Nothing is written for the group's first two evaluations; the state is restored after
    // the second (one interval before the first sample written again).
    let (restored_s, first_ms) =
        wait_for(
            "the alert again",
            Duration::from_secs(30),
            || match for_state(&node) {
                Some((v, ts)) if ts > killed_ms => Ok((v, ts)),
                other => Err(format!("{other:?}")),
            },
        );
    let restore_ms = first_ms - 1000;
    // Prometheus moves the start later by the outage, counted from the last state written
    // (at second precision), so the time the alert was down does not count towards `for`.
    let outage_s = |last_ms: i64| (restore_ms - last_ms.div_euclid(1000) * 1000).div_euclid(1000);
    let (least, most) = (
        active_s + outage_s(killed_ms) as f64,
        active_s + outage_s(written_ms) as f64,
    );
    assert!(
        restored_s >= least - 1.0 && restored_s <= most + 1.0,
        "active since {active_s} s, restored to {restored_s} s, expected {least}..{most}"
    );
    // Not started over: a fresh alert would be active since the first evaluation.
    assert!(
        restored_s < (restore_ms / 1000 - 3) as f64,
        "restored to {restored_s} s, the restart's evaluations began at {restore_ms} ms"
    );
}
