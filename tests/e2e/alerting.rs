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
    // reload creates writes its alerts at once (restoring state is for a start). wasmfed
    // first: its reload answers once the group's plugin is compiled and running, seconds in
    // a debug build, where Prometheus' is instant.
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
