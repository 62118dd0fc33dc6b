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
//! - `by` (label name, default `"job"`): the label the report is grouped by.
//!
//! Output, timestamped at the evaluation time, as two rules in this order:
//!
//! - `cardinality:series:top{job="…", metric="…", rank="1"}`: series of that metric name in
//!   that job, for the `top` largest names; equal counts are ranked by name, so the output is
//!   deterministic;
//! - `cardinality:series:total{job="…"}`: all series of that job.
//!
//! The logic is plain Rust in `config.rs` and `report.rs`, unit-tested natively with `cargo test`;
//! this file is only the WIT glue.

use std::cell::RefCell;

wit_bindgen::generate!({
    world: "rule-plugin",
    path: "../../wit",
});

mod config;
mod report;

use config::Config;
use exports::wasmfed::plugin::{lifecycle, rules};
use wasmfed::plugin::store;
use wasmfed::plugin::types::PluginError;

thread_local! {
    // A component instance is single-threaded; the configuration lives as long as it does.
    static CONFIG: RefCell<Option<Config>> = const { RefCell::new(None) };
}

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
        Ok(report::evaluate(&config, at_ms, series))
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
