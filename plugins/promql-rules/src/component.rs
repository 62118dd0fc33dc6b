//! The WIT boundary: the `promql-plugin` world (`rule-plugin` plus `alerts`, `query` and
//! `range-query`). `store.select` becomes the engine's [`Source`], `lifecycle.init` builds the
//! [`RuleSet`], `rules.evaluate` runs it and `query.instant` and `range-query.range` evaluate
//! one expression with the same engine settings; this
//! module only converts between the generated types and the crate's own.
//!
//! The rule set lives in the instance for its lifetime (it remembers what each rule recorded
//! last, for stale markers seen by later rules). A component instance is single-threaded, so a
//! thread-local cell holds it; native tests, one thread each, get their own.

use std::cell::RefCell;

use promql_parser::parser::Expr;

use crate::engine::{
    range_type_error, Engine, EvalError, Evaluation, Labels, MatchOp, Matcher, RangeSeries, Sample,
    Series, Severity, Source, Value,
};
use crate::rules::alerting::{Alert, AlertState};
use crate::rules::{Recorded, RuleSet};

wit_bindgen::generate!({
    world: "promql-plugin",
    path: "../../wit",
});

use exports::wasmfed::plugin::{alerts, expressions, lifecycle, query, range_query, rules};
use wasmfed::plugin::store;
use wasmfed::plugin::types::{Label as WitLabel, PluginError, Sample as WitSample};

thread_local! {
    static RULES: RefCell<Option<RuleSet>> = const { RefCell::new(None) };
}

struct PromqlPlugin;

// The export symbols' names (`wasmfed:plugin/...#init`) are for a component; a native shared
// library cannot carry them, and native builds only run the tests.
#[cfg(target_arch = "wasm32")]
export!(PromqlPlugin);

impl lifecycle::Guest for PromqlPlugin {
    /// `null` is a query-only instance with Prometheus' default settings.
    fn init(config: String) -> Result<(), PluginError> {
        let config = if config.trim() == "null" {
            "{}"
        } else {
            &config
        };
        let rules =
            RuleSet::from_json(config).map_err(|e| PluginError::InvalidConfig(e.to_string()))?;
        RULES.with_borrow_mut(|slot| *slot = Some(rules));
        Ok(())
    }
}

fn with_rules<T>(f: impl FnOnce(&mut RuleSet) -> T) -> Result<T, String> {
    RULES.with_borrow_mut(|slot| {
        slot.as_mut()
            .map(f)
            .ok_or_else(|| "promql-rules called before init".to_string())
    })
}

impl rules::Guest for PromqlPlugin {
    fn evaluate(at_ms: i64) -> Result<Vec<rules::RuleResult>, PluginError> {
        let evaluation = with_rules(|rules| rules.evaluate(at_ms, &mut HostStore))
            .map_err(PluginError::Failed)?;
        Ok(evaluation
            .rules
            .into_iter()
            .map(|r| rules::RuleResult {
                name: r.rule,
                outcome: r
                    .result
                    .map(|samples| samples.into_iter().map(recorded_to_wit).collect()),
            })
            .collect())
    }
}

impl alerts::Guest for PromqlPlugin {
    fn restore(alerts: Vec<alerts::Alert>) {
        let alerts = alerts
            .into_iter()
            .map(|a| {
                let pairs = |set: Vec<WitLabel>| -> Vec<(String, String)> {
                    set.into_iter().map(|l| (l.name, l.value)).collect()
                };
                let alert = Alert {
                    state: match a.state {
                        alerts::AlertState::Pending => AlertState::Pending,
                        alerts::AlertState::Firing => AlertState::Firing,
                        alerts::AlertState::Inactive => AlertState::Inactive,
                    },
                    labels: Labels::from_pairs(&pairs(a.labels)),
                    annotations: pairs(a.annotations),
                    value: a.value,
                    active_at_ms: a.active_at_ms,
                    fired_at_ms: a.fired_at_ms,
                    resolved_at_ms: a.resolved_at_ms,
                    keep_firing_since_ms: a.keep_firing_since_ms,
                };
                (a.rule as usize, alert)
            })
            .collect();
        // Before `init` there is nothing to take over into; the host never calls it then.
        let _ = with_rules(|rules| rules.take_over(alerts));
    }

    fn alerts() -> Vec<alerts::Alert> {
        with_rules(|rules| {
            rules
                .alerts()
                .into_iter()
                .map(|(rule, a)| alerts::Alert {
                    rule: rule as u32,
                    labels: labels_to_wit(&a.labels),
                    annotations: a
                        .annotations
                        .iter()
                        .map(|(name, value)| WitLabel {
                            name: name.clone(),
                            value: value.clone(),
                        })
                        .collect(),
                    state: match a.state {
                        AlertState::Pending => alerts::AlertState::Pending,
                        AlertState::Firing => alerts::AlertState::Firing,
                        AlertState::Inactive => alerts::AlertState::Inactive,
                    },
                    value: a.value,
                    active_at_ms: a.active_at_ms,
                    fired_at_ms: a.fired_at_ms,
                    resolved_at_ms: a.resolved_at_ms,
                    keep_firing_since_ms: a.keep_firing_since_ms,
                })
                .collect()
        })
        .unwrap_or_default()
    }
}

impl query::Guest for PromqlPlugin {
    fn instant(expr: String, at_ms: i64) -> Result<query::QueryResult, query::QueryError> {
        let evaluation = evaluate(&expr, |engine, expr| {
            engine
                .instant(expr, at_ms, &mut HostStore)
                .map_err(eval_error)
        })?;
        Ok(query_result(evaluation, at_ms))
    }
}

impl range_query::Guest for PromqlPlugin {
    fn range(
        expr: String,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<query::QueryResult, query::QueryError> {
        let evaluation = evaluate(&expr, |engine, expr| {
            if let Some(refusal) = range_type_error(expr) {
                return Err(query::QueryError::BadData(refusal));
            }
            engine
                .range(expr, start_ms, end_ms, step_ms, &mut HostStore)
                .map_err(eval_error)
        })?;
        Ok(query_result(evaluation, end_ms))
    }
}

impl expressions::Guest for PromqlPlugin {
    fn selectors(expr: String) -> Result<Vec<String>, query::QueryError> {
        with_rules(|rules| {
            let expr = rules
                .engine()
                .parse(&expr)
                .map_err(query::QueryError::BadData)?;
            Ok(crate::engine::selectors(&expr))
        })
        .map_err(query::QueryError::Execution)?
    }
}

/// Parses `expr` with the rule set's engine and runs `run` on it.
fn evaluate(
    expr: &str,
    run: impl FnOnce(&Engine, &Expr) -> Result<Evaluation, query::QueryError>,
) -> Result<Evaluation, query::QueryError> {
    with_rules(|rules| {
        let engine = rules.engine();
        let expr = engine.parse(expr).map_err(query::QueryError::BadData)?;
        run(engine, &expr)
    })
    .map_err(query::QueryError::Execution)?
}

fn eval_error(e: EvalError) -> query::QueryError {
    match e {
        EvalError::Unsupported(_) => query::QueryError::BadData(e.to_string()),
        EvalError::Query(_) | EvalError::Source(_) => query::QueryError::Execution(e.to_string()),
    }
}

/// An evaluation's value (a vector's samples stamped `at_ms`) and its annotations.
fn query_result(evaluation: Evaluation, at_ms: i64) -> query::QueryResult {
    let (mut warnings, mut infos) = (Vec::new(), Vec::new());
    for a in evaluation.annotations {
        match a.severity {
            Severity::Warning => warnings.push(a.message),
            Severity::Info => infos.push(a.message),
        }
    }
    query::QueryResult {
        value: value_to_wit(evaluation.value, at_ms),
        warnings,
        infos,
    }
}

fn labels_to_wit(labels: &Labels) -> Vec<WitLabel> {
    labels
        .iter()
        .map(|l| WitLabel {
            name: l.name.to_string(),
            value: l.value.to_string(),
        })
        .collect()
}

fn recorded_to_wit(s: Recorded) -> WitSample {
    WitSample {
        labels: labels_to_wit(&s.labels),
        timestamp_ms: s.timestamp_ms,
        value: s.value,
    }
}

fn value_to_wit(value: Value, at_ms: i64) -> query::QueryValue {
    match value {
        Value::Scalar(v) => query::QueryValue::Scalar(v),
        Value::String(s) => query::QueryValue::String(s),
        Value::Vector(samples) => query::QueryValue::Vector(
            samples
                .iter()
                .map(|s: &Sample| WitSample {
                    labels: labels_to_wit(&s.metric),
                    timestamp_ms: at_ms,
                    value: s.value,
                })
                .collect(),
        ),
        Value::Matrix(series) => query::QueryValue::Matrix(
            series
                .iter()
                .map(|s: &RangeSeries| store::SeriesSamples {
                    labels: labels_to_wit(&s.metric),
                    timestamps_ms: s.points.iter().map(|p| p.t).collect(),
                    values: s.points.iter().map(|p| p.v).collect(),
                })
                .collect(),
        ),
    }
}

/// The host's store, through the `store.select` import.
struct HostStore;

impl Source for HostStore {
    fn select(
        &mut self,
        matchers: &[Matcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Series>, String> {
        let matchers: Vec<store::Matcher> = matchers
            .iter()
            .map(|m| store::Matcher {
                name: m.name.clone(),
                op: match m.op {
                    MatchOp::Equal => store::MatchOp::Equal,
                    MatchOp::NotEqual => store::MatchOp::NotEqual,
                    MatchOp::Regex => store::MatchOp::Regex,
                    MatchOp::NotRegex => store::MatchOp::NotRegex,
                },
                value: m.value.clone(),
            })
            .collect();
        Ok(store::select(&matchers, start_ms, end_ms)?
            .into_iter()
            .map(|s| Series {
                labels: s.labels.into_iter().map(|l| (l.name, l.value)).collect(),
                timestamps_ms: s.timestamps_ms,
                values: s.values,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifecycle::Guest as _;
    use query::Guest as _;
    use rules::Guest as _;

    #[test]
    fn evaluate_before_init_fails() {
        let err = PromqlPlugin::evaluate(0).unwrap_err();
        assert!(matches!(err, PluginError::Failed(m) if m.contains("before init")));
    }

    #[test]
    fn init_refuses_bad_configs_and_keeps_the_old_rules() {
        PromqlPlugin::init(
            r#"{"groups": [{"name": "g", "rules": [{"record": "two", "expr": "1 + 1"}]}]}"#.into(),
        )
        .unwrap();
        for bad in [
            "{",
            r#"{"groups": [{"name": "g", "rules": [{"record": "r", "expr": "sum("}]}]}"#,
            r#"{"lookback_delta": "five minutes"}"#,
        ] {
            let err = PromqlPlugin::init(bad.into()).unwrap_err();
            assert!(
                matches!(err, PluginError::InvalidConfig(_)),
                "{bad}: {err:?}"
            );
        }
        let out = PromqlPlugin::evaluate(60_000).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "two");
        let samples = out[0].outcome.as_ref().unwrap();
        assert_eq!(samples[0].labels[0].name, "__name__");
        assert_eq!(samples[0].labels[0].value, "two");
        assert_eq!((samples[0].timestamp_ms, samples[0].value), (60_000, 2.0));
    }

    #[test]
    fn each_rule_answers_on_its_own() {
        PromqlPlugin::init(
            r#"{"groups": [{"name": "g", "rules": [
                {"record": "s", "expr": "\"text\""},
                {"record": "ok", "expr": "vector(1)"}
            ]}]}"#
                .into(),
        )
        .unwrap();
        let out = PromqlPlugin::evaluate(0).unwrap();
        let names: Vec<&str> = out.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["s", "ok"]);
        assert!(
            matches!(&out[0].outcome, Err(m) if m.contains("rule result is not a vector or scalar")),
            "{:?}",
            out[0].outcome
        );
        assert_eq!(out[1].outcome.as_ref().unwrap().len(), 1);
    }

    #[test]
    fn query_settings_come_from_the_config() {
        // Subquery steps without a step are the evaluation interval: multiples of it in
        // (t - 3m, t], or [t - 3m, t] in 2.x mode.
        let cases = [
            ("null", "count_over_time(vector(1)[3m:])", Ok(3.0)),
            (
                r#"{"evaluation_interval": "30s"}"#,
                "count_over_time(vector(1)[3m:])",
                Ok(6.0),
            ),
            (
                r#"{"evaluation_interval": "30s", "compat": 2}"#,
                "count_over_time(vector(1)[3m:])",
                Ok(7.0),
            ),
            (
                r#"{"compat": 2}"#,
                "holt_winters(vector(1)[3m:], 0.5, 0.5)",
                Ok(1.0),
            ),
            (r#"{"compat": 2}"#, "{\"up\"}", Err("unexpected string")),
            (
                "{}",
                "sort_by_label(vector(1), \"a\")",
                Err("is not enabled"),
            ),
            (
                r#"{"experimental_functions": true}"#,
                "scalar(sort_by_label(vector(1), \"a\"))",
                Ok(1.0),
            ),
        ];
        for (config, expr, want) in cases {
            PromqlPlugin::init(config.into()).unwrap();
            let got = PromqlPlugin::instant(expr.into(), 600_000);
            match (got, want) {
                (Ok(r), Ok(want)) => match r.value {
                    query::QueryValue::Scalar(v) => assert_eq!(v, want, "{config} {expr}"),
                    query::QueryValue::Vector(v) => {
                        assert_eq!(v[0].value, want, "{config} {expr}")
                    }
                    other => panic!("{config} {expr}: {other:?}"),
                },
                (Err(query::QueryError::BadData(m)), Err(want)) => {
                    assert!(m.contains(want), "{config} {expr}: {m}")
                }
                (got, want) => panic!("{config} {expr}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_query_only_instance_answers_queries_in_prometheus_shapes() {
        PromqlPlugin::init("null".into()).unwrap();
        assert!(PromqlPlugin::evaluate(0).unwrap().is_empty());
        let scalar = PromqlPlugin::instant("1 + 2".into(), 5_000).unwrap();
        assert!(matches!(scalar.value, query::QueryValue::Scalar(v) if v == 3.0));
        let vector = PromqlPlugin::instant("vector(time())".into(), 7_000).unwrap();
        match vector.value {
            query::QueryValue::Vector(v) => {
                assert_eq!(v.len(), 1);
                assert!(v[0].labels.is_empty());
                assert_eq!((v[0].timestamp_ms, v[0].value), (7_000, 7.0));
            }
            other => panic!("{other:?}"),
        }
        let bad = PromqlPlugin::instant("sum(".into(), 0).unwrap_err();
        assert!(matches!(bad, query::QueryError::BadData(_)), "{bad:?}");
        let failed =
            PromqlPlugin::instant(r#"label_replace(vector(1) or label_replace(vector(2), "a", "x", "", ""), "a", "", "", "")"#.into(), 0)
                .unwrap_err();
        assert!(
            matches!(&failed, query::QueryError::Execution(m) if m.contains("same labelset")),
            "{failed:?}"
        );
    }

    #[test]
    fn selectors_are_named_in_order_without_evaluating() {
        use expressions::Guest as _;
        PromqlPlugin::init("null".into()).unwrap();
        let got = PromqlPlugin::selectors(
            r#"sum(rate(http_requests_total{code="500"}[5m])) / on() group_left up offset 1m + 1"#
                .into(),
        )
        .unwrap();
        assert_eq!(
            got,
            [r#"http_requests_total{code="500"}"#, "up offset 1m"],
            "{got:?}"
        );
        assert!(PromqlPlugin::selectors("1 + time()".into())
            .unwrap()
            .is_empty());
        assert!(matches!(
            PromqlPlugin::selectors("sum(".into()),
            Err(query::QueryError::BadData(_))
        ));
    }

    #[test]
    fn range_queries_answer_one_series_per_label_set_and_refuse_other_types() {
        use range_query::Guest as _;
        PromqlPlugin::init("null".into()).unwrap();
        let answer = PromqlPlugin::range("time() * 2".into(), 10_000, 40_000, 15_000).unwrap();
        match answer.value {
            query::QueryValue::Matrix(m) => {
                assert_eq!(m.len(), 1);
                assert!(
                    m[0].labels.is_empty(),
                    "a scalar is a series without labels"
                );
                assert_eq!(m[0].timestamps_ms, [10_000, 25_000, 40_000]);
                assert_eq!(m[0].values, [20.0, 50.0, 80.0]);
            }
            other => panic!("{other:?}"),
        }
        let answer = PromqlPlugin::range(
            r#"label_replace(vector(time()), "odd", "$1", "", "") > 20 or vector(1)"#.into(),
            0,
            60_000,
            20_000,
        )
        .unwrap();
        let query::QueryValue::Matrix(m) = answer.value else {
            panic!("{:?}", answer.value)
        };
        assert_eq!(m.len(), 1, "one label set across the steps: {m:?}");
        assert_eq!(m[0].timestamps_ms, [0, 20_000, 40_000, 60_000]);
        assert_eq!(m[0].values, [1.0, 1.0, 40.0, 60.0]);
        for (expr, want) in [
            ("up[5m]", r#"invalid expression type "range vector""#),
            (r#""text""#, r#"invalid expression type "string""#),
            ("sum(", "unclosed left parenthesis"),
        ] {
            match PromqlPlugin::range(expr.into(), 0, 60_000, 15_000) {
                Err(query::QueryError::BadData(m)) => assert!(m.contains(want), "{expr}: {m}"),
                other => panic!("{expr}: {other:?}"),
            }
        }
    }
}
