//! {{name}}: a wasmfed rule plugin.
//!
//! At each evaluation it records `<metric>:series`, how many series of a metric (`up` unless
//! the configuration says `{metric: ...}`) have a sample in the last five minutes, read from
//! the node's store. Replace `SeriesCount::evaluate` with your own rules. `wasmfed-guest/` is
//! the SDK it is written with (`cargo doc -p wasmfed-guest --open`);
//! `wasmfed-guest/wit/rules.wit` is the contract with the node.

use serde::Deserialize;
use wasmfed_guest::{Error, Labels, Matcher, Plugin, RulePlugin, RuleResult, Sample, Store};

/// How far back a series counts as present: Prometheus' default lookback.
const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// The configuration: the plugin's `config:` in the node's YAML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "up")]
    metric: String,
}

fn up() -> String {
    "up".into()
}

/// The plugin, made from its configuration once per instance.
pub struct SeriesCount {
    metric: String,
    record: String,
}

impl Plugin for SeriesCount {
    type Config = Config;

    fn new(config: Config) -> Result<SeriesCount, Error> {
        Ok(SeriesCount {
            record: format!("{}:series", config.metric),
            metric: config.metric,
        })
    }
}

impl RulePlugin for SeriesCount {
    /// One result per rule, in the same order every time; a rule whose read failed says why.
    fn evaluate(&mut self, at_ms: i64, store: &dyn Store) -> Result<Vec<RuleResult>, Error> {
        let matchers = [Matcher::equal("__name__", &self.metric)];
        let outcome = store
            .series(&matchers, at_ms - LOOKBACK_MS, at_ms)
            .map(|found| {
                vec![Sample {
                    labels: Labels::from([("__name__", self.record.as_str())]),
                    timestamp_ms: at_ms,
                    value: found.len() as f64,
                }]
            });
        Ok(vec![RuleResult::new(&self.record, outcome)])
    }
}

wasmfed_guest::export_rule_plugin!(SeriesCount);

#[cfg(test)]
mod tests {
    use wasmfed_guest::{SeriesSamples, StoreError};

    use super::*;

    /// A store holding two series of whatever metric is asked for.
    struct TwoSeries;

    impl Store for TwoSeries {
        fn select(&self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<SeriesSamples>, StoreError> {
            Ok(Vec::new())
        }

        fn series(&self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<Labels>, StoreError> {
            Ok(vec![
                Labels::from([("instance", "a")]),
                Labels::from([("instance", "b")]),
            ])
        }
    }

    #[test]
    fn records_the_metric_s_series_count() {
        let mut plugin = SeriesCount::from_config(r#"{"metric": "node_load1"}"#).unwrap();
        let results = plugin.evaluate(60_000, &TwoSeries).unwrap();
        let expected = Sample {
            labels: Labels::from([("__name__", "node_load1:series")]),
            timestamp_ms: 60_000,
            value: 2.0,
        };
        assert_eq!(
            results,
            [RuleResult::new(
                "node_load1:series",
                Ok::<_, Error>(vec![expected])
            )]
        );
        assert_eq!(
            SeriesCount::from_config("null").unwrap().record,
            "up:series"
        );
        assert!(SeriesCount::from_config(r#"{"metrics": "x"}"#).is_err());
    }
}
