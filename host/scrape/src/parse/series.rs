//! Decoding a raw series text (`name{labels}`) into a label set.
//!
//! Kept apart from the line parsers because it runs at a different rate: once per series the
//! scraper has not seen before, not once per sample. It accepts the series syntax of both
//! formats (OpenMetrics' is the text format's without blanks and raw newlines), so it reads
//! everything with the text format's rules.
//!
//! Prometheus 3 also rewrites two label values here, where its parsers build a series' labels
//! (before the scrape cache, relabeling and storage see them): see [`normalize_float_labels`].

use std::borrow::Cow;

use wasmfed_model::gofloat::format_openmetrics;
use wasmfed_model::labels::METRIC_NAME;
use wasmfed_model::{Label, Labels};

use super::lexer::{check_unique, unescape, Cursor};
use super::{number, Format, MetricType, ParseError};

/// Decodes a raw series text (as returned in RawSample::series) into labels, including
/// `__name__`, with escapes resolved. Works for both formats, and for Prometheus 3's quoted
/// names (`{"my.metric","my.label"="v"}`): the parser decides whether a scrape may use them.
///
/// Line numbers in its errors count lines within `series`; a series the parser returned never
/// fails here.
pub fn parse_series(series: &str) -> Result<Labels, ParseError> {
    let mut cursor = Cursor::new(series);
    cursor.quoted_names = true;
    let mut name = cursor.metric_name().map(Cow::Borrowed);
    let mut pairs = Vec::new();
    let name_end = cursor.pos;
    cursor.skip_blanks();
    if cursor.peek() == Some(b'{') {
        let quoted = cursor.label_set(Format::PrometheusText, &mut pairs, name.is_some())?;
        name = name.or(quoted.map(|q| unescape(q, true)));
    } else {
        cursor.pos = name_end;
    }
    let Some(name) = name else {
        cursor.pos = 0;
        return Err(cursor.expected("expected metric name"));
    };
    if cursor.pos != series.len() {
        return Err(cursor.expected("expected end of series"));
    }
    check_unique(&cursor, &pairs)?;
    let mut labels = Vec::with_capacity(pairs.len() + 1);
    labels.push(Label::new(METRIC_NAME, name));
    labels.extend(
        pairs
            .into_iter()
            .map(|(name, value)| Label::new(unescape(name, true), unescape(value, true))),
    );
    labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Ok(Labels::from_sorted(labels))
}

/// Prometheus 3's `normalizeFloatsInLabelValues`: in a family the last `# TYPE` line declared
/// a `histogram` (not a `gaugehistogram`), `le` is rewritten to its float's OpenMetrics spelling
/// (`1` → `1.0`, `1e3` → `1000.0`, `+inf` → `+Inf`); in a `summary`, `quantile` is. Only the
/// type counts, not the sample's name, as in Prometheus' parsers. A value that is not a float
/// stays as written; so do the hex and `_`-separated spellings Go would read, which Prometheus'
/// own value parser refuses too. Prometheus 2 stores the text format's values as written.
pub fn normalize_float_labels(labels: &mut Labels, kind: MetricType) {
    let name = match kind {
        MetricType::Histogram => "le",
        MetricType::Summary => "quantile",
        _ => return,
    };
    let Some(value) = labels.get(name) else {
        return;
    };
    let Ok(float) = number::float(value) else {
        return;
    };
    let normalized = format_openmetrics(float);
    if normalized != value {
        labels.set(name, normalized);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le_and_quantile_take_the_openmetrics_spelling() {
        use MetricType::*;
        for (kind, name, value, want) in [
            (Histogram, "le", "1", "1.0"),
            (Histogram, "le", "0", "0.0"),
            (Histogram, "le", "-0", "0.0"),
            (Histogram, "le", "0.005", "0.005"),
            (Histogram, "le", ".5", "0.5"),
            (Histogram, "le", "2.50", "2.5"),
            (Histogram, "le", "1e3", "1000.0"),
            (Histogram, "le", "1000000", "1e+06"),
            (Histogram, "le", "0.00001", "1e-05"),
            (Histogram, "le", "+Inf", "+Inf"),
            (Histogram, "le", "+inf", "+Inf"),
            (Histogram, "le", "Infinity", "+Inf"),
            (Histogram, "le", "-Inf", "-Inf"),
            (Histogram, "le", "NaN", "NaN"),
            (Histogram, "le", "1.0", "1.0"),
            (Histogram, "le", "abc", "abc"),
            (Histogram, "le", "", ""),
            (Histogram, "le", "1e999", "1e999"),
            (Histogram, "le", "0x1p-2", "0x1p-2"),
            (Histogram, "quantile", "1", "1"),
            (Summary, "quantile", "0.5", "0.5"),
            (Summary, "quantile", "1", "1.0"),
            (Summary, "quantile", "0", "0.0"),
            (Summary, "le", "1", "1"),
            (GaugeHistogram, "le", "1", "1"),
            (Counter, "le", "1", "1"),
            (Gauge, "quantile", "1", "1"),
            (Unknown, "le", "1", "1"),
        ] {
            let mut labels = Labels::from_pairs([("__name__", "m"), (name, value)]);
            normalize_float_labels(&mut labels, kind);
            assert_eq!(labels.get(name), Some(want), "{kind:?} {name}={value:?}");
            assert_eq!(labels.len(), 2);
        }
    }

    #[test]
    fn decodes_series_of_both_formats() {
        for (series, want) in [
            ("up", vec![("__name__", "up")]),
            ("up{}", vec![("__name__", "up")]),
            ("up {}", vec![("__name__", "up")]),
            (
                r#"node_cpu{mode="idle",cpu="0"}"#,
                vec![("__name__", "node_cpu"), ("cpu", "0"), ("mode", "idle")],
            ),
            (
                r#"a { z = "1" , A="2", }"#,
                vec![("A", "2"), ("__name__", "a"), ("z", "1")],
            ),
            (
                r#"a{b="1" c="2"}"#,
                vec![("__name__", "a"), ("b", "1"), ("c", "2")],
            ),
            (
                r#"a{b="q\"b\\s\nn\x",c=""}"#,
                vec![("__name__", "a"), ("b", "q\"b\\s\nn\\x"), ("c", "")],
            ),
            ("a{b=\"x\ny\"}", vec![("__name__", "a"), ("b", "x\ny")]),
            (
                r#"a{b="ünï©ødé"}"#,
                vec![("__name__", "a"), ("b", "ünï©ødé")],
            ),
            (r#"a:b:c{_x="1"}"#, vec![("__name__", "a:b:c"), ("_x", "1")]),
        ] {
            let got = parse_series(series).unwrap_or_else(|e| panic!("{series:?}: {e}"));
            assert_eq!(got, Labels::from_pairs(want), "{series:?}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_series() {
        for (series, message) in [
            ("", "expected metric name, got end of input"),
            (" up", r#"expected metric name, got " ""#),
            (r#"{a="b"}"#, "expected metric name"),
            ("up ", r#"expected end of series, got " ""#),
            ("up 1", "expected end of series"),
            (r#"up{a="b"} "#, "expected end of series"),
            (r#"up{a="b"}x"#, "expected end of series"),
            (r#"up{a="b""#, "expected label name, got end of input"),
            (r#"up{a="b",a="c"}"#, r#"label name "a" is not unique"#),
            (
                r#"up{__name__="up"}"#,
                r#"label name "__name__" is not unique"#,
            ),
            (r#"up{1a="b"}"#, "expected label name"),
        ] {
            let err = parse_series(series).unwrap_err();
            assert_eq!(err.line, 1, "{series:?}");
            assert!(err.message.contains(message), "{series:?}: {err}");
        }
    }
}
