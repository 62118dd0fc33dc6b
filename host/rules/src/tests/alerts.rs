//! Alerts through the rule stage: what a group lists and hands over for sending, from the
//! stock `promql-rules` and from the `cardinality-report` example, a plugin of an operator's.

use std::sync::Arc;
use std::time::Duration;

use wasmfed_model::Labels;
use wasmfed_plugin::{AlertState, PluginLimits};
use wasmfed_storage::Head;

use super::{group, hostile, mem, promql, put, CARDINALITY};
use crate::{AlertSink, Notification, RuleInfo, SendOptions};

/// Collects what a group hands over for sending.
#[derive(Default)]
struct Collected(parking_lot::Mutex<Vec<Notification>>);

impl AlertSink for Collected {
    fn send(&self, alerts: Vec<Notification>) {
        self.0.lock().extend(alerts);
    }
}

#[test]
fn alerts_are_listed_and_sent_once_firing_then_resent_and_resolved() {
    let head = Arc::new(Head::new());
    mem(&head, 50_000, &[("a", 1.0), ("b", 2.0)]);
    let sink = Arc::new(Collected::default());
    let g = promql(
        &head,
        r#"[{"alert": "Big", "expr": "mem > 1.5", "for": "60s",
             "annotations": {"summary": "{{ $labels.instance }} at {{ $value }}"}}]"#,
    )
    .sending_to(
        sink.clone(),
        SendOptions {
            resend_delay: Duration::from_secs(60),
            external_url: "http://node:9090".into(),
        },
    );
    assert_eq!(g.status().last_evaluation_ms, None);
    g.evaluate(60_000).unwrap();
    let status = g.status();
    assert_eq!(status.rules, [("Big".to_string(), None)]);
    let [alert] = &status.alerts[..] else {
        panic!("{status:?}")
    };
    assert_eq!(alert.state, AlertState::Pending);
    assert_eq!(
        alert.annotations,
        [("summary".to_string(), "b at 2".to_string())]
    );
    assert!(sink.0.lock().is_empty(), "pending alerts are not sent");
    for t in [120_000, 180_000, 240_000] {
        mem(&head, t - 10_000, &[("a", 1.0), ("b", 2.0)]);
        g.evaluate(t).unwrap();
    }
    // Fired at 120s, re-sent at 240s (more than the resend delay after 120s; not at 180s).
    let sent: Vec<(i64, i64)> = sink
        .0
        .lock()
        .iter()
        .map(|n| (n.starts_at_ms, n.ends_at_ms))
        .collect();
    assert_eq!(
        sent,
        [(120_000, 120_000 + 240_000), (120_000, 240_000 + 240_000)]
    );
    mem(&head, 290_000, &[("a", 1.0), ("b", 1.0)]);
    g.evaluate(300_000).unwrap();
    let last = sink.0.lock().last().cloned().unwrap();
    assert_eq!((last.starts_at_ms, last.ends_at_ms), (120_000, 300_000));
    assert_eq!(
        last.generator_url, "http://node:9090/graph?g0.expr=&g0.tab=1",
        "without configured rules there is no expression to link"
    );
}

#[test]
fn a_reloaded_group_goes_on_with_the_alerts_of_the_one_it_replaces() {
    let head = Arc::new(Head::new());
    let rules = r#"[{"alert": "Big", "expr": "mem > 1.5", "for": "120s"}]"#;
    let info = || {
        vec![RuleInfo {
            name: "Big".into(),
            query: "mem > 1.5".into(),
            labels: Labels::new(),
            alert: Some(wasmfed_config::AlertingRule {
                name: "Big".into(),
                for_duration: wasmfed_config::Duration::from_secs(120),
                keep_firing_for: wasmfed_config::Duration::ZERO,
                annotations: Default::default(),
            }),
        }]
    };
    let old = promql(&head, rules).with_rules(info(), 0);
    for t in [60_000, 120_000] {
        mem(&head, t - 10_000, &[("a", 2.0)]);
        old.evaluate(t).unwrap();
    }
    // The group is replaced (say its file changed) while the alert is pending since 60s.
    let new = promql(
        &head,
        r#"[{"record": "n", "expr": "count(mem)"},
            {"alert": "Big", "expr": "mem > 1.5", "for": "120s"}]"#,
    )
    .with_rules(
        [
            vec![RuleInfo {
                name: "n".into(),
                query: "count(mem)".into(),
                labels: Labels::new(),
                alert: None,
            }],
            info(),
        ]
        .concat(),
        0,
    );
    new.inherit(&old);
    mem(&head, 170_000, &[("a", 2.0)]);
    new.evaluate(180_000).unwrap();
    let status = new.status();
    let [alert] = &status.alerts[..] else {
        panic!("{status:?}")
    };
    // Firing at 180s: 120s after it became active under the old group, not pending anew.
    assert_eq!(alert.rule, 1);
    assert_eq!(alert.active_at_ms, 60_000);
    assert_eq!(alert.state, AlertState::Firing);
}

#[test]
fn a_failed_call_marks_every_rule_failed_for_the_api() {
    let head = Arc::new(Head::new());
    let rule = RuleInfo {
        name: "hostile:trap".into(),
        query: "x".into(),
        labels: Labels::new(),
        alert: None,
    };
    let g = hostile(&head, "trap", PluginLimits::rules()).with_rules(vec![rule], 0);
    let err = g.evaluate(60_000).unwrap_err();
    let status = g.status();
    assert_eq!(status.last_evaluation_ms, Some(60_000));
    assert_eq!(
        status.rules,
        [("hostile:trap".to_string(), Some(err.to_string()))]
    );
}

#[test]
fn a_plugin_of_an_operators_raises_alerts_the_node_sends() {
    let head = Arc::new(Head::new());
    for i in 0..3 {
        let instance = format!("i{i}");
        put(
            &head,
            &[("__name__", "m"), ("job", "big"), ("instance", &instance)],
            50_000,
            1.0,
        );
    }
    put(&head, &[("__name__", "m"), ("job", "small")], 50_000, 1.0);
    let sink = Arc::new(Collected::default());
    let g = group(
        &head,
        CARDINALITY,
        r#"{"alert_over": 2}"#,
        PluginLimits::rules(),
    )
    .sending_to(
        sink.clone(),
        SendOptions {
            resend_delay: Duration::from_secs(60),
            external_url: "http://node:9090".into(),
        },
    );
    g.evaluate(60_000).unwrap();
    let status = g.status();
    let names: Vec<&str> = status.rules.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "cardinality:series:top",
            "cardinality:series:total",
            "CardinalityHigh"
        ]
    );
    let [alert] = &status.alerts[..] else {
        panic!("{status:?}")
    };
    assert_eq!((alert.rule, alert.state), (2, AlertState::Firing));
    assert_eq!(
        alert.labels,
        Labels::from_pairs([("alertname", "CardinalityHigh"), ("job", "big")])
    );
    assert_eq!(
        alert.annotations,
        [(
            "summary".to_string(),
            r#"job "big" has 3 series, more than 2"#.to_string()
        )]
    );
    let sent = sink.0.lock().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].starts_at_ms, 60_000);
    // The job's series are gone (no sample within the lookback): resolved, and sent once
    // more as such.
    g.evaluate(500_000).unwrap();
    let last = sink.0.lock().last().cloned().unwrap();
    assert_eq!(last.ends_at_ms, 500_000, "{last:?}");
}
