//! The report itself, as plain functions of the configuration and the store's answer so it is
//! tested natively; `lib.rs` only fetches the label sets and hands them here.
//!
//! Counting borrows the metric names and group values from the store's answer, so memory
//! grows with the number of distinct (group, metric name) pairs, not with the number of series.

use std::collections::BTreeMap;

use crate::config::Config;
use crate::exports::wasmfed::plugin::rules::RuleResult;
use crate::wasmfed::plugin::types::{Label, Labels, Sample};

/// The first rule: the `top` metric names with the most series in each group, with their rank.
pub const TOP: &str = "cardinality:series:top";
/// The second rule: all series of each group.
pub const TOTAL: &str = "cardinality:series:total";

/// The range to ask `store.series` for at `at_ms`: PromQL's lookback window, open on the left
/// (a sample exactly `lookback` old is out, as in Prometheus 3 and the stock `promql-rules`),
/// so a series counts here exactly when an instant query at `at_ms` would see it.
pub fn window(config: &Config, at_ms: i64) -> (i64, i64) {
    (at_ms.saturating_sub(config.lookback_ms - 1), at_ms)
}

/// Both rules' results for one evaluation at `at_ms`, from what `store.series` answered. When
/// the store refused (the answer would exceed the plugin's budget), both rules fail with its
/// reason, so the host leaves their earlier series as they were rather than marking them stale.
pub fn evaluate(
    config: &Config,
    at_ms: i64,
    series: Result<Vec<Labels>, String>,
) -> Vec<RuleResult> {
    let (top, total) = match series {
        Ok(series) => {
            let counts = count(&series, &config.by);
            (
                Ok(top_samples(config, at_ms, &counts)),
                Ok(total_samples(config, at_ms, &counts)),
            )
        }
        Err(why) => {
            let why = format!("store.series failed: {why}");
            (Err(why.clone()), Err(why))
        }
    };
    vec![
        RuleResult {
            name: TOP.to_string(),
            outcome: top,
        },
        RuleResult {
            name: TOTAL.to_string(),
            outcome: total,
        },
    ]
}

/// Series per group value, then per metric name. A series without the `by` label counts under
/// the empty value, as in PromQL's `count by (job)`.
type Counts<'a> = BTreeMap<&'a str, BTreeMap<&'a str, u64>>;

/// Series per group value (the `alert_over` check reads these).
pub fn totals(series: &[Labels], by: &str) -> BTreeMap<String, u64> {
    count(series, by)
        .into_iter()
        .map(|(group, metrics)| (group.to_string(), metrics.values().sum()))
        .collect()
}

fn count<'a>(series: &'a [Labels], by: &str) -> Counts<'a> {
    let mut counts = Counts::new();
    for labels in series {
        let value = |name: &str| {
            labels
                .iter()
                .find(|l| l.name == name)
                .map_or("", |l| l.value.as_str())
        };
        *counts
            .entry(value(by))
            .or_default()
            .entry(value("__name__"))
            .or_default() += 1;
    }
    counts
}

/// The `top` metric names of one group with the most series, largest first. Equal counts go in
/// name order, so the same data gives the same ranks (and the same output series) every time.
fn ranked<'a>(metrics: &BTreeMap<&'a str, u64>, top: usize) -> Vec<(&'a str, u64)> {
    let order = |a: &(&str, u64), b: &(&str, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0));
    let mut ranked: Vec<(&str, u64)> = metrics.iter().map(|(m, n)| (*m, *n)).collect();
    if ranked.len() > top {
        // Only the winners need sorting: split them off in linear time first.
        ranked.select_nth_unstable_by(top - 1, order);
        ranked.truncate(top);
    }
    ranked.sort_unstable_by(order);
    ranked
}

fn top_samples(config: &Config, at_ms: i64, counts: &Counts) -> Vec<Sample> {
    let mut samples = Vec::new();
    for (group, metrics) in counts {
        for (rank, (metric, n)) in ranked(metrics, config.top).into_iter().enumerate() {
            let rank = (rank + 1).to_string();
            let labels = [
                ("__name__", TOP),
                (config.by.as_str(), group),
                ("metric", metric),
                ("rank", &rank),
            ];
            samples.push(sample(&labels, at_ms, n));
        }
    }
    samples
}

fn total_samples(config: &Config, at_ms: i64, counts: &Counts) -> Vec<Sample> {
    counts
        .iter()
        .map(|(group, metrics)| {
            let labels = [("__name__", TOTAL), (config.by.as_str(), group)];
            sample(&labels, at_ms, metrics.values().sum())
        })
        .collect()
}

/// Label pairs as the WIT's labels. Empty values are left out: the host would drop them
/// anyway, and this way what the tests see is what gets stored.
pub fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| Label {
            name: name.to_string(),
            value: value.to_string(),
        })
        .collect()
}

fn sample(pairs: &[(&str, &str)], at_ms: i64, count: u64) -> Sample {
    Sample {
        labels: labels(pairs),
        timestamp_ms: at_ms,
        // Exact: no store holds 2^53 series.
        value: count as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `copies` series of `spec` ("name label=value ..."), told apart by an `instance` label.
    fn series(specs: &[(&str, usize)]) -> Vec<Labels> {
        let mut out = Vec::new();
        for (spec, copies) in specs {
            let mut words = spec.split_whitespace();
            let name = words.next().unwrap();
            for i in 0..*copies {
                let mut labels = vec![Label {
                    name: "__name__".into(),
                    value: name.into(),
                }];
                labels.extend(words.clone().map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap();
                    Label {
                        name: name.into(),
                        value: value.into(),
                    }
                }));
                labels.push(Label {
                    name: "instance".into(),
                    value: format!("host-{i}"),
                });
                labels.sort_by(|a, b| a.name.cmp(&b.name));
                out.push(labels);
            }
        }
        out
    }

    /// One sample as `name{labels sorted} value @timestamp`.
    fn render(s: &Sample) -> String {
        let mut labels: Vec<&Label> = s.labels.iter().filter(|l| l.name != "__name__").collect();
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        let name = s.labels.iter().find(|l| l.name == "__name__").unwrap();
        let labels: Vec<String> = labels
            .iter()
            .map(|l| format!("{}=\"{}\"", l.name, l.value))
            .collect();
        format!(
            "{}{{{}}} {} @{}",
            name.value,
            labels.join(","),
            s.value,
            s.timestamp_ms
        )
    }

    fn outcome(r: &RuleResult) -> Vec<String> {
        r.outcome.as_ref().unwrap().iter().map(render).collect()
    }

    /// A configuration, the store's answer as `series` specs, and both rules' expected output.
    type Case = (
        &'static str,
        &'static [(&'static str, usize)],
        &'static [&'static str],
        &'static [&'static str],
    );

    #[test]
    fn reports() {
        let cases: [Case; 5] = [
            (
                r#"{}"#,
                &[
                    ("up job=a", 1),
                    ("http_requests_total job=a", 5),
                    ("zeta job=a", 3),
                    ("go_gc_duration_seconds job=a", 3),
                    ("up job=b", 2),
                ],
                &[
                    r#"cardinality:series:top{job="a",metric="http_requests_total",rank="1"} 5 @60000"#,
                    r#"cardinality:series:top{job="a",metric="go_gc_duration_seconds",rank="2"} 3 @60000"#,
                    r#"cardinality:series:top{job="a",metric="zeta",rank="3"} 3 @60000"#,
                    r#"cardinality:series:top{job="a",metric="up",rank="4"} 1 @60000"#,
                    r#"cardinality:series:top{job="b",metric="up",rank="1"} 2 @60000"#,
                ],
                &[
                    r#"cardinality:series:total{job="a"} 12 @60000"#,
                    r#"cardinality:series:total{job="b"} 2 @60000"#,
                ],
            ),
            // Only the top N are reported; a tie at the cut goes to the first name.
            (
                r#"{"top": 2}"#,
                &[
                    ("w job=a", 1),
                    ("z job=a", 2),
                    ("y job=a", 2),
                    ("x job=a", 2),
                ],
                &[
                    r#"cardinality:series:top{job="a",metric="x",rank="1"} 2 @60000"#,
                    r#"cardinality:series:top{job="a",metric="y",rank="2"} 2 @60000"#,
                ],
                &[r#"cardinality:series:total{job="a"} 7 @60000"#],
            ),
            // Another grouping label; series without it form a group with no such label.
            (
                r#"{"by": "namespace", "top": 1}"#,
                &[
                    ("up namespace=n1 job=x", 2),
                    ("go_info namespace=n1 job=y", 1),
                    ("up job=z", 1),
                ],
                &[
                    r#"cardinality:series:top{metric="up",rank="1"} 1 @60000"#,
                    r#"cardinality:series:top{metric="up",namespace="n1",rank="1"} 2 @60000"#,
                ],
                &[
                    r#"cardinality:series:total{} 1 @60000"#,
                    r#"cardinality:series:total{namespace="n1"} 3 @60000"#,
                ],
            ),
            // `top` larger than the number of names is every name.
            (
                r#"{"top": 1000}"#,
                &[("a job=j", 1), ("b job=j", 1)],
                &[
                    r#"cardinality:series:top{job="j",metric="a",rank="1"} 1 @60000"#,
                    r#"cardinality:series:top{job="j",metric="b",rank="2"} 1 @60000"#,
                ],
                &[r#"cardinality:series:total{job="j"} 2 @60000"#],
            ),
            (r#"{}"#, &[], &[], &[]),
        ];
        for (config, specs, want_top, want_total) in cases {
            let config = Config::from_json(config).unwrap();
            let mut input = series(specs);
            let out = evaluate(&config, 60_000, Ok(input.clone()));
            let names: Vec<&str> = out.iter().map(|r| r.name.as_str()).collect();
            assert_eq!(names, [TOP, TOTAL]);
            assert_eq!(outcome(&out[0]), want_top, "{specs:?}");
            assert_eq!(outcome(&out[1]), want_total, "{specs:?}");
            // The store's order must not matter.
            input.reverse();
            let reversed = evaluate(&config, 60_000, Ok(input));
            assert_eq!(outcome(&reversed[0]), want_top, "{specs:?} reversed");
            assert_eq!(outcome(&reversed[1]), want_total, "{specs:?} reversed");
        }
    }

    #[test]
    fn a_refused_store_fails_both_rules() {
        let out = evaluate(&Config::default(), 0, Err("over budget".into()));
        let names: Vec<&str> = out.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, [TOP, TOTAL]);
        for r in out {
            assert_eq!(
                r.outcome.unwrap_err(),
                "store.series failed: over budget",
                "{}",
                r.name
            );
        }
    }

    #[test]
    fn windows() {
        for (config, at_ms, want) in [
            ("{}", 600_000, (300_001, 600_000)),
            (r#"{"lookback": "1ms"}"#, 5, (5, 5)),
            (r#"{"lookback": "1h"}"#, 0, (-3_599_999, 0)),
            (
                r#"{"lookback": "1h"}"#,
                i64::MIN + 1,
                (i64::MIN, i64::MIN + 1),
            ),
        ] {
            let config = Config::from_json(config).unwrap();
            assert_eq!(window(&config, at_ms), want, "{config:?} at {at_ms}");
        }
    }
}
