//! Differential property test: our text-format parser against the `prometheus-parse` crate over
//! generated valid expositions: same series (labels), values (bit for bit, NaN as NaN),
//! timestamps and help texts.
//!
//! `prometheus-parse` is a regex-and-split parser that covers less of the format than Prometheus,
//! so the generator stays inside what both read the same way. Each restriction names the
//! prometheus-parse behaviour it avoids:
//! - metric names without `:` — its names are `\w+`;
//! - label values without `"`, `\`, `,`, `=` or `}` — it splits the label text on `,` and `=`,
//!   takes `[^}]+` as the label text, strips quotes and resolves no escapes;
//! - no blanks inside braces and no empty `{}` — it keeps blanks in names and needs one char
//!   between the braces;
//! - no blanks before a metric name — it trims lines, Prometheus rejects them;
//! - no `histogram`/`summary` TYPE lines — it folds those families' samples into one value per
//!   label set, so they can't be compared sample by sample;
//! - non-empty HELP text without backslashes, blanks at its ends or runs of blanks after the
//!   name — it trims, needs `.+` and resolves no escapes;
//! - timestamps from 0 to chrono's range — it drops timestamps chrono can't represent, and
//!   Prometheus' text format has no negative ones.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use prometheus_parse::{Scrape, Value};
use proptest::prelude::*;

use super::{parse_series, Entry, Format, Parser};
use wasmfed_model::Labels;

#[derive(Clone, Debug)]
enum Line {
    Blank(String),
    Comment(String),
    Help(String, String),
    Type(String, &'static str),
    Sample(SampleLine),
}

#[derive(Clone, Debug)]
struct SampleLine {
    name: String,
    labels: Vec<(String, String)>,
    trailing_comma: bool,
    value: String,
    timestamp: Option<String>,
    blanks: [String; 3],
}

impl Line {
    fn render(&self) -> String {
        match self {
            Line::Blank(blanks) => blanks.clone(),
            Line::Comment(text) => text.clone(),
            Line::Help(name, text) => format!("# HELP {name} {text}"),
            Line::Type(name, kind) => format!("# TYPE {name} {kind}"),
            Line::Sample(s) => {
                let mut out = s.name.clone();
                if !s.labels.is_empty() {
                    let pairs: Vec<_> = s
                        .labels
                        .iter()
                        .map(|(n, v)| format!("{n}=\"{v}\""))
                        .collect();
                    out += &format!(
                        "{{{}{}}}",
                        pairs.join(","),
                        if s.trailing_comma { "," } else { "" }
                    );
                }
                out += &s.blanks[0];
                out += &s.value;
                if let Some(ts) = &s.timestamp {
                    out += &s.blanks[1];
                    out += ts;
                }
                out + &s.blanks[2]
            }
        }
    }
}

fn metric_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,24}"
}

fn blanks(min: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof![Just(' '), Just('\t')], min..min + 3)
        .prop_map(|v| v.into_iter().collect())
}

fn value() -> impl Strategy<Value = String> {
    let finite = any::<f64>().prop_filter("finite", |v| v.is_finite());
    prop_oneof![
        any::<u32>().prop_map(|v| v.to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        finite.clone().prop_map(|v| v.to_string()),
        finite.clone().prop_map(|v| format!("{v:e}")),
        finite.prop_map(|v| format!("{v:E}")),
        (0u32..1000, 0u32..1000).prop_map(|(a, b)| format!("+{a}.{b}")),
        (0u32..1000).prop_map(|a| format!(".{a}")),
        (0u32..1000).prop_map(|a| format!("{a}.")),
        prop::sample::select(vec![
            "+Inf", "-Inf", "Inf", "-inf", "NaN", "nan", "-0", "1e-400"
        ])
        .prop_map(str::to_string),
    ]
}

fn timestamp() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..8_000_000_000_000_000).prop_map(|t| t.to_string()),
        (0i64..1000).prop_map(|t| format!("00{t}")),
    ]
}

fn sample_line() -> impl Strategy<Value = SampleLine> {
    (
        metric_name(),
        prop::collection::btree_map(
            "[a-zA-Z_][a-zA-Z0-9_]{0,12}",
            "[a-zA-Z0-9 _./:+-]{0,20}",
            0..6,
        )
        .prop_filter("__name__ is not a label", |m| !m.contains_key("__name__"))
        .prop_map(|m| m.into_iter().collect::<Vec<_>>())
        .prop_shuffle(),
        any::<bool>(),
        value(),
        prop::option::of(timestamp()),
        [blanks(1), blanks(1), blanks(0)],
    )
        .prop_map(
            |(name, labels, trailing_comma, value, timestamp, blanks)| SampleLine {
                name,
                labels,
                trailing_comma,
                value,
                timestamp,
                blanks,
            },
        )
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        1 => blanks(0).prop_map(Line::Blank),
        1 => prop_oneof![
            Just("#".to_string()),
            "#[a-z]{1,10}",
            "# [a-z][a-z ]{0,20}",
        ]
        .prop_map(Line::Comment),
        1 => (metric_name(), "[a-zA-Z0-9.,()]([a-zA-Z0-9 .,()]{0,30}[a-zA-Z0-9.,()])?")
            .prop_map(|(n, t)| Line::Help(n, t)),
        1 => (metric_name(), prop::sample::select(vec!["counter", "gauge", "untyped"]))
            .prop_map(|(n, k)| Line::Type(n, k)),
        8 => sample_line().prop_map(Line::Sample),
    ]
}

/// A value compared bit for bit, any NaN equal to any other.
#[derive(Debug, PartialEq)]
enum Bits {
    NaN,
    Number(u64),
}

fn bits(v: f64) -> Bits {
    if v.is_nan() {
        Bits::NaN
    } else {
        Bits::Number(v.to_bits())
    }
}

proptest! {
    #[test]
    fn agrees_with_prometheus_parse(
        lines in prop::collection::vec(line(), 0..40),
        final_newline in any::<bool>(),
    ) {
        let mut input = lines.iter().map(Line::render).collect::<Vec<_>>().join("\n");
        if final_newline {
            input.push('\n');
        }

        let mut ours = Vec::new();
        let mut our_help = HashMap::new();
        for entry in Parser::new(&input, Format::PrometheusText) {
            match entry.map_err(|e| TestCaseError::fail(format!("{e}\n{input}")))? {
                Entry::Sample(s) => {
                    let labels = parse_series(s.series)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    ours.push((s.line, labels, bits(s.value), s.timestamp_ms));
                }
                Entry::Help { metric, text } => {
                    our_help.insert(metric.to_string(), text.into_owned());
                }
                Entry::Type { .. } | Entry::Unit { .. } => {}
            }
        }

        // Its stand-in for "no timestamp": a time no generated sample has.
        let no_timestamp = Utc.timestamp_millis_opt(-1).unwrap();
        let scrape = Scrape::parse_at(input.lines().map(|l| Ok(l.to_string())), no_timestamp)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let theirs: Vec<_> = scrape
            .samples
            .iter()
            .map(|s| {
                let value = match s.value {
                    Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                    Value::Histogram(_) | Value::Summary(_) => f64::INFINITY,
                };
                let labels = Labels::from_pairs(
                    s.labels
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .chain([("__name__", s.metric.as_str())]),
                );
                let timestamp = Some(s.timestamp.timestamp_millis()).filter(|_| s.timestamp != no_timestamp);
                (labels, bits(value), timestamp)
            })
            .collect();

        let sample_lines: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l, Line::Sample(_)))
            .map(|(i, _)| i + 1)
            .collect();
        prop_assert_eq!(ours.iter().map(|s| s.0).collect::<Vec<_>>(), sample_lines);
        let ours: Vec<_> = ours.into_iter().map(|(_, l, v, t)| (l, v, t)).collect();
        prop_assert_eq!(ours, theirs, "{}", input);
        prop_assert_eq!(our_help, scrape.docs);
    }
}
