//! Alerts leaving the node, against real peers: the alerts wasmfed posts to an Alertmanager
//! are the ones Prometheus 2.42 posts for the same rules and data (labels, expanded
//! annotations, `generatorURL`, `startsAt`/`endsAt` within an evaluation interval, resolved
//! alerts), and a pair of Debian's Alertmanager 0.25 in a gossip cluster gets every alert from
//! the node, notifies a webhook once per change, and keeps doing so when one of the pair dies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::harness::*;
use crate::prometheus::Prometheus;

const RULES: &str = r#"groups:
  - name: alerts
    interval: 1s
    rules:
      - alert: Hot
        expr: temp > 20
        for: 2s
        labels: {severity: '{{ if gt $value 40.0 }}page{{ else }}ticket{{ end }}'}
        annotations:
          summary: '{{ $labels.room }} is at {{ $value | humanize }} degrees in {{ $externalLabels.dc }}'
          rooms: '{{ with query "count(temp)" }}{{ . | first | value }}{{ end }} rooms watched'
          broken: '{{ "warm" | humanize }}'
      - alert: Lingering
        expr: temp > 20
        keep_firing_for: 3s
      - alert: HotRooms
        expr: count by (dc) (temp > 20) > 0
      - alert: Twins
        expr: temp
        labels: {room: same}
"#;

/// A target whose rooms' temperatures a test changes while it runs.
struct Rooms {
    exporter: Exporter,
    a: Arc<AtomicU64>,
    b: Arc<AtomicU64>,
}

impl Rooms {
    fn start(a: f64, b: f64) -> Rooms {
        let (a, b) = (
            Arc::new(AtomicU64::new(a.to_bits())),
            Arc::new(AtomicU64::new(b.to_bits())),
        );
        let (ra, rb) = (a.clone(), b.clone());
        let exporter = Exporter::start(move |_| {
            let (a, b) = (
                f64::from_bits(ra.load(Ordering::Relaxed)),
                f64::from_bits(rb.load(Ordering::Relaxed)),
            );
            Reply::Text(format!("temp{{room=\"a\"}} {a}\ntemp{{room=\"b\"}} {b}\n"))
        });
        Rooms { exporter, a, b }
    }

    fn set(&self, room: &str, degrees: f64) {
        let slot = if room == "a" { &self.a } else { &self.b };
        slot.store(degrees.to_bits(), Ordering::Relaxed);
    }
}

fn config(
    rules: &std::path::Path,
    target: std::net::SocketAddr,
    ams: &[std::net::SocketAddr],
) -> String {
    let targets: Vec<String> = ams.iter().map(|a| format!("'{a}'")).collect();
    format!(
        "global:\n  scrape_interval: 500ms\n  scrape_timeout: 400ms\n  external_labels: {{dc: eu1}}\nrule_files: ['{}']\nalerting:\n  alertmanagers:\n    - static_configs: [{{targets: [{}]}}]\nscrape_configs:\n{}",
        rules.display(),
        targets.join(", "),
        static_job("t", &[target], "")
    )
}

/// Every alert posted to an Alertmanager's API, flattened, oldest first.
fn posted(recorder: &Recorder) -> Vec<(i64, Value)> {
    recorder
        .received()
        .into_iter()
        .filter(|r| r.path == "/api/v2/alerts")
        .flat_map(|r| {
            let at = r.at_ms;
            r.body
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |a| (at, a))
        })
        .collect()
}

/// The newest post of the alert whose labels include `name` and `room` (if given), with the
/// time it arrived.
fn latest<'a>(
    alerts: &'a [(i64, Value)],
    name: &str,
    room: Option<&str>,
) -> Option<&'a (i64, Value)> {
    alerts.iter().rev().find(|(_, a)| {
        a["labels"]["alertname"] == name && room.is_none_or(|r| a["labels"]["room"] == r)
    })
}

fn millis(rfc3339: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339.as_str().unwrap_or_default())
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
}

/// The alert with its times taken out, for comparing what two senders posted.
fn without_times(alert: &Value) -> Value {
    let mut a = alert.clone();
    let map = a.as_object_mut().unwrap();
    map.remove("startsAt");
    map.remove("endsAt");
    a
}

fn resolved(alert: &Value, posted_at_ms: i64) -> bool {
    millis(&alert["endsAt"]) <= posted_at_ms
}

#[test]
fn wasmfed_posts_the_alerts_prometheus_posts() {
    let rooms = Rooms::start(30.0, 10.0);
    let (ours, theirs) = (Recorder::start(), Recorder::start());
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("alerts.yml");
    std::fs::write(&rules, "groups: []\n").unwrap();
    // A short resend delay: Prometheus drops what its first evaluations after a reload send
    // (its Alertmanagers are being discovered again) and sends it again a resend delay later.
    let args = [
        "--web.enable-lifecycle",
        "--web.external-url=http://alerts.example:9090/",
        "--rules.alert.resend-delay=2s",
    ];
    let prometheus = Prometheus::start_on(
        &config(&rules, rooms.exporter.addr, &[theirs.addr]),
        &dir.path().join("prometheus-data"),
        free_port(),
        &args,
    );
    let node = Wasmfed::start_args(&config(&rules, rooms.exporter.addr, &[ours.addr]), &args);
    // Both hold the rooms' temperatures before the rules arrive, so neither's first
    // evaluations see less data than the other's, however long either took to start.
    crate::query_api::wait_for_series(&[node.addr, prometheus.addr], "temp", 2);
    // Loaded by a reload in both, so both evaluate from the group's first slot on (see
    // alerting.rs).
    std::fs::write(&rules, RULES).unwrap();
    for addr in [node.addr, prometheus.addr] {
        let r = http(addr, "POST", "/-/reload", &[], b"").unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let firing = |r: &Recorder| {
        let alerts = posted(r);
        let hot = latest(&alerts, "Hot", Some("a")).cloned();
        let rooms = latest(&alerts, "HotRooms", None).cloned();
        hot.zip(rooms).ok_or_else(|| format!("{alerts:?}"))
    };
    let (our_hot, our_rooms) = wait_for("wasmfed's alerts", Duration::from_secs(30), || {
        firing(&ours)
    });
    let (their_hot, their_rooms) = wait_for("Prometheus' alerts", Duration::from_secs(30), || {
        firing(&theirs)
    });
    for ((o_at, o), (t_at, t)) in [(&our_hot, &their_hot), (&our_rooms, &their_rooms)] {
        assert_eq!(without_times(o), without_times(t), "ours {o}\ntheirs {t}");
        // Both fired at their first evaluation past `for`; they evaluate a slot apart at most.
        let started = (millis(&o["startsAt"]) - millis(&t["startsAt"])).abs();
        assert!(started <= 1_000, "startsAt: ours {o}\ntheirs {t}");
        // While firing, both say how long to hold it: four resend delays (8s) from the send.
        let (o_hold, t_hold) = (millis(&o["endsAt"]) - o_at, millis(&t["endsAt"]) - t_at);
        assert!(
            (o_hold - t_hold).abs() <= 1_000,
            "endsAt: ours {o}\ntheirs {t}"
        );
    }
    assert_eq!(
        rules_without_times(node.addr),
        rules_without_times(prometheus.addr)
    );
    let our_hot = &our_hot.1;
    assert_eq!(
        our_hot["annotations"]["summary"], "a is at 30 degrees in eu1",
        "{our_hot}"
    );
    assert_eq!(our_hot["labels"]["severity"], "ticket");
    assert_eq!(
        our_hot["generatorURL"],
        "http://alerts.example:9090/graph?g0.expr=temp+%3E+20&g0.tab=1"
    );
    // Room b was never hot: neither sent it (pending alerts are not sent either).
    assert!(latest(&posted(&ours), "Hot", Some("b")).is_none());
    // Room a cools down: both send it once more, resolved.
    rooms.set("a", 5.0);
    let resolution = |r: &Recorder, name: &str| {
        let alerts = posted(r);
        alerts
            .iter()
            .rev()
            .find(|(at, a)| {
                a["labels"]["alertname"] == name && a["labels"]["room"] == "a" && resolved(a, *at)
            })
            .map(|(_, a)| millis(&a["endsAt"]))
            .ok_or_else(|| format!("{name} not resolved yet"))
    };
    let mut ends = Vec::new();
    for name in ["Hot", "Lingering"] {
        let ours_at = wait_for("wasmfed resolves", Duration::from_secs(30), || {
            resolution(&ours, name)
        });
        let theirs_at = wait_for("Prometheus resolves", Duration::from_secs(30), || {
            resolution(&theirs, name)
        });
        assert!(
            (ours_at - theirs_at).abs() <= 1_000,
            "{name}: ours {ours_at}, theirs {theirs_at}"
        );
        ends.push((ours_at, theirs_at));
    }
    // `keep_firing_for: 3s` holds Lingering three evaluations past Hot's end, on both sides
    // (one more if a loaded machine made a side skip a slot).
    for kept in [ends[1].0 - ends[0].0, ends[1].1 - ends[0].1] {
        assert!((3_000..=4_000).contains(&kept), "{ends:?}");
    }
    // The rule API says what Prometheus' says, a rule failing at every evaluation included.
    let api = rules_without_times(node.addr);
    let twins = api["data"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Twins")
        .unwrap();
    assert_eq!(twins["health"], "err", "{api}");
    assert_eq!(
        twins["lastError"],
        "vector contains metrics with the same labelset after applying alert labels"
    );
    assert_eq!(api, rules_without_times(prometheus.addr));
}

/// `/api/v1/rules` without what depends on the instant it is read (evaluation times, when
/// each alert became active), alerts sorted (Prometheus lists them in map order).
fn rules_without_times(addr: std::net::SocketAddr) -> Value {
    let mut api = get(addr, "/api/v1/rules").unwrap().json();
    for group in api["data"]["groups"].as_array_mut().unwrap() {
        let group = group.as_object_mut().unwrap();
        group.remove("evaluationTime");
        group.remove("lastEvaluation");
        group.remove("file");
        for rule in group["rules"].as_array_mut().unwrap() {
            let rule = rule.as_object_mut().unwrap();
            rule.remove("evaluationTime");
            rule.remove("lastEvaluation");
            if let Some(alerts) = rule.get_mut("alerts").and_then(Value::as_array_mut) {
                for alert in alerts.iter_mut() {
                    alert.as_object_mut().unwrap().remove("activeAt");
                }
                alerts.sort_by_key(|a| a["labels"].to_string());
            }
        }
    }
    api
}

/// Webhook notifications (Alertmanager's JSON) for the `Hot` alert group of room `room`,
/// oldest first: (status, alerts' statuses).
fn notifications(webhook: &Recorder, room: &str) -> Vec<(String, Vec<String>)> {
    webhook
        .received()
        .into_iter()
        .filter(|r| {
            r.path == "/hook"
                && r.body["groupLabels"]["room"] == room
                && r.body["groupLabels"]["alertname"] == "Hot"
        })
        .map(|r| {
            let statuses = r.body["alerts"]
                .as_array()
                .map(|alerts| {
                    alerts
                        .iter()
                        .map(|a| a["status"].as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default();
            (
                r.body["status"].as_str().unwrap_or_default().to_string(),
                statuses,
            )
        })
        .collect()
}

#[test]
fn an_alertmanager_pair_notifies_once_and_keeps_notifying_when_one_dies() {
    let rooms = Rooms::start(30.0, 10.0);
    let webhook = Recorder::start();
    let mut pair = Alertmanager::cluster(2, webhook.addr);
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("alerts.yml");
    std::fs::write(&rules, RULES).unwrap();
    let config = config(&rules, rooms.exporter.addr, &[pair[0].addr, pair[1].addr]);
    let node = Wasmfed::start_args(
        &config,
        &["--rules.alert.resend-delay=1s", "--web.enable-lifecycle"],
    );
    let first = wait_for("room a notified", Duration::from_secs(60), || {
        let got = notifications(&webhook, "a");
        if got.is_empty() {
            Err("nothing yet".into())
        } else {
            Ok(webhook.received())
        }
    });
    let hook = first
        .iter()
        .find(|r| {
            r.body["groupLabels"]["room"] == "a" && r.body["groupLabels"]["alertname"] == "Hot"
        })
        .unwrap();
    let alert = &hook.body["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "Hot");
    assert_eq!(
        alert["labels"]["dc"], "eu1",
        "external labels are attached: {alert}"
    );
    assert_eq!(alert["annotations"]["summary"], "a is at 30 degrees in eu1");
    assert_eq!(alert["annotations"]["rooms"], "2 rooms watched");
    // Both Alertmanagers hold the alert: every alert goes to every one of them.
    for am in &pair {
        wait_for(
            "the alert in each Alertmanager",
            Duration::from_secs(10),
            || {
                let alerts = am.alerts();
                let found = alerts.as_array().is_some_and(|list| {
                    list.iter()
                        .any(|a| a["labels"]["room"] == "a" && a["labels"]["alertname"] == "Hot")
                });
                if found {
                    Ok(())
                } else {
                    Err(format!("{alerts}"))
                }
            },
        );
    }
    // The node re-sends every second to both; the cluster notifies once. Past the second
    // peer's wait (its position times --cluster.peer-timeout, 3s) a duplicate would show.
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(
        notifications(&webhook, "a"),
        [("firing".to_string(), vec!["firing".to_string()])],
        "one notification for room a"
    );
    // A reload that changes the group (a rule added) keeps its alerts where they were, as
    // Prometheus copies alert state into the new group: same start, nothing notified anew.
    let active_since = |node: &Wasmfed| {
        let alerts = get(node.addr, "/api/v1/alerts").unwrap().json();
        alerts["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["alertname"] == "Hot" && a["labels"]["room"] == "a")
            .map(|a| (a["state"].clone(), a["activeAt"].clone()))
    };
    let before = active_since(&node).expect("Hot for room a is listed");
    std::fs::write(
        &rules,
        format!("{RULES}      - record: rooms:count\n        expr: count(temp)\n"),
    )
    .unwrap();
    let reloaded = http(node.addr, "POST", "/-/reload", &[], b"").unwrap();
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    wait_for(
        "the new group's first evaluation",
        Duration::from_secs(30),
        || {
            let api = get(node.addr, "/api/v1/rules")?.json();
            let added = api["data"]["groups"][0]["rules"]
                .as_array()
                .and_then(|rules| rules.iter().find(|r| r["name"] == "rooms:count"));
            match added.and_then(|r| r["health"].as_str()) {
                Some("ok") => Ok(()),
                other => Err(format!("{other:?}: {api}")),
            }
        },
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(active_since(&node), Some(before));
    assert_eq!(
        notifications(&webhook, "a").len(),
        1,
        "nothing notified anew"
    );
    // One of the pair dies; a new alert and a resolution still reach the receiver, once each.
    pair[0].kill();
    rooms.set("b", 45.0);
    wait_for(
        "room b notified",
        Duration::from_secs(60),
        || match notifications(&webhook, "b").as_slice() {
            [(status, _)] if status == "firing" => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    let b = webhook
        .received()
        .into_iter()
        .find(|r| {
            r.body["groupLabels"]["room"] == "b" && r.body["groupLabels"]["alertname"] == "Hot"
        })
        .unwrap();
    assert_eq!(b.body["alerts"][0]["labels"]["severity"], "page");
    rooms.set("a", 5.0);
    wait_for(
        "room a resolved",
        Duration::from_secs(60),
        || match notifications(&webhook, "a").as_slice() {
            [_, (status, alerts)] if status == "resolved" && alerts == &["resolved"] => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    // The dead Alertmanager's posts failed and were counted; the living one's succeeded.
    let dead = format!("http://{}/api/v2/alerts", pair[0].addr);
    let live = format!("http://{}/api/v2/alerts", pair[1].addr);
    let metrics = get(node.addr, "/metrics").unwrap().text();
    let errors = metric_with(
        &metrics,
        "wasmfed_notifications_errors_total",
        &[("alertmanager", &dead)],
    );
    assert!(errors.is_some_and(|n| n >= 1.0), "{metrics}");
    let sent = metric_with(
        &metrics,
        "wasmfed_notifications_sent_total",
        &[("alertmanager", &live)],
    );
    assert!(sent.is_some_and(|n| n >= 3.0), "{metrics}");
    assert_eq!(
        metric_with(
            &metrics,
            "wasmfed_notifications_alertmanagers_discovered",
            &[]
        ),
        Some(2.0)
    );
    // `/api/v1/alerts` lists what fires now: room b, and the rooms count.
    let alerts = get(node.addr, "/api/v1/alerts").unwrap().json();
    let mut firing: Vec<String> = alerts["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        // (Lingering for room a may still be kept firing: keep_firing_for.)
        .filter(|a| a["state"] == "firing" && a["labels"]["alertname"] != "Lingering")
        .map(|a| {
            format!(
                "{}/{}",
                a["labels"]["alertname"].as_str().unwrap(),
                a["labels"]["room"].as_str().unwrap_or("-")
            )
        })
        .collect();
    firing.sort();
    assert_eq!(firing, ["Hot/b", "HotRooms/-"], "{alerts}");
}
