//! Recording and alerting rules: every rule of every group evaluated at one time, results
//! named and labelled as Prometheus' rule manager does (`RecordingRule.Eval`, `Group.Eval`;
//! alerts in [`alerting`]).
//!
//! Rules run in order; a rule sees what the rules before it recorded in the same evaluation
//! ([`overlay`]), including stale markers for series a rule stopped producing, so a group of
//! chained rules gives the same values as in Prometheus. A rule that fails is reported and
//! skipped; the others still run, and the failed rule's previous series are not marked stale
//! (Prometheus leaves them too).

pub mod alerting;
mod config;
mod overlay;
pub mod template;

use std::rc::Rc;

pub use config::{Config, ConfigError, GroupConfig, RuleConfig, TemplateSettings};

use alerting::{AlertingRule, RestoreOptions, ALERTS, ALERTS_FOR_STATE};

use crate::engine::{
    Engine, FastSet, Label, Labels, Sample, SelectCache, Source, Value, METRIC_NAME,
};
use overlay::Overlay;
use template::{expand_alert, AlertData, QueryFn, QuerySample};

/// One recorded sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub labels: Labels,
    pub timestamp_ms: i64,
    pub value: f64,
}

/// A rule that failed in an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleFailure {
    pub group: String,
    /// The rule's `record` or `alert` name.
    pub rule: String,
    /// Position of the rule in its group.
    pub index: usize,
    pub error: String,
}

impl std::fmt::Display for RuleFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "group {:?} rule {} ({}): {}",
            self.group, self.index, self.rule, self.error
        )
    }
}

/// One rule's outcome in one evaluation.
#[derive(Debug)]
pub struct RuleOutcome {
    pub group: String,
    /// The rule's `record` or `alert` name.
    pub rule: String,
    /// Position of the rule in its group.
    pub index: usize,
    pub result: Result<Vec<Recorded>, String>,
}

/// What one evaluation produced: one outcome per rule, groups and rules in order.
#[derive(Debug, Default)]
pub struct Evaluation {
    pub rules: Vec<RuleOutcome>,
    /// Alert states that could not be restored (the alerts then start over).
    pub restore_failures: Vec<String>,
}

impl Evaluation {
    /// Everything the rules that succeeded recorded, in order.
    pub fn samples(&self) -> impl Iterator<Item = &Recorded> {
        self.rules
            .iter()
            .filter_map(|r| r.result.as_ref().ok())
            .flatten()
    }

    /// The rules that failed.
    pub fn failures(&self) -> Vec<RuleFailure> {
        self.rules
            .iter()
            .filter_map(|r| {
                r.result.as_ref().err().map(|error| RuleFailure {
                    group: r.group.clone(),
                    rule: r.rule.clone(),
                    index: r.index,
                    error: error.clone(),
                })
            })
            .collect()
    }
}

/// The configured rule groups and what each rule produced last time.
pub struct RuleSet {
    engine: Engine,
    groups: Vec<GroupConfig>,
    /// Per group and rule, the series recorded by its last successful evaluation.
    previous: Vec<Vec<FastSet<Labels>>>,
    /// Per group and rule, an alerting rule's alerts (`None` for a recording rule).
    alerting: Vec<Vec<Option<AlertingRule>>>,
    /// Evaluations each group has had, until its alerts' state is restored.
    evaluations: Vec<u32>,
    /// Whether alert state is still to be restored (after each group's second evaluation).
    restore_for_state: bool,
    restore: RestoreOptions,
    templates: TemplateSettings,
}

/// Evaluations a group has before its alerts' state is restored, as Prometheus waits for the
/// recording rules alerts may depend on to have run.
const EVALUATIONS_BEFORE_RESTORE: u32 = 2;

impl RuleSet {
    pub fn new(config: Config) -> RuleSet {
        let previous = config
            .groups
            .iter()
            .map(|g| vec![FastSet::default(); g.rules.len()])
            .collect();
        let alerting = config
            .groups
            .iter()
            .map(|g| {
                g.rules
                    .iter()
                    .map(|r| {
                        r.alert
                            .as_ref()
                            .map(|_| AlertingRule::new(!config.restore_for_state))
                    })
                    .collect()
            })
            .collect();
        RuleSet {
            engine: Engine::new(config.options),
            evaluations: vec![0; config.groups.len()],
            groups: config.groups,
            previous,
            alerting,
            restore_for_state: config.restore_for_state,
            restore: config.restore,
            templates: config.templates,
        }
    }

    /// Every alerting rule's alerts: group, rule name, its rule's configuration and alerts.
    pub fn alerting_rules(
        &self,
    ) -> impl Iterator<Item = (&GroupConfig, &RuleConfig, &AlertingRule)> + '_ {
        self.groups
            .iter()
            .zip(&self.alerting)
            .flat_map(|(g, rules)| {
                g.rules
                    .iter()
                    .zip(rules)
                    .filter_map(move |(r, a)| Some((g, r, a.as_ref()?)))
            })
    }

    /// Every alert, with its rule's position among all rules (groups in order), as
    /// `rules.evaluate` lists them.
    pub fn alerts(&self) -> Vec<(usize, &alerting::Alert)> {
        self.alerting
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, rule)| Some((i, rule.as_ref()?)))
            .flat_map(|(i, rule)| rule.alerts().into_iter().map(move |a| (i, a)))
            .collect()
    }

    /// Takes over the alerts of a previous instance (`rule` counts all rules, groups in
    /// order): every alerting rule's state is then known, so nothing is restored from
    /// `ALERTS_FOR_STATE` after it. Alerts naming a rule that is not an alerting rule are
    /// ignored.
    pub fn take_over(&mut self, alerts: Vec<(usize, alerting::Alert)>) {
        let mut by_rule: Vec<Vec<alerting::Alert>> = Vec::new();
        for (rule, alert) in alerts {
            if by_rule.len() <= rule {
                by_rule.resize_with(rule + 1, Vec::new);
            }
            by_rule[rule].push(alert);
        }
        let mut by_rule = by_rule.into_iter();
        for state in self.alerting.iter_mut().flatten() {
            let mine = by_rule.next().unwrap_or_default();
            if let Some(state) = state {
                state.take_over(mine);
            }
        }
        self.restore_for_state = false;
    }

    pub fn from_json(text: &str) -> Result<RuleSet, ConfigError> {
        Config::from_json(text).map(RuleSet::new)
    }

    /// The engine the rules run on, for ad-hoc queries with the same settings.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// How many rules the groups hold.
    pub fn rule_count(&self) -> usize {
        self.groups.iter().map(|g| g.rules.len()).sum()
    }

    /// Evaluates every rule at `at_ms` (minus its group's query offset) against `source`.
    pub fn evaluate(&mut self, at_ms: i64, source: &mut dyn Source) -> Evaluation {
        let mut out = Evaluation::default();
        let mut overlay = Overlay::new(source);
        // Rules select the same series over and over; each distinct select is asked once,
        // until a rule records series it could match.
        let mut cache = SelectCache::new();
        for (g, group) in self.groups.iter().enumerate() {
            let ts = at_ms - group.query_offset_ms;
            for (r, rule) in group.rules.iter().enumerate() {
                let result = match (&rule.alert, &mut self.alerting[g][r]) {
                    (Some(alert), Some(state)) => {
                        query(&self.engine, rule, ts, &mut overlay, &mut cache).and_then(|vector| {
                            let mut expander =
                                Expander::new(&self.templates, &self.engine, &mut overlay, ts);
                            state.eval(rule, alert, vector, ts, group.limit, &mut expander)
                        })
                    }
                    _ => record(
                        &self.engine,
                        rule,
                        group.limit,
                        ts,
                        &mut overlay,
                        &mut cache,
                    ),
                };
                if let Ok(samples) = &result {
                    if rule.alert.is_some() {
                        cache.forget_metric(ALERTS);
                        cache.forget_metric(ALERTS_FOR_STATE);
                    } else {
                        cache.forget_metric(&rule.name);
                    }
                    let current: FastSet<Labels> =
                        samples.iter().map(|s| s.labels.clone()).collect();
                    for gone in self.previous[g][r].difference(&current) {
                        overlay.write_stale(gone, ts);
                    }
                    for s in samples {
                        overlay.write(&s.labels, s.timestamp_ms, s.value);
                    }
                    self.previous[g][r] = current;
                }
                out.rules.push(RuleOutcome {
                    group: group.name.clone(),
                    rule: rule.name.clone(),
                    index: r,
                    result,
                });
            }
            self.evaluations[g] += 1;
            if self.restore_for_state && self.evaluations[g] == EVALUATIONS_BEFORE_RESTORE {
                for (rule, state) in group.rules.iter().zip(&mut self.alerting[g]) {
                    let (Some(alert), Some(state)) = (&rule.alert, state) else {
                        continue;
                    };
                    if let Err(e) = state.restore(alert, at_ms, self.restore, &mut overlay) {
                        out.restore_failures.push(format!(
                            "group {:?} alert {}: restoring 'for' state: {e}",
                            group.name, rule.name
                        ));
                    }
                }
            }
        }
        out
    }
}

/// A template's `query`: the rule engine at the evaluation time, as Prometheus'
/// `EngineQueryFunc` (a scalar as one sample without labels).
struct TemplateQuery<'a> {
    engine: &'a Engine,
    source: &'a mut dyn Source,
    ts: i64,
}

impl QueryFn for TemplateQuery<'_> {
    fn query(&mut self, expr: &str) -> Result<Vec<QuerySample>, String> {
        let expr = self.engine.parse(expr)?;
        let result = self
            .engine
            .instant(&expr, self.ts, self.source)
            .map_err(|e| e.to_string())?;
        let pairs = |l: &Labels| {
            l.iter()
                .map(|l| (l.name.to_string(), l.value.to_string()))
                .collect()
        };
        match result.value {
            Value::Vector(v) => Ok(v
                .iter()
                .map(|s| QuerySample {
                    labels: pairs(&s.metric),
                    value: s.value,
                })
                .collect()),
            Value::Scalar(f) => Ok(vec![QuerySample {
                labels: Vec::new(),
                value: f,
            }]),
            _ => Err("rule result is not a vector or scalar".into()),
        }
    }
}

/// Expands an alerting rule's label and annotation templates for one alert.
pub struct Expander<'a> {
    settings: &'a TemplateSettings,
    query: TemplateQuery<'a>,
}

impl<'a> Expander<'a> {
    /// Templates whose `query` reads `source` at `ts`.
    pub fn new(
        settings: &'a TemplateSettings,
        engine: &'a Engine,
        source: &'a mut dyn Source,
        ts: i64,
    ) -> Expander<'a> {
        Expander {
            settings,
            query: TemplateQuery { engine, source, ts },
        }
    }

    /// `text` expanded for the element `labels` (metric name included) with `value`; a
    /// template that fails gives Prometheus' error text in its place.
    pub fn expand(
        &mut self,
        rule: &str,
        text: &str,
        labels: &Labels,
        value: f64,
        ts: i64,
    ) -> String {
        if !text.contains("{{") {
            return text.to_string();
        }
        let pairs: Vec<(String, String)> = labels
            .iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect();
        let data = AlertData {
            labels: &pairs,
            external_labels: &self.settings.external_labels,
            external_url: &self.settings.external_url,
            value,
        };
        expand_alert(rule, text, &data, ts, &mut self.query)
            .unwrap_or_else(|e| format!("<error expanding template: {e}>"))
    }
}

/// The instant vector of a rule's expression at `ts` (a scalar as one element without labels).
fn query(
    engine: &Engine,
    rule: &RuleConfig,
    ts: i64,
    source: &mut dyn Source,
    cache: &mut SelectCache,
) -> Result<Vec<Sample>, String> {
    let result = engine
        .instant_cached(&rule.expr, ts, source, cache)
        .map_err(|e| e.to_string())?;
    match result.value {
        Value::Vector(v) => Ok(v),
        Value::Scalar(f) => Ok(vec![Sample {
            metric: Labels::empty(),
            value: f,
            drop_name: false,
        }]),
        _ => Err("rule result is not a vector or scalar".into()),
    }
}

/// Evaluates one rule and names its results.
fn record(
    engine: &Engine,
    rule: &RuleConfig,
    limit: usize,
    ts: i64,
    source: &mut dyn Source,
    cache: &mut SelectCache,
) -> Result<Vec<Recorded>, String> {
    let vector = query(engine, rule, ts, source, cache)?;
    let overrides: Vec<Label> = std::iter::once((METRIC_NAME, rule.name.as_str()))
        .chain(rule.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map(|(name, value)| Label {
            name: Rc::from(name),
            value: Rc::from(value),
        })
        .collect();
    let mut seen = FastSet::with_capacity_and_hasher(vector.len(), Default::default());
    let mut out = Vec::with_capacity(vector.len());
    for s in vector {
        let labels: Vec<Label> = s
            .metric
            .iter()
            .filter(|l| !overrides.iter().any(|o| o.name == l.name))
            .chain(overrides.iter())
            .cloned()
            .collect();
        let labels = Labels::from_labels(labels);
        if !seen.insert(labels.clone()) {
            return Err(
                "vector contains metrics with the same labelset after applying rule labels".into(),
            );
        }
        out.push(Recorded {
            labels,
            timestamp_ms: ts,
            value: s.value,
        });
    }
    if limit > 0 && out.len() > limit {
        return Err(format!(
            "exceeded limit of {limit} with {} series",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{select_stored, Matcher, Series};

    /// A store of whole series, as the host's would be.
    struct Store(Vec<(Labels, Vec<(i64, f64)>)>);

    impl Source for Store {
        fn select(&mut self, m: &[Matcher], start: i64, end: i64) -> Result<Vec<Series>, String> {
            select_stored(&self.0, m, start, end)
        }
    }

    fn store() -> Store {
        let series = |job: &str, inst: &str, v: f64| {
            (
                Labels::from_pairs(&[("__name__", "mem"), ("job", job), ("instance", inst)]),
                vec![(0, v), (60_000, v)],
            )
        };
        Store(vec![
            series("node", "a", 1.0),
            series("node", "b", 2.0),
            series("db", "c", 4.0),
        ])
    }

    fn text(e: &Evaluation) -> Vec<String> {
        e.samples()
            .map(|s| format!("{} {} @{}", s.labels, s.value, s.timestamp_ms))
            .collect()
    }

    #[test]
    fn rules_see_earlier_results_and_get_their_name_and_labels() {
        let mut rules = RuleSet::from_json(
            r#"{"groups": [{"name": "g", "rules": [
                {"record": "job:mem:sum", "expr": "sum without(instance)(mem)", "labels": {"team": "infra"}},
                {"record": "mem:total", "expr": "sum(job:mem:sum)"},
                {"record": "scalar", "expr": "1 + 1"}
            ]}]}"#,
        )
        .unwrap();
        let got = rules.evaluate(60_000, &mut store());
        assert!(got.failures().is_empty(), "{:?}", got.failures());
        assert_eq!(
            text(&got),
            [
                r#"{__name__="job:mem:sum", job="node", team="infra"} 3 @60000"#,
                r#"{__name__="job:mem:sum", job="db", team="infra"} 4 @60000"#,
                r#"{__name__="mem:total"} 7 @60000"#,
                r#"{__name__="scalar"} 2 @60000"#,
            ]
        );
    }

    #[test]
    fn a_failing_rule_is_reported_and_the_others_still_run() {
        let mut rules = RuleSet::from_json(
            r#"{"groups": [{"name": "g", "limit": 1, "rules": [
                {"record": "r1", "expr": "mem"},
                {"record": "r2", "expr": "label_replace(mem, \"instance\", \"\", \"\", \"\")"},
                {"record": "r3", "expr": "count(mem)"},
                {"record": "r4", "expr": "\"text\""}
            ]}]}"#,
        )
        .unwrap();
        let got = rules.evaluate(60_000, &mut store());
        let failures: Vec<String> = got.failures().iter().map(|f| f.to_string()).collect();
        assert_eq!(
            failures,
            [
                r#"group "g" rule 0 (r1): exceeded limit of 1 with 3 series"#,
                r#"group "g" rule 1 (r2): vector cannot contain metrics with the same labelset"#,
                r#"group "g" rule 3 (r4): rule result is not a vector or scalar"#,
            ]
        );
        assert_eq!(text(&got), [r#"{__name__="r3"} 3 @60000"#]);
    }

    #[test]
    fn series_a_rule_stops_producing_are_stale_for_later_rules() {
        let mut rules = RuleSet::from_json(
            r#"{"groups": [{"name": "g", "query_offset": "1m", "rules": [
                {"record": "big", "expr": "mem > 1.5"},
                {"record": "n", "expr": "count(big)"}
            ]}]}"#,
        )
        .unwrap();
        let mut host = store();
        let first = rules.evaluate(120_000, &mut host);
        assert_eq!(text(&first)[2], r#"{__name__="n"} 2 @60000"#);
        // The host stores the first evaluation; then instance b drops below the threshold.
        for s in first.samples() {
            host.0
                .push((s.labels.clone(), vec![(s.timestamp_ms, s.value)]));
        }
        host.0[1].1.push((120_000, 1.0));
        let second = rules.evaluate(180_000, &mut host);
        assert_eq!(
            text(&second),
            [
                r#"{__name__="big", instance="c", job="db"} 4 @120000"#,
                r#"{__name__="n"} 1 @120000"#,
            ]
        );
    }
}
