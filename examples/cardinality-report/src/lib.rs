//! A cardinality report as a wasmfed rule-stage plugin: for each job, the metric names with the
//! most series, ranked, and each job's total series count.
//!
//! PromQL can count series (`count by (job, __name__) ({__name__=~".+"})`), but only by
//! selecting every sample of every series at each evaluation, and `topk` over that keeps the
//! original label sets, so it cannot say "rank 1 in job X" and its answer changes shape from one
//! evaluation to the next. This plugin asks the host's `store.series` for label sets only
//! (no samples), counts them per (job, metric name), and records a fixed-shape ranking.
//!
//! Configuration (JSON, given by wasmfed from the `config:` of the `rule_plugins` entry; every
//! field optional, unknown fields refused):
//!
//! - `top` (whole number ≥ 1, default 10): metric names reported per job;
//! - `lookback` (Prometheus duration, default `"5m"`): a series counts if it has a sample in the
//!   last `lookback` before the evaluation time, as an instant query would see it;
//! - `by` (label name, default `"job"`): the label the report is grouped by;
//! - `alert_over` (whole number, no default): raise the alert `CardinalityHigh{job="…"}` for a
//!   group with more series than this (`alert.rs`); the host sends it to Alertmanager, re-sends
//!   it and its resolution like any alerting rule's.
//!
//! Output, timestamped at the evaluation time, as two rules in this order:
//!
//! - `cardinality:series:top{job="…", metric="…", rank="1"}`: series of that metric name in
//!   that job, for the `top` largest names; equal counts are ranked by name, so the output is
//!   deterministic;
//! - `cardinality:series:total{job="…"}`: all series of that job;
//! - with `alert_over`, a third rule, `CardinalityHigh`, writing
//!   `ALERTS{alertname="CardinalityHigh", alertstate="firing", job="…"} 1` while it fires, as
//!   Prometheus writes an alerting rule's state.
//!
//! The logic is plain Rust in `config.rs` and `report.rs`, unit-tested natively with `cargo test`;
//! this file is only the WIT glue.

use std::cell::RefCell;

wit_bindgen::generate!({
    world: "alerting-rule-plugin",
    path: "../../wit",
});

mod alert;
mod config;
mod report;

use alert::{Alerts, GroupAlert, ALERT};
use config::Config;
use exports::wasmfed::plugin::{alerts, lifecycle, rules};
use report::labels;
use wasmfed::plugin::store;
use wasmfed::plugin::types::{PluginError, Sample};

thread_local! {
    // A component instance is single-threaded; the configuration and the alerts live as long
    // as it does.
    static CONFIG: RefCell<Option<Config>> = const { RefCell::new(None) };
    static ALERTS: RefCell<Alerts> = RefCell::new(Alerts::default());
}

/// The alert's position among the rules `evaluate` answers.
const ALERT_RULE: u32 = 2;

struct Plugin;

// The export symbols' names are for a component; native builds only run the tests.
#[cfg(target_arch = "wasm32")]
export!(Plugin);

impl lifecycle::Guest for Plugin {
    fn init(config: String) -> Result<(), PluginError> {
        let config = Config::from_json(&config).map_err(PluginError::InvalidConfig)?;
        CONFIG.with_borrow_mut(|slot| *slot = Some(config));
        Ok(())
    }
}

impl rules::Guest for Plugin {
    fn evaluate(at_ms: i64) -> Result<Vec<rules::RuleResult>, PluginError> {
        let config = CONFIG
            .with_borrow(Clone::clone)
            .ok_or_else(|| PluginError::Failed("called before init".into()))?;
        let (start_ms, end_ms) = report::window(&config, at_ms);
        let every_series = [store::Matcher {
            name: "__name__".into(),
            op: store::MatchOp::Regex,
            value: ".+".into(),
        }];
        let series = store::series(&every_series, start_ms, end_ms);
        let totals = series.as_ref().ok().map(|s| report::totals(s, &config.by));
        let mut results = report::evaluate(&config, at_ms, series);
        if let Some(limit) = config.alert_over {
            let outcome = match totals {
                Some(totals) => ALERTS.with_borrow_mut(|alerts| {
                    alerts.update(limit, &totals, at_ms);
                    Ok(firing_series(&config, alerts, at_ms))
                }),
                None => Err("store.series failed".to_string()),
            };
            results.push(rules::RuleResult {
                name: ALERT.to_string(),
                outcome,
            });
        }
        Ok(results)
    }
}

/// `ALERTS{alertname, alertstate="firing", <by>} 1` for every firing alert.
fn firing_series(config: &Config, alerts: &Alerts, at_ms: i64) -> Vec<Sample> {
    alerts
        .list()
        .iter()
        .filter(|(_, a)| a.resolved_at_ms.is_none())
        .map(|(group, _)| Sample {
            labels: labels(&[
                ("__name__", "ALERTS"),
                ("alertname", ALERT),
                ("alertstate", "firing"),
                (&config.by, group),
            ]),
            timestamp_ms: at_ms,
            value: 1.0,
        })
        .collect()
}

impl alerts::Guest for Plugin {
    fn alerts() -> Vec<alerts::Alert> {
        let Some(config) = CONFIG.with_borrow(Clone::clone) else {
            return Vec::new();
        };
        let limit = config.alert_over.unwrap_or_default();
        ALERTS.with_borrow(|alerts| {
            alerts
                .list()
                .iter()
                .map(|(group, a)| {
                    let summary = format!(
                        "{} {group:?} has {} series, more than {limit}",
                        config.by, a.series
                    );
                    alerts::Alert {
                        rule: ALERT_RULE,
                        labels: labels(&[("alertname", ALERT), (&config.by, group)]),
                        annotations: labels(&[("summary", &summary)]),
                        state: match a.resolved_at_ms {
                            None => alerts::AlertState::Firing,
                            Some(_) => alerts::AlertState::Inactive,
                        },
                        value: a.series as f64,
                        active_at_ms: a.active_at_ms,
                        fired_at_ms: Some(a.active_at_ms),
                        resolved_at_ms: a.resolved_at_ms,
                        keep_firing_since_ms: None,
                    }
                })
                .collect()
        })
    }

    fn restore(alerts: Vec<alerts::Alert>) {
        let by = CONFIG.with_borrow(|c| c.as_ref().map(|c| c.by.clone()));
        let Some(by) = by else {
            return;
        };
        let taken = alerts
            .into_iter()
            .filter(|a| a.rule == ALERT_RULE)
            .map(|a| {
                let group = a
                    .labels
                    .iter()
                    .find(|l| l.name == by)
                    .map_or(String::new(), |l| l.value.clone());
                let alert = GroupAlert {
                    series: a.value as u64,
                    active_at_ms: a.active_at_ms,
                    resolved_at_ms: a.resolved_at_ms,
                };
                (group, alert)
            });
        ALERTS.with_borrow_mut(|mine| mine.take_over(taken));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifecycle::Guest as _;
    use rules::Guest as _;

    #[test]
    fn evaluate_before_init_fails_and_bad_configs_are_refused() {
        assert!(matches!(
            Plugin::evaluate(0),
            Err(PluginError::Failed(m)) if m.contains("before init")
        ));
        let err = Plugin::init(r#"{"top": 0}"#.into()).unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidConfig(m) if m.starts_with("top: ")),
            "{err:?}"
        );
        Plugin::init("null".into()).unwrap();
    }
}
