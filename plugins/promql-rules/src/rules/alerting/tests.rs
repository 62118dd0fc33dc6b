use std::rc::Rc;

use super::*;
use crate::engine::{select_stored, Label, Series};
use crate::rules::RuleSet;

/// A store of whole series, as the host's would be.
struct Store(Vec<(Labels, Vec<(i64, f64)>)>);

impl Source for Store {
    fn select(&mut self, m: &[Matcher], start: i64, end: i64) -> Result<Vec<Series>, String> {
        select_stored(&self.0, m, start, end)
    }
}

impl AlertingRule {
    /// `eval` with templates that see no external labels and query an empty store.
    fn eval_plain(
        &mut self,
        rule: &RuleConfig,
        alert: &AlertConfig,
        vector: Vec<Sample>,
        ts: i64,
        limit: usize,
    ) -> Result<Vec<Recorded>, String> {
        let engine = crate::engine::Engine::new(Default::default());
        let settings = crate::rules::TemplateSettings::default();
        let mut store = Store(Vec::new());
        let mut templates = Expander::new(&settings, &engine, &mut store, ts);
        self.eval(rule, alert, vector, ts, limit, &mut templates)
    }
}

fn label(name: &str, value: &str) -> Label {
    Label {
        name: Rc::from(name),
        value: Rc::from(value),
    }
}

fn rule(hold_ms: i64, keep_firing_for_ms: i64) -> (RuleConfig, AlertConfig) {
    let alert = AlertConfig {
        hold_ms,
        keep_firing_for_ms,
        annotations: vec![("summary".into(), "high".into())],
    };
    let config = RuleConfig {
        name: "High".into(),
        alert: Some(alert.clone()),
        expr: crate::parse::parse("x", &Default::default()).unwrap(),
        labels: vec![
            ("severity".into(), "page".into()),
            ("job".into(), "".into()),
        ],
    };
    (config, alert)
}

/// Elements of `x` for the given instances, with a job label the rule removes.
fn vector(instances: &[&str]) -> Vec<Sample> {
    instances
        .iter()
        .map(|i| Sample {
            metric: Labels::from_labels(vec![
                label("__name__", "x"),
                label("instance", i),
                label("job", "j"),
            ]),
            value: 7.0,
            drop_name: false,
        })
        .collect()
}

fn text(out: &[Recorded]) -> Vec<String> {
    out.iter()
        .map(|s| format!("{} {}", s.labels, s.value))
        .collect()
}

const A_PENDING: &str = r#"{__name__="ALERTS", alertname="High", alertstate="pending", instance="a", severity="page"} 1"#;
const A_FIRING: &str = r#"{__name__="ALERTS", alertname="High", alertstate="firing", instance="a", severity="page"} 1"#;

fn for_state(instance: &str, active_s: i64) -> String {
    format!(
        r#"{{__name__="ALERTS_FOR_STATE", alertname="High", instance="{instance}", severity="page"}} {active_s}"#
    )
}

#[test]
fn alerts_go_pending_then_firing_then_resolve_and_start_over() {
    let (config, alert) = rule(120_000, 0);
    let mut state = AlertingRule::new(true);
    // (time, instances in the result, series written)
    let steps: &[(i64, &[&str], Vec<String>)] = &[
        (0, &["a"], vec![A_PENDING.into(), for_state("a", 0)]),
        (60_000, &["a"], vec![A_PENDING.into(), for_state("a", 0)]),
        (120_000, &["a"], vec![A_FIRING.into(), for_state("a", 0)]),
        // Gone: resolved, nothing written (the host ends the series with stale markers).
        (180_000, &[], vec![]),
        // Back: a new alert, pending from now.
        (240_500, &["a"], vec![A_PENDING.into(), for_state("a", 240)]),
    ];
    for (ts, instances, want) in steps {
        let out = state
            .eval_plain(&config, &alert, vector(instances), *ts, 0)
            .unwrap();
        assert_eq!(text(&out), *want, "at {ts}");
    }
    let alerts = state.alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].active_at_ms, 240_500);
    assert_eq!(alerts[0].annotations, alert.annotations);
}

#[test]
fn a_resolved_alert_is_kept_fifteen_minutes_and_a_pending_one_forgotten() {
    let (config, alert) = rule(60_000, 0);
    let mut state = AlertingRule::new(true);
    state
        .eval_plain(&config, &alert, vector(&["a", "b"]), 0, 0)
        .unwrap();
    state
        .eval_plain(&config, &alert, vector(&["a"]), 60_000, 0)
        .unwrap();
    // a fired at 60 s; b was pending at 0 and is gone: forgotten.
    let states: Vec<_> = state.alerts().iter().map(|a| a.state).collect();
    assert_eq!(states, [AlertState::Firing]);
    state
        .eval_plain(&config, &alert, vector(&[]), 120_000, 0)
        .unwrap();
    let resolved = state.alerts();
    assert_eq!(resolved[0].state, AlertState::Inactive);
    assert_eq!(resolved[0].resolved_at_ms, Some(120_000));
    state
        .eval_plain(
            &config,
            &alert,
            vector(&[]),
            120_000 + RESOLVED_RETENTION_MS,
            0,
        )
        .unwrap();
    assert_eq!(state.alerts().len(), 1, "kept until retention has passed");
    state
        .eval_plain(
            &config,
            &alert,
            vector(&[]),
            120_001 + RESOLVED_RETENTION_MS,
            0,
        )
        .unwrap();
    assert!(state.alerts().is_empty());
}

#[test]
fn keep_firing_for_holds_a_firing_alert_after_its_condition_ends() {
    let (config, alert) = rule(0, 90_000);
    let mut state = AlertingRule::new(true);
    let steps: &[(i64, &[&str], Vec<String>)] = &[
        // No `for`: firing at once.
        (0, &["a"], vec![A_FIRING.into(), for_state("a", 0)]),
        (60_000, &[], vec![A_FIRING.into(), for_state("a", 0)]),
        (120_000, &[], vec![A_FIRING.into(), for_state("a", 0)]),
        // 90 s since the condition ended at 60 s.
        (150_000, &[], vec![]),
    ];
    for (ts, instances, want) in steps {
        let out = state
            .eval_plain(&config, &alert, vector(instances), *ts, 0)
            .unwrap();
        assert_eq!(text(&out), *want, "at {ts}");
    }
    // The condition coming back resets the keep-firing clock.
    let mut state = AlertingRule::new(true);
    for (ts, instances) in [
        (0, &["a"][..]),
        (60_000, &[]),
        (100_000, &["a"]),
        (170_000, &[]),
    ] {
        state
            .eval_plain(&config, &alert, vector(instances), ts, 0)
            .unwrap();
    }
    assert_eq!(state.alerts()[0].state, AlertState::Firing);
}

#[test]
fn duplicate_alerts_and_the_limit_fail_the_rule_and_forget_its_alerts() {
    let (config, alert) = rule(0, 0);
    let mut state = AlertingRule::new(true);
    // Two elements differing only by the job label the rule removes.
    let mut twins = vector(&["a"]);
    twins.push(Sample {
        metric: Labels::from_labels(vec![label("instance", "a"), label("job", "k")]),
        value: 1.0,
        drop_name: false,
    });
    assert_eq!(
        state.eval_plain(&config, &alert, twins, 0, 0).unwrap_err(),
        "vector contains metrics with the same labelset after applying alert labels"
    );
    assert_eq!(
        state
            .eval_plain(&config, &alert, vector(&["a", "b", "c"]), 0, 2)
            .unwrap_err(),
        "exceeded limit of 2 with 3 alerts"
    );
    assert!(state.alerts().is_empty());
}

/// `ALERTS_FOR_STATE` of instance `a` as written before a restart: active since `active_s`,
/// last written at `last_ms` (a stale marker when `stale`).
fn stored_state(active_s: i64, last_ms: i64, stale: bool) -> Store {
    let value = if stale {
        f64::from_bits(crate::engine::STALE_NAN_BITS)
    } else {
        active_s as f64
    };
    Store(vec![
        (
            Labels::from_labels(vec![
                label("__name__", "ALERTS_FOR_STATE"),
                label("alertname", "High"),
                label("instance", "a"),
                label("severity", "page"),
            ]),
            vec![(last_ms - 15_000, active_s as f64), (last_ms, value)],
        ),
        // A series with one label more is not the alert's.
        (
            Labels::from_labels(vec![
                label("__name__", "ALERTS_FOR_STATE"),
                label("alertname", "High"),
                label("instance", "a"),
                label("severity", "page"),
                label("x", "y"),
            ]),
            vec![(last_ms, 1.0)],
        ),
    ])
}

#[test]
fn for_state_is_restored_as_prometheus_restores_it() {
    let opts = RestoreOptions {
        outage_tolerance_ms: 3_600_000,
        grace_period_ms: 120_000,
    };
    let now = 10_000_000;
    // (for, stored active second, last write, stale, restored active_at)
    let cases: &[(i64, i64, i64, bool, i64)] = &[
        // Pending 3 of 5 min, down 200 s: the outage does not count towards `for`.
        (
            300_000,
            9_000,
            9_180_000,
            false,
            9_000_000 + (now - 9_180_000),
        ),
        // Pending 4 of 5 min: less than the grace period left, so it fires a grace
        // period from now.
        (300_000, 9_000, 9_240_000, false, now + 120_000 - 300_000),
        // Firing when it went down: its start is kept and it fires again at once.
        (300_000, 9_000, 9_400_000, false, 9_000_000),
        // Not active when it went down.
        (300_000, 9_000, 9_400_000, true, now - 60_000),
        // Written before the outage tolerance: not found.
        (300_000, 1_000, 6_000_000, false, now - 60_000),
        // `for` shorter than the grace period: not restored at all.
        (60_000, 9_000, 9_180_000, false, now - 60_000),
    ];
    for &(hold, active_s, last_ms, stale, want) in cases {
        let (config, alert) = rule(hold, 0);
        let mut state = AlertingRule::new(false);
        for ts in [now - 60_000, now] {
            let out = state
                .eval_plain(&config, &alert, vector(&["a"]), ts, 0)
                .unwrap();
            assert!(out.is_empty(), "nothing is written before the restore");
        }
        state
            .restore(
                &alert,
                now,
                opts,
                &mut stored_state(active_s, last_ms, stale),
            )
            .unwrap();
        assert_eq!(
            state.alerts()[0].active_at_ms,
            want,
            "for {hold}, active since {active_s} s, last written {last_ms}, stale {stale}"
        );
        let out = state
            .eval_plain(&config, &alert, vector(&["a"]), now + 60_000, 0)
            .unwrap();
        assert_eq!(out.len(), 2, "written once restored");
    }
}

#[test]
fn a_group_writes_alerts_from_its_third_evaluation_and_later_rules_see_them() {
    let config = r#"{"restore_for_state": true, "groups": [{"name": "g", "rules": [
        {"alert": "Down", "expr": "up == 0", "for": "1m", "labels": {"severity": "page"},
         "annotations": {"summary": "down"}},
        {"record": "alerts:count", "expr": "count(ALERTS) or vector(0)"}
    ]}]}"#;
    let mut rules = RuleSet::from_json(config).unwrap();
    let mut store = Store(vec![(
        Labels::from_labels(vec![label("__name__", "up"), label("instance", "a")]),
        (0..10).map(|i| (i * 60_000, 0.0)).collect(),
    )]);
    let mut written = Vec::new();
    for ts in [60_000, 120_000, 180_000] {
        let got = rules.evaluate(ts, &mut store);
        assert!(got.failures().is_empty(), "{:?}", got.failures());
        assert!(got.restore_failures.is_empty());
        written.push(text(&got.samples().cloned().collect::<Vec<_>>()));
    }
    assert_eq!(written[0], [r#"{__name__="alerts:count"} 0"#]);
    assert_eq!(written[1], [r#"{__name__="alerts:count"} 0"#]);
    assert_eq!(
        written[2],
        [
            r#"{__name__="ALERTS", alertname="Down", alertstate="firing", instance="a", severity="page"} 1"#,
            r#"{__name__="ALERTS_FOR_STATE", alertname="Down", instance="a", severity="page"} 60"#,
            r#"{__name__="alerts:count"} 1"#,
        ]
    );
    let listed: Vec<_> = rules
        .alerting_rules()
        .map(|(g, r, a)| (g.name.as_str(), r.name.as_str(), a.alerts().len()))
        .collect();
    assert_eq!(listed, [("g", "Down", 1)]);
}

#[test]
fn labels_and_annotations_are_expanded_as_prometheus_expands_them() {
    let config = r#"{
        "external_labels": {"dc": "eu1"},
        "external_url": "http://node:9090",
        "groups": [{"name": "g", "rules": [{
            "alert": "High",
            "expr": "x > 1",
            "labels": {"severity": "{{ if gt $value 5.0 }}page{{ else }}ticket{{ end }}", "dropped": "{{ `` }}"},
            "annotations": {
                "summary": "{{ $labels.instance }} of {{ $labels.__name__ }} is {{ $value | humanize }} in {{ $externalLabels.dc }}",
                "total": "{{ with query \"sum(x)\" }}{{ . | first | value }}{{ end }}",
                "link": "{{ $externalURL }}/alerts",
                "failing": "{{ humanize \"abc\" }}"
            }
        }]}]
    }"#;
    let mut rules = RuleSet::from_json(config).unwrap();
    let mut store = Store(vec![
        (
            Labels::from_labels(vec![label("__name__", "x"), label("instance", "a")]),
            vec![(0, 1234.5)],
        ),
        (
            Labels::from_labels(vec![label("__name__", "x"), label("instance", "b")]),
            vec![(0, 2.0)],
        ),
    ]);
    let evaluation = rules.evaluate(0, &mut store);
    assert!(
        evaluation.failures().is_empty(),
        "{:?}",
        evaluation.failures()
    );
    let alerts = rules.alerts();
    let [(0, a), (0, b)] = alerts[..] else {
        panic!("{alerts:?}")
    };
    assert_eq!(
        a.labels.to_string(),
        r#"{alertname="High", instance="a", severity="page"}"#
    );
    assert_eq!(b.labels.get("severity"), Some("ticket"));
    let annotation = |name: &str| {
        a.annotations
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap()
    };
    assert_eq!(annotation("summary"), "a of x is 1.234k in eu1");
    assert_eq!(annotation("total"), "1236.5");
    assert_eq!(annotation("link"), "http://node:9090/alerts");
    // A template that fails while running leaves its error in the field and the rule goes on
    // (one that does not parse refuses the configuration: see config.rs).
    assert!(
        annotation("failing").starts_with("<error expanding template: error executing template __alert_High: template: __alert_High:1:"),
        "{}",
        annotation("failing")
    );
}

#[test]
fn a_fresh_rule_set_takes_over_the_alerts_of_the_one_it_replaces() {
    let config = r#"{"restore_for_state": true, "groups": [{"name": "g", "rules": [
        {"alert": "High", "expr": "x > 1", "for": "2m"}]}]}"#;
    let mut store = Store(vec![(
        Labels::from_labels(vec![label("__name__", "x"), label("instance", "a")]),
        vec![(0, 5.0), (120_000, 5.0)],
    )]);
    let mut old = RuleSet::from_json(config).unwrap();
    old.evaluate(60_000, &mut store);
    let alerts: Vec<(usize, Alert)> = old
        .alerts()
        .into_iter()
        .map(|(i, a)| (i, a.clone()))
        .collect();
    assert_eq!(alerts.len(), 1);
    // A fresh instance, as after a trap: it would restore from ALERTS_FOR_STATE after two
    // evaluations and write nothing before; taking over, it fires on time and writes at once.
    let mut fresh = RuleSet::from_json(config).unwrap();
    fresh.take_over(alerts);
    let evaluation = fresh.evaluate(180_000, &mut store);
    let written: Vec<String> = text(&evaluation.rules[0].result.clone().unwrap());
    assert_eq!(
        written,
        [
            r#"{__name__="ALERTS", alertname="High", alertstate="firing", instance="a"} 1"#,
            r#"{__name__="ALERTS_FOR_STATE", alertname="High", instance="a"} 60"#,
        ]
    );
}
