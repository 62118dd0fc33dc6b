//! Prometheus 3's quoted (UTF-8) names in both formats: accepted only when the parser is told
//! so, decoded by `parse_series`, and refused where Prometheus 3 refuses them. Inputs are those of
//! Prometheus' `TestUTF8PromParse`, `TestPromParseErrors` and `TestUTF8OpenMetricsParse`.

use super::{parse_series, Entry, Format, MetricType, Parser};
use wasmfed_model::Labels;

fn entries(input: &str, format: Format) -> Vec<Entry<'_>> {
    Parser::new(input, format)
        .with_quoted_names(true)
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

fn first_error(input: &str, format: Format, quoted: bool) -> String {
    Parser::new(input, format)
        .with_quoted_names(quoted)
        .find_map(Result::err)
        .unwrap_or_else(|| panic!("{input:?} parsed"))
        .to_string()
}

#[test]
fn text_format_as_prometheus_3_reads_it() {
    let input = "# HELP \"go.gc_duration_seconds\" A summary of the GC invocation durations.
# \tTYPE \"go.gc_duration_seconds\" summary
{\"go.gc_duration_seconds\",quantile=\"0\"} 4.9351e-05
{\"go.gc_duration_seconds\",quantile=\"0.25\",} 7.4241e-05
{\"go.gc_duration_seconds\", quantile=\"0.9\", a=\"b\"} 8.3835e-05
{ \"go.gc_duration_seconds\", quantile = \"1.0\", a = \"b\" } 8.3835e-05
{\"go.gc_duration_seconds_count\"} 99
{\"Heizölrückstoßabdämpfung 10€ metric with \\\"interesting\\\" {character\\nchoices}\",\"strange©™\\n'quoted' \\\"name\\\"\"=\"6\"} 10.0
plain{\"dotted.label\"=\"x\"} 1
";
    let got = entries(input, Format::PrometheusText);
    assert_eq!(
        got[0],
        Entry::Help {
            metric: "go.gc_duration_seconds",
            text: "A summary of the GC invocation durations.".into()
        }
    );
    assert_eq!(
        got[1],
        Entry::Type {
            metric: "go.gc_duration_seconds",
            kind: MetricType::Summary
        }
    );
    let series: Vec<Labels> = got[2..]
        .iter()
        .map(|e| match e {
            Entry::Sample(s) => parse_series(s.series).unwrap_or_else(|e| panic!("{s:?}: {e}")),
            other => panic!("{other:?}"),
        })
        .collect();
    let gc = "go.gc_duration_seconds";
    assert_eq!(
        series,
        [
            Labels::from_pairs([("__name__", gc), ("quantile", "0")]),
            Labels::from_pairs([("__name__", gc), ("quantile", "0.25")]),
            Labels::from_pairs([("__name__", gc), ("quantile", "0.9"), ("a", "b")]),
            Labels::from_pairs([("__name__", gc), ("quantile", "1.0"), ("a", "b")]),
            Labels::from_pairs([("__name__", "go.gc_duration_seconds_count")]),
            Labels::from_pairs([
                (
                    "__name__",
                    "Heizölrückstoßabdämpfung 10€ metric with \"interesting\" {character\nchoices}"
                ),
                ("strange©™\n'quoted' \"name\"", "6")
            ]),
            Labels::from_pairs([("__name__", "plain"), ("dotted.label", "x")]),
        ]
    );
}

#[test]
fn openmetrics_as_prometheus_3_reads_it() {
    let input = "# HELP \"go.gc_duration_seconds\" A summary.
# TYPE \"go.gc_duration_seconds\" summary
# UNIT \"go.gc_duration_seconds\" seconds
{\"go.gc_duration_seconds\",quantile=\"0\"} 4.9351e-05
{\"go.gc_duration_seconds\",quantile=\"0.5\",a=\"b\"} 8.3835e-05 1520879607.789
{\"http.status\",q=\"0.9\",\"a.b\"=\"c\"} 8.3835e-05 # {\"trace.id\"=\"x\"} 1
# EOF
";
    let got = entries(input, Format::OpenMetrics);
    assert_eq!(
        got[2],
        Entry::Unit {
            metric: "go.gc_duration_seconds",
            unit: "seconds"
        }
    );
    let Entry::Sample(last) = got[5] else {
        panic!("{:?}", got[5]);
    };
    assert_eq!(
        parse_series(last.series).unwrap(),
        Labels::from_pairs([("__name__", "http.status"), ("q", "0.9"), ("a.b", "c")])
    );
}

#[test]
fn refusals() {
    use Format::*;
    for (input, format, quoted, want) in [
        // Prometheus 2 has no quoted names.
        (
            "{\"a.b\"} 1\n",
            PrometheusText,
            false,
            "expected a valid start token",
        ),
        (
            "a{\"b\"=\"c\"} 1\n",
            PrometheusText,
            false,
            "expected label name",
        ),
        (
            "# TYPE \"a.b\" gauge\n",
            PrometheusText,
            false,
            "expected metric name after TYPE",
        ),
        (
            "{\"a.b\"} 1\n# EOF\n",
            OpenMetrics,
            false,
            "expected a valid start token",
        ),
        // Prometheus 3 refuses these too.
        (
            "{a=\"ok\"} 1\n",
            PrometheusText,
            true,
            "metric name not set while parsing",
        ),
        (
            "{a=\"ok\"} 1\n# EOF\n",
            OpenMetrics,
            true,
            "metric name not set while parsing",
        ),
        (
            "a{\"b\"} 1\n",
            PrometheusText,
            true,
            "metric name already set while parsing",
        ),
        (
            "{\"a\",\"b\"} 1\n",
            PrometheusText,
            true,
            "metric name already set while parsing",
        ),
        (
            "{\"a\", \"b = \"c\"} 1\n",
            PrometheusText,
            true,
            "expected equal sign",
        ),
        (
            "{\"a\",b\\nc=\"d\"} 1\n",
            PrometheusText,
            true,
            "expected equal sign",
        ),
        ("{A}0\n", PrometheusText, true, "expected equal sign"),
        (
            "{\"a\"=1} 1\n",
            PrometheusText,
            true,
            "expected quoted label value",
        ),
        (
            "{\"a 1\n",
            PrometheusText,
            true,
            "expected closing quote of the quoted name",
        ),
        ("{\"a\" 1\n", PrometheusText, true, "expected equal sign"),
        (
            "{\"a\",a=\"1\",\"a\"=\"2\"} 1\n",
            PrometheusText,
            true,
            "is not unique",
        ),
    ] {
        let err = first_error(input, format, quoted);
        assert!(err.contains(want), "{input:?} {format:?}: {err}");
    }
}
