//! Whole-query tests of the engine for behaviour Prometheus' test scripts leave uncovered here
//! (their `limitk`/`limit_ratio` cases read native histograms), for the default name removal
//! (the scripts run with delayed removal) and for the data source contract.

use promql_parser::parser;

use super::*;

/// Series held in memory, answering `select` as the host does.
struct Memory(Vec<(Labels, Vec<(i64, f64)>)>, usize);

impl Source for Memory {
    fn select(&mut self, m: &[Matcher], start: i64, end: i64) -> Result<Vec<Series>, String> {
        self.1 += 1;
        select_stored(&self.0, m, start, end)
    }
}

fn memory() -> Memory {
    let mut series = Vec::new();
    for (i, (job, value)) in [("a", 1.0), ("a", 5.0), ("b", 3.0), ("b", 2.0), ("b", 4.0)]
        .iter()
        .enumerate()
    {
        series.push((
            Labels::from_pairs(&[("__name__", "m"), ("job", job), ("i", &i.to_string())]),
            vec![(0, *value), (60_000, *value)],
        ));
        series.push((
            Labels::from_pairs(&[("__name__", "c_total"), ("job", job), ("i", &i.to_string())]),
            (0..=10)
                .map(|k| (k * 15_000, k as f64 * 15.0 * value))
                .collect(),
        ));
    }
    Memory(series, 0)
}

fn eval(engine: &Engine, query: &str) -> Result<String, String> {
    let expr = parser::parse(query).map_err(|e| e.to_string())?;
    let result = engine
        .instant(&expr, 60_000, &mut memory())
        .map_err(|e| e.to_string())?;
    Ok(match result.value {
        Value::Vector(v) => v
            .iter()
            // Rounded: extrapolation leaves float noise in the last digits.
            .map(|s| format!("{} {}", s.metric, (s.value * 1e9).round() / 1e9))
            .collect::<Vec<_>>()
            .join(" | "),
        Value::Scalar(f) => f.to_string(),
        other => format!("{other:?}"),
    })
}

#[test]
fn prometheus_default_name_removal() {
    let engine = Engine::default();
    let cases = [
        ("rate(c_total{i=\"0\"}[1m])", Ok(r#"{i="0", job="a"} 1"#)),
        ("m{i=\"0\"} > 0", Ok(r#"{__name__="m", i="0", job="a"} 1"#)),
        ("m{i=\"0\"} + 0", Ok(r#"{i="0", job="a"} 1"#)),
        (
            "last_over_time(m{i=\"0\"}[1m])",
            Ok(r#"{__name__="m", i="0", job="a"} 1"#),
        ),
        // Dropping the name makes two series identical: an error without delayed removal.
        (
            "abs({i=\"0\"})",
            Err("vector cannot contain metrics with the same labelset"),
        ),
        (
            "changes({i=\"0\"}[1m])",
            Err("vector cannot contain metrics with the same labelset"),
        ),
        ("sum by (__name__) (rate(c_total{i=\"0\"}[1m]))", Ok("{} 1")),
    ];
    for (query, want) in cases {
        let got = eval(&engine, query);
        assert_eq!(got.as_deref().map_err(|e| e.as_str()), want, "{query}");
    }
}

#[test]
fn limits() {
    let engine = Engine::default();
    let cases = [
        (
            "limitk by (job) (1, m)",
            Ok(r#"{__name__="m", i="0", job="a"} 1 | {__name__="m", i="2", job="b"} 3"#),
        ),
        ("limitk(0, m)", Ok("")),
        ("count(limitk(100, m))", Ok("{} 5")),
        (
            "topk by (job) (1, m)",
            Ok(r#"{__name__="m", i="1", job="a"} 5 | {__name__="m", i="4", job="b"} 4"#),
        ),
        (
            "bottomk(2, m)",
            Ok(r#"{__name__="m", i="0", job="a"} 1 | {__name__="m", i="3", job="b"} 2"#),
        ),
        ("topk(NaN, m)", Err("Parameter value is NaN")),
        ("count(limit_ratio(1, m))", Ok("{} 5")),
        (
            "count(limit_ratio(0.5, m) or limit_ratio(-0.5, m))",
            Ok("{} 5"),
        ),
        (
            "count(limit_ratio(0.5, m) and limit_ratio(-0.5, m))",
            Ok(""),
        ),
        ("limit_ratio(NaN, m)", Err("Ratio value is NaN")),
    ];
    for (query, want) in cases {
        let got = eval(&engine, query);
        assert_eq!(got.as_deref().map_err(|e| e.as_str()), want, "{query}");
    }
}

#[test]
fn one_select_per_selector() {
    let engine = Engine::default();
    let expr = parser::parse("sum(rate(c_total[5m])) / sum(m) + count(m offset 1m)").unwrap();
    let mut source = memory();
    engine.range(&expr, 0, 60_000, 15_000, &mut source).unwrap();
    assert_eq!(source.1, 3);
}

#[test]
fn source_errors_fail_the_query() {
    struct Failing;
    impl Source for Failing {
        fn select(&mut self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<Series>, String> {
            Err("over budget".into())
        }
    }
    let expr = parser::parse("sum(m)").unwrap();
    let err = Engine::default()
        .instant(&expr, 0, &mut Failing)
        .unwrap_err();
    assert_eq!(err.to_string(), "expanding series: over budget");
}

#[test]
fn each_release_draws_window_edges_and_regexes_its_own_way() {
    let data = || {
        Memory(
            vec![
                (
                    Labels::from_pairs(&[("__name__", "w")]),
                    vec![(0, 1.0), (60_000, 2.0), (120_000, 3.0)],
                ),
                (
                    Labels::from_pairs(&[("__name__", "nl"), ("v", "a\nb")]),
                    vec![(0, 1.0)],
                ),
            ],
            0,
        )
    };
    let run = |compat: Compat, query: &str, t: i64| -> String {
        let engine = Engine::new(Options {
            compat,
            ..Options::default()
        });
        let expr = engine.parse(query).unwrap();
        let got = engine.instant(&expr, t, &mut data()).unwrap();
        let values = match got.value {
            Value::Vector(v) => v
                .iter()
                .map(|s| format!("{} {}", s.metric, s.value))
                .collect::<Vec<_>>()
                .join(" | "),
            other => format!("{other:?}"),
        };
        format!("{values}; {} notes", got.annotations.len())
    };
    // (query, time, 2.x answer, 3.x answer)
    let cases = [
        (
            "count_over_time(w[1m])",
            120_000,
            "{} 2; 0 notes",
            "{} 1; 0 notes",
        ),
        (
            "count_over_time(w[2m:1m])",
            120_000,
            "{} 3; 0 notes",
            "{} 2; 0 notes",
        ),
        (
            "count_over_time(w[2m:1m])",
            150_000,
            "{} 2; 0 notes",
            "{} 2; 0 notes",
        ),
        ("w", 420_000, "{__name__=\"w\"} 3; 0 notes", "; 0 notes"),
        (
            "w",
            419_999,
            "{__name__=\"w\"} 3; 0 notes",
            "{__name__=\"w\"} 3; 0 notes",
        ),
        (
            "timestamp(w offset 1m)",
            480_000,
            "{} 120; 0 notes",
            "; 0 notes",
        ),
        ("count(nl{v=~\"a.b\"})", 0, "; 0 notes", "{} 1; 0 notes"),
        ("count(nl{v!~\"a.b\"})", 0, "{} 1; 0 notes", "; 0 notes"),
        (
            "count(nl{v=~\"a[^x]b\"})",
            0,
            "{} 1; 0 notes",
            "{} 1; 0 notes",
        ),
        (
            "label_replace(nl, \"x\", \"y\", \"v\", \"a.b\")",
            0,
            "{__name__=\"nl\", v=\"a\\nb\"} 1; 0 notes",
            "{__name__=\"nl\", v=\"a\\nb\", x=\"y\"} 1; 0 notes",
        ),
        (
            "rate(w[3m])",
            120_000,
            "{} 0.016666666666666666; 0 notes",
            "{} 0.016666666666666666; 1 notes",
        ),
    ];
    for (query, t, v2, v3) in cases {
        assert_eq!(run(Compat::V2, query, t), v2, "2.x: {query} at {t}");
        assert_eq!(run(Compat::V3, query, t), v3, "3.x: {query} at {t}");
    }
}

#[test]
fn label_names_follow_the_release() {
    let cases = [
        (
            "label_replace(vector(1), \"a.b\", \"x\", \"\", \"\")",
            "invalid destination label name in label_replace(): a.b",
        ),
        (
            "label_join(vector(1), \"a-b\", \",\")",
            "invalid destination label name in label_join(): a-b",
        ),
        (
            "label_join(vector(1), \"a\", \",\", \"1b\")",
            "invalid source label name in label_join(): 1b",
        ),
        (
            "count_values(\"a b\", vector(1))",
            "invalid label name \"a b\"",
        ),
    ];
    for (query, v2_error) in cases {
        for compat in [Compat::V2, Compat::V3] {
            let engine = Engine::new(Options {
                compat,
                ..Options::default()
            });
            let expr = engine.parse(query).unwrap();
            let got = engine.instant(&expr, 0, &mut memory());
            match compat {
                Compat::V2 => assert_eq!(got.unwrap_err().to_string(), v2_error, "{query}"),
                Compat::V3 => assert!(got.is_ok(), "{query}: {got:?}"),
            }
        }
    }
}

/// Regexes in matchers and `label_replace` read as Prometheus (Go) reads them, whatever the
/// regex crate would; the store gets them as written.
#[test]
fn regexes_are_read_in_go_syntax() {
    struct Recording(Memory, Vec<String>);
    impl Source for Recording {
        fn select(&mut self, m: &[Matcher], start: i64, end: i64) -> Result<Vec<Series>, String> {
            let regexes = m.iter().filter(|m| m.op == MatchOp::Regex);
            self.1.extend(regexes.map(|m| m.value.clone()));
            self.0.select(m, start, end)
        }
    }
    let values = ["\u{a0}", "١٢٣", "123", "a.b", "axb", "a\nb"];
    let data = || {
        let series = values
            .iter()
            .map(|v| {
                (
                    Labels::from_pairs(&[("__name__", "r"), ("v", v)]),
                    vec![(0, 1.0)],
                )
            })
            .collect();
        Recording(Memory(series, 0), Vec::new())
    };
    /// The release, the query, the `v` (and `x`) of each result or the error, the regexes
    /// sent to the store.
    type Case<'a> = (Compat, &'a str, Result<&'a str, &'a str>, &'a [&'a str]);
    let cases: &[Case] = &[
        (Compat::V3, r#"r{v=~"\\s"}"#, Ok(""), &[r"\s"]),
        (Compat::V3, r#"r{v=~"\\S"}"#, Ok("\u{a0}"), &[r"\S"]),
        (Compat::V3, r#"r{v=~"\\d+"}"#, Ok("123"), &[r"\d+"]),
        (Compat::V3, r#"r{v=~"\\pN+"}"#, Ok("123 ١٢٣"), &[r"\pN+"]),
        (Compat::V3, r#"r{v=~"\\Qa.b\\E"}"#, Ok("a.b"), &[r"\Qa.b\E"]),
        (
            Compat::V2,
            r#"r{v=~"\\Qa.b\\E"}"#,
            Ok("a.b"),
            &[r"(?-s:\Qa.b\E)"],
        ),
        (Compat::V3, r"r{v=~`\w\.\w`}", Ok("a.b"), &[r"\w\.\w"]),
        (Compat::V3, r#"r{v=~"a.b"}"#, Ok("a\nb a.b axb"), &["a.b"]),
        (Compat::V2, r#"r{v=~"a.b"}"#, Ok("a.b axb"), &["(?-s:a.b)"]),
        (Compat::V3, r#"r{v!~"a{b}|.+"}"#, Ok(""), &[]),
        (
            Compat::V3,
            r#"label_replace(r{v=~"1.*|١.*"}, "x", "$1", "v", "(\\d)\\d*")"#,
            Ok("123 x=1 ١٢٣"),
            &["1.*|١.*"],
        ),
        (
            Compat::V3,
            r#"label_replace(r{v="a.b"}, "x", "$1", "v", "\\Qa.\\E(.)")"#,
            Ok("a.b x=b"),
            &[],
        ),
        (
            Compat::V3,
            r#"r{v=~"a{1001}"}"#,
            Err("error parsing regexp: invalid repeat count: `{1001}`"),
            &[],
        ),
        (
            Compat::V3,
            r#"r{v=~"\\u00fc"}"#,
            Err(r"error parsing regexp: invalid escape sequence: `\u`"),
            &[],
        ),
        (
            Compat::V3,
            r#"label_replace(r{v="a.b"}, "x", "$1", "v", "(?x)a")"#,
            Err("invalid regular expression in label_replace(): (?x)a"),
            &[],
        ),
        (
            Compat::V2,
            r#"label_replace(r{v="a.b"}, "x", "$1", "v", "a{1001}")"#,
            Err("invalid regular expression in label_replace(): a{1001}"),
            &[],
        ),
    ];
    for (compat, query, want, sent) in cases {
        let engine = Engine::new(Options {
            compat: *compat,
            ..Options::default()
        });
        let mut source = data();
        let got = engine
            .parse(query)
            .and_then(|expr| {
                engine
                    .instant(&expr, 0, &mut source)
                    .map_err(|e| e.to_string())
            })
            .map(|got| match got.value {
                Value::Vector(v) => v
                    .iter()
                    .map(|s| match s.metric.value("x") {
                        "" => s.metric.value("v").to_string(),
                        x => format!("{} x={x}", s.metric.value("v")),
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                other => format!("{other:?}"),
            });
        assert_eq!(
            got.as_deref(),
            want.map_err(str::to_string).as_deref(),
            "{query} ({compat:?})"
        );
        assert_eq!(source.1, *sent, "{query} ({compat:?})");
    }
}

/// Date functions of values Go turns into int64's minimum (NaN, ±Inf, beyond int64) answer
/// what Prometheus built for amd64 answers; of others, the calendar's answer (checked against
/// Prometheus 2.42).
#[test]
fn dates_of_values_beyond_int64() {
    let cases = [
        ("hour(vector(NaN))", 15.0),
        ("minute(vector(Inf))", 30.0),
        ("month(vector(-Inf))", 12.0),
        ("year(vector(1e19))", 292_277_026_596.0),
        ("day_of_month(vector(-1e19))", 4.0),
        ("day_of_week(vector(NaN))", 0.0),
        ("day_of_year(vector(NaN))", 339.0),
        ("days_in_month(vector(NaN))", 31.0),
        ("year(vector(1e17))", 3_168_875_820.0),
        ("year(vector(-1e17))", -3_168_871_881.0),
        ("hour(vector(1e16))", 17.0),
        ("day_of_year(vector(-1e17))", 117.0),
    ];
    for compat in [Compat::V2, Compat::V3] {
        let engine = Engine::new(Options {
            compat,
            ..Options::default()
        });
        for (query, want) in cases {
            let expr = engine.parse(query).unwrap();
            let got = engine.instant(&expr, 0, &mut memory()).unwrap().value;
            let Value::Vector(v) = got else {
                panic!("{query}: {got:?}")
            };
            assert_eq!(v[0].value, want, "{query} ({compat:?})");
        }
    }
}

/// In 2.42 any sample displaces a NaN at the top of `topk`'s and `bottomk`'s heap, so of
/// NaNs the last is kept; 3.x keeps the first.
#[test]
fn nan_displacement_follows_the_release() {
    let cases = [
        (Compat::V2, r#"{i="4", job="b"} NaN"#),
        (Compat::V3, r#"{i="0", job="a"} NaN"#),
    ];
    for (compat, want) in cases {
        let engine = Engine::new(Options {
            compat,
            ..Options::default()
        });
        for query in ["topk(1, m * NaN)", "bottomk(1, m * NaN)"] {
            assert_eq!(
                eval(&engine, query).as_deref(),
                Ok(want),
                "{query} ({compat:?})"
            );
        }
    }
}

/// The least `max_samples` under which `query` is answered: Prometheus' peak count.
fn least_max_samples(query: &str, range: Option<(i64, i64, i64)>) -> u64 {
    let expr = parser::parse(query).unwrap();
    let answered = |max_samples: u64| {
        let engine = Engine::new(Options {
            max_samples,
            ..Options::default()
        });
        let result = match range {
            Some((start, end, step)) => engine.range(&expr, start, end, step, &mut memory()),
            None => engine.instant(&expr, 120_000, &mut memory()),
        };
        match result {
            Ok(_) => true,
            Err(EvalError::Query(m)) if m == samples::TOO_MANY_SAMPLES => false,
            Err(e) => panic!("{query}: {e}"),
        }
    };
    let least = (0..1_000)
        .find(|&n| answered(n))
        .expect("answered under 1,000");
    assert!(answered(least + 1));
    least
}

/// Peaks worked out by hand from Prometheus 2.42's engine (`rangeEval`, `matrixIterSlice`),
/// over five steps of `m` (five series, a sample at 0 s and 60 s) and `c_total` (five series,
/// one every 15 s).
#[test]
fn max_samples_counts_as_prometheus() {
    let five_steps = Some((0, 60_000, 15_000));
    let cases = [
        // A selector holds what it selects: 5 series at 5 steps.
        ("m", five_steps, 25),
        // Its input (25), plus at the last step 4 results so far, 5 inputs and 1 result.
        ("sum(m)", five_steps, 35),
        // Both sides (25 + 5), plus 4 steps of 5 results, 6 inputs and 5 results.
        ("m * 2", five_steps, 61),
        // Four results a series; the last series' window (4) on top of all 20 results.
        ("rate(c_total[1m])", five_steps, 24),
        // The rate's results (20) held, plus 3 sums so far, 5 inputs and 1 sum.
        ("sum(rate(c_total[1m]))", five_steps, 29),
        // The φ argument (5) held, 5 results a series, the last window (4) on top.
        ("quantile_over_time(0.5, c_total[1m])", five_steps, 34),
        // One result a series, the last one's window of 8 samples on top.
        ("count_over_time(c_total[2m])", None, 13),
        // Strings are not counted; the selector's 5 samples and 5 results are.
        (r#"label_replace(m, "x", "y", "", "")"#, None, 15),
    ];
    for (query, range, want) in cases {
        assert_eq!(least_max_samples(query, range), want, "{query}");
    }
}
