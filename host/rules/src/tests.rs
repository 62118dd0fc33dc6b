//! The rule stage against real components: the stock `promql-rules` reading a real head, and
//! the hostile `rule-hostile` guest (`host/artifacts/guests/rule-hostile`), each mode contained.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wasmfed_model::{is_stale_nan, Labels};
use wasmfed_plugin::{stock, FailureKind, Plugin, PluginError, PluginLimits, PluginRuntime, World};
use wasmfed_storage::{Head, MatchOp, Matcher};

use super::{Group, GroupKey, PROMQL_RULES};
use wasmfed_plugin::HeadStore;

mod alerts;

const RULE_HOSTILE: &[u8] = wasmfed_artifacts::RULE_HOSTILE;
const CARDINALITY: &[u8] = wasmfed_artifacts::CARDINALITY_REPORT;

fn runtime() -> &'static PluginRuntime {
    static RUNTIME: OnceLock<PluginRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| PluginRuntime::new().expect("engine"))
}

fn group(head: &Arc<Head>, bytes: &[u8], config: &str, limits: PluginLimits) -> Group {
    let plugin = runtime()
        .load_with_store(
            "test",
            bytes,
            World::Rule,
            config,
            limits,
            Arc::new(HeadStore::new(head.clone(), Arc::default())),
        )
        .expect("plugin loads");
    Group::new(
        GroupKey {
            file: "test.rules".into(),
            name: "g".into(),
        },
        Duration::from_secs(60),
        String::new(),
        Arc::new(plugin),
        head.clone(),
    )
}

fn promql(head: &Arc<Head>, rules: &str) -> Group {
    let config = format!(r#"{{"groups": [{{"name": "g", "rules": {rules}}}]}}"#);
    let bytes = stock::component(PROMQL_RULES).unwrap();
    group(head, bytes, &config, PluginLimits::rules())
}

fn put(head: &Head, pairs: &[(&str, &str)], t: i64, v: f64) {
    let (r, _) = head.get_or_create(&Labels::from_pairs(pairs.iter().copied()));
    head.append(r, t, v).unwrap();
}

/// Every stored sample of the series named `name`: labels without the name, time, value
/// (`NaN` for a stale marker).
fn stored(head: &Head, name: &str) -> Vec<(String, i64, f64)> {
    let m = [Matcher::new(MatchOp::Equal, "__name__", name).unwrap()];
    let mut out = Vec::new();
    for r in head.select(&m) {
        let mut labels = head.labels(r).unwrap();
        labels.remove("__name__");
        for s in head.samples(r, i64::MIN, i64::MAX) {
            let v = if is_stale_nan(s.value) {
                f64::NAN
            } else {
                s.value
            };
            out.push((labels.to_string(), s.timestamp_ms, v));
        }
    }
    out
}

fn mem(head: &Head, t: i64, instances: &[(&str, f64)]) {
    for (instance, v) in instances {
        put(
            head,
            &[("__name__", "mem"), ("job", "node"), ("instance", instance)],
            t,
            *v,
        );
    }
}

#[test]
fn recorded_series_are_written_and_end_with_a_stale_marker() {
    let head = Arc::new(Head::new());
    mem(&head, 50_000, &[("a", 1.0), ("b", 2.0)]);
    let g = promql(
        &head,
        r#"[{"record": "job:mem:sum", "expr": "sum without(instance)(mem)"},
            {"record": "big", "expr": "mem > 1.5"}]"#,
    );
    let done = g.evaluate(60_000).unwrap();
    assert_eq!((done.samples, done.stale_markers), (2, 0));
    assert_eq!(
        stored(&head, "job:mem:sum"),
        [(r#"{job="node"}"#.into(), 60_000, 3.0)]
    );

    // b drops below the threshold: `big{instance="b"}` ends at the next evaluation.
    mem(&head, 110_000, &[("a", 1.0), ("b", 1.0)]);
    let done = g.evaluate(120_000).unwrap();
    assert_eq!((done.samples, done.stale_markers), (1, 1));
    let big = stored(&head, "big");
    assert_eq!(big.len(), 2);
    assert_eq!((big[0].1, big[0].2), (60_000, 2.0));
    assert_eq!(big[1].1, 120_000);
    assert!(big[1].2.is_nan(), "{big:?}");
    assert_eq!(g.stats.evaluations(), 2);
}

#[test]
fn a_failed_rule_writes_nothing_and_leaves_its_series_alone() {
    let head = Arc::new(Head::new());
    mem(&head, 50_000, &[("a", 1.0), ("b", 2.0)]);
    // With a limit of 1 the rule fails once there are two instances.
    let config = r#"{"groups": [{"name": "g", "limit": 1, "rules": [
        {"record": "copy", "expr": "mem"}, {"record": "n", "expr": "count(mem)"}]}]}"#;
    let g = group(
        &head,
        stock::component(PROMQL_RULES).unwrap(),
        config,
        PluginLimits::rules(),
    );
    let done = g.evaluate(60_000).unwrap();
    assert_eq!(done.rule_failures.len(), 1, "{done:?}");
    assert!(
        done.rule_failures[0].1.contains("exceeded limit of 1"),
        "{done:?}"
    );
    assert_eq!(stored(&head, "n"), [("{}".into(), 60_000, 2.0)]);
    assert!(stored(&head, "copy").is_empty());
    assert_eq!(g.stats.rule_failures(), 1);
}

#[test]
fn a_removed_group_ends_its_series_and_a_replacement_inherits_them() {
    let head = Arc::new(Head::new());
    mem(&head, 50_000, &[("a", 1.0)]);
    let old = promql(&head, r#"[{"record": "r", "expr": "mem"}]"#);
    old.evaluate(60_000).unwrap();
    // The reloaded group no longer records `r`: its series end at the first evaluation.
    let new = promql(&head, r#"[{"record": "other", "expr": "vector(1)"}]"#);
    new.inherit(&old);
    let done = new.evaluate(120_000).unwrap();
    assert_eq!(done.stale_markers, 1);
    assert!(stored(&head, "r")[1].2.is_nan());
    assert_eq!(new.mark_stale(180_000), 1);
    assert!(stored(&head, "other")[1].2.is_nan());
}

fn hostile(head: &Arc<Head>, mode: &str, limits: PluginLimits) -> Group {
    group(
        head,
        RULE_HOSTILE,
        &format!(r#"{{"mode": "{mode}"}}"#),
        limits,
    )
}

#[test]
fn hostile_rule_plugins_fail_their_call_only() {
    let head = Arc::new(Head::new());
    mem(&head, 50_000, &[("a", 1.0), ("b", 2.0)]);
    let small = PluginLimits {
        fuel_per_call: 200_000_000,
        memory_bytes: 64 << 20,
        ..PluginLimits::rules()
    };
    let cases = [
        ("loop", small, FailureKind::Budget),
        ("grow", small, FailureKind::Memory),
        ("trap", small, FailureKind::Trap),
        ("huge", PluginLimits::rules(), FailureKind::OutputTooLarge),
    ];
    for (mode, limits, want) in cases {
        let g = hostile(&head, mode, limits);
        let err = g.evaluate(60_000).unwrap_err();
        assert_eq!(err.kind(), Some(want), "{mode}: {err}");
        assert_eq!(g.stats.failed_evaluations(), 1, "{mode}");
        // Nothing was written, and the node's store still answers the next plugin.
        assert!(
            stored(&head, &format!("hostile:{mode}")).is_empty(),
            "{mode}"
        );
    }
    let ok = hostile(&head, "ok", small);
    ok.evaluate(60_000).unwrap();
    assert_eq!(stored(&head, "hostile:ok"), [("{}".into(), 60_000, 2.0)]);
}

#[test]
fn a_rule_failure_is_reported_as_such() {
    let head = Arc::new(Head::new());
    let g = hostile(&head, "fail-rule", PluginLimits::rules());
    let done = g.evaluate(60_000).unwrap();
    assert_eq!(
        done.rule_failures,
        [("hostile:fail-rule".to_string(), "deliberate".to_string())]
    );
}

#[test]
fn a_select_larger_than_the_plugins_memory_is_refused_by_the_host() {
    let head = Arc::new(Head::new());
    // 20,000 series of 20 samples: ~6.4 MB of samples in the guest, more than 4 MiB.
    for i in 0..20_000 {
        let instance = format!("i{i}");
        for t in 0..20 {
            put(
                &head,
                &[("__name__", "mem"), ("instance", &instance)],
                t * 1_000,
                1.0,
            );
        }
    }
    let limits = PluginLimits {
        memory_bytes: 64 << 20,
        ..PluginLimits::rules()
    };
    let tight = hostile(
        &head,
        "select-all",
        PluginLimits {
            memory_bytes: 4 << 20,
            ..limits
        },
    );
    let done = tight.evaluate(60_000).unwrap();
    assert!(
        done.rule_failures[0]
            .1
            .contains("more than the plugin's 4 MiB"),
        "{done:?}"
    );
    let roomy = hostile(&head, "select-all", limits);
    let done = roomy.evaluate(60_000).unwrap();
    assert!(done.rule_failures.is_empty(), "{done:?}");
    assert_eq!(stored(&head, "hostile:select-all")[0].2, 400_000.0);
}

#[test]
fn the_cardinality_example_ranks_metric_names_per_job() {
    let head = Arc::new(Head::new());
    mem(&head, 50_000, &[("a", 1.0), ("b", 2.0), ("c", 3.0)]);
    put(
        &head,
        &[("__name__", "up"), ("job", "node"), ("instance", "a")],
        50_000,
        1.0,
    );
    let g = group(&head, CARDINALITY, r#"{"top": 1}"#, PluginLimits::rules());
    g.evaluate(60_000).unwrap();
    assert_eq!(
        stored(&head, "cardinality:series:top"),
        [(
            r#"{job="node", metric="mem", rank="1"}"#.into(),
            60_000,
            3.0
        )]
    );
    assert_eq!(
        stored(&head, "cardinality:series:total"),
        [(r#"{job="node"}"#.into(), 60_000, 4.0)]
    );
}

/// The stock PromQL plugin in the query world, reading `head`.
fn query_plugin(head: &Arc<Head>) -> Plugin {
    runtime()
        .load_with_store(
            PROMQL_RULES,
            stock::component(PROMQL_RULES).unwrap(),
            World::Query,
            "null",
            PluginLimits::rules(),
            Arc::new(HeadStore::new(head.clone(), Arc::default())),
        )
        .unwrap()
}

#[test]
fn queries_answer_from_the_head() {
    let head = Arc::new(Head::new());
    mem(&head, 50_000, &[("a", 1.0), ("b", 2.0)]);
    let plugin = query_plugin(&head);
    let answer = plugin.query("sum(mem)", 60_000).unwrap();
    match answer.value {
        wasmfed_plugin::QueryValue::Vector(v) => {
            assert_eq!(v.len(), 1);
            assert_eq!((v[0].timestamp_ms, v[0].value), (60_000, 3.0));
            assert!(v[0].labels.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let bad = plugin.query("sum(", 60_000).unwrap_err();
    assert!(
        matches!(bad, wasmfed_plugin::QueryError::BadData(_)),
        "{bad}"
    );
    let wrong: PluginError = runtime()
        .load(
            PROMQL_RULES,
            stock::component(PROMQL_RULES).unwrap(),
            World::Query,
            "null",
            PluginLimits::rules(),
        )
        .unwrap_err();
    assert!(wrong.to_string().contains("needs a store"), "{wrong}");
}

#[test]
fn a_range_query_is_one_call_answering_a_matrix() {
    let head = Arc::new(Head::new());
    mem(&head, 50_000, &[("a", 1.0), ("b", 2.0)]);
    mem(&head, 65_000, &[("a", 5.0)]);
    let plugin = query_plugin(&head);
    let calls = plugin.stats().calls();
    let answer = plugin
        .query_range("sum(mem)", 50_000, 80_000, 15_000)
        .unwrap();
    assert_eq!(
        plugin.stats().calls(),
        calls + 1,
        "one call for three steps"
    );
    match answer.value {
        wasmfed_plugin::QueryValue::Matrix(m) => {
            assert_eq!(m.len(), 1);
            assert!(m[0].labels.is_empty());
            assert_eq!(m[0].timestamps_ms, [50_000, 65_000, 80_000]);
            assert_eq!(m[0].values, [3.0, 7.0, 7.0]);
        }
        other => panic!("{other:?}"),
    }
    let bad = plugin
        .query_range("mem[1m]", 0, 60_000, 15_000)
        .unwrap_err();
    assert!(
        matches!(&bad, wasmfed_plugin::QueryError::BadData(m) if m.contains("range vector")),
        "{bad}"
    );
}

#[test]
fn a_query_instance_that_grew_large_is_not_kept() {
    let head = Arc::new(Head::new());
    mem(&head, 50_000, &[("a", 1.0)]);
    let plugin = query_plugin(&head);
    let instances = || plugin.stats().instantiations();
    assert_eq!(instances(), 1);
    plugin.query("sum(mem)", 60_000).unwrap();
    assert_eq!(instances(), 1, "a small query reuses the instance");
    // 2.6M points of a subquery, in the guest: over 32 MiB of linear memory.
    plugin
        .query("count_over_time(vector(1)[30d:1s])", 60_000)
        .unwrap();
    assert_eq!(instances(), 1);
    plugin.query("sum(mem)", 60_000).unwrap();
    assert_eq!(
        instances(),
        2,
        "the grown instance was dropped, a fresh one answers"
    );
    plugin.query("sum(mem)", 60_000).unwrap();
    assert_eq!(instances(), 2);
}

mod manager {
    use super::*;
    use crate::{RuleContext, RuleManager, RuleMetrics};
    use wasmfed_config::Config;
    use wasmfed_model::compat::Compat;
    use wasmfed_plugin::registry::LivePlugins;

    fn manager(head: &Arc<Head>) -> RuleManager {
        RuleManager::new(RuleContext {
            runtime: Arc::new(PluginRuntime::new().unwrap()),
            head: head.clone(),
            blocks: Arc::default(),
            engine: crate::EngineOptions {
                lookback: Duration::from_secs(300),
                compat: Default::default(),
                alert_restore: Default::default(),
                max_samples: crate::DEFAULT_MAX_SAMPLES,
            },
            live_plugins: LivePlugins::default(),
            metrics: RuleMetrics::default(),
            tenant: "default".into(),
            limits: Default::default(),
            alerts: None,
        })
    }

    fn config(dir: &std::path::Path, rules: &str) -> Config {
        std::fs::write(dir.join("r.rules"), rules).unwrap();
        Config::from_yaml("rule_files: [r.rules]\n", dir, Compat::V3)
            .unwrap()
            .config
    }

    const TWO_GROUPS: &str = "groups:
  - name: a
    rules: [{record: one, expr: vector(1)}]
  - name: b
    rules: [{record: two, expr: vector(2)}]
";

    #[tokio::test]
    async fn reloads_keep_unchanged_groups_and_end_removed_ones() {
        let head = Arc::new(Head::new());
        let dir = tempfile::tempdir().unwrap();
        let rules = manager(&head);
        let first = rules.prepare(&config(dir.path(), TWO_GROUPS)).unwrap();
        rules.commit(first);
        let before: Vec<Arc<Group>> = rules.groups();
        assert_eq!(before.len(), 2);
        before[1].evaluate(60_000).unwrap();

        // Group a changes, group b goes away.
        let changed = "groups:\n  - name: a\n    rules: [{record: one, expr: vector(10)}]\n";
        let second = rules.prepare(&config(dir.path(), changed)).unwrap();
        rules.commit(second);
        let after = rules.groups();
        assert_eq!(after.len(), 1);
        assert!(
            !Arc::ptr_eq(&before[0], &after[0]),
            "a changed: a new group"
        );
        let two = stored(&head, "two");
        assert_eq!(two.len(), 2, "{two:?}");
        assert!(two[1].2.is_nan(), "the removed group's series end: {two:?}");

        // The same configuration again: the running group is kept as it is.
        let same = rules.prepare(&config(dir.path(), changed)).unwrap();
        rules.commit(same);
        assert!(Arc::ptr_eq(&after[0], &rules.groups()[0]));
        rules.shutdown().await;
        assert!(rules.groups().is_empty());
    }

    #[tokio::test]
    async fn a_bad_rule_file_changes_nothing() {
        let head = Arc::new(Head::new());
        let dir = tempfile::tempdir().unwrap();
        let rules = manager(&head);
        rules.commit(rules.prepare(&config(dir.path(), TWO_GROUPS)).unwrap());
        let bad = "groups:\n  - name: a\n    rules: [{record: one, expr: 'sum('}]\n";
        let err = rules
            .prepare(&config(dir.path(), bad))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("r.rules"), "{err}");
        assert_eq!(rules.groups().len(), 2);
        rules.shutdown().await;
    }
}
